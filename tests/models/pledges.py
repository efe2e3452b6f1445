"""PledgeRegistry's rules in plain Python: one :class:`PropertyModel` per property.

Rank follows approval order among the active pledges; releasing a senior moves the juniors up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from registry.contracts.pledges import MAX_ACTIVE_PLEDGES, POLICY_DEFAULT_MAX_LTV_BPS, RuleReason

BPS = 10_000


@dataclass
class PropertyModel:
    """SPEC's pledge rules in a few lines of Python, for one property."""

    value: int
    ltv_bps: int = POLICY_DEFAULT_MAX_LTV_BPS
    seizures: dict[bytes, str] = field(default_factory=dict)  # case ref -> the seizing court
    active: list[tuple[bytes, int]] = field(default_factory=list)  # (pledge id, amount), by rank
    pending: dict[bytes, int] = field(default_factory=dict)

    @property
    def seized(self) -> bool:
        """Seized while any seizure is in force."""
        return bool(self.seizures)

    def seize(self, case: bytes, court: str) -> str | None:
        """A seizure by ``court`` under ``case``: the rule refusing it, or None (applied)."""
        if case in self.seizures:
            return "seizure-already-imposed"
        self.seizures[case] = court
        return None

    def unseize(self, case: bytes, court: str, *, admin: bool = False) -> str | None:
        """Lifting the seizure under ``case``: by the court that imposed it, or by the admin."""
        holder = self.seizures.get(case)
        if holder is None:
            return "seizure-not-found"
        if not admin and holder != court:
            return "seizure-not-liftable"
        del self.seizures[case]
        return None

    @property
    def secured(self) -> int:
        return sum(amount for _, amount in self.active)

    @property
    def headroom(self) -> int:
        cap = self.value * self.ltv_bps // BPS
        return 0 if self.seized else max(0, cap - self.secured)

    def refusal(self, pid: bytes) -> int:
        """Why ``pid`` (pending) may not be approved now: a :class:`RuleReason`, 0 if it may."""
        if self.seized:
            return RuleReason.PROPERTY_SEIZED
        if self.pending[pid] > self.headroom:
            return RuleReason.EXCEEDS_HEADROOM
        if len(self.active) >= MAX_ACTIVE_PLEDGES:
            return RuleReason.TOO_MANY_ACTIVE_PLEDGES
        return 0

    def decide(self, pid: bytes) -> int:
        """Decides a pending pledge: approves it (0) or rejects it with the reason code."""
        reason = self.refusal(pid)
        amount = self.pending.pop(pid)
        if reason == 0:
            self.active.append((pid, amount))
        return reason
