"""Export receivables as a bank works with them: check, register, finance, repay.

This is the domain service behind the API's receivable routes (one call per route). Callers pass
plain document fields; fingerprints are computed here, with the consortium's keyring, and only
fingerprints and amounts go to the chain.

Design:

- **Validate everything first.** Every field is normalized and checked (USCC check digit, ISO 4217
  currency, 18-digit declaration numbers, positive integer amounts, at most
  :data:`MAX_DECLARATIONS`, no declaration twice) before the first chain request, and a failure is
  an :class:`~registry.errors.InvalidInput` naming the field the way the API names it
  (``declarations.2.number``), so the API passes it through unchanged.
- **The contract is the authority.** Checks and reads use the contract's views, not the index: a
  bank deciding whether to lend must not act on a view that lags the chain. The reads of one check
  are pinned to one block, so the answer is a consistent snapshot, and that block is returned.
- **Key rotation.** New registrations use the active key version. Lookups try every version held
  (:meth:`~registry.fingerprint.FingerprintKeyring.candidates`), so a document registered under an
  old key is still found. The contract cannot compute fingerprints, so a registration carries the
  same documents under every older version held (``InvoiceAlias``): the contract refuses an invoice
  or a declaration registered under any of them, counts an attestation made under any of them, and
  records the refusal like any other, whichever version found it.
- **Attempts to double- or over-finance are recorded.** Registration and drawdowns go through
  the ledger's recording entry points (``tryRegisterReceivable``, ``tryFinance``): when a financing
  rule refuses (the invoice is registered already, a declaration backs another invoice or is
  attested for another exporter, another bank holds the financing, the amount is beyond the
  headroom) the chain records the refusal, who tried and which document, in a transaction that
  changes nothing else, and the service raises the same :class:`~registry.errors.RuleViolation`
  the reverting entry point would have. SPEC asks for it: the enterprise behind such an attempt is
  the fraud signal, and a reverted transaction leaves no trace an auditor can replay.
- **Exclusivity.** A receivable belongs to the institution that registered it: only that bank
  draws on it, and another bank's drawdown is a recorded refusal attributed to that other bank.
- **Overdue** is judged by the block's timestamp, as the contract judges it
  (:mod:`registry.overdue`), never by this server's clock.
- **Other refusals send nothing.** Bad input is refused before any chain request; a missing role,
  an unknown receivable or a refused repayment is refused at estimation
  (:meth:`~registry.chain.client.Chain.transact` estimates first).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from eth_typing import ChecksumAddress

from registry import inputs
from registry.chain.client import Signer, TxResult
from registry.chain.views import HeadViews, ViewCall
from registry.contracts import ledger as chain_ledger
from registry.contracts.binding import Call
from registry.contracts.ledger import (
    MAX_KEY_ALIASES,
    Attempt,
    DeclarationTerm,
    InvoiceAlias,
    ReceivableLedger,
    ReceivableState,
    ReceivableStatus,
    ReceivableTerms,
)
from registry.errors import (
    ConfigurationError,
    DeclarationExporterMismatch,
    DeclarationLinkedToOtherInvoice,
    InvalidInput,
    ReceivableNotFound,
    RegistryError,
)
from registry.fingerprint import (
    CustomsDeclaration,
    Enterprise,
    ExportInvoice,
    Fingerprint,
    FingerprintKeyring,
    normalize_declaration_number,
)
from registry.inputs import AMOUNT_RULE
from registry.overdue import is_overdue, maturity_seconds

__all__ = [
    "AMOUNT_RULE",
    "MAX_AMOUNT",
    "MAX_DECLARATIONS",
    "Attested",
    "Cancelled",
    "DeclarationCheck",
    "DeclarationInput",
    "DeclarationStatus",
    "DuplicateCheck",
    "InvoiceStatus",
    "Receivable",
    "ReceivableService",
    "Registered",
    "TransactionRecorded",
    "parse_receivable_id",
]

# ReceivableLedger.MAX_DECLARATIONS: refused here first, so an oversized request never reaches the
# chain and is answered as bad input naming the field.
MAX_DECLARATIONS = chain_ledger.MAX_DECLARATIONS

# ReceivableLedger.MAX_AMOUNT: the ledger stores amounts as uint96 (7.9e28 minor units, far above
# any real invoice), so a larger one is refused here as bad input naming the field, rather than
# by the contract. The sum of the declared values is bounded the same way, by the contract.
MAX_AMOUNT = chain_ledger.MAX_AMOUNT

_LIVE = frozenset(
    {ReceivableStatus.REGISTERED, ReceivableStatus.FINANCED, ReceivableStatus.SETTLED}
)


class InvoiceStatus(enum.StrEnum):
    """What a duplicate check says about an invoice, from the asking bank's point of view."""

    UNKNOWN = "unknown"
    """Not registered under any key version held, or registered and cancelled."""
    REGISTERED = "registered"
    """Registered, no financing outstanding (never financed, or settled)."""
    FINANCED_BY_YOU = "financed_by_you"
    FINANCED_BY_OTHER = "financed_by_other"
    """Financing outstanding: by the asking bank's institution (which holds the receivable), or by
    another bank's."""


class DeclarationStatus(enum.StrEnum):
    UNKNOWN = "unknown"
    LINKED_TO_THIS_INVOICE = "linked_to_this_invoice"
    LINKED_TO_OTHER_INVOICE = "linked_to_other_invoice"


@dataclass(frozen=True)
class DeclarationInput:
    """A customs declaration presented with a receivable: its number and its declared value (minor
    units of the receivable's currency)."""

    number: str
    value: int


@dataclass(frozen=True)
class DeclarationCheck:
    """One declaration's answer in a duplicate check. ``number`` is the normalized number;
    ``receivable_id`` the invoice it backs, if any."""

    number: str
    status: DeclarationStatus
    receivable_id: str | None


@dataclass(frozen=True)
class DuplicateCheck:
    """A duplicate check's answer, read from the contract at ``as_of_block``.

    ``cap``, ``outstanding`` and ``headroom`` are None for an unknown invoice. ``headroom`` is what
    the asking bank could still draw: 0 unless its institution holds the receivable (registered
    it). ``held_by_you`` says whether it does.
    """

    status: InvoiceStatus
    receivable_id: str | None
    key_version: int | None
    cap: int | None
    outstanding: int | None
    headroom: int | None
    declarations: tuple[DeclarationCheck, ...]
    as_of_block: int
    held_by_you: bool = False


@dataclass(frozen=True)
class Receivable:
    """A receivable as the contract holds it, at ``as_of_block``.

    ``headroom`` is cap minus outstanding (0 once cancelled); who may draw it is the exclusivity
    rule's business. ``overdue``: financing outstanding and the block ``as_of_block`` on a later day
    than the maturity (SPEC, derived; :mod:`registry.overdue`).
    """

    receivable_id: str
    status: str
    key_version: int
    currency: str
    maturity_date: date
    registrant: ChecksumAddress | None
    financier: ChecksumAddress | None
    exporter_fingerprint: str
    face_value: int
    declared_value: int
    cap: int
    outstanding: int
    headroom: int
    overdue: bool
    as_of_block: int


@dataclass(frozen=True)
class Registered:
    """A registration the chain accepted."""

    receivable_id: str
    key_version: int
    tx_hash: str
    block_number: int
    call_index: int | None = None
    """Which call of a grouped transaction (:mod:`registry.chain.grouping`) it was."""


@dataclass(frozen=True)
class TransactionRecorded:
    """A financing or repayment the chain accepted, with the receivable as it stands after it."""

    amount: int
    tx_hash: str
    block_number: int
    receivable: Receivable
    call_index: int | None = None
    """Which call of a grouped transaction (:mod:`registry.chain.grouping`) it was."""


@dataclass(frozen=True)
class Cancelled:
    """A cancellation the chain accepted: the receivable's declarations are free again."""

    receivable_id: str
    tx_hash: str
    block_number: int


@dataclass(frozen=True)
class Attested:
    """A customs attestation the chain accepted."""

    declaration_number: str
    declaration_fingerprint: str
    key_version: int
    value: int
    export_date: date
    tx_hash: str
    block_number: int


def parse_receivable_id(value: str, field: str = "receivable_id") -> bytes:
    """A receivable id as the API shows it (``0x`` and 64 hex digits: the invoice fingerprint)."""
    return inputs.hash_id(value, field, "receivable-id-format")


def _declaration_numbers(numbers: Sequence[str], field: Callable[[int], str]) -> list[str]:
    """Normalized numbers; refuses a number given twice (under any spelling)."""
    normalized: list[str] = []
    seen: dict[str, int] = {}
    for index, number in enumerate(numbers):
        value = normalize_declaration_number(number, field(index))
        if value in seen:
            raise InvalidInput(
                field(index),
                "declaration-duplicated",
                f"{field(index)} is the same declaration as {field(seen[value])}",
            )
        seen[value] = index
        normalized.append(value)
    return normalized


def _declaration_count(count: int, minimum: int, field: str) -> None:
    if not minimum <= count <= MAX_DECLARATIONS:
        raise InvalidInput(
            field,
            "declaration-count",
            f"{field} must hold {minimum} to {MAX_DECLARATIONS} customs declarations, not {count}",
        )


def _hex(digest: bytes) -> str:
    return "0x" + digest.hex()


def _declaration_check(
    number: str, linked: Sequence[bytes | None], invoice_ids: set[bytes]
) -> DeclarationCheck:
    """A declaration's answer from the invoice it backs under each key version, newest first."""
    for invoice in linked:
        if invoice is not None:
            status = (
                DeclarationStatus.LINKED_TO_THIS_INVOICE
                if invoice in invoice_ids
                else DeclarationStatus.LINKED_TO_OTHER_INVOICE
            )
            return DeclarationCheck(number, status, _hex(invoice))
    return DeclarationCheck(number, DeclarationStatus.UNKNOWN, None)


class ReceivableService:
    """Duplicate checks, registration, financing and repayment of export receivables.

    ``today`` gives the current date (UTC); injected so tests can pin it.
    """

    def __init__(
        self,
        ledger: ReceivableLedger,
        keyring: FingerprintKeyring,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self.ledger = ledger
        self.keyring = keyring
        self._today = today
        self.head = HeadViews(ledger.chain)
        """Reads at the chain's head, shared by the checks of concurrent requests."""

    # --- reads ----------------------------------------------------------------------------------

    def check(
        self,
        bank: ChecksumAddress,
        *,
        exporter_uscc: str,
        invoice_number: str,
        currency: str,
        declaration_numbers: Sequence[str] = (),
    ) -> DuplicateCheck:
        """Whether an invoice and its customs declarations are already registered or financed.

        ``bank`` is the asking bank's account: the answer says whether the financing is its own,
        that is its institution's (any of the bank's accounts may have drawn it).
        """
        invoice = ExportInvoice(exporter_uscc, invoice_number, currency)
        _declaration_count(len(declaration_numbers), 0, "declaration_numbers")
        numbers = _declaration_numbers(declaration_numbers, lambda i: f"declaration_numbers.{i}")

        candidates = self.keyring.candidates(invoice)
        held_by = [self.keyring.candidates(CustomsDeclaration(n)) for n in numbers]
        # Every view the answer may need, in one read at one block shared with the checks of
        # other requests (registry.chain.views.HeadViews): who the asker acts for; each key
        # version's receivable and its holder; each declaration's invoice under each version.
        views = self.ledger.views
        calls = [ViewCall(views, "institutionOf", (bank,))]
        calls += [ViewCall(views, "getReceivable", (c.digest,)) for c in candidates]
        calls += [ViewCall(views, "institutionOfReceivable", (c.digest,)) for c in candidates]
        calls += [
            ViewCall(views, "receivableOfDeclaration", (c.digest,))
            for versions in held_by
            for c in versions
        ]
        block, answers = self.head.read(calls)
        asker, answers = bytes(answers[0]), answers[1:]
        states = [chain_ledger.receivable_state(raw) for raw in answers[: len(candidates)]]
        holders = answers[len(candidates) : 2 * len(candidates)]
        linked = iter(chain_ledger.bytes_or_none(raw) for raw in answers[2 * len(candidates) :])

        invoice_ids = {candidate.digest for candidate in candidates}
        declarations = tuple(
            _declaration_check(number, [next(linked) for _ in versions], invoice_ids)
            for number, versions in zip(numbers, held_by, strict=True)
        )
        # The first key version under which the invoice is registered and not cancelled.
        found = next(
            (i for i, state in enumerate(states) if state.status in _LIVE),
            None,
        )
        if found is None:
            return DuplicateCheck(
                InvoiceStatus.UNKNOWN, None, None, None, None, None, declarations, block
            )
        fingerprint, state = candidates[found], states[found]
        # The asker's institution holds the receivable when it is its registrant's.
        holder = chain_ledger.bytes_or_none(holders[found])
        held = holder is not None and asker == holder
        if state.outstanding == 0:
            status = InvoiceStatus.REGISTERED
        elif held:
            status = InvoiceStatus.FINANCED_BY_YOU
        else:
            status = InvoiceStatus.FINANCED_BY_OTHER
        return DuplicateCheck(
            status=status,
            receivable_id=fingerprint.hex,
            key_version=fingerprint.key_version,
            cap=state.cap,
            outstanding=state.outstanding,
            headroom=state.headroom if held else 0,
            declarations=declarations,
            as_of_block=block,
            held_by_you=held,
        )

    def get(self, receivable_id: str) -> Receivable:
        """The receivable ``receivable_id`` as the contract holds it now."""
        rid = parse_receivable_id(receivable_id)
        # The head's number and time in one request: the read and the overdue rule's clock.
        block, timestamp = self.ledger.chain.head()
        state = self.ledger.receivable(rid, block)
        if state.status is ReceivableStatus.NONE:
            raise ReceivableNotFound(f"no receivable {receivable_id} is registered", id=_hex(rid))
        return self._view(rid, state, block, timestamp)

    # --- writes ---------------------------------------------------------------------------------

    def register(
        self,
        signer: Signer,
        *,
        exporter_uscc: str,
        invoice_number: str,
        currency: str,
        face_value: int,
        maturity_date: date,
        declarations: Sequence[DeclarationInput],
    ) -> Registered:
        """Registers an export receivable for the bank ``signer`` signs for.

        Raises :class:`InvalidInput` before any chain request when a field is bad, and the ledger's
        :class:`~registry.errors.RuleViolation` when a rule refuses it, after the chain recorded the
        refusal: for a declaration backing another invoice or attested for another exporter,
        ``details["field"]`` names the declaration.
        """
        call = self.prepare_register(
            exporter_uscc=exporter_uscc,
            invoice_number=invoice_number,
            currency=currency,
            face_value=face_value,
            maturity_date=maturity_date,
            declarations=declarations,
        )
        return self.ledger.execute(signer, call)

    def prepare_register(
        self,
        *,
        exporter_uscc: str,
        invoice_number: str,
        currency: str,
        face_value: int,
        maturity_date: date,
        declarations: Sequence[DeclarationInput],
    ) -> Call[Registered]:
        """:meth:`register`, validated and prepared, for whoever signs and sends it."""
        invoice = ExportInvoice(exporter_uscc, invoice_number, currency)
        exporter = Enterprise(invoice.exporter_uscc)
        face = inputs.amount(face_value, "face_value")
        maturity = inputs.maturity(maturity_date, self._today())
        _declaration_count(len(declarations), 1, "declarations")
        numbers = _declaration_numbers(
            [declaration.number for declaration in declarations],
            lambda i: f"declarations.{i}.number",
        )
        values = [
            inputs.amount(declaration.value, f"declarations.{i}.value")
            for i, declaration in enumerate(declarations)
        ]

        invoice_candidates = self.keyring.candidates(invoice)
        exporter_candidates = self.keyring.candidates(exporter)
        declaration_candidates = [
            self.keyring.candidates(CustomsDeclaration(number)) for number in numbers
        ]
        aliases = self._aliases(invoice_candidates, exporter_candidates, declaration_candidates)

        invoice_fp = invoice_candidates[0]
        terms = ReceivableTerms(
            id=invoice_fp.digest,
            exporter=exporter_candidates[0].digest,
            key_version=invoice_fp.key_version,
            face_value=face,
            currency=invoice.currency,
            maturity=maturity,
        )
        declared = [
            DeclarationTerm(candidates[0].digest, value)
            for candidates, value in zip(declaration_candidates, values, strict=True)
        ]
        attempt = self.ledger.try_register_call(terms, declared, aliases)

        def outcome(tx: TxResult) -> Registered:
            registration = attempt.outcome(tx)
            if registration.error is not None:
                raise self._name_declaration(registration.error, declaration_candidates)
            return Registered(
                invoice_fp.hex, invoice_fp.key_version, tx.tx_hash, tx.block_number, tx.part
            )

        return attempt.read_as(outcome)

    def finance(self, signer: Signer, receivable_id: str, amount: int) -> TransactionRecorded:
        """Draws ``amount`` of financing on the receivable for the bank ``signer`` signs for.

        A drawdown a financing rule refuses (another bank's financing, beyond the headroom, a
        cancelled receivable) is recorded on chain, then raised as the ledger's
        :class:`~registry.errors.RuleViolation`.
        """
        return self.ledger.execute(signer, self.prepare_finance(receivable_id, amount))

    def prepare_finance(self, receivable_id: str, amount: int) -> Call[TransactionRecorded]:
        """:meth:`finance`, validated and prepared."""
        rid = parse_receivable_id(receivable_id)
        drawn = inputs.amount(amount, "amount")
        attempt = self.ledger.try_finance_call(rid, drawn)

        def outcome(tx: TxResult) -> TransactionRecorded:
            drawdown: Attempt = attempt.outcome(tx)
            if drawdown.error is not None:
                raise drawdown.error
            return self._recorded(rid, drawn, tx)

        return attempt.read_as(outcome)

    def repay(self, signer: Signer, receivable_id: str, amount: int) -> TransactionRecorded:
        """Records repayment of ``amount`` against the bank's financing of the receivable."""
        return self.ledger.execute(signer, self.prepare_repay(receivable_id, amount))

    def prepare_repay(self, receivable_id: str, amount: int) -> Call[TransactionRecorded]:
        """:meth:`repay`, validated and prepared."""
        rid = parse_receivable_id(receivable_id)
        repaid = inputs.amount(amount, "amount")
        repayment = self.ledger.repay_call(rid, repaid)
        return repayment.read_as(lambda tx: self._recorded(rid, repaid, tx))

    def prepare_cancel(self, receivable_id: str) -> Call[Cancelled]:
        """Cancels a receivable nothing is drawn on (the registering bank): its declarations may
        back another invoice again."""
        rid = parse_receivable_id(receivable_id)
        return self.ledger.cancel_call(rid).read_as(
            lambda tx: Cancelled(_hex(rid), tx.tx_hash, tx.block_number)
        )

    def prepare_attest(
        self, declaration_number: str, exporter_uscc: str, value: int, export_date: date
    ) -> Call[Attested]:
        """Customs' attestation of a declaration: the exporter and value it records and the
        export date, under every key version held (a declaration registered under an older one
        is found through its alias)."""
        number = normalize_declaration_number(declaration_number)
        attested = inputs.amount(value, "value")
        if not isinstance(export_date, date) or isinstance(export_date, datetime):
            raise InvalidInput(
                "export_date", "iso-8601-date", "export_date must be a date (YYYY-MM-DD)"
            )
        if export_date > self._today():
            raise InvalidInput(
                "export_date",
                "export-date-in-future",
                f"export_date {export_date.isoformat()} has not come yet",
            )
        declarations = self.keyring.candidates(CustomsDeclaration(number))
        exporters = self.keyring.candidates(Enterprise(exporter_uscc))
        aliases = [
            chain_ledger.DeclarationAlias(declarations[k].digest, exporters[k].digest)
            for k in range(1, len(declarations))
        ]
        call = self.ledger.attest_declaration_call(
            declarations[0].digest,
            exporters[0].digest,
            attested,
            maturity_seconds(export_date),
            aliases,
        )
        return call.read_as(
            lambda tx: Attested(
                number,
                declarations[0].hex,
                declarations[0].key_version,
                attested,
                export_date,
                tx.tx_hash,
                tx.block_number,
            )
        )

    # --- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _aliases(
        invoice: Sequence[Fingerprint],
        exporter: Sequence[Fingerprint],
        declarations: Sequence[Sequence[Fingerprint]],
    ) -> list[InvoiceAlias]:
        """The registration's documents under each older key version held (candidates come
        active version first, then the others, newest first: the order the contract looks them
        up in, so the newest attestation of a declaration wins)."""
        if len(invoice) - 1 > MAX_KEY_ALIASES:
            raise ConfigurationError(
                f"the fingerprint keyring holds {len(invoice)} key versions; the ledger looks up "
                f"at most {MAX_KEY_ALIASES + 1} at once: retire the oldest"
            )
        return [
            InvoiceAlias(
                key_version=invoice[k].key_version,
                id=invoice[k].digest,
                exporter=exporter[k].digest,
                declarations=tuple(candidates[k].digest for candidates in declarations),
            )
            for k in range(1, len(invoice))
        ]

    @staticmethod
    def _name_declaration(
        error: RegistryError, declaration_candidates: Sequence[Sequence[Fingerprint]]
    ) -> RegistryError:
        """The chain's refusal, saying which declaration of the request it was (the chain only
        knows fingerprints, under whichever key version it found the declaration)."""
        if not isinstance(error, DeclarationLinkedToOtherInvoice | DeclarationExporterMismatch):
            return error
        for index, candidates in enumerate(declaration_candidates):
            if error.details.get("declaration") in {candidate.hex for candidate in candidates}:
                field = f"declarations.{index}.number"
                if isinstance(error, DeclarationExporterMismatch):
                    message = f"{field} is attested for another exporter than the invoice's"
                    return DeclarationExporterMismatch(message, **error.details, field=field)
                linked = error.details.get("linkedReceivable")
                return DeclarationLinkedToOtherInvoice(
                    f"{field} already backs invoice {linked}", **error.details, field=field
                )
        return error

    def _recorded(self, rid: bytes, amount: int, result: TxResult) -> TransactionRecorded:
        # Read at the transaction's block: the state it produced, not whatever came after.
        block = result.block_number
        state = self.ledger.receivable(rid, block)
        timestamp = self.ledger.chain.block_timestamp(block)
        return TransactionRecorded(
            amount, result.tx_hash, block, self._view(rid, state, block, timestamp), result.part
        )

    def _view(self, rid: bytes, state: ReceivableState, block: int, timestamp: int) -> Receivable:
        """The receivable as read at ``block``, whose time is ``timestamp``."""
        maturity = datetime.fromtimestamp(state.maturity, UTC)
        return Receivable(
            receivable_id=_hex(rid),
            status=state.status.name.lower(),
            key_version=state.key_version,
            currency=state.currency,
            maturity_date=maturity.date(),
            registrant=state.registrant,
            financier=state.financier,
            exporter_fingerprint=_hex(state.exporter),
            face_value=state.face_value,
            declared_value=state.declared_value,
            cap=state.cap,
            outstanding=state.outstanding,
            headroom=state.headroom,
            overdue=is_overdue(state.maturity, state.outstanding, timestamp),
            as_of_block=block,
        )
