"""Checks of the code every contract runs: the index's ``contract_code`` against the ERC-1967
implementation slot of each proxy at the index's block."""

from __future__ import annotations

from registry.audit.checks import Check, CheckResult, Record, VerifyContext, check, compare
from registry.contracts.upgrade import implementation_of
from registry.db.schema import contract_code

__all__ = ["CHECKS"]


@check("contract_code", contract="*", source="chain")
def _contract_code(context: VerifyContext) -> CheckResult:
    """Every proxy of the deployment (and any the index names) runs the implementation the index
    says."""
    index: dict[str, Record | None] = {
        str(row["contract"]): {"implementation": row["implementation"]}
        for row in context.current(contract_code)
    }
    witness: dict[str, Record | None] = {
        context.address(name): {
            "implementation": implementation_of(context.chain, context.address(name), context.block)
        }
        for name in context.deployment.contracts
    }
    return compare("contract_code", "*", "chain", index, witness)


CHECKS: tuple[Check, ...] = (_contract_code,)
"""This module's checks, in the order the verification runs them."""
