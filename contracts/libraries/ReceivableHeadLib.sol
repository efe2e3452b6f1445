// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IReceivableLedger} from "../IReceivableLedger.sol";
import {RateTable, RateTableLib} from "./RateTableLib.sol";

/// @dev What a drawdown or a repayment reads and writes of a receivable, in one word (see
/// {ReceivableHeadLib}).
type ReceivableHead is uint256;

using ReceivableHeadLib for ReceivableHead global;

/// @title ReceivableHeadLib
/// @notice The layout of a {ReceivableHead}, the word of {ReceivableLedger}'s receivable that a
/// drawdown or a repayment reads and writes:
///
/// | bits    | field                                                                         |
/// |---------|-------------------------------------------------------------------------------|
/// | 0-3     | status: None, Registered, Settled or Cancelled (Financed is derived from a    |
/// |         | non-zero outstanding, never stored)                                           |
/// | 4-35    | financier: the number ({ConsortiumAccess}) of the account of the last         |
/// |         | drawdown, the registrant's until the first                                    |
/// | 36-63   | the rate table ({RateTableLib}) the cached cap was computed under, or         |
/// |         | `RateTableLib.NONE` once an attestation made it stale                         |
/// | 64-159  | the cached cap                                                                |
/// | 160-255 | outstanding financing                                                         |
///
/// Amounts (cap, outstanding) are below 2**96 (`DeclarationBook.MAX_AMOUNT`). A number rather than
/// the financier's address is what lets the amounts share the word.
library ReceivableHeadLib {
    uint256 private constant _STATUS_MASK = 0xf;
    uint256 private constant _FINANCIER_SHIFT = 4;
    uint256 private constant _CAP_RATES_SHIFT = 36;
    uint256 private constant _CAP_RATES_MASK = RateTable.unwrap(RateTableLib.NONE);
    uint256 private constant _CAP_SHIFT = 64;
    uint256 private constant _OUTSTANDING_SHIFT = 160;
    /// @dev Bits 36-159: the cached cap and its rate table. Literals, folded at compile time (see
    /// {RateTableLib}).
    uint256 private constant _CACHE_MASK = ((1 << 160) - 1) ^ ((1 << 36) - 1);

    /// @notice The stored status (never Financed).
    function status(ReceivableHead head) internal pure returns (IReceivableLedger.Status) {
        return IReceivableLedger.Status(ReceivableHead.unwrap(head) & _STATUS_MASK);
    }

    /// @notice The number of the account of the last drawdown (the registrant's before any).
    function financier(ReceivableHead head) internal pure returns (uint32) {
        return uint32(ReceivableHead.unwrap(head) >> _FINANCIER_SHIFT);
    }

    /// @notice The financing outstanding.
    function outstanding(ReceivableHead head) internal pure returns (uint256) {
        return ReceivableHead.unwrap(head) >> _OUTSTANDING_SHIFT;
    }

    /// @notice Whether the cached cap was computed under `rates` (never, once stale).
    function isCapCachedUnder(ReceivableHead head, RateTable rates) internal pure returns (bool) {
        return (ReceivableHead.unwrap(head) >> _CAP_RATES_SHIFT) & _CAP_RATES_MASK == RateTable.unwrap(rates);
    }

    /// @notice The cached cap (see {isCapCachedUnder}).
    function cachedCap(ReceivableHead head) internal pure returns (uint256) {
        return uint96(ReceivableHead.unwrap(head) >> _CAP_SHIFT);
    }

    /// @notice `head` with its status, financier and outstanding (below 2**96) replaced, the cached
    /// cap kept.
    function withPosition(
        ReceivableHead head,
        IReceivableLedger.Status status_,
        uint32 financier_,
        uint256 outstanding_
    ) internal pure returns (ReceivableHead) {
        return ReceivableHead.wrap(
            (ReceivableHead.unwrap(head) & _CACHE_MASK) | uint256(status_) | (uint256(financier_) << _FINANCIER_SHIFT)
                | (outstanding_ << _OUTSTANDING_SHIFT)
        );
    }

    /// @notice `head` with `cap` (below 2**96) cached under `rates`, status, financier and
    /// outstanding kept.
    function withCap(ReceivableHead head, RateTable rates, uint256 cap) internal pure returns (ReceivableHead) {
        return ReceivableHead.wrap(
            (ReceivableHead.unwrap(head) & ~_CACHE_MASK) | (RateTable.unwrap(rates) << _CAP_RATES_SHIFT)
                | (cap << _CAP_SHIFT)
        );
    }

    /// @notice `head` with its cached cap marked stale: no rate table matches it any more.
    function withStaleCap(ReceivableHead head) internal pure returns (ReceivableHead) {
        return ReceivableHead.wrap(
            ReceivableHead.unwrap(head) | (_CAP_RATES_MASK << _CAP_RATES_SHIFT)
        );
    }
}
