// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @dev The ledger's advance rates as a table indexed by a declaration's standing (see {RateTableLib}).
type RateTable is uint256;

using RateTableLib for RateTable global;

/// @title RateTableLib
/// @notice The layout of a {RateTable}: the advance rate (basis points) of each standing, 14 bits
/// apiece in `IReceivableLedger.Standing` order:
///
/// | bits  | field                                                             |
/// |-------|-------------------------------------------------------------------|
/// | 0-13  | rate of standing 0, Unverified                                    |
/// | 14-27 | rate of standing 1, Verified                                      |
/// | 28-   | zero: standing 2, ExporterMismatch, finds a rate of zero          |
///
/// A drawdown looks a declaration's rate up with a shift instead of a branch per declaration.
/// Rates are at most 10,000, below 2**14, so a table fits in 28 bits, and it also identifies the
/// policy a receivable's cached cap was computed under ({ReceivableHeadLib}); {NONE}, all 28 bits
/// set, is a table no policy gives.
///
/// The lookup itself is done in place by {DeclarationBalanceLib-limitUnder}, with {RATE_BITS} and
/// {RATE_MASK}: a drawdown computes a limit for every declaration it fills, and a call to a
/// function of this library there would cost a jump each time (the legacy optimizer inlines a
/// function's body but keeps its return jump). Masks are written as literals: an expression of
/// named constants is computed, with overflow checks, at every use.
library RateTableLib {
    /// @notice The unit of a rate: 10,000 basis points make 100 %.
    uint256 internal constant BPS = 10_000;
    /// @notice A table no policy gives (each rate would be 2**14 - 1): marks a cached cap stale.
    /// Its 28 set bits are also the mask of a table.
    RateTable internal constant NONE = RateTable.wrap(0xfffffff);
    /// @notice The width of a rate: the rate of standing s is `RATE_MASK` at bit `RATE_BITS * s`.
    uint256 internal constant RATE_BITS = 14;
    /// @notice The mask of one rate.
    uint256 internal constant RATE_MASK = 0x3fff;

    /// @notice The table of the policy `verifiedBps`, `unverifiedBps` (each at most {BPS}).
    function fromRates(uint256 verifiedBps, uint256 unverifiedBps) internal pure returns (RateTable) {
        return RateTable.wrap(unverifiedBps | (verifiedBps << RATE_BITS));
    }

    /// @notice The verified rate, which also applies to a receivable's face value.
    function verifiedRate(RateTable rates) internal pure returns (uint256) {
        return RateTable.unwrap(rates) >> RATE_BITS;
    }
}
