// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @dev An account's consortium roles, whether it was assigned an institution, and its number, in
/// one word (see {AccessRecordLib}).
type AccessRecord is uint256;

using AccessRecordLib for AccessRecord global;

/// @title AccessRecordLib
/// @notice The layout of an {AccessRecord}, the word {ConsortiumAccess} keeps per account, which the
/// role check every operation starts with reads:
///
/// | bits  | field                                                                            |
/// |-------|----------------------------------------------------------------------------------|
/// | 0-5   | roles held, one flag each: {DEFAULT_ADMIN}, {LENDER}, {REGISTRAR}, {VERIFIER},   |
/// |       | {ENFORCER}, {OPERATOR}                                                           |
/// | 8     | assigned: the account acts for the institution the admin assigned it (kept in a |
/// |       | mapping of its own); clear, it is an institution of its own                      |
/// | 16-47 | number: given on the account's first role grant and again whenever it changes   |
/// |       | institution, never reused; zero before                                           |
library AccessRecordLib {
    /// @notice The flag of DEFAULT_ADMIN_ROLE.
    uint256 internal constant DEFAULT_ADMIN = 1 << 0;
    /// @notice The flag of LENDER_ROLE.
    uint256 internal constant LENDER = 1 << 1;
    /// @notice The flag of REGISTRAR_ROLE.
    uint256 internal constant REGISTRAR = 1 << 2;
    /// @notice The flag of VERIFIER_ROLE.
    uint256 internal constant VERIFIER = 1 << 3;
    /// @notice The flag of ENFORCER_ROLE.
    uint256 internal constant ENFORCER = 1 << 4;
    /// @notice The flag of OPERATOR_ROLE.
    uint256 internal constant OPERATOR = 1 << 5;

    uint256 private constant _ASSIGNED = 1 << 8;
    uint256 private constant _NUMBER_SHIFT = 16;
    uint256 private constant _NUMBER_MASK = type(uint32).max;

    /// @notice Whether the record holds the role whose flag is `flag` (false for a zero flag).
    function holds(AccessRecord record, uint256 flag) internal pure returns (bool) {
        return AccessRecord.unwrap(record) & flag != 0;
    }

    /// @notice `record` holding the role whose flag is `flag`.
    function withRole(AccessRecord record, uint256 flag) internal pure returns (AccessRecord) {
        return AccessRecord.wrap(AccessRecord.unwrap(record) | flag);
    }

    /// @notice `record` without the role whose flag is `flag`.
    function withoutRole(AccessRecord record, uint256 flag) internal pure returns (AccessRecord) {
        return AccessRecord.wrap(AccessRecord.unwrap(record) & ~flag);
    }

    /// @notice Whether the account is an institution of its own (not assigned one).
    function actsForItself(AccessRecord record) internal pure returns (bool) {
        return AccessRecord.unwrap(record) & _ASSIGNED == 0;
    }

    /// @notice `record` marked assigned or not.
    function withAssigned(AccessRecord record, bool assigned) internal pure returns (AccessRecord) {
        return AccessRecord.wrap(
            assigned ? AccessRecord.unwrap(record) | _ASSIGNED : AccessRecord.unwrap(record) & ~_ASSIGNED
        );
    }

    /// @notice The account's number, zero before its first role grant.
    function number(AccessRecord record) internal pure returns (uint32) {
        return uint32(AccessRecord.unwrap(record) >> _NUMBER_SHIFT);
    }

    /// @notice `record` with the number `number_`.
    function withNumber(AccessRecord record, uint32 number_) internal pure returns (AccessRecord) {
        return AccessRecord.wrap(
            (AccessRecord.unwrap(record) & ~(_NUMBER_MASK << _NUMBER_SHIFT)) | (uint256(number_) << _NUMBER_SHIFT)
        );
    }
}
