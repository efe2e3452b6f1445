// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IPledgeRegistry} from "../IPledgeRegistry.sol";

/// @dev What a decision, a release, an appraisal or a seizure reads and writes of a property, in
/// one word (see {PropertyHeadLib}).
type PropertyHead is uint256;

using PropertyHeadLib for PropertyHead global;

/// @title PropertyHeadLib
/// @notice The layout of a {PropertyHead}, the word of {PledgeRegistry}'s property record that a
/// decision, a release, an appraisal or a seizure reads and writes:
///
/// | bits    | field                                                  |
/// |---------|--------------------------------------------------------|
/// | 0-7     | status (`IPledgeRegistry.PropertyStatus`)              |
/// | 8-23    | maximum LTV, basis points                              |
/// | 24-31   | active pledges                                         |
/// | 32-143  | appraised value, or {WIDE}                             |
/// | 144-255 | secured amount (sum of the active pledges), or {WIDE}  |
///
/// The interface's amounts are uint256: an amount field holds an amount below {WIDE} (every real
/// one), and {WIDE} for a larger one, which the registry keeps in full in a slot of its own.
library PropertyHeadLib {
    /// @notice In an amount field: the amount does not fit, and is in its own slot.
    uint256 internal constant WIDE = type(uint112).max;

    uint256 private constant _STATUS_MASK = 0xff;
    uint256 private constant _LTV_SHIFT = 8;
    uint256 private constant _ACTIVE_SHIFT = 24;
    uint256 private constant _ACTIVE_MASK = 0xff;
    uint256 private constant _APPRAISAL_SHIFT = 32;
    uint256 private constant _SECURED_SHIFT = 144;

    /// @notice The head of a property just registered: Normal, with a maximum LTV of `ltvBps`,
    /// nothing active, appraised or secured.
    function registered(uint16 ltvBps) internal pure returns (PropertyHead) {
        return PropertyHead.wrap(uint256(IPledgeRegistry.PropertyStatus.Normal) | (uint256(ltvBps) << _LTV_SHIFT));
    }

    /// @notice The status.
    function status(PropertyHead head) internal pure returns (IPledgeRegistry.PropertyStatus) {
        return IPledgeRegistry.PropertyStatus(uint8(PropertyHead.unwrap(head)));
    }

    /// @notice `head` with its status replaced.
    function withStatus(PropertyHead head, IPledgeRegistry.PropertyStatus status_)
        internal
        pure
        returns (PropertyHead)
    {
        return PropertyHead.wrap((PropertyHead.unwrap(head) & ~_STATUS_MASK) | uint256(status_));
    }

    /// @notice The maximum LTV, in basis points.
    function maxLtvBps(PropertyHead head) internal pure returns (uint16) {
        return uint16(PropertyHead.unwrap(head) >> _LTV_SHIFT);
    }

    /// @notice The number of active pledges.
    function active(PropertyHead head) internal pure returns (uint256) {
        return uint8(PropertyHead.unwrap(head) >> _ACTIVE_SHIFT);
    }

    /// @notice `head` with `active_` (below 256) active pledges.
    function withActive(PropertyHead head, uint256 active_) internal pure returns (PropertyHead) {
        return PropertyHead.wrap(
            (PropertyHead.unwrap(head) & ~(_ACTIVE_MASK << _ACTIVE_SHIFT)) | (active_ << _ACTIVE_SHIFT)
        );
    }

    /// @notice The appraisal field: the appraised value, or {WIDE}.
    function appraisal(PropertyHead head) internal pure returns (uint256) {
        return uint112(PropertyHead.unwrap(head) >> _APPRAISAL_SHIFT);
    }

    /// @notice `head` with the appraisal field `value` (at most {WIDE}).
    function withAppraisal(PropertyHead head, uint256 value) internal pure returns (PropertyHead) {
        return PropertyHead.wrap(
            (PropertyHead.unwrap(head) & ~(WIDE << _APPRAISAL_SHIFT)) | (value << _APPRAISAL_SHIFT)
        );
    }

    /// @notice The secured field: the sum of the active pledges' amounts, or {WIDE}.
    function secured(PropertyHead head) internal pure returns (uint256) {
        return PropertyHead.unwrap(head) >> _SECURED_SHIFT;
    }

    /// @notice `head` with the secured field `value` (at most {WIDE}).
    function withSecured(PropertyHead head, uint256 value) internal pure returns (PropertyHead) {
        return PropertyHead.wrap((PropertyHead.unwrap(head) & ~(WIDE << _SECURED_SHIFT)) | (value << _SECURED_SHIFT));
    }
}
