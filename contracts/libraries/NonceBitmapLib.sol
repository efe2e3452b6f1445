// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @dev 256 used-nonce flags of an enterprise (see {NonceBitmapLib}).
type NonceBitmap is uint256;

using NonceBitmapLib for NonceBitmap global;

/// @title NonceBitmapLib
/// @notice The layout of {ConsentRegistry}'s used nonces: nonce n is bit n % 256 of the enterprise's
/// {NonceBitmap} number n / 256, so that nonces may be used in any order at one flag each.
library NonceBitmapLib {
    uint256 private constant _WORD_SHIFT = 8;
    uint256 private constant _BIT_MASK = 0xff;

    /// @notice The number of the bitmap holding `nonce`.
    function wordOf(uint256 nonce) internal pure returns (uint256) {
        return nonce >> _WORD_SHIFT;
    }

    /// @notice Whether `nonce` is used, in `bitmap` (the one holding it).
    function isUsed(NonceBitmap bitmap, uint256 nonce) internal pure returns (bool) {
        return NonceBitmap.unwrap(bitmap) & (1 << (nonce & _BIT_MASK)) != 0;
    }

    /// @notice `bitmap` (the one holding `nonce`) with `nonce` used.
    function withUsed(NonceBitmap bitmap, uint256 nonce) internal pure returns (NonceBitmap) {
        return NonceBitmap.wrap(NonceBitmap.unwrap(bitmap) | (1 << (nonce & _BIT_MASK)));
    }
}
