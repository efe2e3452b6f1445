"""Revert data decoded into domain errors: every custom error of every committed contract ABI,
and revert data no known ABI explains.
"""

from __future__ import annotations

import json
import re
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3

from registry import errors
from registry.artifacts import ARTIFACTS_DIR
from registry.chain.client import Chain
from registry.contracts.ledger import ReceivableLedger
from tests.conftest import Stack, fp
from tests.helpers import refused

# The contract errors decoded into a class of their own (with its category); every other one is a
# RuleViolation named after the error.
SPECIFIC_ERRORS: dict[str, type[errors.RegistryError]] = {
    "AccessControlUnauthorizedAccount": errors.MissingRole,
    "ReceivableNotFound": errors.ReceivableNotFound,
    "ReceivableAlreadyRegistered": errors.ReceivableAlreadyRegistered,
    "DeclarationLinkedToOtherInvoice": errors.DeclarationLinkedToOtherInvoice,
    "DeclarationExporterMismatch": errors.DeclarationExporterMismatch,
    "FinancingExceedsCap": errors.FinancingExceedsCap,
    "ReceivableHeldByOtherBank": errors.ReceivableHeldByOtherBank,
    "RepaymentExceedsOutstanding": errors.RepaymentExceedsOutstanding,
    "PropertyNotFound": errors.PropertyNotFound,
    "PledgeNotFound": errors.PledgeNotFound,
    "ReleaseNotAuthorized": errors.ReleaseNotAuthorized,
    "EnterpriseNotBound": errors.EnterpriseNotBound,
}


def _words(name: str) -> str:
    """``ECDSAInvalidSignatureS`` -> ``ecdsa-invalid-signature-s``: an acronym is one word, with
    the number it ends with (``ERC1967NonPayable`` -> ``erc1967-non-payable``)."""
    return "-".join(re.findall(r"[A-Z]+[0-9]*(?![a-z])|[A-Z][a-z0-9]*", name)).lower()


def test_every_contract_error_decodes_to_a_domain_error(stack: Stack) -> None:
    """Each custom error of every committed ABI (ledger, pledge and consent registries, and the
    OpenZeppelin errors they inherit) becomes a domain exception of the right class, with the
    rule clients see and its arguments as details, never raw hex."""
    decoder = stack.chain.decoder
    decoded: dict[str, set[str]] = {}
    for path in sorted(ARTIFACTS_DIR.glob("*.json")):
        abi = json.loads(path.read_text())["abi"]
        for entry in (e for e in abi if e["type"] == "error"):
            name = entry["name"]
            samples = [_sample(i["type"]) for i in entry["inputs"]]
            error = decoder.exception_for(name, samples)
            expected = SPECIFIC_ERRORS.get(name, errors.RuleViolation)
            assert type(error) is expected, name
            rule = "missing-role" if name == "AccessControlUnauthorizedAccount" else _words(name)
            assert error.rule == rule, name
            assert error.details == {
                i["name"]: _shown(i["type"], value)
                for i, value in zip(entry["inputs"], samples, strict=True)
            }, name
            decoded.setdefault(path.stem, set()).add(name)
    # The walk saw every contract, each with its own errors.
    assert set(decoded) == {"ReceivableLedger", "PledgeRegistry", "ConsentRegistry", "ERC1967Proxy"}
    assert "FinancingExceedsCap" in decoded["ReceivableLedger"]
    assert "SeizureNotLiftable" in decoded["PledgeRegistry"]
    assert "ConsentSuperseded" in decoded["ConsentRegistry"]
    assert "UUPSUnsupportedProxiableUUID" in decoded["ConsentRegistry"]
    assert isinstance(errors.PropertyNotFound("x"), errors.NotFound)
    assert isinstance(errors.ReleaseNotAuthorized("x"), errors.AccessDenied)


def test_revert_data_no_known_abi_explains_is_an_unknown_revert(stack: Stack) -> None:
    """A client that does not know the contract's errors (an older build talking to a newer
    deployment) reports the revert as unknown, with its raw data, rather than guessing."""
    blind = Chain(Web3(Web3.HTTPProvider(stack.node.url)), abis=[])
    ledger = ReceivableLedger(blind, stack.ledger.address)
    error = refused(
        stack,
        errors.UnknownRevert,
        "unknown-revert",
        lambda: ledger.finance(stack.bank_a.signer, fp("NOWHERE"), 1),
    )
    selector = keccak(text="ReceivableNotFound(bytes32)")[:4]
    assert (
        error.message
        == f"the chain reverted with unknown data 0x{selector.hex()}{fp('NOWHERE').hex()}"
    )
    # Its category is the chain's (503 in the API), not a rule the caller broke.
    assert isinstance(error, errors.ChainError)


def _sample(abi_type: str) -> Any:
    if abi_type == "address":
        return "0x" + "11" * 20
    if abi_type == "string":
        return "a string"
    if abi_type.startswith("bytes"):
        return bytes(range(1, int(abi_type[5:]) + 1))
    return 7


def _shown(abi_type: str, value: Any) -> Any:
    """How a decoded argument reads in the error's details."""
    if abi_type == "address":
        return to_checksum_address(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value
