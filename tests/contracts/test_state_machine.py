"""The three contracts at once against SPEC's reference models, under random sequences of every
operation (issue 3, "Proof"; issues 9 and 10).

A Hypothesis ``RuleBasedStateMachine`` drives ReceivableLedger (register and finance through both
the recording ``try*`` entry points and the reverting ones, drawdowns batched in a ``multicall``,
repay, cancel, attestations, advance rates), PledgeRegistry (properties, appraisals,
applications, approval by a clerk, rule decisions by the automated registrar, clerk rejections,
releases, seizures by two courts, liftings by them and the admin) and ConsentRegistry (bindings and
rebindings, relayed grants and revocations) on the session's anvil node. The actors: three banks
(Bank A and Bank B with two accounts each), the registry center's clerk and automated account,
customs, two courts, an outsider with no role, and the admin, who moves accounts between banks,
grants and revokes the banks' roles (and a bank renounces its own), and rotates the fingerprint
key. The clock moves too, so consents expire and receivables fall overdue.

Each rule asks the models in ``tests/models`` whether the operation must pass; the chain must
agree, with the decoded domain error when it refuses (for the recording entry points: the refusal
event as the transaction's only log, naming the bank that tried). A refusal that reverts must mine
nothing. After every step the invariants hold and the contracts' views (batched through
``registry.chain.views``) equal the models' state: receivables with their holder, headroom and
overdue flag, declarations, pledges in every status with their ranks, seizures, bindings, consents
and used nonces.

Key rotation: documents are ``fp(label)`` under key version 1 and ``fp(label@2)`` under version 2.
The models know documents by label only, which is what rotation must preserve: after the rotation,
registrations and attestations use version 2 with version-1 aliases, and the chain must behave as
if nothing had changed (no invoice live under both versions, no declaration linked under both).

Runs repeat exactly under the ``creditreg-ci`` profile: every key the machine uses is derived
from a fixed label, and the operations are derandomized.

Profiles (environment variable ``CREDITREG_HYPOTHESIS_PROFILE``):

- ``creditreg-ci`` (default): 25 examples x 40 steps, 1,000 steps in all, derandomized;
- ``creditreg-slow``: 300 examples x 80 steps, random seeds; Hypothesis prints the seed of a
  failure (``--hypothesis-seed=N`` replays it), e.g.
  ``CREDITREG_HYPOTHESIS_PROFILE=creditreg-slow .venv/bin/pytest -q
  tests/contracts/test_state_machine.py``.

Both are registered in ``tests/conftest.py`` under names of their own: Hypothesis loads a profile
called ``ci`` by itself under ``CI=true``, so a profile of ours by that name would set every
property test of the suite in CI.
"""

from __future__ import annotations

import copy
import os
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

from registry.chain.client import Signer
from registry.chain.views import ContractViews
from registry.contracts.binding import ConsortiumContract
from registry.contracts.consents import (
    SCOPE_CREDIT_REPORT,
    Consent,
    ConsentStatus,
    Revocation,
    institution_id,
    sign_consent,
    sign_revocation,
)
from registry.contracts.ledger import (
    DeclarationAlias,
    DeclarationTerm,
    InvoiceAlias,
    ReceivableStatus,
    ReceivableTerms,
    RefusalReason,
)
from registry.contracts.pledges import MIN_CLERK_REASON, PledgeStatus, PropertyStatus, RuleReason
from registry.contracts.roles import ENFORCER_ROLE, LENDER_ROLE
from registry.fingerprint import Fingerprint
from registry.overdue import SECONDS_PER_DAY, is_overdue
from tests.conftest import Stack, fp
from tests.helpers import funded, violated
from tests.models.consents import ConsentModel
from tests.models.ledger import EXPORTER, Model
from tests.models.pledges import PropertyModel

PROFILE = settings.get_profile(os.environ.get("CREDITREG_HYPOTHESIS_PROFILE", "creditreg-ci"))

MATURITY = 2_000_000_000  # pledges' maturity: beyond any clock the machine reaches
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
NONCES = range(8)
DAY = SECONDS_PER_DAY
# How far the clock jumps in one step: around consents' and maturities' day boundaries.
CLOCK_STEPS = (3_600, 12 * 3_600, DAY, 5 * DAY, 20 * DAY)
CONSENT_LIFETIMES = (DAY, 10 * DAY, 30 * DAY)
# Pledge reason codes of the automated rules, as the reverting approval names them.
APPROVAL_ERRORS = {
    RuleReason.PROPERTY_SEIZED: "property-seized",
    RuleReason.EXCEEDS_HEADROOM: "pledge-exceeds-headroom",
    RuleReason.TOO_MANY_ACTIVE_PLEDGES: "too-many-active-pledges",
}
# The accounts, and the bank each acts for at the start. A1, B1 and C1 are the banks' own
# accounts (their institution ids are those accounts'); A2 and B2 are the ones the admin moves.
START = {"A1": "A", "A2": "A", "B1": "B", "B2": "B", "C1": "C"}
MOVABLE = ("A2", "B2")


def doc(label: str, version: int) -> bytes:
    """A document's fingerprint under key ``version``."""
    return fp(label) if version == 1 else fp(f"{label}@{version}")


def derived_key(label: str) -> bytes:
    """A private key derived from ``label``: the same account in every run."""
    return keccak(text=f"state machine: {label}")


@dataclass(frozen=True)
class Bank:
    """One bank account: its name and signer. The institution it acts for is the model's business
    (``ThreeContracts.institution_of``): the admin moves some accounts between banks."""

    name: str
    signer: Signer

    def __repr__(self) -> str:  # short, for Hypothesis' printed steps
        return f"Bank({self.name})"


@dataclass(frozen=True)
class Actors:
    banks: list[Bank]
    grantees: dict[str, bytes]  # bank -> institution id
    courts: dict[str, Signer]
    outsider: Signer


def _funded(stack: Stack, label: str) -> Signer:
    return funded(stack, signer=Signer(derived_key(label)))


def _actors(stack: Stack) -> Actors:
    """The banks' accounts of :data:`START` (lenders on the ledger and the pledge registry, the
    movable ones assigned to their banks), two courts and an outsider."""
    admin = stack.admin.signer
    signers = {name: _funded(stack, name) for name in START}
    for contract in (stack.ledger, stack.pledges):
        for signer in signers.values():
            contract.grant_role(admin, LENDER_ROLE, signer.address)
    grantees = {bank: institution_id(signers[f"{bank}1"].address) for bank in "ABC"}
    for contract in (stack.ledger, stack.pledges):
        for name in MOVABLE:
            contract.assign_institution(admin, signers[name].address, grantees[START[name]])
    courts = {court: _funded(stack, court) for court in ("court 1", "court 2")}
    for court in courts.values():
        stack.pledges.grant_role(admin, ENFORCER_ROLE, court.address)
    banks = [Bank(name, signer) for name, signer in signers.items()]
    return Actors(banks, grantees, courts, _funded(stack, "outsider"))


# The suite's 300 s per-test timeout bounds the ci profile; the slow one runs as long as it takes.
@pytest.mark.timeout(0 if PROFILE.max_examples > 100 else 300)
def test_all_contracts_agree_with_the_reference_models(stack: Stack) -> None:
    actors = _actors(stack)
    banks, grantees, courts = actors.banks, actors.grantees, actors.courts
    movable = [bank for bank in banks if bank.name in MOVABLE]
    lifters = [*courts, "admin"]
    enterprises = [Fingerprint(1, keccak(text=f"enterprise {n}")) for n in (1, 2)]
    keys: list[LocalAccount] = [Account.from_key(derived_key(f"enterprise key {n}")) for n in "123"]
    ledger, pledges, consents = stack.ledger, stack.pledges, stack.consents
    contracts: dict[str, ConsortiumContract] = {"ledger": ledger, "pledges": pledges}
    views = {
        "ledger": ContractViews(stack.chain, ledger.contract),
        "pledges": ContractViews(stack.chain, pledges.contract),
        "consents": ContractViews(stack.chain, consents.contract),
    }
    consent_domain = consents.domain()
    admin, outsider = stack.admin.signer, actors.outsider
    registrar, auto_registrar = stack.registrar.signer, stack.auto_registrar.signer
    relayer = stack.operator.signer  # any account may relay; this one has no say over consents

    def now() -> int:
        """The latest block's timestamp: the clock the views are judged by."""
        return int(stack.chain.w3.eth.get_block("latest")["timestamp"])

    def expect(rule_name: str | None, action: Callable[[], object]) -> None:
        if rule_name is None:
            action()
        else:
            violated(stack, rule_name, action)

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
            self.lender = {(c, name): True for c in contracts for name in START}
            self.key_version = 1  # the fingerprint key version new documents use
            self.registered_under: dict[str, int] = {}  # invoice -> version of its registration
            self.maturity_of: dict[str, int] = {}  # invoice -> maturity of its registration
            # The chain's own cap and limits when each was last drawn on: what the money out
            # must stay within (a later attestation or rate change may lower them).
            self.cap_at_draw: dict[str, int] = {}
            self.limit_at_draw: dict[str, int] = {}
            self.properties: dict[str, PropertyModel] = {}
            self.pledge_of: dict[bytes, tuple[str, str]] = {}  # pledge -> (property, bank)
            self.pledge_status: dict[bytes, tuple[PledgeStatus, int]] = {}  # with reason code
            self.consents = ConsentModel.empty()

        def teardown(self) -> None:
            stack.revert(self.snapshot)

        def bank_of(self, bank: Bank) -> str:
            return self.institution_of[bank.name]

        def receivable_id(self, invoice: str) -> bytes:
            """The invoice's id under the version it was registered with (new ones: the current)."""
            return doc(invoice, self.registered_under.get(invoice, self.key_version))

        def drawn(self, invoice: str) -> None:
            """Records the chain's cap and limits in force at a drawdown on ``invoice``."""
            rid = self.receivable_id(invoice)
            self.cap_at_draw[invoice] = ledger.receivable(rid).cap
            version = self.registered_under[invoice]
            for number in self.ledger.receivables[invoice][1]:
                self.limit_at_draw[number] = ledger.declaration(doc(number, version)).limit

        # --- the admin: accounts between banks, roles, key rotation; and the clock --------

        @rule(bank=st.sampled_from(movable), to=st.sampled_from("ABC"))
        def move_account(self, bank: Bank, to: str) -> None:
            for contract in contracts.values():
                contract.assign_institution(admin, bank.signer.address, grantees[to])
            self.institution_of[bank.name] = to

        @rule(
            bank=st.sampled_from(banks),
            contract=st.sampled_from(sorted(contracts)),
            action=st.sampled_from(["grant", "revoke", "renounce"]),
        )
        def change_lender_role(self, bank: Bank, contract: str, action: str) -> None:
            """The admin grants or revokes a bank's role; a bank renounces its own."""
            binding, account = contracts[contract], bank.signer.address
            if action == "grant":
                binding.grant_role(admin, LENDER_ROLE, account)
            elif action == "revoke":
                binding.chain.transact(
                    admin, binding.contract.functions.revokeRole(LENDER_ROLE, account)
                )
            else:
                renounce = binding.contract.functions.renounceRole(LENDER_ROLE, account)
                binding.chain.transact(bank.signer, renounce)
            self.lender[(contract, bank.name)] = action == "grant"

        @precondition(lambda self: self.key_version == 1)
        @rule()
        def rotate_key(self) -> None:
            """New documents are fingerprinted under version 2 from now on; version 1 stays in
            use for lookups (the aliases)."""
            self.key_version = 2

        @rule(seconds=st.sampled_from(CLOCK_STEPS))
        def advance_clock(self, seconds: int) -> None:
            w3 = stack.chain.w3
            w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
            w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

        @rule(
            operation=st.sampled_from(
                [
                    "register",
                    "finance",
                    "attest",
                    "set rates",
                    "register property",
                    "approve",
                    "seize",
                    "unseize",
                    "bind",
                    "anchor",
                    "assign institution",
                ]
            )
        )
        def outsider_call(self, operation: str) -> None:
            """An account without any role is refused everything it may not do, with nothing
            mined (the contracts check the role before anything else)."""
            terms = ReceivableTerms(fp("I1"), EXPORTER, 1, FACE_VALUE, "USD", MATURITY)
            calls: dict[str, Callable[[], object]] = {
                "register": lambda: ledger.try_register(
                    outsider, terms, [DeclarationTerm(fp("D1"), 1)]
                ),
                "finance": lambda: ledger.try_finance(outsider, fp("I1"), 1),
                "attest": lambda: ledger.attest_declaration(
                    outsider, fp("D1"), EXPORTER, 1, EXPORT_DATE
                ),
                "set rates": lambda: ledger.set_advance_rates(outsider, 1, 0),
                "register property": lambda: pledges.register_property(
                    outsider, fp("P1"), 1, 1, "CNY"
                ),
                "approve": lambda: pledges.approve(outsider, fp("no pledge")),
                "seize": lambda: pledges.seize(outsider, fp("P1"), CASES[0]),
                "unseize": lambda: pledges.unseize(outsider, fp("P1"), CASES[0]),
                "bind": lambda: consents.bind_enterprise(
                    outsider, outsider.address, enterprises[0]
                ),
                "anchor": lambda: consents.anchor_read_log(outsider, b"\x01" * 32, 1, 1),
                "assign institution": lambda: ledger.assign_institution(
                    outsider, outsider.address, grantees["A"]
                ),
            }
            violated(stack, "missing-role", calls[operation])

        # --- receivables ------------------------------------------------------------------

        @rule(
            bank=st.sampled_from(banks),
            invoice=st.sampled_from(INVOICES),
            numbers=st.lists(st.sampled_from(DECLARATIONS), min_size=1, max_size=2, unique=True),
            value=st.integers(1, 120_000),
            due_in_days=st.integers(0, 20),
            reverting=st.booleans(),
        )
        def register_receivable(
            self,
            bank: Bank,
            invoice: str,
            numbers: list[str],
            value: int,
            due_in_days: int,
            reverting: bool,
        ) -> None:
            v = self.key_version
            maturity = now() + due_in_days * DAY
            exporter = EXPORTER_UNDER[(EXPORTER, v)]
            terms = ReceivableTerms(doc(invoice, v), exporter, v, FACE_VALUE, "USD", maturity)
            declared = [DeclarationTerm(doc(n, v), value) for n in numbers]
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
            if not self.lender[("ledger", bank.name)]:
                violated(
                    stack, "missing-role", lambda: ledger.try_register(bank.signer, terms, declared)
                )
                return
            expected = self.ledger.register(
                self.bank_of(bank), invoice, FACE_VALUE, [(n, value) for n in numbers]
            )
            if reverting:
                expect(
                    expected.rule if expected else None,
                    lambda: ledger.register(bank.signer, terms, declared, aliases),
                )
            else:
                attempt = ledger.try_register(bank.signer, terms, declared, aliases)
                assert (attempt.refusal.reason if attempt.refusal else None) == expected
                if attempt.refusal is not None:
                    only_log_is_the_refusal(attempt.tx.tx_hash)
                    assert attempt.refusal.account == bank.signer.address
                    assert attempt.refusal.institution == grantees[self.bank_of(bank)]
                    if expected is RefusalReason.RECEIVABLE_ALREADY_REGISTERED:
                        # Found under the key version it was registered with.
                        registered = self.receivable_id(invoice)
                        assert attempt.refusal.document == registered
            if expected is None:
                self.registered_under[invoice] = v
                self.maturity_of[invoice] = maturity

        @rule(
            bank=st.sampled_from(banks),
            invoice=st.sampled_from(INVOICES),
            amount=st.integers(1, 150_000),
            reverting=st.booleans(),
        )
        def finance(self, bank: Bank, invoice: str, amount: int, reverting: bool) -> None:
            rid = self.receivable_id(invoice)
            draw = ledger.finance if reverting else ledger.try_finance
            if not self.lender[("ledger", bank.name)]:
                violated(stack, "missing-role", lambda: draw(bank.signer, rid, amount))
                return
            if invoice not in self.ledger.receivables:
                violated(stack, "receivable-not-found", lambda: draw(bank.signer, rid, amount))
                return
            expected = self.ledger.finance(self.bank_of(bank), invoice, amount)
            if reverting:
                expect(expected.rule if expected else None, lambda: draw(bank.signer, rid, amount))
            else:
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
            if expected is None:
                self.drawn(invoice)

        @precondition(lambda self: self.ledger.receivables)
        @rule(
            bank=st.sampled_from(banks),
            data=st.data(),
            amounts=st.lists(st.integers(1, 60_000), min_size=2, max_size=3),
        )
        def finance_in_one_batch(self, bank: Bank, data: st.DataObject, amounts: list[int]) -> None:
            """Drawdowns in one multicall: all of them, or none (the first refusal reverts the
            batch with its rule's error)."""
            known = sorted(self.ledger.receivables)
            invoices = [data.draw(st.sampled_from(known)) for _ in amounts]
            calls = [
                ledger.call_data("finance", self.receivable_id(i), a)
                for i, a in zip(invoices, amounts, strict=True)
            ]
            if not self.lender[("ledger", bank.name)]:
                violated(stack, "missing-role", lambda: ledger.multicall(bank.signer, calls))
                return
            trial = copy.deepcopy(self.ledger)
            first = None
            for invoice, amount in zip(invoices, amounts, strict=True):
                first = trial.finance(self.bank_of(bank), invoice, amount)
                if first is not None:
                    break
            expect(first.rule if first else None, lambda: ledger.multicall(bank.signer, calls))
            if first is None:
                self.ledger = trial
                for invoice in set(invoices):
                    self.drawn(invoice)

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
            rid = self.receivable_id(invoice)
            if not self.lender[("ledger", bank.name)]:
                violated(stack, "missing-role", lambda: ledger.repay(bank.signer, rid, amount))
                return
            expected = self.ledger.repay(self.bank_of(bank), invoice, amount)
            expect(expected, lambda: ledger.repay(bank.signer, rid, amount))

        @rule(bank=st.sampled_from(banks), invoice=st.sampled_from(INVOICES))
        def cancel(self, bank: Bank, invoice: str) -> None:
            rid = self.receivable_id(invoice)
            if not self.lender[("ledger", bank.name)]:
                violated(stack, "missing-role", lambda: ledger.cancel(bank.signer, rid))
                return
            expected = self.ledger.cancel(self.bank_of(bank), invoice)
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
            ledger.set_advance_rates(admin, verified, unverified)
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
            def application() -> bytes:
                return pledges.apply(bank.signer, fp(label), amount, "CNY", MATURITY).pledge_id

            if not self.lender[("pledges", bank.name)]:
                violated(stack, "missing-role", application)
                return
            # Accepted even on a seized property or beyond headroom: the approval decides.
            if label not in self.properties:
                violated(stack, "property-not-found", application)
                return
            pid = application()
            self.properties[label].pending[pid] = amount
            self.pledge_of[pid] = (label, self.bank_of(bank))
            self.pledge_status[pid] = (PledgeStatus.PENDING, 0)

        def _pending(self) -> list[bytes]:
            return sorted(p for m in self.properties.values() for p in m.pending)

        def _decided(self, pid: bytes, reason: int) -> None:
            status = PledgeStatus.ACTIVE if reason == 0 else PledgeStatus.REJECTED
            self.pledge_status[pid] = (status, reason)

        @precondition(lambda self: self._pending())
        @rule(data=st.data())
        def approve(self, data: st.DataObject) -> None:
            pid = data.draw(st.sampled_from(self._pending()))
            model = self.properties[self.pledge_of[pid][0]]
            reason = model.refusal(pid)
            expect(APPROVAL_ERRORS.get(reason), lambda: pledges.approve(registrar, pid))
            if reason == 0:
                model.decide(pid)
                self._decided(pid, 0)

        @precondition(lambda self: self._pending())
        @rule(data=st.data())
        def decide(self, data: st.DataObject) -> None:
            pid = data.draw(st.sampled_from(self._pending()))
            model = self.properties[self.pledge_of[pid][0]]
            reason = model.decide(pid)
            assert pledges.decide(auto_registrar, pid).reason_code == reason
            self._decided(pid, reason)

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
                self._decided(pid, code)

        @precondition(lambda self: self.pledge_of)
        @rule(data=st.data(), by=st.sampled_from([*banks, None]))
        def release(self, data: st.DataObject, by: Bank | None) -> None:
            """By a bank account, or (None) by the clerk on the pledgee's instruction."""
            pid = data.draw(st.sampled_from(sorted(self.pledge_of)))
            label, pledgee = self.pledge_of[pid]
            model = self.properties[label]
            ranked = [p for p, _ in model.active]
            # The contract asks for a role, then who releases, then whether it is still active.
            if by is not None and not self.lender[("pledges", by.name)]:
                expected: str | None = "missing-role"
            elif by is not None and self.bank_of(by) != pledgee:
                expected = "release-not-authorized"
            elif pid not in ranked:
                expected = "pledge-not-active"
            else:
                expected = None
            signer = registrar if by is None else by.signer
            expect(expected, lambda: pledges.release(signer, pid))
            if expected is None:
                del model.active[ranked.index(pid)]  # the juniors move up
                self.pledge_status[pid] = (PledgeStatus.RELEASED, 0)

        @rule(
            label=st.sampled_from(sorted(PROPERTIES)),
            case=st.sampled_from(CASES),
            court=st.sampled_from(sorted(courts)),
        )
        def seize(self, label: str, case: bytes, court: str) -> None:
            model = self.properties.get(label)
            signer = courts[court]
            if model is None:
                violated(
                    stack, "property-not-found", lambda: pledges.seize(signer, fp(label), case)
                )
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
            signer = admin if by == "admin" else courts[by]
            if model is None:
                violated(
                    stack, "property-not-found", lambda: pledges.unseize(signer, fp(label), case)
                )
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
            nonce=st.sampled_from(NONCES),
            lifetime=st.sampled_from(CONSENT_LIFETIMES),
        )
        def grant(
            self, e: Fingerprint, k: LocalAccount, bank: str, nonce: int, lifetime: int
        ) -> None:
            expiry = now() + lifetime
            consent = Consent(e.digest, grantees[bank], SCOPE_CREDIT_REPORT, expiry, nonce)
            signature = sign_consent(k.key, consent_domain, consent)
            expected = self.consents.apply(e.digest, k.address, grantees[bank], nonce, expiry)
            expect(expected, lambda: consents.grant(relayer, consent, signature))

        @rule(
            e=st.sampled_from(enterprises),
            k=st.sampled_from(keys),
            bank=st.sampled_from(sorted(grantees)),
            nonce=st.sampled_from(NONCES),
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
            for view in ("institutionOfReceivable", "headroom", "isOverdue"):
                calls += [(view, [self.receivable_id(i)]) for i in INVOICES]
            calls += [("getDeclaration", [doc(d, v)]) for d, v in numbers]
            answers = iter(views["ledger"].call(calls))
            receivables = {key: next(answers) for key in versions}
            holders = {invoice: next(answers) for invoice in INVOICES}
            headrooms = {invoice: next(answers) for invoice in INVOICES}
            overdue = {invoice: next(answers) for invoice in INVOICES}
            declarations = {key: next(answers) for key in numbers}
            timestamp = now()
            for invoice in INVOICES:
                current = self.registered_under.get(invoice)
                for version in VERSIONS:
                    if version == current:
                        continue
                    # No invoice live under two key versions: another one was never registered,
                    # or cancelled before the rotation.
                    status, *_ = receivables[(invoice, version)]
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
                    assert (outstanding, headrooms[invoice], overdue[invoice]) == (0, 0, False)
                    continue
                assert outstanding == model.outstanding(invoice), invoice
                # Never financed beyond the cap in force when it was last drawn on, as the
                # chain itself stated it then.
                assert outstanding <= self.cap_at_draw.get(invoice, 0), invoice
                assert headrooms[invoice] == max(0, cap - outstanding), invoice
                maturity = self.maturity_of[invoice]
                assert overdue[invoice] == is_overdue(maturity, outstanding, timestamp), invoice
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
                    assert outstanding <= self.limit_at_draw.get(number, 0), number

        @invariant()
        def pledges_agree(self) -> None:
            labels = sorted(PROPERTIES)
            pids = sorted(self.pledge_status)
            seizures = [(label, case) for label in labels for case in CASES]
            calls: list[tuple[str, list[Any]]] = [("titleOf", [fp(label)]) for label in labels]
            calls += [("seizureOf", [fp(label), case]) for label, case in seizures]
            calls += [("getPledge", [pid]) for pid in pids]
            answers = iter(views["pledges"].call(calls))
            titles = {label: next(answers) for label in labels}
            courts_of = {key: next(answers) for key in seizures}
            stored = {pid: next(answers) for pid in pids}
            for label, (prop, headroom, ranked) in titles.items():
                model = self.properties.get(label)
                if model is None:
                    assert prop[0] == 0
                    assert not ranked
                    continue
                status, _, ltv, _, _, appraised, secured, seized = prop
                assert PropertyStatus(status) is (
                    PropertyStatus.SEIZED if model.seized else PropertyStatus.NORMAL
                )
                assert seized == len(model.seizures)
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
                for case in CASES:
                    court = model.seizures.get(case)
                    expected = bytes(32) if court is None else institution_id(courts[court].address)
                    assert bytes(courts_of[(label, case)]) == expected, (label, case)
            for pid in pids:
                status, reason, *_ = stored[pid]
                assert (PledgeStatus(status), reason) == self.pledge_status[pid], pid

        @invariant()
        def consents_agree(self) -> None:
            pairs = [(e.digest, g) for e in enterprises for g in grantees.values()]
            calls: list[tuple[str, list[Any]]] = []
            for e, g in pairs:
                calls += [
                    ("isConsentActive", [e, g, SCOPE_CREDIT_REPORT]),
                    ("consentOf", [e, g, SCOPE_CREDIT_REPORT]),
                ]
            calls += [("bindingOf", [e.digest]) for e in enterprises]
            calls += [("isNonceUsed", [e.digest, n]) for e in enterprises for n in NONCES]
            answers = iter(views["consents"].call(calls))
            timestamp = now()
            for e, g in pairs:
                active, (status, epoch, expiry, nonce, _) = next(answers), next(answers)
                assert active == self.consents.active(e, g, timestamp)
                modelled = self.consents.records.get((e, g))
                if modelled is None:
                    assert ConsentStatus(status) is ConsentStatus.NONE
                    continue
                assert (epoch, expiry, nonce) == (modelled.epoch, modelled.expiry, modelled.nonce)
                assert ConsentStatus(status) is (
                    ConsentStatus.GRANTED if modelled.granted else ConsentStatus.REVOKED
                )
            model = self.consents
            for enterprise in enterprises:
                account, _version, epoch, bound = next(answers)
                e = enterprise.digest
                expected_account = model.accounts.get(e, "0x" + "00" * 20)
                assert (account, epoch, bound) == (
                    expected_account,
                    model.epochs.get(e, 0),
                    e in model.bound,
                ), e
            for enterprise in enterprises:
                for n in NONCES:
                    assert next(answers) == ((enterprise.digest, n) in model.used), n

    run_state_machine_as_test(ThreeContracts, settings=PROFILE)
