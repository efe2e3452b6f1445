"""assignInstitution: the accounts of one bank act as that bank; an account moved away does
not carry the claim.
"""

from __future__ import annotations

from registry.contracts.ledger import ReceivableStatus, RefusalReason
from registry.contracts.roles import LENDER_ROLE
from tests.conftest import Stack, hx
from tests.helpers import funded, register, violated


def test_accounts_of_one_bank_act_as_the_same_bank(stack: Stack) -> None:
    ledger = stack.ledger
    a1, b = stack.bank_a.signer, stack.bank_b.signer
    bank_a = ledger.institution_of(a1.address)
    a2 = funded(stack, LENDER_ROLE, on=stack.ledger)
    tx = ledger.assign_institution(stack.admin.signer, a2.address, bank_a)
    assert ledger.events(tx, "InstitutionAssigned") == [
        {"account": a2.address, "institution": bank_a, "admin": stack.admin.signer.address}
    ]
    rid = register(stack, a1, "INV-1", ("D1", 100_000))
    other = register(stack, a1, "INV-2", ("D2", 100_000))

    ledger.finance(a2, rid, 10_000)  # another account of the registering bank
    ledger.finance(a1, rid, 10_000)  # a tranche by the first account: the same bank
    assert ledger.receivable(rid).financier == a1.address
    assert ledger.institution_of_receivable(rid) == bank_a
    violated(stack, "receivable-held-by-other-bank", lambda: ledger.finance(b, rid, 1))
    violated(stack, "receivable-held-by-other-bank", lambda: ledger.repay(b, rid, 1))
    ledger.repay(a2, rid, 20_000)
    assert ledger.receivable(rid).status is ReceivableStatus.SETTLED

    violated(stack, "receivable-not-cancellable", lambda: ledger.cancel(b, other))
    ledger.cancel(a2, other)
    assert ledger.receivable(other).status is ReceivableStatus.CANCELLED


def test_an_account_moved_to_another_bank_does_not_carry_the_claim(stack: Stack) -> None:
    """Account Z of Bank A registers and draws; moved to Bank B it is Bank B's account: refused on
    Bank A's receivable, the refusal recorded against Bank B, while Bank A's other account still
    draws and repays. Moved back, it acts for Bank A again."""
    ledger, admin = stack.ledger, stack.admin.signer
    a, b = stack.bank_a.signer, stack.bank_b.signer
    bank_a, bank_b = ledger.institution_of(a.address), ledger.institution_of(b.address)
    z = funded(stack, LENDER_ROLE, on=stack.ledger)
    ledger.assign_institution(admin, z.address, bank_a)
    rid = register(stack, z, "INV-1", ("D1", 100_000))
    ledger.finance(z, rid, 10_000)

    ledger.assign_institution(admin, z.address, bank_b)
    held = {"id": hx(rid), "institution": hx(bank_a)}
    assert violated(stack, "receivable-held-by-other-bank", lambda: ledger.finance(z, rid, 1)) == (
        held
    )
    assert violated(stack, "receivable-held-by-other-bank", lambda: ledger.repay(z, rid, 1)) == (
        held
    )
    attempt = ledger.try_finance(z, rid, 1)
    assert attempt.refusal is not None
    assert (attempt.refusal.reason, attempt.refusal.institution, attempt.refusal.account) == (
        RefusalReason.RECEIVABLE_HELD_BY_OTHER_BANK,
        bank_b,
        z.address,
    )
    violated(stack, "receivable-held-by-other-bank", lambda: ledger.finance(b, rid, 1))
    assert ledger.institution_of_receivable(rid) == bank_a
    ledger.finance(a, rid, 5_000)  # Bank A's own account: still Bank A's receivable
    ledger.repay(a, rid, 15_000)
    assert ledger.receivable(rid).status is ReceivableStatus.SETTLED

    ledger.assign_institution(admin, z.address, bank_a)
    ledger.finance(z, rid, 1_000)
    assert ledger.receivable(rid).financier == z.address


def test_another_banks_drawdown_on_a_fresh_registration_is_recorded_against_it(
    stack: Stack,
) -> None:
    """Nothing drawn yet: another bank still cannot take the registering bank's claim, and the
    fraud signal (the recorded refusal) names the bank that tried, not the victim."""
    ledger, a, b = stack.ledger, stack.bank_a.signer, stack.bank_b.signer
    rid = register(stack, a, "INV-1", ("D1", 100_000))
    attempt = ledger.try_finance(b, rid, 1)
    assert attempt.refusal is not None
    refusal = attempt.refusal
    assert (refusal.reason, refusal.institution, refusal.account, refusal.financier) == (
        RefusalReason.RECEIVABLE_HELD_BY_OTHER_BANK,
        ledger.institution_of(b.address),
        b.address,
        None,
    )
    assert ledger.receivable(rid).outstanding == 0
    assert ledger.try_finance(a, rid, 10_000).accepted
    assert ledger.receivable(rid).outstanding == 10_000
