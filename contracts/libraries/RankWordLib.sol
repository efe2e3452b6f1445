// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @dev Four entries of a property's ranks (see {RankWordLib}).
type RankWord is uint256;

using RankWordLib for RankWord global;

/// @title RankWordLib
/// @notice The layout of {PledgeRegistry}'s ranks: the active pledges of a property in rank order,
/// entry i (rank i + 1) holding the application sequence its pledge id is made of, 64 bits each,
/// four to a {RankWord}:
///
/// | bits    | entry of word w |
/// |---------|-----------------|
/// | 0-63    | 4 w             |
/// | 64-127  | 4 w + 1         |
/// | 128-191 | 4 w + 2         |
/// | 192-255 | 4 w + 3         |
///
/// Entries from the active count on are zero. A release rewrites the words of its juniors, not one
/// slot per junior.
library RankWordLib {
    uint256 private constant _ENTRY_BITS = 64;
    /// @dev `index % 4`, the entry's place in its word, times 64 is `(index & 3) << 6`.
    uint256 private constant _PLACE_MASK = 3;
    uint256 private constant _PLACE_SHIFT = 6;
    uint256 private constant _WORD_SHIFT = 2;
    uint256 private constant _LAST_ENTRY_SHIFT = 192;

    /// @notice The word holding entry `index`.
    function wordOf(uint256 index) internal pure returns (uint256) {
        return index >> _WORD_SHIFT;
    }

    /// @notice Whether entry `index` is the first of its word.
    function startsWord(uint256 index) internal pure returns (bool) {
        return index & _PLACE_MASK == 0;
    }

    /// @notice Entry `index`, in `word` (the word holding it).
    function sequenceAt(RankWord word, uint256 index) internal pure returns (uint64) {
        return uint64(RankWord.unwrap(word) >> ((index & _PLACE_MASK) << _PLACE_SHIFT));
    }

    /// @notice `word` (the word holding entry `index`, which is empty) with `sequence` at `index`.
    function withEntry(RankWord word, uint256 index, uint64 sequence) internal pure returns (RankWord) {
        return RankWord.wrap(RankWord.unwrap(word) | (uint256(sequence) << ((index & _PLACE_MASK) << _PLACE_SHIFT)));
    }

    /// @notice `word` with its entries from entry `index`'s place on moved down one place, the last
    /// taking the first entry of `next` (the following word), the entries before `index`'s place
    /// kept. With `index` at a word's first place, the whole word moves down.
    function movedDownFrom(RankWord word, uint256 index, RankWord next) internal pure returns (RankWord) {
        unchecked {
            uint256 kept = (uint256(1) << ((index & _PLACE_MASK) << _PLACE_SHIFT)) - 1;
            uint256 value = RankWord.unwrap(word);
            return RankWord.wrap(
                (value & kept)
                    | (((value >> _ENTRY_BITS) | (RankWord.unwrap(next) << _LAST_ENTRY_SHIFT)) & ~kept)
            );
        }
    }
}
