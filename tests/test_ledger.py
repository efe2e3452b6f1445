"""ReceivableLedger's rules, exercised through the typed binding against real nodes.

Each reverting refusal is checked for its decoded domain error, its rule, and for leaving the chain
unchanged (no block mined, and the head's hash, which commits to the whole state, as before): the
binding estimates first, so a refused operation sends nothing. Each recorded refusal (the ``try*``
entry points) is checked for its one mined transaction holding the refusal event and nothing else,
and for the state it leaves as it was.

The test deployment's policy is one rate for verified and unverified declarations alike
(``ADVANCE_RATE_BPS``); tests that need two rates set them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pydantic
import pytest
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import Web3

from registry import errors
from registry.artifacts import ARTIFACTS_DIR
from registry.chain.client import Chain, Signer
from registry.contracts.deploy import deploy
from registry.contracts.ledger import (
    MAX_AMOUNT,
    MAX_DECLARATIONS,
    AdvanceRates,
    Attempt,
    Attestation,
    DeclarationAlias,
    DeclarationState,
    DeclarationTerm,
    InvoiceAlias,
    ReceivableLedger,
    ReceivableState,
    ReceivableStatus,
    ReceivableTerms,
    RefusalReason,
    Standing,
)
from registry.contracts.roles import LENDER_ROLE, VERIFIER_ROLE
from registry.settings import Settings
from tests.conftest import ADVANCE_RATE_BPS, Stack, fp, hx
from tests.helpers import MATURITY, decls, funded, refused, register, terms, violated
from tests.models.ledger import EXPORTER

OTHER_EXPORTER = b"\xdd" * 32
EXPORT_DATE = 1_700_000_000
BPS = 10_000
DAY = 86_400


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


def state(stack: Stack, ids: list[bytes], declarations: list[bytes]) -> tuple[Any, ...]:
    """Every view of the given receivables and declarations, to compare before and after."""
    ledger = stack.ledger
    return (
        [(ledger.receivable(i), ledger.declarations_of(i), ledger.headroom(i)) for i in ids],
        [(ledger.declaration(d), ledger.attestation(d)) for d in declarations],
        [ledger.institution_of_receivable(i) for i in ids],
        ledger.advance_rates(),
    )


def limit(value: int, rate_bps: int = ADVANCE_RATE_BPS) -> int:
    return value * rate_bps // BPS


# --- registration ------------------------------------------------------------------------------


def test_register_records_terms_declarations_and_cap(any_stack: Stack) -> None:
    stack = any_stack
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 60_000), ("D2", 50_000))

    assert stack.ledger.receivable(rid) == ReceivableState(
        status=ReceivableStatus.REGISTERED,
        key_version=1,
        currency="USD",
        maturity=MATURITY,
        registrant=stack.bank_a.signer.address,
        financier=None,
        exporter=EXPORTER,
        face_value=100_000,
        declared_value=110_000,
        # min(face x rate, sum of the declarations' limits) = min(80,000, 88,000)
        cap=limit(100_000),
        outstanding=0,
    )
    assert stack.ledger.declarations_of(rid) == [fp("D1"), fp("D2")]
    assert stack.ledger.declaration(fp("D1")) == DeclarationState(
        rid, Standing.UNVERIFIED, 60_000, 60_000, limit(60_000), 0
    )
    assert stack.ledger.receivable_of_declaration(fp("D2")) == rid
    assert stack.ledger.headroom(rid) == limit(100_000)
    assert stack.ledger.institution_of_receivable(rid) == stack.ledger.institution_of(
        stack.bank_a.signer.address
    )
    assert not stack.ledger.is_overdue(rid)


def test_cap_is_the_declarations_limit_when_lower(stack: Stack) -> None:
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 30_000))
    assert stack.ledger.receivable(rid).cap == limit(30_000)
    error = refused(
        stack,
        errors.FinancingExceedsCap,
        "financing-exceeds-cap",
        lambda: stack.ledger.finance(stack.bank_a.signer, rid, limit(30_000) + 1),
    )
    assert error.details["headroom"] == limit(30_000)


def test_declaration_backs_at_most_one_invoice(any_stack: Stack) -> None:
    stack = any_stack
    first = register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))

    error = refused(
        stack,
        errors.DeclarationLinkedToOtherInvoice,
        "declaration-linked-to-other-invoice",
        lambda: register(stack, stack.bank_b.signer, "INV-2", ("D9", 10), ("D1", 90_000)),
    )
    assert error.details == {"declaration": hx(fp("D1")), "linkedReceivable": hx(first)}
    assert stack.ledger.receivable(fp("INV-2")).status is ReceivableStatus.NONE
    # The declaration listed before the refused one was not linked either: the whole call reverted.
    assert stack.ledger.receivable_of_declaration(fp("D9")) is None


def test_invoice_registered_once(stack: Stack) -> None:
    register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    error = refused(
        stack,
        errors.ReceivableAlreadyRegistered,
        "receivable-already-registered",
        lambda: register(stack, stack.bank_b.signer, "INV-1", ("D2", 90_000)),
    )
    assert error.details == {"id": hx(fp("INV-1")), "registrant": stack.bank_a.signer.address}


MALFORMED = [
    pytest.param(terms("INV-1"), [], "declaration-count-out-of-range", id="no declarations"),
    pytest.param(
        terms("INV-1"),
        decls(*((f"D{i}", 1) for i in range(MAX_DECLARATIONS + 1))),
        "declaration-count-out-of-range",
        id="too many declarations",
    ),
    pytest.param(terms("INV-1"), decls(("D1", 0)), "zero-value", id="zero declared value"),
    pytest.param(terms("INV-1", 0), decls(("D1", 5)), "zero-value", id="zero face value"),
    pytest.param(
        terms("INV-1"), decls(("D1", 5), ("D1", 5)), "declaration-duplicated", id="duplicate"
    ),
    pytest.param(
        terms("INV-1"),
        [DeclarationTerm(bytes(32), 5)],
        "zero-fingerprint",
        id="zero declaration fingerprint",
    ),
    pytest.param(
        ReceivableTerms(bytes(32), EXPORTER, 1, 100, "USD", MATURITY),
        decls(("D1", 5)),
        "zero-fingerprint",
        id="zero invoice fingerprint",
    ),
    pytest.param(
        terms("INV-1", exporter=bytes(32)), decls(("D1", 5)), "zero-fingerprint", id="no exporter"
    ),
    pytest.param(
        terms("INV-1", MAX_AMOUNT + 1),
        decls(("D1", 5)),
        "amount-out-of-range",
        id="face value above 2**96 - 1",
    ),
    pytest.param(
        terms("INV-1"),
        decls(("D1", MAX_AMOUNT), ("D2", 1)),
        "amount-out-of-range",
        id="declared total above 2**96 - 1",
    ),
]


@pytest.mark.parametrize("recording", [False, True], ids=["register", "tryRegister"])
@pytest.mark.parametrize(("bad_terms", "declarations", "rule"), MALFORMED)
def test_malformed_registrations_revert_on_both_entry_points(
    stack: Stack,
    bad_terms: ReceivableTerms,
    declarations: list[DeclarationTerm],
    rule: str,
    recording: bool,
) -> None:
    """Malformed input is no financing attempt: the recording entry point reverts it too."""
    ledger = stack.ledger
    action = ledger.try_register if recording else ledger.register
    violated(stack, rule, lambda: action(stack.bank_a.signer, bad_terms, declarations))


# --- financing, repayment, cancellation ---------------------------------------------------------


def test_financing_within_cap_and_tranches_by_same_bank(any_stack: Stack) -> None:
    stack = any_stack
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    stack.ledger.finance(stack.bank_a.signer, rid, 50_000)
    stack.ledger.finance(stack.bank_a.signer, rid, 30_000)  # a second tranche, up to the cap

    error = refused(
        stack,
        errors.FinancingExceedsCap,
        "financing-exceeds-cap",
        lambda: stack.ledger.finance(stack.bank_a.signer, rid, 1),
    )
    assert error.details == {"id": hx(rid), "amount": 1, "headroom": 0}
    financed = stack.ledger.receivable(rid)
    assert (financed.status, financed.outstanding, financed.financier) == (
        ReceivableStatus.FINANCED,
        80_000,
        stack.bank_a.signer.address,
    )
    assert stack.ledger.declaration(fp("D1")).outstanding == 80_000


def test_only_the_registering_bank_draws(any_stack: Stack) -> None:
    """Another bank is refused before anything is financed (it cannot grab a fresh registration)
    and while money is out; the holder is the registrant's institution throughout."""
    stack = any_stack
    bank_a = stack.ledger.institution_of(stack.bank_a.signer.address)
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    held = {"id": hx(rid), "institution": hx(bank_a)}

    error = refused(
        stack,
        errors.ReceivableHeldByOtherBank,
        "receivable-held-by-other-bank",
        lambda: stack.ledger.finance(stack.bank_b.signer, rid, 1),
    )
    assert error.details == held
    stack.ledger.finance(stack.bank_a.signer, rid, 10_000)
    error = refused(
        stack,
        errors.ReceivableHeldByOtherBank,
        "receivable-held-by-other-bank",
        lambda: stack.ledger.finance(stack.bank_b.signer, rid, 1_000),
    )
    assert error.details == held
    assert stack.ledger.receivable(rid).outstanding == 10_000
    assert stack.ledger.institution_of_receivable(rid) == bank_a


def test_repayment_settles_and_the_receivable_stays_its_registrants(stack: Stack) -> None:
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    assert violated(
        stack, "receivable-not-active", lambda: stack.ledger.repay(stack.bank_a.signer, rid, 1)
    ) == {"id": hx(rid), "status": int(ReceivableStatus.REGISTERED)}
    stack.ledger.finance(stack.bank_a.signer, rid, 40_000)
    error = refused(
        stack,
        errors.ReceivableHeldByOtherBank,
        "receivable-held-by-other-bank",
        lambda: stack.ledger.repay(stack.bank_b.signer, rid, 1),
    )
    assert error.details == {
        "id": hx(rid),
        "institution": hx(stack.ledger.institution_of(stack.bank_a.signer.address)),
    }
    error = refused(
        stack,
        errors.RepaymentExceedsOutstanding,
        "repayment-exceeds-outstanding",
        lambda: stack.ledger.repay(stack.bank_a.signer, rid, 40_001),
    )
    assert error.details == {"id": hx(rid), "amount": 40_001, "outstanding": 40_000}

    stack.ledger.repay(stack.bank_a.signer, rid, 15_000)
    assert stack.ledger.receivable(rid).outstanding == 25_000
    stack.ledger.repay(stack.bank_a.signer, rid, 25_000)
    settled = stack.ledger.receivable(rid)
    assert (settled.status, settled.outstanding, settled.financier) == (
        ReceivableStatus.SETTLED,
        0,
        None,
    )
    assert violated(
        stack, "receivable-not-active", lambda: stack.ledger.repay(stack.bank_a.signer, rid, 1)
    ) == {"id": hx(rid), "status": int(ReceivableStatus.SETTLED)}

    # Settled: still the registering bank's. Another bank is refused; the holder may draw again.
    violated(
        stack,
        "receivable-held-by-other-bank",
        lambda: stack.ledger.finance(stack.bank_b.signer, rid, 5_000),
    )
    stack.ledger.finance(stack.bank_a.signer, rid, 5_000)
    assert stack.ledger.receivable(rid).financier == stack.bank_a.signer.address
    assert stack.ledger.institution_of_receivable(rid) == stack.ledger.institution_of(
        stack.bank_a.signer.address
    )


def test_cancel_frees_declarations_and_allows_reregistration(stack: Stack) -> None:
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    assert violated(
        stack, "receivable-not-cancellable", lambda: stack.ledger.cancel(stack.bank_b.signer, rid)
    ) == {"id": hx(rid), "status": int(ReceivableStatus.REGISTERED)}

    stack.ledger.cancel(stack.bank_a.signer, rid)
    cancelled = stack.ledger.receivable(rid)
    assert (cancelled.status, cancelled.cap, cancelled.headroom) == (
        ReceivableStatus.CANCELLED,
        0,
        0,
    )
    assert stack.ledger.receivable_of_declaration(fp("D1")) is None
    assert stack.ledger.declaration(fp("D1")) == DeclarationState(
        None, Standing.UNVERIFIED, 0, 0, 0, 0
    )
    assert violated(
        stack, "receivable-not-active", lambda: stack.ledger.finance(stack.bank_a.signer, rid, 1)
    ) == {"id": hx(rid), "status": int(ReceivableStatus.CANCELLED)}
    violated(
        stack, "receivable-not-cancellable", lambda: stack.ledger.cancel(stack.bank_a.signer, rid)
    )

    register(stack, stack.bank_b.signer, "INV-1", ("D1", 100_000))
    assert stack.ledger.receivable(rid).registrant == stack.bank_b.signer.address
    assert stack.ledger.declaration(fp("D1")).receivable == rid


def test_financed_or_settled_receivable_cannot_be_cancelled(stack: Stack) -> None:
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    stack.ledger.finance(stack.bank_a.signer, rid, 1)
    assert violated(
        stack, "receivable-not-cancellable", lambda: stack.ledger.cancel(stack.bank_a.signer, rid)
    ) == {"id": hx(rid), "status": int(ReceivableStatus.FINANCED)}
    stack.ledger.repay(stack.bank_a.signer, rid, 1)
    violated(
        stack, "receivable-not-cancellable", lambda: stack.ledger.cancel(stack.bank_a.signer, rid)
    )


def test_unknown_receivable(stack: Stack) -> None:
    ledger, bank = stack.ledger, stack.bank_a.signer
    for action in (
        lambda: ledger.finance(bank, fp("X"), 1),
        lambda: ledger.try_finance(bank, fp("X"), 1),
        lambda: ledger.repay(bank, fp("X"), 1),
        lambda: ledger.cancel(bank, fp("X")),
    ):
        error = refused(stack, errors.ReceivableNotFound, "receivable-not-found", action)
        assert error.details == {"id": hx(fp("X"))}
    assert ledger.receivable(fp("X")).status is ReceivableStatus.NONE
    assert ledger.headroom(fp("X")) == 0
    assert ledger.declarations_of(fp("X")) == []


def test_zero_amounts_revert(stack: Stack) -> None:
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    ledger, bank = stack.ledger, stack.bank_a.signer
    violated(stack, "zero-amount", lambda: ledger.finance(bank, rid, 0))
    violated(stack, "zero-amount", lambda: ledger.try_finance(bank, rid, 0))
    ledger.finance(bank, rid, 10)
    violated(stack, "zero-amount", lambda: ledger.repay(bank, rid, 0))


# --- policy and attestations --------------------------------------------------------------------


def test_admin_sets_advance_rates_for_every_drawdown(stack: Stack) -> None:
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    assert stack.ledger.advance_rates() == AdvanceRates(ADVANCE_RATE_BPS, ADVANCE_RATE_BPS)
    tx = stack.ledger.set_advance_rates(stack.admin.signer, 9_000, 5_000)
    assert stack.ledger.events(tx, "AdvanceRatesSet") == [
        {"verifiedBps": 9_000, "unverifiedBps": 5_000, "admin": stack.admin.signer.address}
    ]
    assert stack.ledger.advance_rates() == AdvanceRates(9_000, 5_000)
    # The policy acts on the next drawdown of an existing receivable: its unverified declaration
    # now carries 50%.
    assert stack.ledger.receivable(rid).cap == 50_000
    error = refused(
        stack,
        errors.FinancingExceedsCap,
        "financing-exceeds-cap",
        lambda: stack.ledger.finance(stack.bank_a.signer, rid, 50_001),
    )
    assert error.details == {"id": hx(rid), "amount": 50_001, "headroom": 50_000}
    stack.ledger.finance(stack.bank_a.signer, rid, 50_000)

    # A cut below what is outstanding calls nothing back; it stops new drawdowns.
    stack.ledger.set_advance_rates(stack.admin.signer, 9_000, 4_000)
    assert (stack.ledger.receivable(rid).cap, stack.ledger.headroom(rid)) == (40_000, 0)
    assert stack.ledger.receivable(rid).outstanding == 50_000


def test_a_default_deployment_has_a_higher_verified_rate(stack: Stack) -> None:
    """SPEC's shape out of the box: attested declarations finance at a higher rate than others
    (both settable), so an unattested one is never financed as if customs had vouched for it."""
    settings = Settings(_env_file=None)
    rates = AdvanceRates(settings.verified_advance_rate_bps, settings.unverified_advance_rate_bps)
    assert rates == AdvanceRates(9_000, 5_000)
    deployment = deploy(stack.chain, stack.secrets.deployer, rates)
    fresh = ReceivableLedger(stack.chain, deployment.address_of(ReceivableLedger.NAME))
    assert fresh.advance_rates() == rates
    custom = Settings(
        _env_file=None, verified_advance_rate_bps=8_500, unverified_advance_rate_bps=0
    )
    assert (custom.verified_advance_rate_bps, custom.unverified_advance_rate_bps) == (8_500, 0)
    with pytest.raises(pydantic.ValidationError, match="at most verified_advance_rate_bps"):
        Settings(_env_file=None, verified_advance_rate_bps=5_000, unverified_advance_rate_bps=6_000)


@pytest.mark.parametrize(
    ("verified", "unverified"), [(10_001, 0), (5_000, 5_001), (10_001, 10_001)]
)
def test_advance_rates_out_of_range(stack: Stack, verified: int, unverified: int) -> None:
    details = violated(
        stack,
        "advance-rates-out-of-range",
        lambda: stack.ledger.set_advance_rates(stack.admin.signer, verified, unverified),
    )
    assert details == {"verifiedBps": verified, "unverifiedBps": unverified}


def test_attested_value_counts_where_lower(any_stack: Stack) -> None:
    stack = any_stack
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    tx = stack.ledger.attest_declaration(
        stack.verifier.signer, fp("D1"), EXPORTER, 60_000, EXPORT_DATE
    )
    assert stack.ledger.events(tx, "DeclarationAttested") == [
        {
            "declaration": fp("D1"),
            "exporter": EXPORTER,
            "verifier": stack.verifier.signer.address,
            "value": 60_000,
            "exportDate": EXPORT_DATE,
        }
    ]
    assert stack.ledger.events(tx, "DeclarationCounted") == [
        {
            "declaration": fp("D1"),
            "id": rid,
            "index": 0,
            "standing": int(Standing.VERIFIED),
            "countedValue": 60_000,
        }
    ]
    assert stack.ledger.declaration(fp("D1")) == DeclarationState(
        rid, Standing.VERIFIED, 90_000, 60_000, limit(60_000), 0
    )
    assert stack.ledger.attestation(fp("D1")) == Attestation(EXPORTER, 60_000, EXPORT_DATE)
    assert stack.ledger.receivable(rid).cap == limit(60_000)
    assert stack.ledger.receivable(rid).declared_value == 90_000

    # A correction re-attests; above the declared value, the declared value counts.
    stack.ledger.attest_declaration(stack.verifier.signer, fp("D1"), EXPORTER, 120_000, EXPORT_DATE)
    assert stack.ledger.declaration(fp("D1")).counted_value == 90_000
    assert stack.ledger.receivable(rid).cap == limit(90_000)


def test_attestation_before_registration_counts_from_the_start(stack: Stack) -> None:
    stack.ledger.attest_declaration(stack.verifier.signer, fp("D1"), EXPORTER, 50_000, EXPORT_DATE)
    assert stack.ledger.declaration(fp("D1")).receivable is None
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 70_000))
    assert stack.ledger.declaration(fp("D1")) == DeclarationState(
        rid, Standing.VERIFIED, 70_000, 50_000, limit(50_000), 0
    )


def test_verified_and_unverified_rates(stack: Stack) -> None:
    stack.ledger.set_advance_rates(stack.admin.signer, 9_000, 5_000)
    stack.ledger.attest_declaration(stack.verifier.signer, fp("D1"), EXPORTER, 100_000, EXPORT_DATE)
    rid = register(
        stack, stack.bank_a.signer, "INV-1", ("D1", 100_000), ("D2", 100_000), face_value=300_000
    )
    assert stack.ledger.declaration(fp("D1")).limit == 90_000
    assert stack.ledger.declaration(fp("D2")).limit == 50_000
    # min(300,000 x 90%, 90,000 + 50,000)
    assert stack.ledger.receivable(rid).cap == 140_000

    # Attesting the second declaration raises it to the verified rate at once.
    stack.ledger.attest_declaration(stack.verifier.signer, fp("D2"), EXPORTER, 100_000, EXPORT_DATE)
    assert stack.ledger.receivable(rid).cap == 180_000

    # Face value x the verified rate still bounds the whole invoice.
    stack.ledger.set_advance_rates(stack.admin.signer, 5_000, 5_000)
    assert stack.ledger.receivable(rid).cap == 100_000


def test_each_drawdown_is_judged_against_the_cap_as_it_is_now(stack: Stack) -> None:
    """The receivable keeps its cap with the policy it was computed under, so that a drawdown
    under an unchanged policy reads only the declarations it fills. A new policy, an attestation
    and a return to an earlier policy must all still move the cap of the very next drawdown."""
    ledger, bank, admin = stack.ledger, stack.bank_a.signer, stack.admin.signer
    ledger.set_advance_rates(admin, 9_000, 5_000)
    rid = register(stack, bank, "INV-1", ("D1", 60_000), ("D2", 40_000))

    def judged(cap: int, draw: int) -> None:
        """The cap is ``cap`` to the unit, before and after a drawdown of ``draw``."""
        for _ in range(2):
            room = cap - ledger.receivable(rid).outstanding
            assert (ledger.receivable(rid).cap, ledger.headroom(rid)) == (cap, room)
            over = ledger.try_finance(bank, rid, room + 1)
            assert over.refusal is not None
            assert over.refusal.headroom == room
            assert ledger.try_finance(bank, rid, draw).accepted

    judged(30_000 + 20_000, draw=10_000)  # both unverified, at 50%
    ledger.set_advance_rates(admin, 9_000, 6_000)
    judged(36_000 + 24_000, draw=5_000)
    ledger.attest_declaration(stack.verifier.signer, fp("D1"), EXPORTER, 30_000, EXPORT_DATE)
    judged(27_000 + 24_000, draw=1_000)  # D1 verified at 90% of its attested 30,000
    ledger.set_advance_rates(admin, 9_000, 5_000)
    judged(27_000 + 20_000, draw=1_000)
    # A cut below the 34,000 outstanding: nothing more to draw.
    ledger.set_advance_rates(admin, 4_000, 4_000)
    assert (ledger.receivable(rid).cap, ledger.headroom(rid)) == (12_000 + 16_000, 0)
    refusal = ledger.try_finance(bank, rid, 1).refusal
    assert refusal is not None
    assert refusal.headroom == 0


def test_no_financing_on_unverified_declarations_at_rate_zero(stack: Stack) -> None:
    stack.ledger.set_advance_rates(stack.admin.signer, 9_000, 0)
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    assert (stack.ledger.receivable(rid).cap, stack.ledger.headroom(rid)) == (0, 0)
    error = refused(
        stack,
        errors.FinancingExceedsCap,
        "financing-exceeds-cap",
        lambda: stack.ledger.finance(stack.bank_a.signer, rid, 1),
    )
    assert error.details["headroom"] == 0


def test_declaration_attested_for_another_exporter_is_refused_at_registration(
    stack: Stack,
) -> None:
    stack.ledger.attest_declaration(
        stack.verifier.signer, fp("D1"), OTHER_EXPORTER, 90_000, EXPORT_DATE
    )
    error = refused(
        stack,
        errors.DeclarationExporterMismatch,
        "declaration-exporter-mismatch",
        lambda: register(stack, stack.bank_a.signer, "INV-1", ("D2", 5), ("D1", 90_000)),
    )
    assert error.details == {
        "declaration": hx(fp("D1")),
        "attestedExporter": hx(OTHER_EXPORTER),
        "exporter": hx(EXPORTER),
    }
    assert stack.ledger.receivable_of_declaration(fp("D2")) is None


def test_declaration_attested_for_another_exporter_after_registration_counts_zero(
    stack: Stack,
) -> None:
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 60_000), ("D2", 50_000))
    stack.ledger.finance(stack.bank_a.signer, rid, 30_000)  # all on D1
    stack.ledger.attest_declaration(
        stack.verifier.signer, fp("D1"), OTHER_EXPORTER, 60_000, EXPORT_DATE
    )

    assert stack.ledger.declaration(fp("D1")) == DeclarationState(
        rid, Standing.EXPORTER_MISMATCH, 60_000, 0, 0, 30_000
    )
    # D1 carries nothing more; the money drawn against it stays outstanding.
    assert stack.ledger.receivable(rid).cap == limit(50_000)
    assert stack.ledger.headroom(rid) == limit(50_000) - 30_000
    stack.ledger.finance(stack.bank_a.signer, rid, limit(50_000) - 30_000)
    assert stack.ledger.declaration(fp("D2")).outstanding == limit(50_000) - 30_000
    error = refused(
        stack,
        errors.FinancingExceedsCap,
        "financing-exceeds-cap",
        lambda: stack.ledger.finance(stack.bank_a.signer, rid, 1),
    )
    assert error.details == {"id": hx(rid), "amount": 1, "headroom": 0}


@pytest.mark.parametrize(
    ("declaration", "exporter", "value", "export_date", "rule"),
    [
        (bytes(32), EXPORTER, 1, EXPORT_DATE, "zero-fingerprint"),
        (fp("D1"), bytes(32), 1, EXPORT_DATE, "zero-fingerprint"),
        (fp("D1"), EXPORTER, 0, EXPORT_DATE, "zero-value"),
        (fp("D1"), EXPORTER, MAX_AMOUNT + 1, EXPORT_DATE, "amount-out-of-range"),
        (fp("D1"), EXPORTER, 1, 0, "export-date-out-of-range"),
        (fp("D1"), EXPORTER, 1, 2**63, "export-date-out-of-range"),
    ],
)
def test_malformed_attestations_revert(
    stack: Stack, declaration: bytes, exporter: bytes, value: int, export_date: int, rule: str
) -> None:
    violated(
        stack,
        rule,
        lambda: stack.ledger.attest_declaration(
            stack.verifier.signer, declaration, exporter, value, export_date
        ),
    )


# --- per-declaration balances -------------------------------------------------------------------


def test_drawdowns_fill_declarations_in_order_and_repayments_release_in_reverse(
    any_stack: Stack,
) -> None:
    stack = any_stack
    ledger, bank = stack.ledger, stack.bank_a.signer
    rid = register(stack, bank, "INV-1", ("D1", 60_000), ("D2", 50_000), face_value=200_000)
    assert ledger.receivable(rid).cap == limit(60_000) + limit(50_000)

    tx = ledger.finance(bank, rid, 30_000)
    assert ledger.events(tx, "DeclarationFinanced") == [
        {"id": rid, "index": 0, "amount": 30_000, "outstanding": 30_000}
    ]
    tx = ledger.finance(bank, rid, 40_000)
    assert ledger.events(tx, "DeclarationFinanced") == [
        {"id": rid, "index": 0, "amount": 18_000, "outstanding": limit(60_000)},
        {"id": rid, "index": 1, "amount": 22_000, "outstanding": 22_000},
    ]
    assert [ledger.declaration(fp(d)).outstanding for d in ("D1", "D2")] == [48_000, 22_000]

    tx = ledger.repay(bank, rid, 25_000)
    assert ledger.events(tx, "DeclarationRepaid") == [
        {"id": rid, "index": 1, "amount": 22_000, "outstanding": 0},
        {"id": rid, "index": 0, "amount": 3_000, "outstanding": 45_000},
    ]
    assert ledger.events(tx, "ReceivableRepaid") == [
        {
            "id": rid,
            "bank": bank.address,
            "amount": 25_000,
            "outstanding": 45_000,
            "status": int(ReceivableStatus.FINANCED),
        }
    ]
    balances = [ledger.declaration(fp(d)).outstanding for d in ("D1", "D2")]
    assert sum(balances) == ledger.receivable(rid).outstanding == 45_000

    # Each declaration stays within its limit: the whole cap can be drawn, never more.
    ledger.finance(bank, rid, ledger.headroom(rid))
    for number in ("D1", "D2"):
        declaration = ledger.declaration(fp(number))
        assert declaration.outstanding == declaration.limit <= declaration.counted_value


# --- institutions -------------------------------------------------------------------------------


def test_accounts_of_one_bank_act_as_the_same_bank(stack: Stack) -> None:
    ledger = stack.ledger
    a1, b = stack.bank_a.signer, stack.bank_b.signer
    bank_a = ledger.institution_of(a1.address)
    a2 = funded(stack, LENDER_ROLE, on=stack.ledger)
    tx = ledger.assign_institution(stack.admin.signer, a2.address, bank_a)
    assert ledger.events(tx, "InstitutionAssigned") == [
        {"account": a2.address, "institution": bank_a, "admin": stack.admin.signer.address}
    ]
    rid = register(stack, a1, "INV-1", ("D1", 100_000))
    other = register(stack, a1, "INV-2", ("D2", 100_000))

    ledger.finance(a2, rid, 10_000)  # another account of the registering bank
    ledger.finance(a1, rid, 10_000)  # a tranche by the first account: the same bank
    assert ledger.receivable(rid).financier == a1.address
    assert ledger.institution_of_receivable(rid) == bank_a
    violated(stack, "receivable-held-by-other-bank", lambda: ledger.finance(b, rid, 1))
    violated(stack, "receivable-held-by-other-bank", lambda: ledger.repay(b, rid, 1))
    ledger.repay(a2, rid, 20_000)
    assert ledger.receivable(rid).status is ReceivableStatus.SETTLED

    violated(stack, "receivable-not-cancellable", lambda: ledger.cancel(b, other))
    ledger.cancel(a2, other)
    assert ledger.receivable(other).status is ReceivableStatus.CANCELLED


def test_an_account_moved_to_another_bank_does_not_carry_the_claim(stack: Stack) -> None:
    """Account Z of Bank A registers and draws; moved to Bank B it is Bank B's account: refused on
    Bank A's receivable, the refusal recorded against Bank B, while Bank A's other account still
    draws and repays. Moved back, it acts for Bank A again."""
    ledger, admin = stack.ledger, stack.admin.signer
    a, b = stack.bank_a.signer, stack.bank_b.signer
    bank_a, bank_b = ledger.institution_of(a.address), ledger.institution_of(b.address)
    z = funded(stack, LENDER_ROLE, on=stack.ledger)
    ledger.assign_institution(admin, z.address, bank_a)
    rid = register(stack, z, "INV-1", ("D1", 100_000))
    ledger.finance(z, rid, 10_000)

    ledger.assign_institution(admin, z.address, bank_b)
    held = {"id": hx(rid), "institution": hx(bank_a)}
    assert violated(stack, "receivable-held-by-other-bank", lambda: ledger.finance(z, rid, 1)) == (
        held
    )
    assert violated(stack, "receivable-held-by-other-bank", lambda: ledger.repay(z, rid, 1)) == (
        held
    )
    attempt = ledger.try_finance(z, rid, 1)
    assert attempt.refusal is not None
    assert (attempt.refusal.reason, attempt.refusal.institution, attempt.refusal.account) == (
        RefusalReason.RECEIVABLE_HELD_BY_OTHER_BANK,
        bank_b,
        z.address,
    )
    violated(stack, "receivable-held-by-other-bank", lambda: ledger.finance(b, rid, 1))
    assert ledger.institution_of_receivable(rid) == bank_a
    ledger.finance(a, rid, 5_000)  # Bank A's own account: still Bank A's receivable
    ledger.repay(a, rid, 15_000)
    assert ledger.receivable(rid).status is ReceivableStatus.SETTLED

    ledger.assign_institution(admin, z.address, bank_a)
    ledger.finance(z, rid, 1_000)
    assert ledger.receivable(rid).financier == z.address


def test_another_banks_drawdown_on_a_fresh_registration_is_recorded_against_it(
    stack: Stack,
) -> None:
    """Nothing drawn yet: another bank still cannot take the registering bank's claim, and the
    fraud signal (the recorded refusal) names the bank that tried, not the victim."""
    ledger, a, b = stack.ledger, stack.bank_a.signer, stack.bank_b.signer
    rid = register(stack, a, "INV-1", ("D1", 100_000))
    attempt = ledger.try_finance(b, rid, 1)
    assert attempt.refusal is not None
    refusal = attempt.refusal
    assert (refusal.reason, refusal.institution, refusal.account, refusal.financier) == (
        RefusalReason.RECEIVABLE_HELD_BY_OTHER_BANK,
        ledger.institution_of(b.address),
        b.address,
        None,
    )
    assert ledger.receivable(rid).outstanding == 0
    assert ledger.try_finance(a, rid, 10_000).accepted
    assert ledger.receivable(rid).outstanding == 10_000


# --- key rotation -------------------------------------------------------------------------------
#
# Documents under key version 1 are fp("<label>"), under version 2 fp("<label>@2"): the contract
# cannot tell they are the same; the aliases a registration carries say so.

EXPORTER_V2 = b"\xe2" * 32
OTHER_EXPORTER_V2 = b"\xd2" * 32


def terms_v2(invoice: str, exporter: bytes = EXPORTER_V2) -> ReceivableTerms:
    return ReceivableTerms(fp(invoice + "@2"), exporter, 2, 100_000, "USD", MATURITY)


def alias_v1(invoice: str, *declarations: str, exporter: bytes = EXPORTER) -> InvoiceAlias:
    return InvoiceAlias(1, fp(invoice), exporter, tuple(fp(d) for d in declarations))


def present_v2(
    stack: Stack, signer: Signer, invoice: str, *declarations: tuple[str, int], **kw: Any
) -> Attempt:
    """A registration under key version 2, with its version-1 alias."""
    exporter_v1 = kw.get("exporter_v1", EXPORTER)
    return stack.ledger.try_register(
        signer,
        terms_v2(invoice, kw.get("exporter_v2", EXPORTER_V2)),
        decls(*((d + "@2", v) for d, v in declarations)),
        [alias_v1(invoice, *(d for d, _ in declarations), exporter=exporter_v1)],
    )


def test_an_attestation_under_an_older_key_refuses_another_exporter(stack: Stack) -> None:
    """The review's sequence: customs attests D for exporter E1 under key 1; after the rotation
    exporter E2 presents D under key 2. Refused (and recorded), not financed as unverified."""
    ledger, b = stack.ledger, stack.bank_b.signer
    ledger.attest_declaration(stack.verifier.signer, fp("D1"), EXPORTER, 90_000, EXPORT_DATE)
    presented = (
        terms_v2("INV-9", OTHER_EXPORTER_V2),
        decls(("D1@2", 90_000)),
        [alias_v1("INV-9", "D1", exporter=OTHER_EXPORTER)],
    )
    details = violated(
        stack, "declaration-exporter-mismatch", lambda: ledger.register(b, *presented)
    )
    assert details == {
        "declaration": hx(fp("D1")),
        "attestedExporter": hx(EXPORTER),
        "exporter": hx(OTHER_EXPORTER),
    }
    attempt = ledger.try_register(b, *presented)
    assert attempt.refusal is not None
    assert (attempt.refusal.reason, attempt.refusal.document, attempt.refusal.conflict) == (
        RefusalReason.DECLARATION_EXPORTER_MISMATCH,
        fp("D1"),
        EXPORTER,
    )
    assert attempt.error is not None
    assert attempt.error.details == details
    assert ledger.receivable(fp("INV-9@2")).status is ReceivableStatus.NONE


def test_a_genuine_attestation_under_an_older_key_still_counts(stack: Stack) -> None:
    stack.ledger.set_advance_rates(stack.admin.signer, 9_000, 5_000)
    stack.ledger.attest_declaration(stack.verifier.signer, fp("D1"), EXPORTER, 60_000, EXPORT_DATE)
    attempt = present_v2(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    assert attempt.accepted
    declaration = stack.ledger.declaration(fp("D1@2"))
    assert (declaration.standing, declaration.counted_value, declaration.limit) == (
        Standing.VERIFIED,
        60_000,
        limit(60_000, 9_000),
    )
    # Without the alias the same declaration would have counted unverified at 50%.
    assert stack.ledger.receivable(fp("INV-1@2")).cap == limit(60_000, 9_000)


def test_the_newest_keys_attestation_wins(stack: Stack) -> None:
    """Customs corrects, under key 2, an attestation it made under key 1 for the wrong exporter."""
    ledger, verifier = stack.ledger, stack.verifier.signer
    ledger.attest_declaration(verifier, fp("D1"), OTHER_EXPORTER, 90_000, EXPORT_DATE)
    ledger.attest_declaration(verifier, fp("D1@2"), EXPORTER_V2, 80_000, EXPORT_DATE)
    attempt = present_v2(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    assert attempt.accepted
    declaration = ledger.declaration(fp("D1@2"))
    assert (declaration.standing, declaration.counted_value) == (Standing.VERIFIED, 80_000)


def test_documents_registered_under_an_older_key_are_refused_and_recorded(stack: Stack) -> None:
    """The invoice or a declaration registered under key 1 is found through the alias: the refusal
    is the chain's, recorded for auditors, whichever key version found it."""
    ledger, a, b = stack.ledger, stack.bank_a.signer, stack.bank_b.signer
    first = register(stack, a, "INV-1", ("D1", 90_000))

    again = present_v2(stack, b, "INV-1", ("D7", 90_000))
    assert again.refusal is not None
    assert (again.refusal.reason, again.refusal.document, again.refusal.conflict) == (
        RefusalReason.RECEIVABLE_ALREADY_REGISTERED,
        first,
        ledger.institution_of(a.address),
    )
    assert again.error is not None
    assert again.error.details == {"id": hx(first), "registrant": a.address}

    borrowed = present_v2(stack, b, "INV-2", ("D8", 5), ("D1", 90_000))
    assert borrowed.refusal is not None
    assert (borrowed.refusal.reason, borrowed.refusal.document, borrowed.refusal.conflict) == (
        RefusalReason.DECLARATION_LINKED_TO_OTHER_INVOICE,
        fp("D1"),
        first,
    )
    for attempt in (again, borrowed):
        assert only_log(stack, attempt) == "RegistrationRefused"
    assert ledger.receivable(fp("INV-2@2")).status is ReceivableStatus.NONE
    assert ledger.receivable_of_declaration(fp("D8@2")) is None


def test_an_attestation_after_the_rotation_recounts_a_declaration_registered_before(
    stack: Stack,
) -> None:
    ledger = stack.ledger
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    tx = ledger.attest_declaration(
        stack.verifier.signer,
        fp("D1@2"),
        EXPORTER_V2,
        50_000,
        EXPORT_DATE,
        [DeclarationAlias(fp("D1"), EXPORTER)],
    )
    assert ledger.events(tx, "DeclarationCounted") == [
        {
            "declaration": fp("D1"),
            "id": rid,
            "index": 0,
            "standing": int(Standing.VERIFIED),
            "countedValue": 50_000,
        }
    ]
    assert ledger.declaration(fp("D1")).counted_value == 50_000
    # For another exporter, the same attestation zeroes it.
    ledger.attest_declaration(
        stack.verifier.signer,
        fp("D1@2"),
        OTHER_EXPORTER_V2,
        50_000,
        EXPORT_DATE,
        [DeclarationAlias(fp("D1"), OTHER_EXPORTER)],
    )
    assert ledger.declaration(fp("D1")).standing is Standing.EXPORTER_MISMATCH


MALFORMED_ALIASES = [
    pytest.param([InvoiceAlias(2, fp("I"), EXPORTER, (fp("D"),))], "key-alias-invalid", id="own"),
    pytest.param(
        [InvoiceAlias(1, fp("I"), EXPORTER, (fp("D"),))] * 2, "key-alias-invalid", id="twice"
    ),
    pytest.param(
        [InvoiceAlias(1, fp("I"), EXPORTER, (fp("D"), fp("E")))], "key-alias-invalid", id="count"
    ),
    pytest.param(
        [InvoiceAlias(v, fp(f"I{v}"), EXPORTER, (fp(f"D{v}"),)) for v in (3, 4, 5, 6, 7)],
        "key-alias-invalid",
        id="too-many",
    ),
    pytest.param([InvoiceAlias(1, bytes(32), EXPORTER, (fp("D"),))], "zero-fingerprint", id="id"),
    pytest.param([InvoiceAlias(1, fp("I"), bytes(32), (fp("D"),))], "zero-fingerprint", id="exp"),
    pytest.param([InvoiceAlias(1, fp("I"), EXPORTER, (bytes(32),))], "zero-fingerprint", id="decl"),
]


@pytest.mark.parametrize(("aliases", "rule"), MALFORMED_ALIASES)
@pytest.mark.parametrize("recording", [False, True])
def test_malformed_aliases_revert_on_both_entry_points(
    stack: Stack, aliases: list[InvoiceAlias], rule: str, recording: bool
) -> None:
    ledger = stack.ledger
    action = ledger.try_register if recording else ledger.register
    presented = (terms_v2("INV-1"), decls(("D1@2", 1)))
    violated(stack, rule, lambda: action(stack.bank_a.signer, *presented, aliases))


def test_malformed_attestation_aliases_revert(stack: Stack) -> None:
    ledger, verifier = stack.ledger, stack.verifier.signer
    five = [DeclarationAlias(fp(f"D{v}"), EXPORTER) for v in range(5)]
    zero = [DeclarationAlias(bytes(32), EXPORTER)]
    for aliases, rule in ((five, "key-alias-invalid"), (zero, "zero-fingerprint")):
        violated(
            stack,
            rule,
            lambda a=aliases: ledger.attest_declaration(
                verifier, fp("D1@2"), EXPORTER_V2, 1, EXPORT_DATE, a
            ),
        )


# --- recorded refusals --------------------------------------------------------------------------


@dataclass
class Scene:
    """Receivables and declarations set up for a refusal, and what to look at around it."""

    ids: list[bytes]
    declarations: list[bytes]
    receivable: bytes
    attempt: Callable[[], Attempt]
    reverting: Callable[[], object]
    reason: RefusalReason
    document: bytes
    actor: str = "Bank B"
    conflict: bytes | None = None
    headroom: int | None = None
    financier: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _registration_scene(stack: Stack, reason: RefusalReason) -> Scene:
    a, b, ledger = stack.bank_a.signer, stack.bank_b.signer, stack.ledger
    first = register(stack, a, "INV-1", ("D1", 90_000))
    if reason is RefusalReason.RECEIVABLE_ALREADY_REGISTERED:
        presented = (terms("INV-1"), decls(("D2", 90_000)))
        document, conflict = first, ledger.institution_of(a.address)
    elif reason is RefusalReason.DECLARATION_LINKED_TO_OTHER_INVOICE:
        presented = (terms("INV-2"), decls(("D2", 5), ("D1", 90_000)))
        document, conflict = fp("D1"), first
    else:
        ledger.attest_declaration(stack.verifier.signer, fp("D2"), OTHER_EXPORTER, 5, EXPORT_DATE)
        presented = (terms("INV-2"), decls(("D2", 5)))
        document, conflict = fp("D2"), OTHER_EXPORTER
    return Scene(
        ids=[first, fp("INV-2")],
        declarations=[fp("D1"), fp("D2")],
        receivable=presented[0].id,
        attempt=lambda: ledger.try_register(b, *presented),
        reverting=lambda: ledger.register(b, *presented),
        reason=reason,
        document=document,
        conflict=conflict,
    )


def _financing_scene(stack: Stack, reason: RefusalReason) -> Scene:
    a, ledger = stack.bank_a.signer, stack.ledger
    rid = register(stack, a, "INV-1", ("D1", 100_000))
    amount, room, financier, actor = 1_000, 0, None, "Bank B"
    if reason is RefusalReason.RECEIVABLE_NOT_ACTIVE:
        ledger.cancel(a, rid)
    elif reason is RefusalReason.RECEIVABLE_HELD_BY_OTHER_BANK:
        ledger.finance(a, rid, 10_000)
        financier = a.address
    else:
        ledger.finance(a, rid, 10_000)
        ledger.repay(a, rid, 10_000)  # settled: its bank may finance again, within the cap
        amount, room, actor = limit(100_000) + 1, limit(100_000), "Bank A"
    signer = stack.secrets.institution(actor).signer
    return Scene(
        ids=[rid],
        declarations=[fp("D1")],
        receivable=rid,
        attempt=lambda: ledger.try_finance(signer, rid, amount),
        reverting=lambda: ledger.finance(signer, rid, amount),
        reason=reason,
        document=rid,
        actor=actor,
        headroom=room,
        financier=financier,
        details={"amount": amount},
    )


@pytest.mark.parametrize(
    "reason",
    [
        RefusalReason.RECEIVABLE_ALREADY_REGISTERED,
        RefusalReason.DECLARATION_LINKED_TO_OTHER_INVOICE,
        RefusalReason.DECLARATION_EXPORTER_MISMATCH,
        RefusalReason.RECEIVABLE_NOT_ACTIVE,
        RefusalReason.RECEIVABLE_HELD_BY_OTHER_BANK,
        RefusalReason.FINANCING_EXCEEDS_CAP,
    ],
)
def test_refused_attempt_is_recorded_and_changes_nothing_else(
    stack: Stack, reason: RefusalReason
) -> None:
    registration = reason.value <= RefusalReason.DECLARATION_EXPORTER_MISMATCH
    scene = (_registration_scene if registration else _financing_scene)(stack, reason)
    # The reverting entry point refuses the same attempt with the same error, sending nothing.
    reverted = refused(stack, errors.RuleViolation, scene.reason.rule, scene.reverting)
    before = state(stack, scene.ids, scene.declarations)
    head = stack.chain.block_number()

    attempt = scene.attempt()

    assert not attempt.accepted
    assert attempt.tx.block_number == head + 1
    expected_event = "RegistrationRefused" if registration else "FinancingRefused"
    assert only_log(stack, attempt) == expected_event
    assert state(stack, scene.ids, scene.declarations) == before
    refusal = attempt.refusal
    assert refusal is not None
    actor = stack.secrets.institution(scene.actor).signer.address
    assert (refusal.reason, refusal.document, refusal.account, refusal.institution) == (
        reason,
        scene.document,
        actor,
        stack.ledger.institution_of(actor),
    )
    assert (refusal.conflict, refusal.headroom, refusal.financier) == (
        scene.conflict,
        scene.headroom,
        scene.financier,
    )
    assert refusal.receivable_id == scene.receivable
    for name, value in scene.details.items():
        assert getattr(refusal, name) == value
    # The recorded refusal explains itself exactly as the revert does.
    error = attempt.error
    assert error is not None
    assert (type(error), error.rule, error.details) == (
        type(reverted),
        reverted.rule,
        reverted.details,
    )
    assert error.rule == reason.rule


def test_accepted_attempts_are_the_plain_operations(stack: Stack) -> None:
    ledger, bank = stack.ledger, stack.bank_a.signer
    registered = ledger.try_register(bank, terms("INV-1"), decls(("D1", 100_000)))
    assert (registered.accepted, registered.refusal, registered.error) == (True, None, None)
    assert len(ledger.events(registered.tx, "ReceivableRegistered")) == 1
    financed = ledger.try_finance(bank, fp("INV-1"), 10_000)
    assert financed.accepted
    assert ledger.events(financed.tx, "ReceivableFinanced") == [
        {"id": fp("INV-1"), "bank": bank.address, "amount": 10_000, "outstanding": 10_000}
    ]
    assert ledger.receivable(fp("INV-1")).outstanding == 10_000


# --- overdue ------------------------------------------------------------------------------------


def test_overdue_from_the_first_second_of_the_day_after_maturity(stack: Stack) -> None:
    """Due on its maturity's day (UTC), overdue from 00:00:00 of the next, by the block's
    timestamp; a maturity with a time of day is due all that day too."""
    now = stack.chain.w3.eth.get_block("latest")["timestamp"]
    due = (now // DAY + 2) * DAY  # 00:00 UTC, two days ahead
    midnight = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000), maturity=due)
    noon = register(stack, stack.bank_a.signer, "INV-2", ("D2", 100_000), maturity=due + DAY // 2)
    unfinanced = register(stack, stack.bank_a.signer, "INV-3", ("D3", 100_000), maturity=due)
    for rid in (midnight, noon):
        stack.ledger.finance(stack.bank_a.signer, rid, 1_000)

    last_second_due = stack.mine_at(due + DAY - 1)
    first_second_after = stack.mine_at(due + DAY)
    for rid in (midnight, noon):
        assert not stack.ledger.is_overdue(rid, last_second_due)
        assert stack.ledger.is_overdue(rid, first_second_after)
    assert not stack.ledger.is_overdue(unfinanced, first_second_after)  # nothing outstanding
    stack.ledger.repay(stack.bank_a.signer, midnight, 1_000)
    assert not stack.ledger.is_overdue(midnight)


# --- roles and errors ---------------------------------------------------------------------------

LENDER_CALLS: dict[str, Callable[[Stack, Signer], object]] = {
    "registerReceivable": lambda s, who: s.ledger.register(who, terms("INV-R"), decls(("DR", 1))),
    "tryRegisterReceivable": lambda s, who: s.ledger.try_register(
        who, terms("INV-R"), decls(("DR", 1))
    ),
    "finance": lambda s, who: s.ledger.finance(who, fp("INV-1"), 1),
    "tryFinance": lambda s, who: s.ledger.try_finance(who, fp("INV-1"), 1),
    "repay": lambda s, who: s.ledger.repay(who, fp("INV-1"), 1),
    "cancel": lambda s, who: s.ledger.cancel(who, fp("INV-1")),
}
OTHER_CALLS: dict[str, tuple[bytes, Callable[[Stack, Signer], object]]] = {
    "attestDeclaration": (
        VERIFIER_ROLE,
        lambda s, who: s.ledger.attest_declaration(who, fp("D1"), EXPORTER, 1, EXPORT_DATE),
    ),
    "setAdvanceRates": (bytes(32), lambda s, who: s.ledger.set_advance_rates(who, 1, 1)),
    "assignInstitution": (
        bytes(32),
        lambda s, who: s.ledger.assign_institution(who, who.address, b"\x01" * 32),
    ),
}
CALLERS: dict[str, Callable[[Stack], Signer]] = {
    "bank": lambda s: s.bank_a.signer,
    "customs": lambda s: s.verifier.signer,
    "admin": lambda s: s.admin.signer,
    "registrar": lambda s: s.registrar.signer,
    "court": lambda s: s.enforcer.signer,
    "operator": lambda s: s.operator.signer,
}
HOLDER = {"attestDeclaration": "customs", "setAdvanceRates": "admin", "assignInstitution": "admin"}
ROLE_CASES = [
    *(
        (name, LENDER_ROLE, call, caller)
        for name, call in LENDER_CALLS.items()
        for caller in CALLERS
        if caller != "bank"
    ),
    *(
        (name, role, call, caller)
        for name, (role, call) in OTHER_CALLS.items()
        for caller in CALLERS
        if caller != HOLDER[name]
    ),
]


@pytest.fixture
def with_receivable(stack: Stack) -> Stack:
    """A financed receivable INV-1, so that every call has something to act on."""
    register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    stack.ledger.finance(stack.bank_a.signer, fp("INV-1"), 10)
    return stack


@pytest.mark.parametrize(
    ("function", "role", "call", "caller"),
    [pytest.param(*case, id=f"{case[0]}-by-{case[3]}") for case in ROLE_CASES],
)
def test_each_role_is_refused_what_it_may_not_do(
    with_receivable: Stack,
    function: str,
    role: bytes,
    call: Callable[[Stack, Signer], object],
    caller: str,
) -> None:
    stack = with_receivable
    who = CALLERS[caller](stack)
    error = refused(stack, errors.MissingRole, "missing-role", lambda: call(stack, who))
    assert error.details == {"account": who.address, "neededRole": hx(role)}


def test_outsider_is_refused_everything(with_receivable: Stack) -> None:
    stack = with_receivable
    outsider = funded(stack)
    calls = [
        *((LENDER_ROLE, call) for call in LENDER_CALLS.values()),
        *OTHER_CALLS.values(),
    ]
    for role, call in calls:
        error = refused(
            stack,
            errors.MissingRole,
            "missing-role",
            lambda call=call: call(stack, outsider),  # type: ignore[misc]
        )
        assert error.details == {"account": outsider.address, "neededRole": hx(role)}


# The contract errors decoded into a class of their own (with its category); every other one is a
# RuleViolation named after the error.
SPECIFIC_ERRORS: dict[str, type[errors.RegistryError]] = {
    "AccessControlUnauthorizedAccount": errors.MissingRole,
    "ReceivableNotFound": errors.ReceivableNotFound,
    "ReceivableAlreadyRegistered": errors.ReceivableAlreadyRegistered,
    "DeclarationLinkedToOtherInvoice": errors.DeclarationLinkedToOtherInvoice,
    "DeclarationExporterMismatch": errors.DeclarationExporterMismatch,
    "FinancingExceedsCap": errors.FinancingExceedsCap,
    "ReceivableHeldByOtherBank": errors.ReceivableHeldByOtherBank,
    "RepaymentExceedsOutstanding": errors.RepaymentExceedsOutstanding,
    "PropertyNotFound": errors.PropertyNotFound,
    "PledgeNotFound": errors.PledgeNotFound,
    "ReleaseNotAuthorized": errors.ReleaseNotAuthorized,
}


def _words(name: str) -> str:
    """``ECDSAInvalidSignatureS`` -> ``ecdsa-invalid-signature-s``: an acronym is one word."""
    return "-".join(re.findall(r"[A-Z]+(?![a-z])|[A-Z][a-z0-9]*", name)).lower()


def test_every_contract_error_decodes_to_a_domain_error(stack: Stack) -> None:
    """Each custom error of every committed ABI (ledger, pledge and consent registries, and the
    OpenZeppelin errors they inherit) becomes a domain exception of the right class, with the
    rule clients see and its arguments as details, never raw hex."""
    decoder = stack.chain.decoder
    decoded: dict[str, set[str]] = {}
    for path in sorted(ARTIFACTS_DIR.glob("*.json")):
        abi = json.loads(path.read_text())["abi"]
        for entry in (e for e in abi if e["type"] == "error"):
            name = entry["name"]
            samples = [_sample(i["type"]) for i in entry["inputs"]]
            error = decoder.exception_for(name, samples)
            expected = SPECIFIC_ERRORS.get(name, errors.RuleViolation)
            assert type(error) is expected, name
            rule = "missing-role" if name == "AccessControlUnauthorizedAccount" else _words(name)
            assert error.rule == rule, name
            assert error.details == {
                i["name"]: _shown(i["type"], value)
                for i, value in zip(entry["inputs"], samples, strict=True)
            }, name
            decoded.setdefault(path.stem, set()).add(name)
    # The walk saw every contract, each with its own errors.
    assert set(decoded) == {"ReceivableLedger", "PledgeRegistry", "ConsentRegistry"}
    assert "FinancingExceedsCap" in decoded["ReceivableLedger"]
    assert "SeizureNotLiftable" in decoded["PledgeRegistry"]
    assert "ConsentSuperseded" in decoded["ConsentRegistry"]
    assert isinstance(errors.PropertyNotFound("x"), errors.NotFound)
    assert isinstance(errors.ReleaseNotAuthorized("x"), errors.AccessDenied)


def test_revert_data_no_known_abi_explains_is_an_unknown_revert(stack: Stack) -> None:
    """A client that does not know the contract's errors (an older build talking to a newer
    deployment) reports the revert as unknown, with its raw data, rather than guessing."""
    blind = Chain(Web3(Web3.HTTPProvider(stack.node.url)), abis=[])
    ledger = ReceivableLedger(blind, stack.ledger.address)
    error = refused(
        stack,
        errors.UnknownRevert,
        "unknown-revert",
        lambda: ledger.finance(stack.bank_a.signer, fp("NOWHERE"), 1),
    )
    selector = keccak(text="ReceivableNotFound(bytes32)")[:4]
    assert (
        error.message
        == f"the chain reverted with unknown data 0x{selector.hex()}{fp('NOWHERE').hex()}"
    )
    # Its category is the chain's (503 in the API), not a rule the caller broke.
    assert isinstance(error, errors.ChainError)


def _sample(abi_type: str) -> Any:
    if abi_type == "address":
        return "0x" + "11" * 20
    if abi_type == "string":
        return "a string"
    if abi_type.startswith("bytes"):
        return bytes(range(1, int(abi_type[5:]) + 1))
    return 7


def _shown(abi_type: str, value: Any) -> Any:
    """How a decoded argument reads in the error's details."""
    if abi_type == "address":
        return to_checksum_address(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


# --- batches ------------------------------------------------------------------------------------


def test_batched_financing_costs_under_40000_gas_each(stack: Stack) -> None:
    """Multicall amortizes the base cost: 100 drawdowns on 100 receivables in one transaction."""
    ledger, bank = stack.ledger, stack.bank_a.signer
    registrations = [
        ledger.call_data(
            "registerReceivable",
            (fp(f"B{i}"), EXPORTER, 1, 100_000, b"USD", MATURITY),
            [(fp(f"BD{i}"), 90_000)],
            [],
        )
        for i in range(100)
    ]
    ledger.multicall(bank, registrations)
    drawdowns = [ledger.call_data("finance", fp(f"B{i}"), 10_000) for i in range(100)]
    batch = ledger.multicall(bank, drawdowns)
    assert batch.gas_used / 100 < 40_000
    assert ledger.receivable(fp("B99")).outstanding == 10_000


def test_a_failing_call_reverts_the_whole_batch(stack: Stack) -> None:
    ledger, bank = stack.ledger, stack.bank_a.signer
    calls = [
        ledger.call_data(
            "registerReceivable",
            (fp("INV-1"), EXPORTER, 1, 100_000, b"USD", MATURITY),
            [(fp("D1"), 9)],
            [],
        ),
        ledger.call_data("finance", fp("INV-1"), 10),  # beyond the cap of 7
    ]
    error = refused(
        stack,
        errors.FinancingExceedsCap,
        "financing-exceeds-cap",
        lambda: ledger.multicall(bank, calls),
    )
    # The refusal is the second call's, judged after the first within the same transaction.
    assert error.details == {"id": hx(fp("INV-1")), "amount": 10, "headroom": 7}
    assert ledger.receivable(fp("INV-1")).status is ReceivableStatus.NONE
