// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IPledgeRegistry} from "../IPledgeRegistry.sol";

/// @dev What a decision or a release reads of a pledge besides its property, in one word (see
/// {PledgeHeadLib}).
type PledgeHead is uint256;

using PledgeHeadLib for PledgeHead global;

/// @title PledgeHeadLib
/// @notice The layout of a {PledgeHead}, the word of {PledgeRegistry}'s pledge record that a
/// decision or a release reads:
///
/// | bits    | field                                                                      |
/// |---------|----------------------------------------------------------------------------|
/// | 0-6     | status (`IPledgeRegistry.PledgeStatus`)                                    |
/// | 7       | own institution: the pledgee is the lender acting for itself, so the       |
/// |         | record stores no institution                                               |
/// | 8-23    | reason code of a rejection                                                 |
/// | 24-47   | application sequence, or {WIDE_SEQUENCE}                                   |
/// | 48-207  | lender                                                                     |
/// | 208-255 | amount, or {WIDE_AMOUNT}                                                   |
///
/// The interface's amount is uint256 and the sequence uint64: a field holds a value below its
/// `WIDE_*` constant, and that constant for a larger one, which the registry keeps in full in a
/// slot of its own (the sequence is always kept there too).
library PledgeHeadLib {
    /// @notice In the sequence field: the sequence does not fit.
    uint256 internal constant WIDE_SEQUENCE = type(uint24).max;
    /// @notice In the amount field: the amount does not fit (2**48 - 1 or more, 2.8e14 minor units).
    uint256 internal constant WIDE_AMOUNT = type(uint48).max;

    uint256 private constant _STATUS_MASK = 0x7f;
    uint256 private constant _OWN_INSTITUTION = 1 << 7;
    uint256 private constant _REASON_SHIFT = 8;
    uint256 private constant _REASON_MASK = 0xffff;
    uint256 private constant _SEQUENCE_SHIFT = 24;
    uint256 private constant _LENDER_SHIFT = 48;
    uint256 private constant _AMOUNT_SHIFT = 208;

    /// @notice The head of a pending application number `applicationSequence` by `account`, for
    /// `pledgeAmount`, its pledgee an institution other than `account` itself.
    function pending(address account, uint64 applicationSequence, uint256 pledgeAmount)
        internal
        pure
        returns (PledgeHead)
    {
        return PledgeHead.wrap(
            uint256(IPledgeRegistry.PledgeStatus.Pending) | (uint256(uint160(account)) << _LENDER_SHIFT)
                | ((applicationSequence < WIDE_SEQUENCE ? applicationSequence : WIDE_SEQUENCE) << _SEQUENCE_SHIFT)
                | ((pledgeAmount < WIDE_AMOUNT ? pledgeAmount : WIDE_AMOUNT) << _AMOUNT_SHIFT)
        );
    }

    /// @notice `head` with its pledgee the lender acting for itself.
    function withOwnInstitution(PledgeHead head) internal pure returns (PledgeHead) {
        return PledgeHead.wrap(PledgeHead.unwrap(head) | _OWN_INSTITUTION);
    }

    /// @notice The status.
    function status(PledgeHead head) internal pure returns (IPledgeRegistry.PledgeStatus) {
        return IPledgeRegistry.PledgeStatus(uint8(PledgeHead.unwrap(head)) & _STATUS_MASK);
    }

    /// @notice `head` with its status replaced.
    function withStatus(PledgeHead head, IPledgeRegistry.PledgeStatus status_) internal pure returns (PledgeHead) {
        return PledgeHead.wrap((PledgeHead.unwrap(head) & ~_STATUS_MASK) | uint256(status_));
    }

    /// @notice `head` rejected with `code`.
    function rejected(PledgeHead head, uint16 code) internal pure returns (PledgeHead) {
        return PledgeHead.wrap(
            (PledgeHead.unwrap(head) & ~(_STATUS_MASK | (_REASON_MASK << _REASON_SHIFT)))
                | uint256(IPledgeRegistry.PledgeStatus.Rejected) | (uint256(code) << _REASON_SHIFT)
        );
    }

    /// @notice The reason code of a rejection (zero before).
    function reasonCode(PledgeHead head) internal pure returns (uint16) {
        return uint16(PledgeHead.unwrap(head) >> _REASON_SHIFT);
    }

    /// @notice Whether the pledgee is the lender acting for itself.
    function isOwnInstitution(PledgeHead head) internal pure returns (bool) {
        return PledgeHead.unwrap(head) & _OWN_INSTITUTION != 0;
    }

    /// @notice The sequence field: the application sequence, or {WIDE_SEQUENCE}.
    function sequence(PledgeHead head) internal pure returns (uint256) {
        return uint24(PledgeHead.unwrap(head) >> _SEQUENCE_SHIFT);
    }

    /// @notice The account that applied.
    function lender(PledgeHead head) internal pure returns (address) {
        return address(uint160(PledgeHead.unwrap(head) >> _LENDER_SHIFT));
    }

    /// @notice The amount field: the amount, or {WIDE_AMOUNT}.
    function amount(PledgeHead head) internal pure returns (uint256) {
        return PledgeHead.unwrap(head) >> _AMOUNT_SHIFT;
    }
}
