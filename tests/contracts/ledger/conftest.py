"""ReceivableLedger's rules, exercised through the typed binding against real nodes: what the
ledger's test modules share.

Each reverting refusal is checked for its decoded domain error, its rule, and for leaving the chain
unchanged (no block mined, and the head's hash, which commits to the whole state, as before): the
binding estimates first, so a refused operation sends nothing (:func:`tests.helpers.refused`). Each
recorded refusal (the ``try*`` entry points) is checked for its one mined transaction holding the
refusal event and nothing else (:func:`only_log`), and for the state it leaves as it was.

The test deployment's policy is one rate for verified and unverified declarations alike
(``ADVANCE_RATE_BPS``); tests that need two rates set them.
"""

from __future__ import annotations

from eth_utils.crypto import keccak
from hexbytes import HexBytes

from registry.contracts.ledger import Attempt
from tests.conftest import ADVANCE_RATE_BPS, Stack

OTHER_EXPORTER = b"\xdd" * 32
EXPORT_DATE = 1_700_000_000
BPS = 10_000


def only_log(stack: Stack, attempt: Attempt) -> str:
    """The name of the one log of the attempt's transaction (it must have exactly one)."""
    receipt = stack.chain.w3.eth.get_transaction_receipt(HexBytes(attempt.tx.tx_hash))
    (log,) = receipt["logs"]
    assert log["address"] == stack.ledger.address
    names: dict[bytes, str] = {
        keccak(text=f"{e['name']}({','.join(i['type'] for i in e['inputs'])})"): e["name"]
        for e in stack.ledger.contract.abi
        if e["type"] == "event"
    }
    return names[bytes(log["topics"][0])]


def limit(value: int, rate_bps: int = ADVANCE_RATE_BPS) -> int:
    return value * rate_bps // BPS
