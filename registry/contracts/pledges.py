"""Typed binding of the PledgeRegistry contract: one method per contract function.

Transactions go through :meth:`Chain.transact` (each prepared first as a
:class:`~registry.contracts.binding.Call`, which the API's write path sends), so a refusal raises
the decoded domain error (a :class:`~registry.errors.RuleViolation` whose ``rule`` is the contract
error in kebab case, or :class:`~registry.errors.MissingRole`) and sends nothing. The one refusal
that *is* sent on purpose is :meth:`PledgeRegistry.decide`: the rules' rejection is recorded on
chain, and the method returns it as a :class:`Decision` instead of raising.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_typing import ChecksumAddress
from eth_utils.crypto import keccak

from registry.chain.client import Signer, TxResult
from registry.contracts.binding import Call, ConsortiumContract
from registry.contracts.values import address_or_none, currency_text

__all__ = [
    "MAX_ACTIVE_PLEDGES",
    "MIN_CLERK_REASON",
    "POLICY_DEFAULT_MAX_LTV_BPS",
    "Applied",
    "Decision",
    "PledgeRegistry",
    "PledgeState",
    "PledgeStatus",
    "PropertyState",
    "PropertyStatus",
    "RankedPledge",
    "RuleReason",
    "Title",
    "pledge_id",
]

MAX_ACTIVE_PLEDGES = 16
MIN_CLERK_REASON = 100
POLICY_DEFAULT_MAX_LTV_BPS = 7000


class PropertyStatus(enum.IntEnum):
    """Mirrors ``IPledgeRegistry.PropertyStatus``."""

    NONE = 0
    NORMAL = 1
    SEIZED = 2


class PledgeStatus(enum.IntEnum):
    """Mirrors ``IPledgeRegistry.PledgeStatus``."""

    NONE = 0
    PENDING = 1
    ACTIVE = 2
    REJECTED = 3
    RELEASED = 4


class RuleReason(enum.IntEnum):
    """Reason codes the contract sets itself (``REASON_*``); clerks use ``MIN_CLERK_REASON`` up."""

    PROPERTY_SEIZED = 1
    EXCEEDS_HEADROOM = 2
    TOO_MANY_ACTIVE_PLEDGES = 3


@dataclass(frozen=True)
class PropertyState:
    status: PropertyStatus
    key_version: int
    max_ltv_bps: int
    currency: str
    applications: int
    appraised_value: int
    secured_amount: int
    seizures: int
    """Seizures in force (the property is seized while there are any)."""

    @property
    def capacity(self) -> int:
        """Appraisal x LTV minus the secured total, floored at 0, whatever the status."""
        return max(0, self.appraised_value * self.max_ltv_bps // 10_000 - self.secured_amount)


@dataclass(frozen=True)
class PledgeState:
    status: PledgeStatus
    reason_code: int
    maturity: int
    lender: ChecksumAddress | None
    property: bytes
    institution: bytes
    amount: int


@dataclass(frozen=True)
class RankedPledge:
    pledge_id: bytes
    rank: int
    pledge: PledgeState


@dataclass(frozen=True)
class Title:
    """What a title verification shows: status, seizure, active pledges by rank, headroom."""

    property: PropertyState
    headroom: int
    pledges: tuple[RankedPledge, ...]


@dataclass(frozen=True)
class Applied:
    pledge_id: bytes
    tx: TxResult


@dataclass(frozen=True)
class Decision:
    """The outcome :meth:`PledgeRegistry.decide` recorded: ``reason_code`` 0 means approved."""

    reason_code: int
    tx: TxResult

    @property
    def approved(self) -> bool:
        return self.reason_code == 0


def pledge_id(property_fp: bytes, sequence: int) -> bytes:
    """The contract's pledge id: keccak256(abi.encode(property, sequence))."""
    return keccak(abi_encode(["bytes32", "uint64"], [property_fp, sequence]))


def _property_state(raw: Sequence[Any]) -> PropertyState:
    status, key_version, max_ltv, currency, applications, appraised, secured, seizures = raw
    return PropertyState(
        status=PropertyStatus(status),
        key_version=key_version,
        max_ltv_bps=max_ltv,
        currency=currency_text(currency),
        applications=applications,
        appraised_value=appraised,
        secured_amount=secured,
        seizures=seizures,
    )


def _pledge_state(raw: Sequence[Any]) -> PledgeState:
    status, reason_code, maturity, lender, property_fp, institution, amount = raw
    return PledgeState(
        status=PledgeStatus(status),
        reason_code=reason_code,
        maturity=maturity,
        lender=address_or_none(lender),
        property=bytes(property_fp),
        institution=bytes(institution),
        amount=amount,
    )


def _mined(tx: TxResult) -> TxResult:
    """The outcome of a transaction whose refusals revert: its being mined."""
    return tx


class PledgeRegistry(ConsortiumContract):
    NAME = "PledgeRegistry"

    # --- transactions -------------------------------------------------------------------------
    #
    # Each one prepared (``*_call``: what the API's write path sends for an institution) and sent
    # (the plain method, for a signer at hand).

    def register_property_call(
        self,
        property_fp: bytes,
        key_version: int,
        appraised_value: int,
        currency: str,
        max_ltv_bps: int = 0,
    ) -> Call[TxResult]:
        """``max_ltv_bps`` 0: the contract's current default."""
        function = self.contract.functions.registerProperty(
            property_fp, key_version, appraised_value, currency.encode("ascii"), max_ltv_bps
        )
        return Call(function, _mined)

    def register_property(
        self,
        signer: Signer,
        property_fp: bytes,
        key_version: int,
        appraised_value: int,
        currency: str,
        max_ltv_bps: int = 0,
    ) -> TxResult:
        call = self.register_property_call(
            property_fp, key_version, appraised_value, currency, max_ltv_bps
        )
        return self.execute(signer, call)

    def update_appraisal_call(self, property_fp: bytes, appraised_value: int) -> Call[TxResult]:
        return Call(self.contract.functions.updateAppraisal(property_fp, appraised_value), _mined)

    def update_appraisal(
        self, signer: Signer, property_fp: bytes, appraised_value: int
    ) -> TxResult:
        return self.execute(signer, self.update_appraisal_call(property_fp, appraised_value))

    def apply_call(
        self, property_fp: bytes, amount: int, currency: str, maturity: int
    ) -> Call[Applied]:
        """Applies for a pledge; the id comes from the mined PledgeApplied event."""
        function = self.contract.functions.applyForPledge(
            property_fp, amount, currency.encode("ascii"), maturity
        )
        return Call(function, self._applied)

    def apply(
        self, signer: Signer, property_fp: bytes, amount: int, currency: str, maturity: int
    ) -> Applied:
        return self.execute(signer, self.apply_call(property_fp, amount, currency, maturity))

    def _applied(self, tx: TxResult) -> Applied:
        (applied,) = self.events(tx, "PledgeApplied")
        return Applied(pledge_id=bytes(applied["pledgeId"]), tx=tx)

    def approve_call(self, pledge_id: bytes) -> Call[TxResult]:
        return Call(self.contract.functions.approvePledge(pledge_id), _mined)

    def approve(self, signer: Signer, pledge_id: bytes) -> TxResult:
        return self.execute(signer, self.approve_call(pledge_id))

    def decide_call(self, pledge_id: bytes) -> Call[Decision]:
        """Lets the rules decide; a rejection is recorded on chain and returned, not raised."""
        return Call(self.contract.functions.decidePledge(pledge_id), self._decision)

    def decide(self, signer: Signer, pledge_id: bytes) -> Decision:
        return self.execute(signer, self.decide_call(pledge_id))

    def _decision(self, tx: TxResult) -> Decision:
        rejected = self.events(tx, "PledgeRejected")
        return Decision(reason_code=int(rejected[0]["reasonCode"]) if rejected else 0, tx=tx)

    def reject_call(self, pledge_id: bytes, reason_code: int) -> Call[TxResult]:
        return Call(self.contract.functions.rejectPledge(pledge_id, reason_code), _mined)

    def reject(self, signer: Signer, pledge_id: bytes, reason_code: int) -> TxResult:
        return self.execute(signer, self.reject_call(pledge_id, reason_code))

    def release_call(self, pledge_id: bytes) -> Call[TxResult]:
        return Call(self.contract.functions.releasePledge(pledge_id), _mined)

    def release(self, signer: Signer, pledge_id: bytes) -> TxResult:
        return self.execute(signer, self.release_call(pledge_id))

    def seize_call(self, property_fp: bytes, case_ref: bytes) -> Call[TxResult]:
        return Call(self.contract.functions.seize(property_fp, case_ref), _mined)

    def seize(self, signer: Signer, property_fp: bytes, case_ref: bytes) -> TxResult:
        return self.execute(signer, self.seize_call(property_fp, case_ref))

    def unseize_call(self, property_fp: bytes, case_ref: bytes) -> Call[TxResult]:
        return Call(self.contract.functions.unseize(property_fp, case_ref), _mined)

    def unseize(self, signer: Signer, property_fp: bytes, case_ref: bytes) -> TxResult:
        return self.execute(signer, self.unseize_call(property_fp, case_ref))

    def set_default_max_ltv(self, signer: Signer, max_ltv_bps: int) -> TxResult:
        function = self.contract.functions.setDefaultMaxLtv(max_ltv_bps)
        return self.chain.transact(signer, function)

    # --- views --------------------------------------------------------------------------------

    def get_property(self, property_fp: bytes, block: int | str = "latest") -> PropertyState:
        raw = self.chain.call(self.contract.functions.getProperty(property_fp), block)
        return _property_state(raw)

    def get_pledge(self, pledge_id: bytes, block: int | str = "latest") -> PledgeState:
        return _pledge_state(self.chain.call(self.contract.functions.getPledge(pledge_id), block))

    def rank_of(self, pledge_id: bytes, block: int | str = "latest") -> int:
        return int(self.chain.call(self.contract.functions.rankOf(pledge_id), block))

    def active_pledges(self, property_fp: bytes, block: int | str = "latest") -> list[bytes]:
        ids = self.chain.call(self.contract.functions.activePledges(property_fp), block)
        return [bytes(i) for i in ids]

    def headroom(self, property_fp: bytes, block: int | str = "latest") -> int:
        return int(self.chain.call(self.contract.functions.headroom(property_fp), block))

    def seizure_of(
        self, property_fp: bytes, case_ref: bytes, block: int | str = "latest"
    ) -> bytes | None:
        """The court (institution) whose seizure under ``case_ref`` is in force, None if none."""
        court = self.chain.call(self.contract.functions.seizureOf(property_fp, case_ref), block)
        return None if bytes(court) == bytes(32) else bytes(court)

    def title(self, property_fp: bytes, block: int | str = "latest") -> Title:
        prop, room, pledges = self.chain.call(self.contract.functions.titleOf(property_fp), block)
        return Title(
            property=_property_state(prop),
            headroom=room,
            pledges=tuple(
                RankedPledge(pledge_id=bytes(pid), rank=rank, pledge=_pledge_state(raw))
                for pid, rank, raw in pledges
            ),
        )

    def default_max_ltv_bps(self) -> int:
        return int(self.chain.call(self.contract.functions.defaultMaxLtvBps()))
