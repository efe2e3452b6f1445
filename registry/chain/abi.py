"""Calls encoded and answers decoded from a function's own ABI entry, with eth_abi.

web3 encodes a call by looking its function up again among every entry of the contract's ABI,
hashing each signature on the way, and decodes through layers of formatters: together more CPU
than the node spends answering. The bindings still build calls as web3 ``ContractFunction``
objects (their ABI entry and arguments are all this needs); encoding and decoding happen here.
Answers are what web3 returns: tuples for structs, lists for arrays, checksum addresses, a single
value unwrapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi.abi import decode, encode
from eth_abi.exceptions import DecodingError, EncodingError
from eth_abi.grammar import ABIType, BasicType, TupleType, parse
from eth_utils.abi import collapse_if_tuple, function_abi_to_4byte_selector
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3.contract.contract import ContractConstructor

from registry.errors import ChainError

__all__ = ["Signature", "calldata", "multicall_data", "signature"]


class Signature:
    """A function's selector and its input and output types."""

    def __init__(self, function_abi: Any) -> None:
        self.selector = bytes(function_abi_to_4byte_selector(function_abi))
        self.inputs = [collapse_if_tuple(dict(item)) for item in function_abi["inputs"]]
        self.outputs = [collapse_if_tuple(dict(item)) for item in function_abi.get("outputs", [])]
        self._parsed = [parse(t) for t in self.outputs]

    def encode(self, args: Sequence[Any]) -> bytes:
        return self.selector + encode(self.inputs, list(args))

    def decode(self, answer: bytes) -> Any:
        """The function's answer; a :class:`~registry.errors.ChainError` when it is not one
        (an empty answer: no contract at the address, or not this one)."""
        try:
            values = decode(self.outputs, answer)
        except DecodingError as error:
            raise ChainError(f"the call's answer does not decode: {error}") from error
        checked = tuple(_checksummed(t, v) for t, v in zip(self._parsed, values, strict=True))
        return checked[0] if len(checked) == 1 else checked


_SIGNATURES: dict[str, Signature] = {}


def signature(function_abi: Any) -> Signature:
    """The :class:`Signature` of ``function_abi`` (an ABI entry), computed once per entry."""
    key = repr(function_abi)
    found = _SIGNATURES.get(key)
    if found is None:
        found = _SIGNATURES[key] = Signature(function_abi)
    return found


_MULTICALL = function_abi_to_4byte_selector(
    {"type": "function", "name": "multicall", "inputs": [{"type": "bytes[]"}]}
)


def multicall_data(calls: Sequence[bytes]) -> bytes:
    """The calldata of OpenZeppelin's ``multicall(calls)``, which every contract here inherits."""
    return _MULTICALL + encode(["bytes[]"], [list(calls)])


def calldata(function: Any) -> bytes:
    """The calldata of a bound web3 ``ContractFunction`` (or ``ContractConstructor``, whose data
    web3 encoded when it was made: bytecode and arguments)."""
    if isinstance(function, ContractConstructor):
        return bytes(HexBytes(function.data_in_transaction))
    if not function.kwargs:
        try:
            return signature(function.abi).encode(function.args)
        except EncodingError:
            pass  # arguments only web3 converts (hex text for bytes, names for addresses)
    return bytes(HexBytes(function._encode_transaction_data()))


def _checksummed(abi_type: ABIType, value: Any) -> Any:
    """``value`` with its addresses checksummed (eth_abi decodes them in lower case)."""
    if abi_type.is_array:
        return [_checksummed(abi_type.item_type, item) for item in value]
    if isinstance(abi_type, TupleType):
        return tuple(_checksummed(c, v) for c, v in zip(abi_type.components, value, strict=True))
    if isinstance(abi_type, BasicType) and abi_type.base == "address":
        return to_checksum_address(value)
    return value
