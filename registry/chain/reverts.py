"""Turns revert data from the chain into the package's domain exceptions, never raw hex.

Every custom error in the contracts' ABIs is known by its 4-byte selector. The well-known ones
map to specific exception classes; any other becomes a :class:`RuleViolation` whose ``rule`` is
the error's name in kebab case, with the decoded arguments as details.

:meth:`RevertDecoder.exception_for` builds the same exception from an error's name and arguments,
for refusals that the chain recorded in an event instead of reverting (the ledger's recording
entry points): one mapping for both paths, so a recorded refusal reads exactly like a revert.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from registry import errors

__all__ = ["RevertDecoder"]

_SPECIFIC: dict[str, type[errors.RegistryError]] = {
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


def _kebab(name: str) -> str:
    """``FinancingExceedsCap`` -> ``financing-exceeds-cap``; an acronym stays one word
    (``ECDSAInvalidSignatureS`` -> ``ecdsa-invalid-signature-s``)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", name).lower()


def _jsonable(value: Any, abi_type: str = "") -> Any:
    if abi_type == "address":
        return to_checksum_address(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    return value


def _abi_type(param: dict[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        inner = ",".join(_abi_type(component) for component in param["components"])
        return f"({inner}){param['type'][5:]}"
    return str(param["type"])


class _ErrorAbi:
    def __init__(self, entry: dict[str, Any]) -> None:
        self.name: str = entry["name"]
        self.arg_names = [param["name"] for param in entry["inputs"]]
        self.types = [_abi_type(param) for param in entry["inputs"]]
        self.selector = keccak(text=f"{self.name}({','.join(self.types)})")[:4]


class RevertDecoder:
    """Knows the custom errors of a set of ABIs."""

    def __init__(self, abis: Iterable[list[dict[str, Any]]]) -> None:
        self._errors: dict[bytes, _ErrorAbi] = {}
        self._by_name: dict[str, _ErrorAbi] = {}
        for abi in abis:
            for entry in abi:
                if entry.get("type") == "error":
                    error = _ErrorAbi(entry)
                    self._errors[error.selector] = error
                    self._by_name.setdefault(error.name, error)

    def exception_for(self, name: str, args: Iterable[Any]) -> errors.RegistryError:
        """The exception a revert with error ``name`` and ``args`` decodes to."""
        error = self._by_name.get(name)
        if error is None:
            return errors.UnknownRevert(f"no contract declares an error named {name}")
        return self.to_exception(error.selector + abi_encode(error.types, list(args)))

    def to_exception(self, data: bytes) -> errors.RegistryError:
        error = self._errors.get(data[:4])
        if error is None:
            return errors.UnknownRevert(f"the chain reverted with unknown data 0x{data.hex()}")
        values = abi_decode(error.types, data[4:])
        details = {
            name: _jsonable(value, abi_type)
            for name, abi_type, value in zip(error.arg_names, error.types, values, strict=True)
        }
        described = ", ".join(f"{name}={value}" for name, value in details.items())
        message = f"{error.name}({described})"
        specific = _SPECIFIC.get(error.name)
        if specific is not None:
            return specific(message, **details)
        generic = errors.RuleViolation(message, **details)
        generic.rule = _kebab(error.name)
        return generic
