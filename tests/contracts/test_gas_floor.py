"""The gas floor of bench/gas.py, computed on real transactions: storage writes read from anvil's
prestate diff, logs and calldata priced as the benchmark's docstring says."""

from __future__ import annotations

from typing import Any

from hexbytes import HexBytes

from bench.gas import (
    LOG_BASE,
    LOG_DATA_BYTE,
    LOG_TOPIC,
    PROXY_LOOKUP,
    SSTORE_RESET,
    SSTORE_SET,
    TX_INTRINSIC,
    calldata_gas,
    floor_of,
)
from tests.conftest import Stack

PROPERTY = b"\x51" * 32
CASE = b"\xca" * 32


def _event_gas(stack: Stack, name: str) -> int:
    """What one ``name`` log costs, from the event's ABI (every field static: one word each)."""
    (event,) = [e for e in stack.pledges.contract.abi if e["type"] == "event" and e["name"] == name]
    indexed = sum(1 for field in event["inputs"] if field["indexed"])
    words = len(event["inputs"]) - indexed
    return LOG_BASE + LOG_TOPIC * (1 + indexed) + LOG_DATA_BYTE * 32 * words


def _receipt(stack: Stack, tx_hash: str) -> Any:
    return stack.chain.w3.eth.get_transaction_receipt(HexBytes(tx_hash))


def test_calldata_costs_16_per_nonzero_and_4_per_zero_byte() -> None:
    assert calldata_gas(bytes([0, 0, 1, 255])) == 4 + 4 + 16 + 16
    assert calldata_gas(b"") == 0


def test_an_ether_transfer_sits_exactly_on_its_floor(stack: Stack) -> None:
    node_account = stack.chain.w3.eth.accounts[0]
    tx_hash = stack.chain.send_value(node_account, stack.bank_a.signer.address, 1)
    floor = floor_of(stack.chain.w3, tx_hash)
    assert (floor.slots_set, floor.slots_reset, floor.logs) == (0, 0, 0)
    assert floor.total == TX_INTRINSIC == _receipt(stack, tx_hash)["gasUsed"]


def test_a_fresh_property_writes_two_slots_from_zero_and_one_log(stack: Stack) -> None:
    tx = stack.pledges.register_property(
        stack.registrar.signer, PROPERTY, 1, 1_000_000, "CNY", 6000
    )
    floor = floor_of(stack.chain.w3, tx.tx_hash)

    # Property packs status, key version, LTV, currency and the application count in one slot;
    # the appraisal takes the next. Secured amount and seizure count stay zero: no write.
    assert (floor.slots_set, floor.slots_reset) == (2, 0)
    assert floor.storage_gas == 2 * SSTORE_SET
    assert floor.logs == 1
    assert floor.log_gas == _event_gas(stack, "PropertyRegistered")
    calldata = bytes(stack.chain.w3.eth.get_transaction(HexBytes(tx.tx_hash))["input"])
    assert floor.calldata_gas == calldata_gas(calldata)
    # The registry runs behind its proxy: finding its code is part of any upgradeable floor.
    assert floor.proxy_gas == PROXY_LOOKUP
    assert floor.total == (
        TX_INTRINSIC + floor.calldata_gas + 2 * SSTORE_SET + floor.log_gas + PROXY_LOOKUP
    )
    assert floor.total <= tx.gas_used


def test_changed_and_cleared_slots_count_as_resets(stack: Stack) -> None:
    court = stack.enforcer.signer
    stack.pledges.register_property(stack.registrar.signer, PROPERTY, 1, 1_000_000, "CNY")

    seized = floor_of(stack.chain.w3, stack.pledges.seize(court, PROPERTY, CASE).tx_hash)
    # The status changes in the head and the seizure count beside the key version (both non-zero
    # before); the seizing court's entry is new.
    assert (seized.slots_set, seized.slots_reset) == (1, 2)
    assert seized.storage_gas == SSTORE_SET + 2 * SSTORE_RESET

    unseize = stack.pledges.unseize(court, PROPERTY, CASE)
    lifted = floor_of(stack.chain.w3, unseize.tx_hash)
    # The status and the count change back and the court's entry is cleared: three resets.
    assert (lifted.slots_set, lifted.slots_reset) == (0, 3)
    assert lifted.log_gas == _event_gas(stack, "SeizureLifted")
    assert lifted.total <= unseize.gas_used


def test_a_rewrite_with_the_same_value_is_no_write(stack: Stack) -> None:
    registrar = stack.registrar.signer
    stack.pledges.register_property(registrar, PROPERTY, 1, 1_000_000, "CNY")
    same = stack.pledges.update_appraisal(registrar, PROPERTY, 1_000_000)
    assert floor_of(stack.chain.w3, same.tx_hash).storage_gas == 0
    changed = stack.pledges.update_appraisal(registrar, PROPERTY, 900_000)
    assert floor_of(stack.chain.w3, changed.tx_hash).slots_reset == 1
