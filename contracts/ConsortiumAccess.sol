// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {AccessRecord, AccessRecordLib} from "./libraries/AccessRecordLib.sol";

/// @title ConsortiumAccess
/// @notice The consortium's roles, and the institutions behind accounts. An institution (a bank, a
/// registry center) may act through several accounts; rules about "the same bank" (exclusivity,
/// releasing one's own pledge) compare institutions, not accounts.
/// @dev An account the admin never assigned is an institution of its own, so a single-account
/// institution needs no setup.
///
/// Roles behave exactly as OpenZeppelin's {AccessControl} (same functions, errors and events), but
/// membership in the six roles below is kept in one packed record per account ({AccessRecordLib})
/// instead of one slot per (role, account): every operation starts with a role check, whose cold
/// read (2,100 gas) then also tells whether the account was assigned an institution (most act for
/// themselves and need no second read) and gives the account's number, a short handle the ledger
/// packs beside a receivable's amounts. Other roles (an admin may grant any bytes32) use
/// AccessControl's storage.
///
/// Every contract of the consortium runs behind an ERC-1967 proxy and upgrades itself (UUPS): the
/// proxy keeps the registry's state, the admin points it at new code. An upgrade is an admin act
/// ({_authorizeUpgrade}); `creditreg upgrade` deploys the new code only once OpenZeppelin's
/// upgrades-core has found its storage layout compatible with the code it replaces. State
/// variables are therefore only ever appended, in the most derived contract.
abstract contract ConsortiumAccess is AccessControlUpgradeable, UUPSUpgradeable {
    /// @notice Banks: register and finance documents, apply for and release pledges.
    bytes32 public constant LENDER_ROLE = keccak256("LENDER_ROLE");
    /// @notice Property registration center: properties, appraisals, pledge decisions; on the consent
    /// registry, binds enterprises to their accounts.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");
    /// @notice Customs: attests export declarations.
    bytes32 public constant VERIFIER_ROLE = keccak256("VERIFIER_ROLE");
    /// @notice Courts and enforcement offices: seize and unseize properties.
    bytes32 public constant ENFORCER_ROLE = keccak256("ENFORCER_ROLE");
    /// @notice The API operator: anchors read-log roots.
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    /// @dev Read only for an account whose record says it was assigned.
    mapping(address account => bytes32 institution) private _institutionOf;
    /// @dev The six roles above, the assigned flag and the number (see {AccessRecordLib}).
    mapping(address account => AccessRecord record) private _records;
    mapping(uint256 number => address account) private _numberedAccounts;
    /// @dev Numbers given so far (2**32 - 1 at most: a grant beyond would revert).
    uint32 private _numbered;
    /// @dev Room for this contract's later state (upgrades-core shrinks the gap as it grows), so
    /// that the contracts built on it keep their slots.
    uint256[46] private __gap;

    /// @notice `account` now acts for `institution` (zero: for itself again).
    event InstitutionAssigned(address indexed account, bytes32 indexed institution, address indexed admin);

    /// @dev The code of every contract built on this one is never initialized itself: only the
    /// proxies that run it are (each by its contract's `initialize`).
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @param admin Account granted DEFAULT_ADMIN_ROLE.
    function __ConsortiumAccess_init(address admin) internal onlyInitializing {
        __AccessControl_init();
        __UUPSUpgradeable_init();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Makes `account` act for `institution`; zero makes it an institution of its own.
    /// @dev Caller needs DEFAULT_ADMIN_ROLE. Emits an {InstitutionAssigned} event.
    ///
    /// An account that changes institution gets a new number: a number names an account while it
    /// acts for one institution, so whatever recognises an account by its number (the ledger's
    /// last drawer) stops recognising it for the institution it left. Claims stay with
    /// institutions; an account moved elsewhere does not carry them along.
    function assignInstitution(address account, bytes32 institution) external onlyRole(DEFAULT_ADMIN_ROLE) {
        AccessRecord record = _records[account];
        bytes32 current = _institutionIn(record, account);
        _institutionOf[account] = institution;
        record = record.withAssigned(institution != bytes32(0));
        if (record.number() != 0 && _institutionIn(record, account) != current) {
            record = _renumbered(record, account);
        }
        _records[account] = record;
        emit InstitutionAssigned(account, institution, msg.sender);
    }

    /// @notice The institution `account` acts for.
    function institutionOf(address account) public view returns (bytes32) {
        return _institutionIn(_records[account], account);
    }

    /// @notice Whether `account` holds `role` (OpenZeppelin {AccessControl-hasRole}).
    function hasRole(bytes32 role, address account) public view virtual override returns (bool) {
        uint256 bit = _roleBit(role);
        return bit == 0 ? super.hasRole(role, account) : _records[account].holds(bit);
    }

    /// @dev The institution of `account`, whose record is `record`: read again only when assigned.
    function _institutionIn(AccessRecord record, address account) internal view returns (bytes32) {
        return record.actsForItself() ? bytes32(uint256(uint160(account))) : _institutionOf[account];
    }

    /// @dev The packed record of `account` (read warm after its role check).
    function _recordOf(address account) internal view returns (AccessRecord) {
        return _records[account];
    }

    /// @dev Whether the account whose record is `record` holds `role`, one of the six roles above
    /// (what {hasRole} answers, for a caller whose record is already read).
    function _holds(AccessRecord record, bytes32 role) internal pure returns (bool) {
        return record.holds(_roleBit(role));
    }

    /// @dev The account numbered `number` (see {AccessRecordLib-number}).
    function _accountNumbered(uint32 number) internal view returns (address) {
        return _numberedAccounts[number];
    }

    /// @dev AccessControl's grant, with the six roles above kept in the account's record; numbers
    /// the account on its first grant of one of them. Emits {RoleGranted} when it was not held.
    function _grantRole(bytes32 role, address account) internal virtual override returns (bool) {
        uint256 bit = _roleBit(role);
        if (bit == 0) return super._grantRole(role, account);
        AccessRecord record = _records[account];
        if (record.holds(bit)) return false;
        record = record.withRole(bit);
        if (record.number() == 0) record = _renumbered(record, account);
        _records[account] = record;
        emit RoleGranted(role, account, _msgSender());
        return true;
    }

    /// @dev AccessControl's revocation, for roles kept in records too. Emits {RoleRevoked} when it
    /// was held.
    function _revokeRole(bytes32 role, address account) internal virtual override returns (bool) {
        uint256 bit = _roleBit(role);
        if (bit == 0) return super._revokeRole(role, account);
        AccessRecord record = _records[account];
        if (!record.holds(bit)) return false;
        _records[account] = record.withoutRole(bit);
        emit RoleRevoked(role, account, _msgSender());
        return true;
    }

    /// @dev Only the admin upgrades (see {UUPSUpgradeable-upgradeToAndCall}).
    function _authorizeUpgrade(address) internal view override onlyRole(DEFAULT_ADMIN_ROLE) {}

    /// @dev `record` of `account` with a number never given before (2**32 - 1 at most: beyond, it
    /// reverts on overflow).
    function _renumbered(AccessRecord record, address account) private returns (AccessRecord) {
        uint32 number = ++_numbered;
        _numberedAccounts[number] = account;
        return record.withNumber(number);
    }

    /// @dev The record flag of `role`, zero for a role kept in AccessControl's storage. The most
    /// checked roles come first.
    function _roleBit(bytes32 role) private pure returns (uint256) {
        if (role == LENDER_ROLE) return AccessRecordLib.LENDER;
        if (role == REGISTRAR_ROLE) return AccessRecordLib.REGISTRAR;
        if (role == DEFAULT_ADMIN_ROLE) return AccessRecordLib.DEFAULT_ADMIN;
        if (role == VERIFIER_ROLE) return AccessRecordLib.VERIFIER;
        if (role == ENFORCER_ROLE) return AccessRecordLib.ENFORCER;
        if (role == OPERATOR_ROLE) return AccessRecordLib.OPERATOR;
        return 0;
    }
}
