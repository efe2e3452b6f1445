"""Property pledges as the people of the registry ask for them: a clerk registers properties and
their appraisals and decides pledge applications (or lets the automated registrar decide), a bank
applies for a pledge and releases it, a court seizes a property under a case and lifts it, and
anyone with a key verifies a title.

Writes are prepared here (validated, fingerprinted) as :class:`~registry.contracts.binding.Call`
objects that the API's write path sends for the caller's institution; the contract enforces the
rules and its refusals come back as domain errors. Reads come from the index, as of any block it
has reached, so a title can be verified as it stood when a loan was made.

A property is named on chain by the keyed fingerprint of its region code and title certificate
number (:class:`registry.fingerprint.Property`): its ``property_id``. A seizure is named by its
case: ``case_ref`` is the SHA3 (keccak-256) of the case number as the court writes it, normalized
(case numbers are public court records; hashing them only gives the chain a fixed-size key, and
the same case number always names the same seizure, across key rotations too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from eth_utils.crypto import keccak
from sqlalchemy import Engine

from registry import inputs
from registry.chain.client import TxResult
from registry.contracts.binding import Call
from registry.contracts.pledges import MIN_CLERK_REASON, PledgeRegistry, PropertyStatus
from registry.db.read import pledge_as_of, property_as_of, seizures_as_of, title_as_of
from registry.errors import InvalidInput, PledgeNotFound, PropertyNotFound
from registry.fingerprint import (
    FingerprintKeyring,
    Property,
    normalize_currency,
    normalize_text,
)

__all__ = [
    "PledgeRecorded",
    "PledgeService",
    "PledgeView",
    "PropertyRecorded",
    "SeizureRecorded",
    "SeizureView",
    "TitlePledge",
    "TitleView",
    "case_ref_of",
]

_BPS = 10_000


def case_ref_of(case_number: str) -> bytes:
    """The seizure's key on chain: keccak-256 of the normalized case number."""
    normalized = normalize_text(case_number) if isinstance(case_number, str) else ""
    if not normalized or len(normalized) > 128:
        raise InvalidInput(
            "case_number", "case-number-format", "case_number must be 1 to 128 characters"
        )
    return keccak(normalized.encode("utf-8"))


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


@dataclass(frozen=True)
class PropertyRecorded:
    """A property registration or appraisal the chain accepted."""

    property_id: str
    key_version: int
    tx_hash: str
    block_number: int


@dataclass(frozen=True)
class PledgeRecorded:
    """An application, decision or release the chain accepted. ``approved`` and
    ``reason_code`` say what a decision decided (None for other acts)."""

    pledge_id: str
    tx_hash: str
    block_number: int
    approved: bool | None = None
    reason_code: int | None = None


@dataclass(frozen=True)
class SeizureRecorded:
    """A seizure imposed or lifted."""

    property_id: str
    case_ref: str
    tx_hash: str
    block_number: int


@dataclass(frozen=True)
class SeizureView:
    case_ref: str
    court: str
    """The seizing court's institution id."""


@dataclass(frozen=True)
class TitlePledge:
    pledge_id: str
    rank: int
    institution: str
    """The pledgee bank's institution id."""
    amount: int
    currency: str
    maturity: int


@dataclass(frozen=True)
class TitleView:
    """What a title verification shows, as of ``as_of_block``."""

    property_id: str
    status: str
    seizures: list[SeizureView]
    appraised_value: int
    currency: str
    max_ltv_bps: int
    secured_amount: int
    headroom: int
    pledges: list[TitlePledge]
    as_of_block: int


@dataclass(frozen=True)
class PledgeView:
    pledge_id: str
    property_id: str
    status: str
    rank: int | None
    institution: str
    amount: int
    currency: str
    maturity: int
    reason_code: int | None
    as_of_block: int


class PledgeService:
    """The pledge registry's operations for the API and the CLI (see the module's docstring)."""

    def __init__(
        self,
        registry: PledgeRegistry,
        keyring: FingerprintKeyring,
        engine: Engine,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self.registry = registry
        self.keyring = keyring
        self.engine = engine
        self._today = today

    # --- properties -----------------------------------------------------------------------------

    def find_property(self, region_code: str, certificate_number: str) -> str:
        """The id of the registered property with this region and certificate number, under
        whichever key version it was registered. Raises :class:`PropertyNotFound`."""
        document = Property(region_code, certificate_number)
        for candidate in self.keyring.candidates(document):
            state = self.registry.get_property(candidate.digest)
            if state.status is not PropertyStatus.NONE:
                return candidate.hex
        raise PropertyNotFound("no property is registered with that region and certificate")

    def prepare_register_property(
        self,
        region_code: str,
        certificate_number: str,
        appraised_value: int,
        currency: str,
        max_ltv_bps: int | None = None,
    ) -> Call[PropertyRecorded]:
        """Registers a property (clerk); ``max_ltv_bps`` None: the contract's default."""
        fingerprint = self.keyring.fingerprint(Property(region_code, certificate_number))
        value = inputs.amount(appraised_value, "appraised_value")
        code = normalize_currency(currency)
        if max_ltv_bps is not None and (
            isinstance(max_ltv_bps, bool) or not 0 < max_ltv_bps <= _BPS
        ):
            raise InvalidInput(
                "max_ltv_bps", "ltv-range", "max_ltv_bps must be 1 to 10000 basis points"
            )
        call = self.registry.register_property_call(
            fingerprint.digest, fingerprint.key_version, value, code, max_ltv_bps or 0
        )
        return call.read_as(
            lambda tx: PropertyRecorded(
                fingerprint.hex, fingerprint.key_version, tx.tx_hash, tx.block_number
            )
        )

    def prepare_update_appraisal(
        self, property_id: str, appraised_value: int
    ) -> Call[PropertyRecorded]:
        """A new appraisal (clerk); lowering it leaves pledges as they are."""
        fp = inputs.hash_id(property_id, "property_id", "property-id-format")
        value = inputs.amount(appraised_value, "appraised_value")
        call = self.registry.update_appraisal_call(fp, value)
        return call.read_as(lambda tx: self._property_recorded(fp, tx))

    def _property_recorded(self, fp: bytes, tx: TxResult) -> PropertyRecorded:
        state = self.registry.get_property(fp, tx.block_number)
        return PropertyRecorded(_hex(fp), state.key_version, tx.tx_hash, tx.block_number)

    # --- pledges --------------------------------------------------------------------------------

    def prepare_apply(
        self, property_id: str, amount: int, currency: str, maturity_date: date
    ) -> Call[PledgeRecorded]:
        """A bank's application for a pledge on the property."""
        fp = inputs.hash_id(property_id, "property_id", "property-id-format")
        secured = inputs.amount(amount, "amount")
        code = normalize_currency(currency)
        due = inputs.maturity(maturity_date, self._today())
        call = self.registry.apply_call(fp, secured, code, due)

        def outcome(tx: TxResult) -> PledgeRecorded:
            return _pledge_recorded(call.outcome(tx).pledge_id, tx)

        return call.read_as(outcome)

    def prepare_approve(self, pledge_id: str) -> Call[PledgeRecorded]:
        pid = self._pledge_id(pledge_id)
        return self.registry.approve_call(pid).read_as(lambda tx: _pledge_recorded(pid, tx))

    def prepare_reject(self, pledge_id: str, reason_code: int) -> Call[PledgeRecorded]:
        """A clerk's rejection, with a reason code of the clerk's (``MIN_CLERK_REASON`` up; the
        codes below are the rules' own)."""
        pid = self._pledge_id(pledge_id)
        if (
            isinstance(reason_code, bool)
            or not isinstance(reason_code, int)
            or not MIN_CLERK_REASON <= reason_code <= 0xFFFF
        ):
            raise InvalidInput(
                "reason_code",
                "clerk-reason-code",
                f"reason_code must be {MIN_CLERK_REASON} to 65535 (below are the rules' codes)",
            )
        call = self.registry.reject_call(pid, reason_code)
        return call.read_as(lambda tx: _pledge_recorded(pid, tx, False, reason_code))

    def prepare_decide(self, pledge_id: str) -> Call[PledgeRecorded]:
        """The rules decide (the automated registrar): approved when every rule passes, else
        rejected with the rule's reason code, recorded on chain."""
        pid = self._pledge_id(pledge_id)
        call = self.registry.decide_call(pid)

        def outcome(tx: TxResult) -> PledgeRecorded:
            decision = call.outcome(tx)
            return _pledge_recorded(pid, tx, decision.approved, decision.reason_code or None)

        return call.read_as(outcome)

    def prepare_release(self, pledge_id: str) -> Call[PledgeRecorded]:
        pid = self._pledge_id(pledge_id)
        return self.registry.release_call(pid).read_as(lambda tx: _pledge_recorded(pid, tx))

    # --- seizures -------------------------------------------------------------------------------

    def prepare_seize(self, property_id: str, case_number: str) -> Call[SeizureRecorded]:
        return self._seizure(self.registry.seize_call, property_id, case_number)

    def prepare_unseize(self, property_id: str, case_number: str) -> Call[SeizureRecorded]:
        return self._seizure(self.registry.unseize_call, property_id, case_number)

    @staticmethod
    def _seizure(
        prepare: Callable[[bytes, bytes], Call[TxResult]], property_id: str, case_number: str
    ) -> Call[SeizureRecorded]:
        """A seizure imposed or lifted (``prepare``) on the property under the case."""
        fp = inputs.hash_id(property_id, "property_id", "property-id-format")
        case = case_ref_of(case_number)
        return prepare(fp, case).read_as(
            lambda tx: SeizureRecorded(_hex(fp), _hex(case), tx.tx_hash, tx.block_number)
        )

    # --- reads (from the index) -----------------------------------------------------------------

    def title(self, property_id: str, as_of_block: int | None = None) -> TitleView:
        """The title as the index holds it at ``as_of_block`` (None: the newest block indexed):
        status, seizures in force, active pledges by rank (1 is paid first), headroom."""
        fp = _hex(inputs.hash_id(property_id, "property_id", "property-id-format"))
        with self.engine.connect() as connection:
            block = inputs.as_of_block(connection, as_of_block)
            prop = property_as_of(connection, fp, block)
            if prop is None:
                raise PropertyNotFound(f"no property {fp} at block {block}")
            active = title_as_of(connection, fp, block)
            seized = [
                SeizureView(str(s["case_ref"]), str(s["court"]))
                for s in seizures_as_of(connection, block, property_fp=fp)
                if s["status"] == "in_force"
            ]
        return TitleView(
            property_id=fp,
            status=str(prop["status"]),
            seizures=seized,
            appraised_value=int(prop["appraised_value"]),
            currency=str(prop["currency"]),
            max_ltv_bps=int(prop["max_ltv_bps"]),
            secured_amount=int(prop["secured_amount"]),
            headroom=int(prop["headroom"]),
            pledges=[
                TitlePledge(
                    pledge_id=str(p["id"]),
                    rank=int(p["rank"]),
                    institution=str(p["institution"]),
                    amount=int(p["amount"]),
                    currency=str(p["currency"]),
                    maturity=int(p["maturity"]),
                )
                for p in active
            ],
            as_of_block=block,
        )

    def pledge(self, pledge_id: str, as_of_block: int | None = None) -> PledgeView:
        """One pledge as the index holds it at ``as_of_block`` (None: the newest indexed)."""
        pid = _hex(self._pledge_id(pledge_id))
        with self.engine.connect() as connection:
            block = inputs.as_of_block(connection, as_of_block)
            row = pledge_as_of(connection, pid, block)
        if row is None:
            raise PledgeNotFound(f"no pledge {pid} at block {block}")
        return PledgeView(
            pledge_id=pid,
            property_id=str(row["property"]),
            status=str(row["status"]),
            rank=None if row["rank"] is None else int(row["rank"]),
            institution=str(row["institution"]),
            amount=int(row["amount"]),
            currency=str(row["currency"]),
            maturity=int(row["maturity"]),
            reason_code=None if row["reason_code"] is None else int(row["reason_code"]),
            as_of_block=block,
        )

    # --- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _pledge_id(value: str) -> bytes:
        return inputs.hash_id(value, "pledge_id", "pledge-id-format")


def _pledge_recorded(
    pid: bytes, tx: TxResult, approved: bool | None = None, reason_code: int | None = None
) -> PledgeRecorded:
    return PledgeRecorded(_hex(pid), tx.tx_hash, tx.block_number, approved, reason_code)
