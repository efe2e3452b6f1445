// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IReceivableLedger} from "../IReceivableLedger.sol";
import {RateTable, RateTableLib} from "./RateTableLib.sol";

/// @dev What a drawdown or a repayment reads and writes of one declaration of a receivable, in one
/// word (see {DeclarationBalanceLib}).
type DeclarationBalance is uint256;

using DeclarationBalanceLib for DeclarationBalance global;

/// @title DeclarationBalanceLib
/// @notice The layout of a {DeclarationBalance}, the word {DeclarationBook} keeps per declaration
/// of a receivable:
///
/// | bits    | field                                                                    |
/// |---------|--------------------------------------------------------------------------|
/// | 0-95    | counted value: what the declaration is worth for its invoice             |
/// | 96-191  | outstanding financing drawn against the declaration                      |
/// | 192-199 | standing (`IReceivableLedger.Standing`)                                  |
///
/// Amounts are below 2**96 (`DeclarationBook.MAX_AMOUNT`).
library DeclarationBalanceLib {
    uint256 private constant _AMOUNT_MASK = type(uint96).max;
    uint256 private constant _OUTSTANDING_SHIFT = 96;
    uint256 private constant _STANDING_SHIFT = 192;

    /// @notice The balance of a declaration counting `counted_` (below 2**96) with `standing_`,
    /// nothing outstanding.
    function counting(uint256 counted_, IReceivableLedger.Standing standing_)
        internal
        pure
        returns (DeclarationBalance)
    {
        return DeclarationBalance.wrap(counted_ | (uint256(standing_) << _STANDING_SHIFT));
    }

    /// @notice The counted value.
    function counted(DeclarationBalance balance) internal pure returns (uint256) {
        return DeclarationBalance.unwrap(balance) & _AMOUNT_MASK;
    }

    /// @notice The outstanding financing.
    function outstanding(DeclarationBalance balance) internal pure returns (uint256) {
        return (DeclarationBalance.unwrap(balance) >> _OUTSTANDING_SHIFT) & _AMOUNT_MASK;
    }

    /// @notice The standing.
    function standing(DeclarationBalance balance) internal pure returns (IReceivableLedger.Standing) {
        return IReceivableLedger.Standing(DeclarationBalance.unwrap(balance) >> _STANDING_SHIFT);
    }

    /// @notice The limit of the declaration under `rates`: its counted value x the rate of its
    /// standing, looked up in the table as {RateTableLib} lays it out. One function without calls
    /// of its own, so that the optimizer inlines it where a drawdown computes each limit.
    function limitUnder(DeclarationBalance balance, RateTable rates) internal pure returns (uint256) {
        unchecked {
            uint256 value = DeclarationBalance.unwrap(balance);
            uint256 rate = (RateTable.unwrap(rates) >> ((value >> _STANDING_SHIFT) * RateTableLib.RATE_BITS))
                & RateTableLib.RATE_MASK;
            return ((value & _AMOUNT_MASK) * rate) / RateTableLib.BPS; // below 2**96 x 2**14
        }
    }

    /// @notice `balance` with its outstanding financing replaced by `outstanding_` (below 2**96).
    function withOutstanding(DeclarationBalance balance, uint256 outstanding_)
        internal
        pure
        returns (DeclarationBalance)
    {
        return DeclarationBalance.wrap(
            (DeclarationBalance.unwrap(balance) & ~(_AMOUNT_MASK << _OUTSTANDING_SHIFT))
                | (outstanding_ << _OUTSTANDING_SHIFT)
        );
    }

    /// @notice `balance` counting `counted_` (below 2**96) with `standing_`, its outstanding kept.
    function withCount(DeclarationBalance balance, uint256 counted_, IReceivableLedger.Standing standing_)
        internal
        pure
        returns (DeclarationBalance)
    {
        return DeclarationBalance.wrap(
            (DeclarationBalance.unwrap(balance) & (_AMOUNT_MASK << _OUTSTANDING_SHIFT)) | counted_
                | (uint256(standing_) << _STANDING_SHIFT)
        );
    }
}
