"""The three contracts at once against SPEC's reference models, under random sequences of every
operation (issue 3, "Proof").

A Hypothesis ``RuleBasedStateMachine`` drives ReceivableLedger (register and finance through the
recording ``try*`` entry points, repay, cancel, attestations, advance rates), PledgeRegistry
(properties, appraisals, applications, approval by a clerk, rule decisions by the automated
registrar, clerk rejections, releases, seizures by two courts, liftings by them and the admin) and
ConsentRegistry (bindings and rebindings, relayed grants and revocations) on the session's anvil
node. The actors: three banks (Bank A and Bank B with two accounts each), the registry center's
clerk and automated account, customs, two courts and the admin, who moves accounts between banks
and rotates the fingerprint key. Each rule asks the models in ``tests/models`` whether the
operation must pass; the chain must agree, with the decoded domain error when it refuses (for the
recording entry points: the refusal event as the transaction's only log, naming the bank that
tried). After every step the invariants hold and the contracts' views (batched through
``registry.chain.views``) equal the models' state.

Key rotation: documents are ``fp(label)`` under key version 1 and ``fp(label@2)`` under version 2.
The models know documents by label only, which is what rotation must preserve: after the rotation,
registrations and attestations use version 2 with version-1 aliases, and the chain must behave as
if nothing had changed (no invoice live under both versions, no declaration linked under both).

Profiles (environment variable ``CREDITREG_HYPOTHESIS_PROFILE``):

- ``creditreg-ci`` (default): 25 examples x 40 steps, 1,000 steps in all, derandomized so that
  every run (and every failure) repeats exactly;
- ``creditreg-slow``: 300 examples x 80 steps, random seeds; Hypothesis prints the seed of a
  failure (``--hypothesis-seed=N`` replays it), e.g.
  ``CREDITREG_HYPOTHESIS_PROFILE=creditreg-slow .venv/bin/pytest -q tests/test_state_machine.py``.

Both are registered in ``tests/conftest.py`` under names of their own: Hypothesis loads a profile
called ``ci`` by itself under ``CI=true``, so a profile of ours by that name would set every
property test of the suite in CI.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from registry import errors
from registry.chain.client import Signer
from registry.chain.consents import (
    SCOPE_CREDIT_REPORT,
    Consent,
    ConsentStatus,
    Revocation,
    institution_id,
    sign_consent,
    sign_revocation,
)
from registry.chain.ledger import (
    LENDER_ROLE,
    DeclarationAlias,
    DeclarationTerm,
    InvoiceAlias,
    ReceivableStatus,
    ReceivableTerms,
)
from registry.chain.pledges import ENFORCER_ROLE, MIN_CLERK_REASON, PropertyStatus, RuleReason
from registry.chain.pledges import LENDER_ROLE as PLEDGE_LENDER_ROLE
from registry.chain.views import ContractViews
from registry.fingerprint import Enterprise, Fingerprint
from tests.conftest import Stack, fp
from tests.models.consents import ConsentModel
from tests.models.ledger import EXPORTER, Model
from tests.models.pledges import PropertyModel

PROFILE = settings.get_profile(os.environ.get("CREDITREG_HYPOTHESIS_PROFILE", "creditreg-ci"))

MATURITY = 2_000_000_000
EXPORT_DATE = 1_700_000_000
OTHER_EXPORTER = b"\xdd" * 32
# The two exporters' fingerprints under key version 2.
EXPORTER_UNDER = {(EXPORTER, 1): EXPORTER, (EXPORTER, 2): b"\xe2" * 32}
EXPORTER_UNDER |= {(OTHER_EXPORTER, 1): OTHER_EXPORTER, (OTHER_EXPORTER, 2): b"\xd2" * 32}
VERSIONS = (1, 2)
FACE_VALUE = 150_000
INVOICES = ("I1", "I2", "I3")
DECLARATIONS = ("D1", "D2", "D3", "D4")
PROPERTIES = {"P1": 1_000_000, "P2": 400_000}  # label -> appraised value at registration
CASES = (keccak(text="court case 1"), keccak(text="court case 2"))
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# Consents last far longer than a run's wall-clock time, so the clock never decides a check.
CONSENT_LIFETIME = 30 * 86_400
# Pledge reason codes of the automated rules, as the reverting approval names them.
APPROVAL_ERRORS = {
    RuleReason.PROPERTY_SEIZED: "property-seized",
    RuleReason.EXCEEDS_HEADROOM: "pledge-exceeds-headroom",
    RuleReason.TOO_MANY_ACTIVE_PLEDGES: "too-many-active-pledges",
}


def kebab(error_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", error_name).lower()


def uscc(serial: int) -> str:
    """A valid USCC (check digit computed)."""
    body = f"91350100{serial:09d}"
    total = sum(USCC_CHARSET.index(c) * w for c, w in zip(body, USCC_WEIGHTS, strict=True))
    return body + USCC_CHARSET[(31 - total % 31) % 31]


def doc(label: str, version: int) -> bytes:
    """A document's fingerprint under key ``version``."""
    return fp(label) if version == 1 else fp(f"{label}@{version}")


@dataclass(frozen=True)
class Bank:
    """One bank account: its name and signer. The institution it acts for is the model's business
    (``ThreeContracts.institution_of``): the admin moves some accounts between banks."""

    name: str
    signer: Signer

    def __repr__(self) -> str:  # short, for Hypothesis' printed steps
        return f"Bank({self.name}, {self.signer.address[:8]})"


def _funded(stack: Stack) -> Signer:
    signer = Signer.generate()
    stack.chain.send_value(stack.chain.w3.eth.accounts[0], signer.address, 10**18)
    return signer


def _funded_lender(stack: Stack) -> Signer:
    signer = _funded(stack)
    stack.ledger.grant_role(stack.admin.signer, LENDER_ROLE, signer.address)
    stack.pledges.grant_role(stack.admin.signer, PLEDGE_LENDER_ROLE, signer.address)
    return signer


# The accounts, and the bank each acts for at the start. A1, B1 and C1 are the banks' own
# accounts (their institution ids are those accounts'); A2 and B2 are the ones the admin moves.
START = {"A1": "A", "A2": "A", "B1": "B", "B2": "B", "C1": "C"}
MOVABLE = ("A2", "B2")


def _banks(stack: Stack) -> tuple[list[Bank], dict[str, bytes]]:
    """The accounts of :data:`START`, assigned to their banks on the ledger and the pledge
    registry, and each bank's institution id."""
    signers = {
        "A1": stack.bank_a.signer,
        "A2": _funded_lender(stack),
        "B1": stack.bank_b.signer,
        "B2": _funded_lender(stack),
        "C1": _funded_lender(stack),
    }
    ids = {bank: institution_id(signers[f"{bank}1"].address) for bank in "ABC"}
    for contract in (stack.ledger, stack.pledges):
        for name in MOVABLE:
            contract.assign_institution(stack.admin.signer, signers[name].address, ids[START[name]])
    return [Bank(name, signer) for name, signer in signers.items()], ids


# The suite's 300 s per-test timeout bounds the ci profile; the slow one runs as long as it takes.
@pytest.mark.timeout(0 if PROFILE.max_examples > 100 else 300)
def test_all_contracts_agree_with_the_reference_models(stack: Stack) -> None:
    banks, grantees = _banks(stack)
    movable = [bank for bank in banks if bank.name in MOVABLE]
    # A second court, an institution of its own.
    courts = {"court 1": stack.enforcer.signer, "court 2": _funded(stack)}
    stack.pledges.grant_role(stack.admin.signer, ENFORCER_ROLE, courts["court 2"].address)
    lifters = [*courts, "admin"]
    enterprises = [stack.secrets.keyring.fingerprint(Enterprise(uscc(n))) for n in (1, 2)]
    keys = [Account.create() for _ in range(3)]
    ledger, pledges, consents = stack.ledger, stack.pledges, stack.consents
    views = {
        "ledger": ContractViews(stack.chain, ledger.contract),
        "pledges": ContractViews(stack.chain, pledges.contract),
        "consents": ContractViews(stack.chain, consents.contract),
    }
    consent_domain = consents.domain()
    registrar, auto_registrar = stack.registrar.signer, stack.auto_registrar.signer
    relayer = stack.operator.signer  # any account may relay; this one has no say over consents

    def refused(rule_name: str, action: Callable[[], object]) -> None:
        """``action`` must revert with the domain error of ``rule_name`` and mine nothing."""
        head = stack.chain.block_number()
        with pytest.raises(errors.RegistryError) as raised:
            action()
        assert raised.value.rule == rule_name, raised.value
        assert stack.chain.block_number() == head

    def expect(rule_name: str | None, action: Callable[[], object]) -> None:
        if rule_name is None:
            action()
        else:
            refused(rule_name, action)

    def only_log_is_the_refusal(tx_hash: str) -> None:
        receipt = stack.chain.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        (log,) = receipt["logs"]
        assert log["address"] == ledger.address

    class ThreeContracts(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snapshot = stack.snapshot()
            self.ledger = Model()
            self.institution_of = dict(START)  # account -> the bank it acts for now
            self.key_version = 1  # the fingerprint key version new documents use
            self.registered_under: dict[str, int] = {}  # invoice -> version of its registration
            self.properties: dict[str, PropertyModel] = {}
            self.pledge_of: dict[bytes, tuple[str, str]] = {}  # pledge -> (property, bank)
            self.consents = ConsentModel.empty()

        def teardown(self) -> None:
            stack.revert(self.snapshot)

        def bank_of(self, bank: Bank) -> str:
            return self.institution_of[bank.name]

        def receivable_id(self, invoice: str) -> bytes:
            """The invoice's id under the version it was registered with (new ones: the current)."""
            return doc(invoice, self.registered_under.get(invoice, self.key_version))

        # --- the admin: accounts between banks, key rotation ------------------------------

        @rule(bank=st.sampled_from(movable), to=st.sampled_from("ABC"))
        def move_account(self, bank: Bank, to: str) -> None:
            for contract in (ledger, pledges):
                contract.assign_institution(stack.admin.signer, bank.signer.address, grantees[to])
            self.institution_of[bank.name] = to

        @precondition(lambda self: self.key_version == 1)
        @rule()
        def rotate_key(self) -> None:
            """New documents are fingerprinted under version 2 from now on; version 1 stays in
            use for lookups (the aliases)."""
            self.key_version = 2

        # --- receivables ------------------------------------------------------------------

        @rule(
            bank=st.sampled_from(banks),
            invoice=st.sampled_from(INVOICES),
            numbers=st.lists(st.sampled_from(DECLARATIONS), min_size=1, max_size=2, unique=True),
            value=st.integers(1, 120_000),
        )
        def register_receivable(
            self, bank: Bank, invoice: str, numbers: list[str], value: int
        ) -> None:
            declared = [(n, value) for n in numbers]
            expected = self.ledger.register(self.bank_of(bank), invoice, FACE_VALUE, declared)
            v = self.key_version
            exporter = EXPORTER_UNDER[(EXPORTER, v)]
            terms = ReceivableTerms(doc(invoice, v), exporter, v, FACE_VALUE, "USD", MATURITY)
            aliases = [
                InvoiceAlias(
                    older,
                    doc(invoice, older),
                    EXPORTER_UNDER[(EXPORTER, older)],
                    tuple(doc(n, older) for n in numbers),
                )
                for older in VERSIONS
                if older < v
            ]
            attempt = ledger.try_register(
                bank.signer, terms, [DeclarationTerm(doc(n, v), value) for n in numbers], aliases
            )
            assert (attempt.refusal.reason if attempt.refusal else None) == expected
            if attempt.refusal is None:
                self.registered_under[invoice] = v
            else:
                only_log_is_the_refusal(attempt.tx.tx_hash)
                assert attempt.refusal.account == bank.signer.address
                assert attempt.refusal.institution == grantees[self.bank_of(bank)]

        @rule(
            bank=st.sampled_from(banks),
            invoice=st.sampled_from(INVOICES),
            amount=st.integers(1, 150_000),
        )
        def finance(self, bank: Bank, invoice: str, amount: int) -> None:
            rid = self.receivable_id(invoice)
            if invoice not in self.ledger.receivables:
                refused("receivable-not-found", lambda: ledger.try_finance(bank.signer, rid, 1))
                return
            expected = self.ledger.finance(self.bank_of(bank), invoice, amount)
            attempt = ledger.try_finance(bank.signer, rid, amount)
            assert (attempt.refusal.reason if attempt.refusal else None) == expected
            if attempt.refusal is not None:
                only_log_is_the_refusal(attempt.tx.tx_hash)
                # The refusal is recorded against the bank that tried, never the holder.
                refusal = attempt.refusal
                assert (refusal.account, refusal.institution, refusal.amount) == (
                    bank.signer.address,
                    grantees[self.bank_of(bank)],
                    amount,
                )

        @rule(
            bank=st.sampled_from(banks),
            invoice=st.sampled_from(INVOICES),
            share=st.integers(1, 100),
        )
        def repay(self, bank: Bank, invoice: str, share: int) -> None:
            # A share of the outstanding amount, and beyond it (share > 90) now and then.
            entry = self.ledger.receivables.get(invoice)
            outstanding = self.ledger.outstanding(invoice) if entry else 0
            amount = max(1, outstanding * share // 90)
            expected = self.ledger.repay(self.bank_of(bank), invoice, amount)
            rid = self.receivable_id(invoice)
            expect(expected, lambda: ledger.repay(bank.signer, rid, amount))

        @rule(bank=st.sampled_from(banks), invoice=st.sampled_from(INVOICES))
        def cancel(self, bank: Bank, invoice: str) -> None:
            expected = self.ledger.cancel(self.bank_of(bank), invoice)
            rid = self.receivable_id(invoice)
            expect(expected, lambda: ledger.cancel(bank.signer, rid))

        @rule(
            number=st.sampled_from(DECLARATIONS),
            same_exporter=st.booleans(),
            value=st.integers(1, 120_000),
        )
        def attest(self, number: str, same_exporter: bool, value: int) -> None:
            exporter = EXPORTER if same_exporter else OTHER_EXPORTER
            v = self.key_version
            aliases = [
                DeclarationAlias(doc(number, older), EXPORTER_UNDER[(exporter, older)])
                for older in VERSIONS
                if older < v
            ]
            ledger.attest_declaration(
                stack.verifier.signer,
                doc(number, v),
                EXPORTER_UNDER[(exporter, v)],
                value,
                EXPORT_DATE,
                aliases,
            )
            self.ledger.attest(number, exporter, value)

        @rule(first=st.integers(0, 10_000), second=st.integers(0, 10_000))
        def set_advance_rates(self, first: int, second: int) -> None:
            verified, unverified = max(first, second), min(first, second)
            ledger.set_advance_rates(stack.admin.signer, verified, unverified)
            self.ledger.verified, self.ledger.unverified = verified, unverified

        # --- properties and pledges -------------------------------------------------------

        @rule(label=st.sampled_from(sorted(PROPERTIES)))
        def register_property(self, label: str) -> None:
            expected = "property-already-registered" if label in self.properties else None
            expect(
                expected,
                lambda: pledges.register_property(
                    registrar, fp(label), 1, PROPERTIES[label], "CNY"
                ),
            )
            if expected is None:
                self.properties[label] = PropertyModel(PROPERTIES[label])

        @rule(label=st.sampled_from(sorted(PROPERTIES)), value=st.integers(1, 1_500_000))
        def update_appraisal(self, label: str, value: int) -> None:
            known = label in self.properties
            expect(
                None if known else "property-not-found",
                lambda: pledges.update_appraisal(registrar, fp(label), value),
            )
            if known:
                self.properties[label].value = value

        @rule(
            bank=st.sampled_from(banks),
            label=st.sampled_from(sorted(PROPERTIES)),
            amount=st.integers(1, 300_000),
        )
        def apply(self, bank: Bank, label: str, amount: int) -> None:
            # Accepted even on a seized property or beyond headroom: the approval decides.
            if label not in self.properties:
                refused(
                    "property-not-found",
                    lambda: pledges.apply(bank.signer, fp(label), amount, "CNY", MATURITY),
                )
                return
            pid = pledges.apply(bank.signer, fp(label), amount, "CNY", MATURITY).pledge_id
            self.properties[label].pending[pid] = amount
            self.pledge_of[pid] = (label, self.bank_of(bank))

        def _pending(self) -> list[bytes]:
            return sorted(p for m in self.properties.values() for p in m.pending)

        def _active(self) -> list[bytes]:
            return sorted(p for m in self.properties.values() for p, _ in m.active)

        @precondition(lambda self: self._pending())
        @rule(data=st.data())
        def approve(self, data: st.DataObject) -> None:
            pid = data.draw(st.sampled_from(self._pending()))
            model = self.properties[self.pledge_of[pid][0]]
            reason = model.refusal(pid)
            expect(APPROVAL_ERRORS.get(reason), lambda: pledges.approve(registrar, pid))
            if reason == 0:
                model.decide(pid)

        @precondition(lambda self: self._pending())
        @rule(data=st.data())
        def decide(self, data: st.DataObject) -> None:
            pid = data.draw(st.sampled_from(self._pending()))
            model = self.properties[self.pledge_of[pid][0]]
            assert pledges.decide(auto_registrar, pid).reason_code == model.decide(pid)

        @precondition(lambda self: self.pledge_of)
        @rule(data=st.data(), code=st.sampled_from([1, MIN_CLERK_REASON, 417]))
        def reject(self, data: st.DataObject, code: int) -> None:
            pid = data.draw(st.sampled_from(sorted(self.pledge_of)))
            model = self.properties[self.pledge_of[pid][0]]
            if pid not in model.pending:
                expected: str | None = "pledge-not-pending"
            else:
                expected = "reason-code-reserved" if code < MIN_CLERK_REASON else None
            expect(expected, lambda: pledges.reject(registrar, pid, code))
            if expected is None:
                del model.pending[pid]

        @precondition(lambda self: self.pledge_of)
        @rule(data=st.data(), by=st.sampled_from([*banks, None]))
        def release(self, data: st.DataObject, by: Bank | None) -> None:
            """By a bank account, or (None) by the clerk on the pledgee's instruction."""
            pid = data.draw(st.sampled_from(sorted(self.pledge_of)))
            label, pledgee = self.pledge_of[pid]
            model = self.properties[label]
            ranked = [p for p, _ in model.active]
            # The contract asks who releases before whether the pledge is still active.
            if by is not None and self.bank_of(by) != pledgee:
                expected: str | None = "release-not-authorized"
            elif pid not in ranked:
                expected = "pledge-not-active"
            else:
                expected = None
            signer = registrar if by is None else by.signer
            expect(expected, lambda: pledges.release(signer, pid))
            if expected is None:
                del model.active[ranked.index(pid)]  # the juniors move up

        @rule(
            label=st.sampled_from(sorted(PROPERTIES)),
            case=st.sampled_from(CASES),
            court=st.sampled_from(sorted(courts)),
        )
        def seize(self, label: str, case: bytes, court: str) -> None:
            model = self.properties.get(label)
            signer = courts[court]
            if model is None:
                refused("property-not-found", lambda: pledges.seize(signer, fp(label), case))
                return
            expected = model.seize(case, court)
            expect(expected, lambda: pledges.seize(signer, fp(label), case))

        @rule(
            label=st.sampled_from(sorted(PROPERTIES)),
            case=st.sampled_from(CASES),
            by=st.sampled_from(lifters),
        )
        def unseize(self, label: str, case: bytes, by: str) -> None:
            """By a court (its own seizures only) or by the admin (any)."""
            model = self.properties.get(label)
            signer = stack.admin.signer if by == "admin" else courts[by]
            if model is None:
                refused("property-not-found", lambda: pledges.unseize(signer, fp(label), case))
                return
            expected = model.unseize(case, by, admin=by == "admin")
            expect(expected, lambda: pledges.unseize(signer, fp(label), case))

        # --- consents ---------------------------------------------------------------------

        @rule(e=st.sampled_from(enterprises), k=st.sampled_from(keys))
        def bind_enterprise(self, e: Fingerprint, k: LocalAccount) -> None:
            expected = self.consents.bind(e.digest, k.address)
            expect(expected, lambda: consents.bind_enterprise(registrar, k.address, e))

        @rule(e=st.sampled_from(enterprises))
        def unbind_enterprise(self, e: Fingerprint) -> None:
            expected = self.consents.unbind(e.digest)
            expect(expected, lambda: consents.unbind_enterprise(registrar, e.digest))

        @rule(
            e=st.sampled_from(enterprises),
            k=st.sampled_from(keys),
            bank=st.sampled_from(sorted(grantees)),
            nonce=st.integers(0, 7),
        )
        def grant(self, e: Fingerprint, k: LocalAccount, bank: str, nonce: int) -> None:
            expiry = MATURITY + nonce  # far ahead of any block
            consent = Consent(e.digest, grantees[bank], SCOPE_CREDIT_REPORT, expiry, nonce)
            signature = sign_consent(k.key, consent_domain, consent)
            expected = self.consents.apply(e.digest, k.address, grantees[bank], nonce, expiry)
            expect(expected, lambda: consents.grant(relayer, consent, signature))

        @rule(
            e=st.sampled_from(enterprises),
            k=st.sampled_from(keys),
            bank=st.sampled_from(sorted(grantees)),
            nonce=st.integers(0, 7),
        )
        def revoke(self, e: Fingerprint, k: LocalAccount, bank: str, nonce: int) -> None:
            revocation = Revocation(e.digest, grantees[bank], SCOPE_CREDIT_REPORT, nonce)
            signature = sign_revocation(k.key, consent_domain, revocation)
            expected = self.consents.apply(e.digest, k.address, grantees[bank], nonce, None)
            expect(expected, lambda: consents.revoke(relayer, revocation, signature))

        # --- invariants -------------------------------------------------------------------

        @invariant()
        def ledger_agrees(self) -> None:
            model = self.ledger
            versions = [(i, v) for i in INVOICES for v in VERSIONS]
            numbers = [(d, v) for d in DECLARATIONS for v in VERSIONS]
            calls: list[tuple[str, list[Any]]] = [
                ("getReceivable", [doc(i, v)]) for i, v in versions
            ]
            calls += [("institutionOfReceivable", [self.receivable_id(i)]) for i in INVOICES]
            calls += [("headroom", [self.receivable_id(i)]) for i in INVOICES]
            calls += [("getDeclaration", [doc(d, v)]) for d, v in numbers]
            answers = iter(views["ledger"].call(calls))
            receivables = {key: next(answers) for key in versions}
            holders = {invoice: next(answers) for invoice in INVOICES}
            headrooms = {invoice: next(answers) for invoice in INVOICES}
            declarations = {key: next(answers) for key in numbers}
            for invoice in INVOICES:
                current = self.registered_under.get(invoice)
                for version in VERSIONS:
                    if version == current:
                        continue
                    # No invoice live under two key versions: another one was never registered,
                    # or cancelled before the rotation.
                    status, *_, cap, outstanding = receivables[(invoice, version)]
                    assert ReceivableStatus(status) in (
                        ReceivableStatus.NONE,
                        ReceivableStatus.CANCELLED,
                    ), (invoice, version)
                if invoice not in model.receivables:
                    continue
                assert current is not None
                status, *_, cap, outstanding = receivables[(invoice, current)]
                _, _numbers, modelled, _ = model.receivables[invoice]
                assert ReceivableStatus(status).name.lower() == modelled, invoice
                assert cap == model.cap(invoice), invoice
                if modelled == "cancelled":
                    assert (outstanding, headrooms[invoice]) == (0, 0)
                    continue
                # Never financed beyond the cap: the invoice's and each declaration's, as in force
                # at the drawdown (a later attestation or rate change may lower it).
                assert outstanding == model.outstanding(invoice), invoice
                assert model.drawn_within_cap(invoice), invoice
                assert headrooms[invoice] == max(0, cap - outstanding), invoice
                # Held by the registering bank, whatever happened to its accounts since.
                assert holders[invoice] == grantees[model.registrants[invoice]], invoice
            for number in DECLARATIONS:
                invoice = model.linked.get(number)
                under = None if invoice is None else self.registered_under[invoice]
                for version in VERSIONS:
                    linked, standing, declared, counted, limit, outstanding = declarations[
                        (number, version)
                    ]
                    if version != under:
                        # A declaration backs at most one invoice, under one key version; never
                        # presented, or freed by a cancellation, it shows nothing.
                        assert (bytes(linked), standing, declared, counted, limit, outstanding) == (
                            bytes(32),
                            *(0,) * 5,
                        ), (number, version)
                        continue
                    assert invoice is not None
                    assert bytes(linked) == doc(invoice, version), number
                    assert (standing, counted) == model.counted(number), number
                    assert limit == model.limit(number), number
                    assert outstanding == model.balance[number], number
                    assert model.drawn_within_limit(number), number

        @invariant()
        def pledges_agree(self) -> None:
            labels = sorted(PROPERTIES)
            answers = views["pledges"].call([("titleOf", [fp(label)]) for label in labels])
            for label, (prop, headroom, ranked) in zip(labels, answers, strict=True):
                model = self.properties.get(label)
                if model is None:
                    assert prop[0] == 0
                    assert not ranked
                    continue
                status, _, ltv, _, _, appraised, secured, seizures = prop
                assert PropertyStatus(status) is (
                    PropertyStatus.SEIZED if model.seized else PropertyStatus.NORMAL
                )
                assert seizures == len(model.seizures)
                assert (ltv, appraised) == (model.ltv_bps, model.value)
                # Ranks contiguous from 1, in approval order, with the modelled amounts.
                assert [(bytes(p), rank, raw[-1]) for p, rank, raw in ranked] == [
                    (p, rank, amount) for rank, (p, amount) in enumerate(model.active, start=1)
                ], label
                assert secured == model.secured
                assert headroom == model.headroom
                # Never pledged beyond value x LTV by approvals made while it had room: an
                # appraisal lowered afterwards may leave it over, and then no headroom at all.
                if secured > appraised * ltv // 10_000:
                    assert headroom == 0

        @invariant()
        def consents_agree(self) -> None:
            pairs = [(e.digest, g) for e in enterprises for g in grantees.values()]
            calls: list[tuple[str, list[Any]]] = []
            for e, g in pairs:
                calls += [
                    ("isConsentActive", [e, g, SCOPE_CREDIT_REPORT]),
                    ("consentOf", [e, g, SCOPE_CREDIT_REPORT]),
                ]
            answers = views["consents"].call(calls)
            now = MATURITY - 1  # expiries lie beyond MATURITY; blocks are far before it
            for index, (e, g) in enumerate(pairs):
                active, (status, epoch, expiry, nonce, _) = answers[2 * index : 2 * index + 2]
                assert active == self.consents.active(e, g, now)
                modelled = self.consents.records.get((e, g))
                if modelled is None:
                    assert ConsentStatus(status) is ConsentStatus.NONE
                    continue
                assert (epoch, expiry, nonce) == (modelled.epoch, modelled.expiry, modelled.nonce)
                assert ConsentStatus(status) is (
                    ConsentStatus.GRANTED if modelled.granted else ConsentStatus.REVOKED
                )

    run_state_machine_as_test(ThreeContracts, settings=PROFILE)
