"""Typed binding of the ReceivableLedger contract: one method per contract function.

Transactions go through :meth:`Chain.transact`, so a refusal raises the decoded domain error (see
:mod:`registry.chain.reverts`) and sends nothing. The recording entry points are the exception:
:meth:`ReceivableLedger.try_register` and :meth:`ReceivableLedger.try_finance` send the attempt
even when a financing rule refuses it, so that the refusal is recorded on chain, and return an
:class:`Attempt` that carries the :class:`Refusal` read from the receipt together with the very
domain error the reverting entry point would have raised for it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from eth_typing import ChecksumAddress

from registry.chain.client import Signer, TxResult
from registry.contracts.binding import Call, ConsortiumContract
from registry.contracts.values import address_or_none, currency_text
from registry.errors import RegistryError

__all__ = [
    "BPS",
    "MAX_AMOUNT",
    "MAX_DECLARATIONS",
    "MAX_KEY_ALIASES",
    "AdvanceRates",
    "Attempt",
    "Attestation",
    "DeclarationAlias",
    "DeclarationState",
    "DeclarationTerm",
    "InvoiceAlias",
    "ReceivableLedger",
    "ReceivableState",
    "ReceivableStatus",
    "ReceivableTerms",
    "Refusal",
    "RefusalReason",
    "Standing",
    "bytes_or_none",
    "cap_of",
    "receivable_state",
]

ZERO_ADDRESS = "0x" + "00" * 20
MAX_DECLARATIONS = 32
"""ReceivableLedger.MAX_DECLARATIONS."""
MAX_AMOUNT = 2**96 - 1
"""ReceivableLedger.MAX_AMOUNT: amounts are stored as uint96."""
MAX_KEY_ALIASES = 4
"""ReceivableLedger.MAX_KEY_ALIASES: older fingerprint key versions looked up at once."""


class ReceivableStatus(enum.IntEnum):
    """Mirrors ``IReceivableLedger.Status``."""

    NONE = 0
    REGISTERED = 1
    FINANCED = 2
    SETTLED = 3
    CANCELLED = 4


class Standing(enum.IntEnum):
    """Mirrors ``IReceivableLedger.Standing``: what an attestation made of a declaration."""

    UNVERIFIED = 0
    VERIFIED = 1
    EXPORTER_MISMATCH = 2


class RefusalReason(enum.IntEnum):
    """Mirrors ``IReceivableLedger.Refusal``; each is named after the contract error that the
    reverting entry point raises for the same rule."""

    NONE = 0
    RECEIVABLE_ALREADY_REGISTERED = 1
    DECLARATION_LINKED_TO_OTHER_INVOICE = 2
    DECLARATION_EXPORTER_MISMATCH = 3
    RECEIVABLE_NOT_ACTIVE = 4
    RECEIVABLE_HELD_BY_OTHER_BANK = 5
    FINANCING_EXCEEDS_CAP = 6

    @property
    def error_name(self) -> str:
        """The contract error's name, e.g. ``FinancingExceedsCap``."""
        return "".join(part.capitalize() for part in self.name.split("_"))

    @property
    def rule(self) -> str:
        """The rule's kebab-case name, as :mod:`registry.errors` and the API spell it."""
        return re.sub(r"(?<!^)(?=[A-Z])", "-", self.error_name).lower()


@dataclass(frozen=True)
class DeclarationTerm:
    fingerprint: bytes
    value: int


@dataclass(frozen=True)
class InvoiceAlias:
    """A registration's documents fingerprinted under another key version still in use
    (``IReceivableLedger.InvoiceAlias``): the contract looks them up too."""

    key_version: int
    id: bytes
    exporter: bytes
    declarations: tuple[bytes, ...]


@dataclass(frozen=True)
class DeclarationAlias:
    """An attested declaration and its exporter under another key version still in use."""

    declaration: bytes
    exporter: bytes


@dataclass(frozen=True)
class ReceivableTerms:
    id: bytes
    exporter: bytes
    key_version: int
    face_value: int
    currency: str
    maturity: int


@dataclass(frozen=True)
class ReceivableState:
    """``getReceivable``: ``cap`` under the attestations and policy of the block read; status
    Financed while something is outstanding."""

    status: ReceivableStatus
    key_version: int
    currency: str
    maturity: int
    registrant: ChecksumAddress | None
    financier: ChecksumAddress | None
    exporter: bytes
    face_value: int
    declared_value: int
    cap: int
    outstanding: int

    @property
    def headroom(self) -> int:
        """What may still be drawn (the contract's ``headroom``): cap minus outstanding, floored
        at 0 (a policy cut can leave the cap below what is outstanding)."""
        return max(0, self.cap - self.outstanding)


@dataclass(frozen=True)
class DeclarationState:
    """``getDeclaration``: ``receivable`` None (and the rest zero) while it backs no invoice."""

    receivable: bytes | None
    standing: Standing
    declared_value: int
    counted_value: int
    limit: int
    outstanding: int


@dataclass(frozen=True)
class Attestation:
    """``getAttestation``: ``exporter`` None when the declaration was never attested."""

    exporter: bytes | None
    value: int
    export_date: int


@dataclass(frozen=True)
class AdvanceRates:
    verified_bps: int
    unverified_bps: int


BPS = 10_000
"""Basis points in a whole: rates are out of this."""


def cap_of(face_value: int, counted: Iterable[tuple[Standing, int]], rates: AdvanceRates) -> int:
    """The contract's cap of a live receivable: the face value at the verified rate, or the sum
    of its declarations' limits (``counted``: each one's standing and counted value, at the rate
    of its standing) if lower; each product rounded down, as the contract rounds it."""
    rate = {Standing.VERIFIED: rates.verified_bps, Standing.UNVERIFIED: rates.unverified_bps}
    limits = sum(value * rate.get(standing, 0) // BPS for standing, value in counted)
    return min(face_value * rates.verified_bps // BPS, limits)


@dataclass(frozen=True)
class Refusal:
    """A refused attempt as the chain recorded it (``RegistrationRefused``/``FinancingRefused``).

    ``document`` is the refused document (the invoice, or the offending declaration);
    ``conflict`` what it conflicts with (registrations only: the other invoice, the attested
    exporter, or the institution holding the invoice); ``headroom`` and ``financier`` are the
    financing's (None for registrations).
    """

    action: Literal["register", "finance"]
    reason: RefusalReason
    receivable_id: bytes
    document: bytes
    institution: bytes
    account: ChecksumAddress
    amount: int
    conflict: bytes | None
    headroom: int | None
    financier: ChecksumAddress | None


@dataclass(frozen=True)
class Attempt:
    """The outcome of a recording entry point: accepted, or refused with the refusal recorded in
    ``tx`` and ``error`` the domain error the reverting entry point raises for it."""

    tx: TxResult
    refusal: Refusal | None = None
    error: RegistryError | None = None

    @property
    def accepted(self) -> bool:
        return self.refusal is None


def receivable_state(raw: Sequence[Any]) -> ReceivableState:
    """``getReceivable``'s answer as a :class:`ReceivableState`."""
    status, key_version, currency, maturity, registrant, financier, *amounts = raw
    exporter, face_value, declared_value, cap, outstanding = amounts
    return ReceivableState(
        status=ReceivableStatus(status),
        key_version=key_version,
        currency=currency_text(currency),
        maturity=maturity,
        registrant=address_or_none(registrant),
        financier=address_or_none(financier),
        exporter=bytes(exporter),
        face_value=face_value,
        declared_value=declared_value,
        cap=cap,
        outstanding=outstanding,
    )


def bytes_or_none(value: bytes) -> bytes | None:
    """A bytes32 view answer; None for the zero word (nothing there)."""
    return None if bytes(value) == bytes(32) else bytes(value)


def _terms_tuple(terms: ReceivableTerms) -> tuple[Any, ...]:
    return (
        terms.id,
        terms.exporter,
        terms.key_version,
        terms.face_value,
        terms.currency.encode("ascii"),
        terms.maturity,
    )


def _declaration_tuples(declarations: Sequence[DeclarationTerm]) -> list[tuple[bytes, int]]:
    return [(d.fingerprint, d.value) for d in declarations]


def _alias_tuples(aliases: Sequence[InvoiceAlias]) -> list[tuple[Any, ...]]:
    return [(a.key_version, a.id, a.exporter, list(a.declarations)) for a in aliases]


class ReceivableLedger(ConsortiumContract):
    NAME = "ReceivableLedger"
    # Each of the grouped calls' paths ends with exactly one of these: a registration, a
    # drawdown, a repayment, or the recorded refusal of the first two.
    OUTCOME_EVENTS = (
        "ReceivableRegistered",
        "RegistrationRefused",
        "ReceivableFinanced",
        "FinancingRefused",
        "ReceivableRepaid",
    )

    # --- transactions -------------------------------------------------------------------------

    def register(
        self,
        signer: Signer,
        terms: ReceivableTerms,
        declarations: Sequence[DeclarationTerm],
        aliases: Sequence[InvoiceAlias] = (),
    ) -> TxResult:
        function = self.contract.functions.registerReceivable(
            _terms_tuple(terms), _declaration_tuples(declarations), _alias_tuples(aliases)
        )
        return self.chain.transact(signer, function)

    def try_register(
        self,
        signer: Signer,
        terms: ReceivableTerms,
        declarations: Sequence[DeclarationTerm],
        aliases: Sequence[InvoiceAlias] = (),
    ) -> Attempt:
        """Registers, or records the financing rule's refusal on chain and returns it."""
        return self.execute(signer, self.try_register_call(terms, declarations, aliases))

    def try_register_call(
        self,
        terms: ReceivableTerms,
        declarations: Sequence[DeclarationTerm],
        aliases: Sequence[InvoiceAlias] = (),
    ) -> Call[Attempt]:
        """:meth:`try_register`, prepared."""
        function = self.contract.functions.tryRegisterReceivable(
            _terms_tuple(terms), _declaration_tuples(declarations), _alias_tuples(aliases)
        )
        return Call(
            function, lambda tx: self._registration_attempt(tx, terms, aliases), grouped=True
        )

    def _registration_attempt(
        self, tx: TxResult, terms: ReceivableTerms, aliases: Sequence[InvoiceAlias]
    ) -> Attempt:
        logs = self.events(tx, "RegistrationRefused")
        if not logs:
            return Attempt(tx)
        args = logs[0]
        refusal = Refusal(
            action="register",
            reason=RefusalReason(args["reason"]),
            receivable_id=bytes(args["id"]),
            document=bytes(args["document"]),
            institution=bytes(args["institution"]),
            account=args["account"],
            amount=args["faceValue"],
            conflict=bytes_or_none(args["conflict"]),
            headroom=None,
            financier=None,
        )
        error = self._registration_error(refusal, terms, aliases, tx.block_number)
        return Attempt(tx, refusal, error)

    def finance(self, signer: Signer, receivable_id: bytes, amount: int) -> TxResult:
        return self.chain.transact(signer, self.contract.functions.finance(receivable_id, amount))

    def try_finance(self, signer: Signer, receivable_id: bytes, amount: int) -> Attempt:
        """Draws, or records the financing rule's refusal on chain and returns it."""
        return self.execute(signer, self.try_finance_call(receivable_id, amount))

    def try_finance_call(self, receivable_id: bytes, amount: int) -> Call[Attempt]:
        """:meth:`try_finance`, prepared."""
        return Call(
            self.contract.functions.tryFinance(receivable_id, amount),
            self._financing_attempt,
            grouped=True,
        )

    def _financing_attempt(self, tx: TxResult) -> Attempt:
        logs = self.events(tx, "FinancingRefused")
        if not logs:
            return Attempt(tx)
        args = logs[0]
        refusal = Refusal(
            action="finance",
            reason=RefusalReason(args["reason"]),
            receivable_id=bytes(args["id"]),
            document=bytes(args["id"]),
            institution=bytes(args["institution"]),
            account=args["account"],
            amount=args["amount"],
            conflict=None,
            headroom=args["headroom"],
            financier=address_or_none(args["financier"]),
        )
        return Attempt(tx, refusal, self._financing_error(refusal, tx.block_number))

    def repay(self, signer: Signer, receivable_id: bytes, amount: int) -> TxResult:
        return self.execute(signer, self.repay_call(receivable_id, amount))

    def repay_call(self, receivable_id: bytes, amount: int) -> Call[TxResult]:
        """:meth:`repay`, prepared."""
        return Call(
            self.contract.functions.repay(receivable_id, amount), lambda tx: tx, grouped=True
        )

    def cancel(self, signer: Signer, receivable_id: bytes) -> TxResult:
        return self.execute(signer, self.cancel_call(receivable_id))

    def cancel_call(self, receivable_id: bytes) -> Call[TxResult]:
        """:meth:`cancel`, prepared."""
        return Call(self.contract.functions.cancel(receivable_id), lambda tx: tx)

    def attest_declaration(
        self,
        signer: Signer,
        declaration: bytes,
        exporter: bytes,
        value: int,
        export_date: int,
        aliases: Sequence[DeclarationAlias] = (),
    ) -> TxResult:
        call = self.attest_declaration_call(declaration, exporter, value, export_date, aliases)
        return self.execute(signer, call)

    def attest_declaration_call(
        self,
        declaration: bytes,
        exporter: bytes,
        value: int,
        export_date: int,
        aliases: Sequence[DeclarationAlias] = (),
    ) -> Call[TxResult]:
        """:meth:`attest_declaration`, prepared."""
        function = self.contract.functions.attestDeclaration(
            declaration,
            exporter,
            value,
            export_date,
            [(a.declaration, a.exporter) for a in aliases],
        )
        return Call(function, lambda tx: tx)

    def set_advance_rates(self, signer: Signer, verified_bps: int, unverified_bps: int) -> TxResult:
        function = self.contract.functions.setAdvanceRates(verified_bps, unverified_bps)
        return self.chain.transact(signer, function)

    # --- views --------------------------------------------------------------------------------

    def receivable(self, receivable_id: bytes, block: int | str = "latest") -> ReceivableState:
        (raw,) = self.views.call([("getReceivable", (receivable_id,))], block)
        return receivable_state(raw)

    def declarations_of(self, receivable_id: bytes, block: int | str = "latest") -> list[bytes]:
        found = self.chain.call(self.contract.functions.declarationsOf(receivable_id), block)
        return [bytes(declaration) for declaration in found]

    def declaration(self, declaration: bytes, block: int | str = "latest") -> DeclarationState:
        raw = self.chain.call(self.contract.functions.getDeclaration(declaration), block)
        receivable, standing, declared, counted, limit, outstanding = raw
        return DeclarationState(
            bytes_or_none(receivable), Standing(standing), declared, counted, limit, outstanding
        )

    def attestation(self, declaration: bytes, block: int | str = "latest") -> Attestation:
        exporter, value, export_date = self.chain.call(
            self.contract.functions.getAttestation(declaration), block
        )
        return Attestation(bytes_or_none(exporter), value, export_date)

    def receivable_of_declaration(
        self, declaration: bytes, block: int | str = "latest"
    ) -> bytes | None:
        linked = self.chain.call(
            self.contract.functions.receivableOfDeclaration(declaration), block
        )
        return bytes_or_none(linked)

    def institution_of_receivable(
        self, receivable_id: bytes, block: int | str = "latest"
    ) -> bytes | None:
        """The institution holding the receivable (its registrant's, fixed at registration);
        None when unknown."""
        found = self.chain.call(
            self.contract.functions.institutionOfReceivable(receivable_id), block
        )
        return bytes_or_none(found)

    def headroom(self, receivable_id: bytes, block: int | str = "latest") -> int:
        return int(self.chain.call(self.contract.functions.headroom(receivable_id), block))

    def is_overdue(self, receivable_id: bytes, block: int | str = "latest") -> bool:
        return bool(self.chain.call(self.contract.functions.isOverdue(receivable_id), block))

    def advance_rates(self, block: int | str = "latest") -> AdvanceRates:
        verified, unverified = self.chain.call(self.contract.functions.advanceRates(), block)
        return AdvanceRates(verified, unverified)

    # --- refusals as the reverting entry points raise them ------------------------------------

    def _registration_error(
        self,
        refusal: Refusal,
        terms: ReceivableTerms,
        aliases: Sequence[InvoiceAlias],
        block: int,
    ) -> RegistryError:
        reason = refusal.reason
        if reason is RefusalReason.RECEIVABLE_ALREADY_REGISTERED:
            # The event names the institution holding the invoice (under the key version it was
            # found under); the error, its registrant.
            registrant = self.receivable(refusal.document, block).registrant
            args: tuple[Any, ...] = (refusal.document, registrant or ZERO_ADDRESS)
        elif reason is RefusalReason.DECLARATION_EXPORTER_MISMATCH:
            # The invoice's exporter under the key version the attestation was found under.
            exporter = next(
                (a.exporter for a in aliases if refusal.document in a.declarations),
                terms.exporter,
            )
            args = (refusal.document, refusal.conflict or bytes(32), exporter)
        else:
            args = (refusal.document, refusal.conflict or bytes(32))
        return self.chain.decoder.exception_for(reason.error_name, args)

    def _financing_error(self, refusal: Refusal, block: int) -> RegistryError:
        reason = refusal.reason
        rid = refusal.receivable_id
        if reason is RefusalReason.RECEIVABLE_NOT_ACTIVE:
            # A drawdown on an unknown receivable reverts; the only inactive one left is cancelled.
            args: tuple[Any, ...] = (rid, int(ReceivableStatus.CANCELLED))
        elif reason is RefusalReason.RECEIVABLE_HELD_BY_OTHER_BANK:
            args = (rid, self.institution_of_receivable(rid, block) or bytes(32))
        else:
            args = (rid, refusal.amount, refusal.headroom or 0)
        return self.chain.decoder.exception_for(reason.error_name, args)
