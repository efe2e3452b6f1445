// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title ConsortiumAccess
/// @notice The consortium's roles, and the institutions behind accounts. An institution (a bank, a
/// registry center) may act through several accounts; rules about "the same bank" (exclusivity,
/// releasing one's own pledge) compare institutions, not accounts.
/// @dev An account the admin never assigned is an institution of its own, so a single-account
/// institution needs no setup.
abstract contract ConsortiumAccess is AccessControl {
    /// @notice Banks: register and finance documents, apply for and release pledges.
    bytes32 public constant LENDER_ROLE = keccak256("LENDER_ROLE");
    /// @notice Property registration center: properties, appraisals, pledge decisions.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");
    /// @notice Customs: attests export declarations.
    bytes32 public constant VERIFIER_ROLE = keccak256("VERIFIER_ROLE");
    /// @notice Courts and enforcement offices: seize and unseize properties.
    bytes32 public constant ENFORCER_ROLE = keccak256("ENFORCER_ROLE");
    /// @notice The API operator: anchors read-log roots, binds enterprises.
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    mapping(address account => bytes32 institution) private _institutionOf;

    /// @notice `account` now acts for `institution` (zero: for itself again).
    event InstitutionAssigned(address indexed account, bytes32 indexed institution, address indexed admin);

    /// @param admin Account granted DEFAULT_ADMIN_ROLE.
    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Makes `account` act for `institution`; zero makes it an institution of its own.
    /// @dev Caller needs DEFAULT_ADMIN_ROLE. Emits an {InstitutionAssigned} event.
    function assignInstitution(address account, bytes32 institution) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _institutionOf[account] = institution;
        emit InstitutionAssigned(account, institution, msg.sender);
    }

    /// @notice The institution `account` acts for.
    function institutionOf(address account) public view returns (bytes32) {
        bytes32 institution = _institutionOf[account];
        return institution == bytes32(0) ? bytes32(uint256(uint160(account))) : institution;
    }
}
