// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

// The next versions of the contracts, as a release would bring them: the same rules, a state
// variable appended and a view telling which version runs. And one that must never be deployed.
//
// None has an initializer of its own: the proxies they replace code behind were set up by the
// version before, and they add no state that needs setting up (hence the missing-initializer
// allowance; a version that did would add a `reinitializer(2)`).

import {ConsentRegistry} from "../../../contracts/ConsentRegistry.sol";
import {PledgeRegistry} from "../../../contracts/PledgeRegistry.sol";
import {ReceivableLedger} from "../../../contracts/ReceivableLedger.sol";

/// @custom:oz-upgrades-from ReceivableLedger
/// @custom:oz-upgrades-unsafe-allow missing-initializer
contract ReceivableLedgerV2 is ReceivableLedger {
    uint256 private _appended;

    function version() external pure returns (uint256) {
        return 2;
    }
}

/// @custom:oz-upgrades-from PledgeRegistry
/// @custom:oz-upgrades-unsafe-allow missing-initializer
contract PledgeRegistryV2 is PledgeRegistry {
    uint256 private _appended;

    function version() external pure returns (uint256) {
        return 2;
    }
}

/// @custom:oz-upgrades-from ConsentRegistry
/// @custom:oz-upgrades-unsafe-allow missing-initializer
contract ConsentRegistryV2 is ConsentRegistry {
    uint256 private _appended;

    function version() external pure returns (uint256) {
        return 2;
    }
}

/// A state variable ahead of all the others.
abstract contract Misplaced {
    uint256 private _first;
}

/// Every record of the ledger would be read one slot off: upgrades-core must refuse it.
/// @custom:oz-upgrades-unsafe-allow missing-initializer
contract ReceivableLedgerMisplaced is Misplaced, ReceivableLedger {}
