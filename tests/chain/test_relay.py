"""A bank that signs its own transactions (registry.chain.client: ``unsigned`` and ``relay``): it
gets the transaction the API would send, signs it with its own key, and the API relays it only
if it is that transaction; anything else is refused by its rule and sends nothing."""

from __future__ import annotations

from typing import Any

import pytest
from eth_typing import HexStr
from web3.types import TxParams

from registry import errors
from registry.chain.client import Signer
from tests.conftest import Stack, fp
from tests.helpers import refused, register

INVOICE = "own key"


@pytest.fixture
def registered(stack: Stack) -> Stack:
    register(stack, stack.bank_a.signer, INVOICE, (INVOICE + "/d", 100_000))
    return stack


def finance(stack: Stack, amount: int, invoice: str = INVOICE) -> Any:
    return stack.ledger.contract.functions.finance(fp(invoice), amount)


def test_a_transaction_signed_by_the_bank_itself_is_relayed_and_followed(
    registered: Stack,
) -> None:
    stack, bank = registered, registered.bank_a.signer
    function = finance(stack, 30_000)

    tx = stack.chain.unsigned(bank.address, function)
    assert tx["nonce"] == stack.chain.w3.eth.get_transaction_count(bank.address)
    assert (tx["type"], tx["chainId"], tx["to"]) == (2, stack.chain.chain_id, stack.ledger.address)
    # The bank signs it wherever its key lives (here: the key the test holds for it).
    result = stack.chain.relay(bank.address, function, bank.sign(tx))

    assert stack.chain.w3.eth.get_transaction_receipt(HexStr(result.tx_hash))["status"] == 1
    assert stack.ledger.receivable(fp(INVOICE)).outstanding == 30_000


@pytest.mark.parametrize(
    ("what", "change"),
    [
        ("data", lambda stack, tx: {"data": finance(stack, 31_000)._encode_transaction_data()}),
        ("to", lambda stack, tx: {"to": stack.pledges.address}),
        ("chainId", lambda stack, tx: {"chainId": tx["chainId"] + 1}),
        ("value", lambda stack, tx: {"value": 1}),
        ("signer", None),
    ],
)
def test_a_transaction_other_than_the_requests_is_refused_and_not_sent(
    registered: Stack, what: str, change: Any
) -> None:
    stack, bank = registered, registered.bank_a.signer
    function = finance(stack, 30_000)
    tx = stack.chain.unsigned(bank.address, function)
    signer = stack.bank_b.signer if change is None else bank
    raw = signer.sign(tx if change is None else {**tx, **change(stack, tx)})

    error = refused(
        stack,
        errors.InvalidInput,
        "signed-transaction-mismatch",
        lambda: stack.chain.relay(bank.address, function, raw),
    )
    assert error.details == {"field": "signed_transaction"}
    assert f"the signed transaction's {what} is not this request's" in str(error)


@pytest.mark.parametrize("raw", [b"", b"\x02\x01", bytes(100)])
def test_bytes_that_are_no_signed_transaction_are_refused(stack: Stack, raw: bytes) -> None:
    error = refused(
        stack,
        errors.InvalidInput,
        "signed-transaction",
        lambda: stack.chain.relay(stack.bank_a.signer.address, finance(stack, 1), raw),
    )
    assert error.details == {"field": "signed_transaction"}


def test_a_used_nonce_is_refused_by_its_rule(registered: Stack) -> None:
    stack, bank = registered, registered.bank_a.signer
    first = finance(stack, 10_000)
    tx = stack.chain.unsigned(bank.address, first)
    stack.chain.relay(bank.address, first, bank.sign(tx))
    # The same nonce again, for another tranche: the node has mined one with it.
    second = finance(stack, 20_000)
    stale: TxParams = {**stack.chain.unsigned(bank.address, second), "nonce": tx["nonce"]}

    refused(
        stack,
        errors.InvalidInput,
        "nonce-used",
        lambda: stack.chain.relay(bank.address, second, bank.sign(stale)),
    )
    assert stack.ledger.receivable(fp(INVOICE)).outstanding == 10_000


def test_a_refusal_at_estimation_comes_before_any_transaction(registered: Stack) -> None:
    """An account without the lender role asks: the rule refuses it before a transaction exists,
    and so does the chain's rule for the holder's own tranche beyond the cap."""
    stack = registered
    stranger = Signer.generate()
    refused(
        stack,
        errors.MissingRole,
        "missing-role",
        lambda: stack.chain.unsigned(stranger.address, finance(stack, 1)),
    )
    refused(
        stack,
        errors.FinancingExceedsCap,
        "financing-exceeds-cap",
        lambda: stack.chain.unsigned(stack.bank_a.signer.address, finance(stack, 10**9)),
    )
