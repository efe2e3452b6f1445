"""The receivables domain service against a real dev chain: duplicate checks, registration,
financing and repayment from plain document fields.

Refusals are checked for their domain error and for leaving the chain as it was: no block mined,
or, for an attempt to double- or over-finance, one transaction holding only the recorded refusal.
Bad input is checked against a ledger on an unreachable node: an :class:`InvalidInput` coming back
proves the service refused it before making any chain request at all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

import pytest
from hexbytes import HexBytes

from registry import errors
from registry.chain.client import Chain, Signer
from registry.contracts.ledger import ReceivableLedger, RefusalReason
from registry.fingerprint import CustomsDeclaration, Enterprise, ExportInvoice
from registry.receivables import (
    MAX_DECLARATIONS,
    DeclarationCheck,
    DeclarationInput,
    DeclarationStatus,
    InvoiceStatus,
    Receivable,
    ReceivableService,
)
from tests.conftest import ADVANCE_RATE_BPS, Stack

TODAY = date(2026, 11, 1)
MATURITY = date(2027, 3, 31)
EXPORTER = "91350100M000100Y43"
OTHER_EXPORTER = "91110000600037341L"
DECL_1 = "310120260000012345"
DECL_2 = "310120260000067890"
FACE = 100_000
DAY = 86_400
CAP = FACE * ADVANCE_RATE_BPS // 10_000
# "INV 2026 001" typed in full-width letters and digits, with ideographic spaces (U+3000).
FULL_WIDTH_INVOICE_NUMBER = "".join(
    "\u3000" if char == " " else chr(ord(char) + 0xFEE0) for char in "INV 2026 001"
)


@pytest.fixture
def service(stack: Stack) -> ReceivableService:
    return ReceivableService(stack.ledger, stack.secrets.keyring, today=lambda: TODAY)


@contextmanager
def no_new_block(stack: Stack) -> Iterator[None]:
    """No block mined, and the head's hash (which commits to the state) as before."""
    tip = stack.tip()
    yield
    assert stack.tip() == tip


@contextmanager
def refusal_recorded(
    stack: Stack,
    event: str,
    *,
    bank: str,
    document: str,
    reason: str,
    conflict: str | None = None,
) -> Iterator[None]:
    """An attempt to double- or over-finance: refused, and recorded on chain in one transaction
    whose only log is the refusal ``event``, naming who tried (the ``bank``'s account and
    institution), which ``document`` (the invoice, or the offending declaration, as 0x hex) and
    why (``reason``, the rule's name); for registrations, what it ``conflict``s with."""
    head = stack.chain.block_number()
    yield
    assert stack.chain.block_number() == head + 1
    (tx_hash,) = stack.chain.w3.eth.get_block(head + 1)["transactions"]
    # Without full transactions, a block lists their hashes.
    (log,) = stack.chain.w3.eth.get_transaction_receipt(cast(HexBytes, tx_hash))["logs"]
    assert log["address"] == stack.ledger.address
    # Decoding with the event's ABI fails on any other event's topic.
    args = dict(getattr(stack.ledger.contract.events, event)().process_log(log)["args"])
    account = stack.secrets.institution(bank).signer.address
    assert args["account"] == account
    assert args["institution"] == stack.ledger.institution_of(account)
    named = args["document"] if event == "RegistrationRefused" else args["id"]
    assert "0x" + bytes(named).hex() == document
    assert RefusalReason(args["reason"]).rule == reason
    if conflict is not None:
        assert "0x" + bytes(args["conflict"]).hex() == conflict


def register(
    service: ReceivableService,
    stack: Stack,
    invoice_number: str = "INV-2026-001",
    declarations: tuple[tuple[str, int], ...] = ((DECL_1, 60_000), (DECL_2, 50_000)),
    exporter: str = EXPORTER,
    bank: str = "Bank A",
    maturity: date = MATURITY,
) -> str:
    registered = service.register(
        stack.secrets.institution(bank).signer,
        exporter_uscc=exporter,
        invoice_number=invoice_number,
        currency="USD",
        face_value=FACE,
        maturity_date=maturity,
        declarations=[DeclarationInput(number, value) for number, value in declarations],
    )
    return registered.receivable_id


def check(
    service: ReceivableService,
    stack: Stack,
    bank: str = "Bank A",
    invoice_number: str = "INV-2026-001",
    declaration_numbers: tuple[str, ...] = (DECL_1, DECL_2),
) -> Any:
    return service.check(
        stack.secrets.institution(bank).signer.address,
        exporter_uscc=EXPORTER,
        invoice_number=invoice_number,
        currency="USD",
        declaration_numbers=declaration_numbers,
    )


def test_register_uses_the_active_key_fingerprint_and_returns_the_transaction(
    service: ReceivableService, stack: Stack
) -> None:
    head = stack.chain.block_number()
    registered = service.register(
        stack.bank_a.signer,
        exporter_uscc=EXPORTER,
        invoice_number="INV-2026-001",
        currency="usd",
        face_value=FACE,
        maturity_date=MATURITY,
        declarations=[DeclarationInput(DECL_1, 60_000), DeclarationInput(DECL_2, 50_000)],
    )

    expected = stack.secrets.keyring.fingerprint(ExportInvoice(EXPORTER, "INV-2026-001", "USD"))
    assert registered.receivable_id == expected.hex
    assert registered.key_version == expected.key_version == 1
    assert registered.block_number == head + 1
    assert registered.tx_hash.startswith("0x")
    assert len(registered.tx_hash) == 66

    receivable = service.get(registered.receivable_id)
    assert receivable == Receivable(
        receivable_id=expected.hex,
        status="registered",
        key_version=1,
        currency="USD",
        maturity_date=MATURITY,
        registrant=stack.bank_a.signer.address,
        financier=None,
        exporter_fingerprint=receivable.exporter_fingerprint,
        face_value=FACE,
        declared_value=110_000,
        cap=CAP,
        outstanding=0,
        headroom=CAP,
        overdue=False,
        as_of_block=head + 1,
    )
    # The exporter goes on chain as a keyed fingerprint, never as its USCC.
    assert EXPORTER.encode().hex() not in receivable.exporter_fingerprint
    assert len(bytes.fromhex(receivable.exporter_fingerprint[2:])) == 32


def test_check_follows_registration_and_financing(service: ReceivableService, stack: Stack) -> None:
    before = check(service, stack)
    assert before.status is InvoiceStatus.UNKNOWN
    assert (before.receivable_id, before.cap, before.outstanding, before.headroom) == (
        None,
        None,
        None,
        None,
    )
    assert [d.status for d in before.declarations] == [DeclarationStatus.UNKNOWN] * 2

    rid = register(service, stack)
    registered = check(service, stack)
    assert registered.status is InvoiceStatus.REGISTERED
    assert registered.receivable_id == rid
    assert (registered.cap, registered.outstanding, registered.headroom) == (CAP, 0, CAP)
    assert registered.declarations == (
        DeclarationCheck(DECL_1, DeclarationStatus.LINKED_TO_THIS_INVOICE, rid),
        DeclarationCheck(DECL_2, DeclarationStatus.LINKED_TO_THIS_INVOICE, rid),
    )
    assert registered.as_of_block == stack.chain.block_number()

    service.finance(stack.bank_a.signer, rid, 30_000)
    mine = check(service, stack, bank="Bank A")
    assert mine.status is InvoiceStatus.FINANCED_BY_YOU
    assert (mine.outstanding, mine.headroom) == (30_000, CAP - 30_000)
    theirs = check(service, stack, bank="Bank B")
    assert theirs.status is InvoiceStatus.FINANCED_BY_OTHER
    assert (theirs.outstanding, theirs.headroom, theirs.cap) == (30_000, 0, CAP)


def test_check_sees_the_declaration_under_another_invoice(
    service: ReceivableService, stack: Stack
) -> None:
    rid = register(service, stack)
    result = check(
        service,
        stack,
        bank="Bank B",
        invoice_number="INV-OTHER",
        declaration_numbers=(
            DECL_2,
            "310120269999999999",
        ),
    )
    assert result.status is InvoiceStatus.UNKNOWN
    assert result.declarations == (
        DeclarationCheck(DECL_2, DeclarationStatus.LINKED_TO_OTHER_INVOICE, rid),
        DeclarationCheck("310120269999999999", DeclarationStatus.UNKNOWN, None),
    )


def test_other_spellings_find_the_same_documents(service: ReceivableService, stack: Stack) -> None:
    rid = register(service, stack, invoice_number="inv-2026/001")
    result = service.check(
        stack.bank_b.signer.address,
        exporter_uscc=" 9135 0100 m000 100y43 ",
        invoice_number=FULL_WIDTH_INVOICE_NUMBER,
        currency=" usd ",
        declaration_numbers=["3101-2026-0000-012345"],
    )
    assert result.status is InvoiceStatus.REGISTERED
    assert result.receivable_id == rid
    assert result.declarations == (
        DeclarationCheck(DECL_1, DeclarationStatus.LINKED_TO_THIS_INVOICE, rid),
    )


def test_settled_counts_as_registered_and_cancelled_as_unknown(
    service: ReceivableService, stack: Stack
) -> None:
    rid = register(service, stack)
    service.finance(stack.bank_a.signer, rid, 10_000)
    repaid = service.repay(stack.bank_a.signer, rid, 10_000)
    assert repaid.receivable.status == "settled"
    assert repaid.receivable.financier is None
    settled = check(service, stack, bank="Bank B")
    assert (settled.status, settled.held_by_you) == (InvoiceStatus.REGISTERED, False)
    assert settled.headroom == 0  # still Bank A's: Bank B could draw nothing
    mine = check(service, stack, bank="Bank A")
    assert (mine.status, mine.held_by_you, mine.headroom) == (InvoiceStatus.REGISTERED, True, CAP)

    other = register(service, stack, "INV-2", (("310120260000000002", 5_000),))
    stack.ledger.cancel(stack.bank_a.signer, bytes.fromhex(other[2:]))
    cancelled = check(
        service, stack, invoice_number="INV-2", declaration_numbers=("310120260000000002",)
    )
    assert cancelled.status is InvoiceStatus.UNKNOWN
    assert cancelled.declarations[0].status is DeclarationStatus.UNKNOWN
    # A cancelled registration frees the invoice and its declaration: another bank may register.
    assert register(service, stack, "INV-2", (("310120260000000002", 5_000),), bank="Bank B") == (
        other
    )


def test_declaration_of_another_invoice_is_refused_naming_it(
    service: ReceivableService, stack: Stack
) -> None:
    first = register(service, stack)
    declaration = stack.secrets.keyring.fingerprint(CustomsDeclaration(DECL_2)).hex
    with (
        refusal_recorded(
            stack,
            "RegistrationRefused",
            bank="Bank B",
            document=declaration,
            reason="declaration-linked-to-other-invoice",
            conflict=first,
        ),
        pytest.raises(errors.DeclarationLinkedToOtherInvoice) as raised,
    ):
        register(
            service,
            stack,
            "INV-FRAUD",
            (("310120260000000003", 1_000), (DECL_2, 50_000)),
            bank="Bank B",
        )
    assert raised.value.rule == "declaration-linked-to-other-invoice"
    assert raised.value.details["linkedReceivable"] == first
    assert raised.value.details["field"] == "declarations.1.number"


def test_declaration_attested_for_another_exporter_is_refused_naming_it(
    service: ReceivableService, stack: Stack
) -> None:
    keyring = stack.secrets.keyring
    other = keyring.fingerprint(Enterprise(OTHER_EXPORTER)).digest
    declaration = keyring.fingerprint(CustomsDeclaration(DECL_2)).digest
    stack.ledger.attest_declaration(
        stack.verifier.signer, declaration, other, 50_000, 1_700_000_000
    )
    with (
        refusal_recorded(
            stack,
            "RegistrationRefused",
            bank="Bank A",
            document="0x" + declaration.hex(),
            reason="declaration-exporter-mismatch",
            conflict="0x" + other.hex(),
        ),
        pytest.raises(errors.DeclarationExporterMismatch) as raised,
    ):
        register(service, stack)
    assert raised.value.rule == "declaration-exporter-mismatch"
    assert raised.value.details["field"] == "declarations.1.number"
    assert raised.value.details["attestedExporter"] == "0x" + other.hex()


def test_another_account_of_the_financing_bank_sees_its_own_financing(
    service: ReceivableService, stack: Stack
) -> None:
    rid = register(service, stack)
    service.finance(stack.bank_a.signer, rid, 10_000)
    second = Signer.generate()
    bank_a = stack.ledger.institution_of(stack.bank_a.signer.address)
    stack.ledger.assign_institution(stack.admin.signer, second.address, bank_a)
    found = service.check(
        second.address, exporter_uscc=EXPORTER, invoice_number="INV-2026-001", currency="USD"
    )
    assert (found.status, found.headroom) == (InvoiceStatus.FINANCED_BY_YOU, CAP - 10_000)


def test_registering_twice_is_refused(service: ReceivableService, stack: Stack) -> None:
    rid = register(service, stack)
    bank_a = stack.ledger.institution_of(stack.bank_a.signer.address)
    with (
        refusal_recorded(
            stack,
            "RegistrationRefused",
            bank="Bank B",
            document=rid,
            reason="receivable-already-registered",
            conflict="0x" + bank_a.hex(),
        ),
        pytest.raises(errors.ReceivableAlreadyRegistered) as raised,
    ):
        register(service, stack, declarations=(("310120260000000004", 1_000),), bank="Bank B")
    assert raised.value.rule == "receivable-already-registered"
    assert raised.value.details == {"id": rid, "registrant": stack.bank_a.signer.address}


def test_financing_rules(service: ReceivableService, stack: Stack) -> None:
    rid = register(service, stack)
    with (
        refusal_recorded(
            stack,
            "FinancingRefused",
            bank="Bank A",
            document=rid,
            reason="financing-exceeds-cap",
        ),
        pytest.raises(errors.FinancingExceedsCap) as cap,
    ):
        service.finance(stack.bank_a.signer, rid, CAP + 1)
    assert cap.value.rule == "financing-exceeds-cap"
    assert cap.value.details == {"id": rid, "amount": CAP + 1, "headroom": CAP}

    first = service.finance(stack.bank_a.signer, rid, 50_000)
    assert first.amount == 50_000
    assert first.receivable.status == "financed"
    assert first.receivable.financier == stack.bank_a.signer.address
    assert (first.receivable.outstanding, first.receivable.headroom) == (50_000, CAP - 50_000)
    assert first.receivable.as_of_block == first.block_number

    bank_a = "0x" + stack.ledger.institution_of(stack.bank_a.signer.address).hex()
    with (
        refusal_recorded(
            stack,
            "FinancingRefused",
            bank="Bank B",
            document=rid,
            reason="receivable-held-by-other-bank",
        ),
        pytest.raises(errors.ReceivableHeldByOtherBank) as other,
    ):
        service.finance(stack.bank_b.signer, rid, 1)
    assert other.value.rule == "receivable-held-by-other-bank"
    assert other.value.details == {"id": rid, "institution": bank_a}
    # Repayments are not financing attempts: refused without a record, nothing sent.
    with no_new_block(stack), pytest.raises(errors.ReceivableHeldByOtherBank) as held:
        service.repay(stack.bank_b.signer, rid, 1)
    assert held.value.rule == "receivable-held-by-other-bank"
    assert held.value.details == {"id": rid, "institution": bank_a}
    with no_new_block(stack), pytest.raises(errors.RepaymentExceedsOutstanding) as repay:
        service.repay(stack.bank_a.signer, rid, 50_001)
    assert repay.value.rule == "repayment-exceeds-outstanding"
    assert repay.value.details == {"id": rid, "amount": 50_001, "outstanding": 50_000}
    assert service.get(rid).outstanding == 50_000

    second = service.finance(stack.bank_a.signer, rid, CAP - 50_000)
    assert second.receivable.headroom == 0
    assert service.repay(stack.bank_a.signer, rid, 20_000).receivable.outstanding == CAP - 20_000


def test_overdue_is_judged_by_the_block_not_the_servers_clock(stack: Stack) -> None:
    """Due on the maturity date, overdue from 00:00:00 UTC the next day, by the block's timestamp,
    as the contract judges it, whatever the server's clock says."""
    now = stack.chain.w3.eth.get_block("latest")["timestamp"]
    due = datetime.fromtimestamp(now, UTC).date() + timedelta(days=2)
    # A server clock far off in either direction changes nothing.
    service = ReceivableService(stack.ledger, stack.secrets.keyring, today=lambda: TODAY)
    rid = register(service, stack, maturity=due)
    idle_service = service
    service = ReceivableService(stack.ledger, stack.secrets.keyring, today=lambda: date(2099, 1, 1))
    ledger_id = bytes.fromhex(rid[2:])
    midnight = int(datetime.combine(due, time(), UTC).timestamp())

    idle = register(idle_service, stack, "INV-IDLE", (("310120260000000009", 1_000),), maturity=due)
    service.finance(stack.bank_a.signer, rid, 1_000)

    stack.mine_at(midnight + DAY - 1)  # 23:59:59 on the due date
    assert (service.get(rid).overdue, stack.ledger.is_overdue(ledger_id)) == (False, False)
    stack.mine_at(midnight + DAY)  # 00:00:00 the day after
    assert (service.get(rid).overdue, stack.ledger.is_overdue(ledger_id)) == (True, True)
    assert service.get(idle).overdue is False  # nothing outstanding
    assert service.repay(stack.bank_a.signer, rid, 1_000).receivable.overdue is False


def test_get_unknown_receivable(service: ReceivableService) -> None:
    with pytest.raises(errors.ReceivableNotFound) as raised:
        service.get("0x" + "00" * 31 + "01")
    assert raised.value.rule == "receivable-not-found"
    assert raised.value.details == {"id": "0x" + "00" * 31 + "01"}


# --- key rotation ------------------------------------------------------------------------------


def test_documents_under_an_old_key_are_found_and_guarded(
    service: ReceivableService, stack: Stack
) -> None:
    old = register(service, stack)
    rotated = ReceivableService(stack.ledger, stack.secrets.keyring.rotated(), today=lambda: TODAY)
    assert rotated.keyring.active_version == 2

    found = check(rotated, stack, bank="Bank B")
    assert found.status is InvoiceStatus.REGISTERED
    assert (found.receivable_id, found.key_version) == (old, 1)
    assert {d.status for d in found.declarations} == {DeclarationStatus.LINKED_TO_THIS_INVOICE}

    # The version-1 registrations are found by the contract through the registration's aliases:
    # refused there, and the refusal recorded, whichever version found it.
    bank_a = stack.ledger.institution_of(stack.bank_a.signer.address)
    with (
        refusal_recorded(
            stack,
            "RegistrationRefused",
            bank="Bank B",
            document=old,
            reason="receivable-already-registered",
            conflict="0x" + bank_a.hex(),
        ),
        pytest.raises(errors.ReceivableAlreadyRegistered) as again,
    ):
        register(rotated, stack, declarations=(("310120260000000005", 1_000),), bank="Bank B")
    assert again.value.rule == "receivable-already-registered"
    assert again.value.details["id"] == old
    v1 = stack.secrets.keyring.fingerprint(CustomsDeclaration(DECL_1)).hex
    with (
        refusal_recorded(
            stack,
            "RegistrationRefused",
            bank="Bank A",
            document=v1,
            reason="declaration-linked-to-other-invoice",
            conflict=old,
        ),
        pytest.raises(errors.DeclarationLinkedToOtherInvoice) as linked,
    ):
        register(rotated, stack, "INV-NEW", (("310120260000000006", 1), (DECL_1, 1)))
    assert linked.value.rule == "declaration-linked-to-other-invoice"
    assert linked.value.details["linkedReceivable"] == old
    assert linked.value.details["field"] == "declarations.1.number"
    assert linked.value.details["declaration"] == v1

    fresh = register(rotated, stack, "INV-NEW", (("310120260000000006", 1_000),))
    assert rotated.get(fresh).key_version == 2
    assert rotated.finance(stack.bank_a.signer, old, 1_000).receivable.outstanding == 1_000


def test_customs_attestation_under_the_old_key_still_guards_after_a_rotation(
    service: ReceivableService, stack: Stack
) -> None:
    """The review's sequence, through the service: customs attested declaration D for exporter E1
    under key 1; after the rotation exporter E2 presents D. Refused and recorded, not registered as
    unverified at its full declared value; exporter E1 itself still counts as verified."""
    keyring = stack.secrets.keyring
    declaration = keyring.fingerprint(CustomsDeclaration(DECL_1)).digest
    exporter = keyring.fingerprint(Enterprise(EXPORTER)).digest
    stack.ledger.attest_declaration(
        stack.verifier.signer, declaration, exporter, 40_000, 1_700_000_000
    )
    rotated = ReceivableService(stack.ledger, keyring.rotated(), today=lambda: TODAY)

    with (
        refusal_recorded(
            stack,
            "RegistrationRefused",
            bank="Bank A",
            document="0x" + declaration.hex(),
            reason="declaration-exporter-mismatch",
            conflict="0x" + exporter.hex(),
        ),
        pytest.raises(errors.DeclarationExporterMismatch) as raised,
    ):
        register(rotated, stack, "INV-E2", ((DECL_1, 60_000),), exporter=OTHER_EXPORTER)
    assert raised.value.rule == "declaration-exporter-mismatch"
    assert raised.value.details["field"] == "declarations.0.number"
    assert raised.value.details["attestedExporter"] == "0x" + exporter.hex()

    rid = register(rotated, stack, "INV-E1", ((DECL_1, 60_000),))
    assert rotated.get(rid).cap == 40_000 * ADVANCE_RATE_BPS // 10_000  # the attested value


# --- bad input ---------------------------------------------------------------------------------


@pytest.fixture
def offline(stack: Stack) -> ReceivableService:
    """A service whose node does not exist: any chain request would fail with a ChainError."""
    chain = Chain.connect("http://127.0.0.1:9", timeout=1)
    return ReceivableService(
        ReceivableLedger(chain, stack.ledger.address), stack.secrets.keyring, today=lambda: TODAY
    )


def _registration(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "exporter_uscc": EXPORTER,
        "invoice_number": "INV-1",
        "currency": "USD",
        "face_value": FACE,
        "maturity_date": MATURITY,
        "declarations": [DeclarationInput(DECL_1, 60_000)],
    }
    return fields | changes


BAD_REGISTRATIONS: list[tuple[dict[str, Any], str, str]] = [
    ({"exporter_uscc": "91350100M000100Y44"}, "exporter_uscc", "uscc-check-digit"),
    ({"exporter_uscc": "91350100M000100Y4"}, "exporter_uscc", "uscc-format"),
    ({"invoice_number": " - "}, "invoice_number", "identifier-empty"),
    ({"currency": "XYZ"}, "currency", "iso-4217"),
    ({"face_value": 0}, "face_value", "positive-integer-minor-units"),
    ({"face_value": -1}, "face_value", "positive-integer-minor-units"),
    ({"face_value": 1.5}, "face_value", "positive-integer-minor-units"),
    ({"face_value": True}, "face_value", "positive-integer-minor-units"),
    ({"face_value": "100"}, "face_value", "positive-integer-minor-units"),
    ({"face_value": 2**96}, "face_value", "positive-integer-minor-units"),
    ({"maturity_date": TODAY - timedelta(days=1)}, "maturity_date", "maturity-in-past"),
    ({"maturity_date": "2027-01-01"}, "maturity_date", "iso-8601-date"),
    ({"declarations": []}, "declarations", "declaration-count"),
    (
        {"declarations": [DeclarationInput(f"3101202600000000{i:02}", 1) for i in range(33)]},
        "declarations",
        "declaration-count",
    ),
    (
        {"declarations": [DeclarationInput("31012026000001234", 1)]},
        "declarations.0.number",
        "declaration-number-format",
    ),
    (
        {"declarations": [DeclarationInput(DECL_1, 1), DeclarationInput(DECL_2, 0)]},
        "declarations.1.value",
        "positive-integer-minor-units",
    ),
    (
        {
            "declarations": [
                DeclarationInput(DECL_1, 1),
                DeclarationInput(" 3101-2026-0000-012345", 1),
            ]
        },
        "declarations.1.number",
        "declaration-duplicated",
    ),
]


@pytest.mark.parametrize(("changes", "field", "rule"), BAD_REGISTRATIONS)
def test_bad_registration_is_refused_before_any_chain_request(
    offline: ReceivableService, stack: Stack, changes: dict[str, Any], field: str, rule: str
) -> None:
    with pytest.raises(errors.InvalidInput) as raised:
        offline.register(stack.bank_a.signer, **_registration(**changes))
    assert (raised.value.field, raised.value.rule) == (field, rule)
    assert field in raised.value.message or field.split(".")[0] in raised.value.message


def test_max_declarations_are_accepted(service: ReceivableService, stack: Stack) -> None:
    numbers = [f"3101202600000001{i:02}" for i in range(MAX_DECLARATIONS)]
    rid = register(service, stack, "INV-MANY", tuple((number, 1_000) for number in numbers))
    assert service.get(rid).declared_value == MAX_DECLARATIONS * 1_000
    # Each declaration carries its value x the advance rate.
    assert service.get(rid).cap == min(CAP, MAX_DECLARATIONS * 1_000 * ADVANCE_RATE_BPS // 10_000)


@pytest.mark.parametrize(
    ("call", "field", "rule"),
    [
        (lambda s, signer: s.finance(signer, "0x1234", 1), "receivable_id", "receivable-id-format"),
        (lambda s, signer: s.repay(signer, "ab" * 32, 1), "receivable_id", "receivable-id-format"),
        (
            lambda s, signer: s.finance(signer, "0x" + "ab" * 32, 0),
            "amount",
            "positive-integer-minor-units",
        ),
        (
            lambda s, signer: s.repay(signer, "0x" + "ab" * 32, -5),
            "amount",
            "positive-integer-minor-units",
        ),
        (lambda s, signer: s.get("0x" + "zz" * 32), "receivable_id", "receivable-id-format"),
        (
            lambda s, signer: s.check(
                signer.address,
                exporter_uscc=EXPORTER,
                invoice_number="INV-1",
                currency="USD",
                declaration_numbers=[DECL_1, DECL_1],
            ),
            "declaration_numbers.1",
            "declaration-duplicated",
        ),
        (
            lambda s, signer: s.check(
                signer.address,
                exporter_uscc=EXPORTER,
                invoice_number="INV-1",
                currency="EURO",
            ),
            "currency",
            "iso-4217",
        ),
    ],
)
def test_bad_ids_amounts_and_checks_are_refused_before_any_chain_request(
    offline: ReceivableService,
    stack: Stack,
    call: Callable[[ReceivableService, Any], object],
    field: str,
    rule: str,
) -> None:
    with pytest.raises(errors.InvalidInput) as raised:
        call(offline, stack.bank_a.signer)
    assert (raised.value.field, raised.value.rule) == (field, rule)


def test_the_offline_service_really_has_no_chain(offline: ReceivableService, stack: Stack) -> None:
    """The bad-input tests above prove something only if a valid request would fail here."""
    with pytest.raises(errors.ChainError) as raised:
        offline.register(stack.bank_a.signer, **_registration())
    assert raised.value.rule == "chain-unavailable"


def test_concurrent_checks_each_get_their_own_answer_at_one_block(
    service: ReceivableService, stack: Stack
) -> None:
    """Checks arriving together are read in shared batches (registry.chain.views.HeadViews):
    each still gets the answer for its own invoice, its own declarations and its own bank."""
    rid = register(service, stack)
    service.finance(stack.bank_a.signer, rid, 30_000)
    asks = [
        ("Bank A", "INV-2026-001", InvoiceStatus.FINANCED_BY_YOU, rid),
        ("Bank B", "INV-2026-001", InvoiceStatus.FINANCED_BY_OTHER, rid),
        ("Bank A", "INV-UNKNOWN", InvoiceStatus.UNKNOWN, None),
    ] * 12
    start = threading.Barrier(len(asks))

    def ask(i: int) -> Any:
        bank, invoice, _, _ = asks[i]
        start.wait()
        return check(service, stack, bank=bank, invoice_number=invoice)

    with ThreadPoolExecutor(len(asks)) as pool:
        answers = list(pool.map(ask, range(len(asks))))

    head = stack.chain.block_number()
    for (bank, _, status, receivable_id), answer in zip(asks, answers, strict=True):
        assert (answer.status, answer.receivable_id, answer.as_of_block) == (
            status,
            receivable_id,
            head,
        ), bank
        held = status is InvoiceStatus.FINANCED_BY_YOU
        assert answer.held_by_you is held
        if receivable_id is not None:
            assert answer.headroom == (CAP - 30_000 if held else 0)
        # Declarations back the registered invoice whichever invoice is asked about.
        expected = (
            DeclarationStatus.LINKED_TO_THIS_INVOICE
            if receivable_id
            else (DeclarationStatus.LINKED_TO_OTHER_INVOICE)
        )
        assert [d.status for d in answer.declarations] == [expected] * 2
