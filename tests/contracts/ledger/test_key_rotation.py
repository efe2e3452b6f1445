"""Key rotation: registrations and attestations under a newer fingerprint key, with aliases to
the older key's documents.

Documents under key version 1 are fp("<label>"), under version 2 fp("<label>@2"): the
contract cannot tell they are the same; the aliases a registration carries say so.
"""

from __future__ import annotations

from typing import Any

import pytest

from registry.chain.client import Signer
from registry.contracts.ledger import (
    Attempt,
    DeclarationAlias,
    InvoiceAlias,
    ReceivableStatus,
    ReceivableTerms,
    RefusalReason,
    Standing,
)
from tests.conftest import Stack, fp, hx
from tests.contracts.ledger.conftest import EXPORT_DATE, OTHER_EXPORTER, limit, only_log
from tests.helpers import MATURITY, decls, register, violated
from tests.models.ledger import EXPORTER

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
