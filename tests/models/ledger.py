"""ReceivableLedger's rules in plain Python, for receivables of one exporter.

Banks are named by institution (any account of an institution acts as that institution). A
receivable belongs to the institution that registered it: only that one draws and repays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from registry.contracts.ledger import RefusalReason, Standing
from tests.conftest import ADVANCE_RATE_BPS

EXPORTER = b"\xee" * 32
BPS = 10_000


@dataclass
class Model:
    """The ledger's rules in plain Python, for a few receivables of one exporter."""

    verified: int = ADVANCE_RATE_BPS
    unverified: int = ADVANCE_RATE_BPS
    exporter: bytes = EXPORTER
    # receivable -> (face value, [declaration], status, the bank that drew last or None)
    receivables: dict[str, tuple[int, list[str], str, str | None]] = field(default_factory=dict)
    # receivable -> the institution holding it: the registrant's, fixed at registration
    registrants: dict[str, str] = field(default_factory=dict)
    declared: dict[str, int] = field(default_factory=dict)
    attested: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    balance: dict[str, int] = field(default_factory=dict)
    linked: dict[str, str] = field(default_factory=dict)
    # The limit (per declaration) and cap (per invoice) in force at their last drawdown: what the
    # money out must stay within. An attestation or a rate change afterwards may lower the limit
    # below money already drawn, which is not financing beyond it.
    limit_at_draw: dict[str, int] = field(default_factory=dict)
    cap_at_draw: dict[str, int] = field(default_factory=dict)

    def counted(self, declaration: str) -> tuple[Standing, int]:
        if declaration not in self.attested:
            return Standing.UNVERIFIED, self.declared[declaration]
        exporter, value = self.attested[declaration]
        if exporter != self.exporter:
            return Standing.EXPORTER_MISMATCH, 0
        return Standing.VERIFIED, min(value, self.declared[declaration])

    def limit(self, declaration: str) -> int:
        standing, value = self.counted(declaration)
        rate = {Standing.VERIFIED: self.verified, Standing.UNVERIFIED: self.unverified}
        return value * rate.get(standing, 0) // BPS

    def outstanding(self, invoice: str) -> int:
        return sum(self.balance[d] for d in self.receivables[invoice][1])

    def drawn_within_limit(self, declaration: str) -> bool:
        return self.balance[declaration] <= self.limit_at_draw.get(declaration, 0)

    def drawn_within_cap(self, invoice: str) -> bool:
        return self.outstanding(invoice) <= self.cap_at_draw.get(invoice, 0)

    def cap(self, invoice: str) -> int:
        face, declarations, status, _ = self.receivables[invoice]
        if status == "cancelled":
            return 0
        return min(face * self.verified // BPS, sum(self.limit(d) for d in declarations))

    # --- operations: each returns why it is refused (None: accepted) and applies it if not ---

    def register(
        self, bank: str, invoice: str, face: int, declarations: list[tuple[str, int]]
    ) -> RefusalReason | None:
        entry = self.receivables.get(invoice)
        if entry is not None and entry[2] != "cancelled":
            return RefusalReason.RECEIVABLE_ALREADY_REGISTERED
        for number, _ in declarations:
            if number in self.linked:
                return RefusalReason.DECLARATION_LINKED_TO_OTHER_INVOICE
            if self.attested.get(number, (self.exporter, 0))[0] != self.exporter:
                return RefusalReason.DECLARATION_EXPORTER_MISMATCH
        self.receivables[invoice] = (face, [n for n, _ in declarations], "registered", None)
        self.registrants[invoice] = bank
        for number, value in declarations:
            self.declared[number], self.balance[number], self.linked[number] = value, 0, invoice
        return None

    def finance(self, bank: str, invoice: str, amount: int) -> RefusalReason | None:
        """A drawdown; the invoice must be registered (an unknown one is not a recorded refusal)."""
        face, numbers, status, _ = self.receivables[invoice]
        outstanding = self.outstanding(invoice)
        if status not in ("registered", "financed", "settled"):
            return RefusalReason.RECEIVABLE_NOT_ACTIVE
        if self.registrants[invoice] != bank:
            return RefusalReason.RECEIVABLE_HELD_BY_OTHER_BANK
        if amount > max(0, self.cap(invoice) - outstanding):
            return RefusalReason.FINANCING_EXCEEDS_CAP
        # Drawdowns fill the declarations in order.
        left = amount
        for n in numbers:
            take = min(max(0, self.limit(n) - self.balance[n]), left)
            if take:
                self.balance[n] += take
                self.limit_at_draw[n] = self.limit(n)
            left -= take
        self.cap_at_draw[invoice] = self.cap(invoice)
        self.receivables[invoice] = (face, numbers, "financed", bank)
        return None

    def repay(self, bank: str, invoice: str, amount: int) -> str | None:
        """A repayment; refusals are named by the contract rule (kebab case)."""
        entry = self.receivables.get(invoice)
        if entry is None:
            return "receivable-not-found"
        face, numbers, status, holder = entry
        if status != "financed":
            return "receivable-not-active"
        if self.registrants[invoice] != bank:
            return "receivable-held-by-other-bank"
        if amount > self.outstanding(invoice):
            return "repayment-exceeds-outstanding"
        # Repayments release the declarations in reverse.
        left = amount
        for n in reversed(numbers):
            take = min(self.balance[n], left)
            self.balance[n] -= take
            left -= take
        settled = self.outstanding(invoice) == 0
        self.receivables[invoice] = (
            face,
            numbers,
            "settled" if settled else "financed",
            None if settled else holder,
        )
        return None

    def cancel(self, bank: str, invoice: str) -> str | None:
        entry = self.receivables.get(invoice)
        if entry is None:
            return "receivable-not-found"
        if entry[2] != "registered" or self.registrants[invoice] != bank:
            return "receivable-not-cancellable"
        self.receivables[invoice] = (entry[0], entry[1], "cancelled", None)
        for n in entry[1]:
            del self.linked[n]
        return None

    def attest(self, declaration: str, exporter: bytes, value: int) -> None:
        self.attested[declaration] = (exporter, value)
