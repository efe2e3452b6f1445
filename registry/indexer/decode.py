"""Decode: raw logs into one frozen, typed record per contract event.

The decoder is built from the compiled ABIs of the deployment's contracts (topic0 -> event ABI) and
decodes topics and data with ``eth_abi`` itself, which keeps it independent of web3's contract
objects and lets tests replay recorded logs (plain mappings with hex strings) as well as live ones.

Choices:

- Each record class carries the ABI's argument names in snake case, in ABI order; the decoder
  checks this against the ABI when it is built, so a contract change that the records do not follow
  fails at start-up rather than mid-chain.
- A log from one of our addresses whose topic0 no ABI event has is an error
  (:class:`~registry.indexer.errors.UnknownEvent`), never dropped: the index is meant to be the
  chain's full record, and a silent gap would only show up much later as a wrong projection.
- Values are what the projections store: checksum addresses, ``0x``-hex strings for ``bytes32``,
  Python ints for integers, and the short ``bytesN`` (the ISO 4217 ``currency``) as text. The
  contract does not validate the currency, so odd bytes become U+FFFD instead of an exception: one
  bank's malformed call must not stop the index for everybody.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self, cast

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_typing import ABIEvent, ChecksumAddress, HexStr
from eth_utils.abi import event_abi_to_log_topic
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes

from registry.chain.artifacts import load_artifact
from registry.chain.deploy import Deployment
from registry.chain.ledger import ReceivableStatus
from registry.errors import ChainError, ConfigurationError
from registry.indexer.errors import UndecodableLog, UnknownEvent

__all__ = [
    "EVENT_TYPES",
    "AdvanceRateSet",
    "DeclarationLinked",
    "Decoder",
    "EventRecord",
    "RawLog",
    "ReceivableCancelled",
    "ReceivableFinanced",
    "ReceivableRegistered",
    "ReceivableRepaid",
    "RoleAdminChanged",
    "RoleGranted",
    "RoleRevoked",
]

RawLog = Mapping[str, Any]
"""A log as ``eth_getLogs`` returns it (web3's ``LogReceipt``, or a recorded copy of one)."""


@dataclass(frozen=True, kw_only=True)
class EventRecord:
    """Where a log sits on the chain; every event record starts with these fields."""

    LOCATION_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"block_number", "block_hash", "tx_hash", "tx_index", "log_index", "contract"}
    )

    block_number: int
    block_hash: HexStr
    tx_hash: HexStr
    tx_index: int
    log_index: int
    contract: ChecksumAddress

    @property
    def event(self) -> str:
        """The Solidity event name (record classes are named after their events)."""
        return type(self).__name__

    @property
    def position(self) -> tuple[int, int, int]:
        """The order in which the chain applied the log: (block, transaction index, log index)."""
        return (self.block_number, self.tx_index, self.log_index)

    def args(self) -> dict[str, str]:
        """The event's arguments for the events table's JSON column, under their ABI names.

        Every integer (whatever its ABI width, enums included) is a decimal string, so that no
        JSON reader has to know which fields may exceed 2**53; addresses are checksummed,
        ``bytes32`` values are ``0x``-hex, the currency is its ISO code.
        """
        return {
            _camel(f.name): _json_value(getattr(self, f.name))
            for f in fields(self)
            if f.name not in self.LOCATION_FIELDS
        }

    @classmethod
    def from_values(cls, **values: Any) -> Self:
        """Builds the record from decoded values; overridden where a field needs a richer type."""
        return cls(**values)


@dataclass(frozen=True, kw_only=True)
class ReceivableRegistered(EventRecord):
    id: HexStr
    registrant: ChecksumAddress
    exporter: HexStr
    key_version: int
    face_value: int
    currency: str
    maturity: int
    advance_rate_bps: int
    cap: int


@dataclass(frozen=True, kw_only=True)
class DeclarationLinked(EventRecord):
    declaration: HexStr
    id: HexStr
    value: int


@dataclass(frozen=True, kw_only=True)
class ReceivableFinanced(EventRecord):
    id: HexStr
    bank: ChecksumAddress
    amount: int
    outstanding: int


@dataclass(frozen=True, kw_only=True)
class ReceivableRepaid(EventRecord):
    id: HexStr
    bank: ChecksumAddress
    amount: int
    outstanding: int
    status: ReceivableStatus

    @classmethod
    def from_values(cls, **values: Any) -> Self:
        try:
            status = ReceivableStatus(values.pop("status"))
        except ValueError as error:
            raise UndecodableLog(f"ReceivableRepaid with an unknown status: {error}") from None
        return cls(status=status, **values)


@dataclass(frozen=True, kw_only=True)
class ReceivableCancelled(EventRecord):
    id: HexStr
    bank: ChecksumAddress


@dataclass(frozen=True, kw_only=True)
class AdvanceRateSet(EventRecord):
    rate_bps: int
    admin: ChecksumAddress


@dataclass(frozen=True, kw_only=True)
class RoleGranted(EventRecord):
    role: HexStr
    account: ChecksumAddress
    sender: ChecksumAddress


@dataclass(frozen=True, kw_only=True)
class RoleRevoked(EventRecord):
    role: HexStr
    account: ChecksumAddress
    sender: ChecksumAddress


@dataclass(frozen=True, kw_only=True)
class RoleAdminChanged(EventRecord):
    role: HexStr
    previous_admin_role: HexStr
    new_admin_role: HexStr


EVENT_TYPES: Mapping[str, type[EventRecord]] = {
    cls.__name__: cls
    for cls in (
        AdvanceRateSet,
        DeclarationLinked,
        ReceivableCancelled,
        ReceivableFinanced,
        ReceivableRegistered,
        ReceivableRepaid,
        RoleAdminChanged,
        RoleGranted,
        RoleRevoked,
    )
}
"""Every event the indexer knows, by Solidity name."""


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _json_value(value: object) -> str:
    # bool is no ABI type of ours; ints (IntEnum included) become decimal strings.
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, str):
        return value
    raise TypeError(f"no JSON form for {type(value).__name__}")


def _quantity(value: int | str) -> int:
    # Raw JSON-RPC (and so a recorded log) spells quantities in hex; web3 hands over ints.
    return value if isinstance(value, int) else int(value, 16)


def _ascii_code(raw: bytes) -> str:
    text = raw.rstrip(b"\0").decode("ascii", errors="replace")
    # NUL and other control characters are refused by PostgreSQL text columns or unreadable.
    return "".join(c if c.isprintable() else "\ufffd" for c in text)


def _converter(abi_type: str) -> Callable[[Any], Any]:
    """Python value of a decoded ABI value, for the types our events use."""
    if abi_type == "address":
        return lambda value: to_checksum_address(value)
    if abi_type == "bytes32":
        return lambda value: HexStr("0x" + bytes(value).hex())
    if re.fullmatch(r"bytes([1-9]|[12][0-9]|3[01])", abi_type):
        return lambda value: _ascii_code(bytes(value))
    if re.fullmatch(r"u?int[0-9]*", abi_type):
        return int
    raise ConfigurationError(f"the indexer cannot decode ABI type {abi_type} in an event")


@dataclass(frozen=True)
class _Argument:
    field: str
    abi_type: str
    convert: Callable[[Any], Any]


@dataclass(frozen=True)
class _EventSpec:
    """How to decode one event: its record class, indexed arguments (topics 1..n) and data."""

    record: type[EventRecord]
    topics: tuple[_Argument, ...]
    data: tuple[_Argument, ...]

    @classmethod
    def from_abi(cls, event_abi: Mapping[str, Any]) -> _EventSpec:
        name = event_abi["name"]
        record = EVENT_TYPES.get(name)
        if record is None:
            raise ConfigurationError(
                f"the ABI has an event {name} that the indexer has no record for"
            )
        if event_abi.get("anonymous"):
            raise ConfigurationError(f"event {name} is anonymous: its logs carry no topic0")
        inputs = event_abi["inputs"]
        declared = [f.name for f in fields(record) if f.name not in EventRecord.LOCATION_FIELDS]
        abi_names = [_snake(i["name"]) for i in inputs]
        if declared != abi_names or any(_camel(_snake(i["name"])) != i["name"] for i in inputs):
            raise ConfigurationError(
                f"record {name} has fields {declared}, the ABI has arguments {abi_names}"
            )
        arguments = [
            (i["indexed"], _Argument(_snake(i["name"]), i["type"], _converter(i["type"])))
            for i in inputs
        ]
        return cls(
            record=record,
            topics=tuple(a for indexed, a in arguments if indexed),
            data=tuple(a for indexed, a in arguments if not indexed),
        )

    def decode(self, log: RawLog, contract: ChecksumAddress) -> EventRecord:
        topics = [bytes(HexBytes(t)) for t in log["topics"]][1:]
        name = self.record.__name__
        if len(topics) != len(self.topics):
            raise UndecodableLog(
                f"{name} log has {len(topics)} indexed topics, the ABI {len(self.topics)}"
            )
        try:
            values = {
                a.field: a.convert(abi_decode([a.abi_type], topic)[0])
                for a, topic in zip(self.topics, topics, strict=True)
            }
            data = abi_decode([a.abi_type for a in self.data], bytes(HexBytes(log["data"])))
        except DecodingError as error:
            raise UndecodableLog(f"{name} log does not decode: {error}") from None
        values.update({a.field: a.convert(v) for a, v in zip(self.data, data, strict=True)})
        return self.record.from_values(
            block_number=_quantity(log["blockNumber"]),
            block_hash=HexStr(HexBytes(log["blockHash"]).to_0x_hex()),
            tx_hash=HexStr(HexBytes(log["transactionHash"]).to_0x_hex()),
            tx_index=_quantity(log["transactionIndex"]),
            log_index=_quantity(log["logIndex"]),
            contract=contract,
            **values,
        )


class Decoder:
    """Decodes the logs of a set of contracts, each with its own ABI."""

    def __init__(self, abis: Mapping[str, Iterable[Mapping[str, Any]]]) -> None:
        """``abis`` maps each contract address to its ABI."""
        self._specs: dict[ChecksumAddress, dict[bytes, _EventSpec]] = {
            to_checksum_address(address): {
                event_abi_to_log_topic(cast(ABIEvent, dict(item))): _EventSpec.from_abi(item)
                for item in abi
                if item["type"] == "event"
            }
            for address, abi in abis.items()
        }

    @classmethod
    def for_deployment(cls, deployment: Deployment) -> Decoder:
        return cls(
            {
                contract.address: load_artifact(name).abi
                for name, contract in deployment.contracts.items()
            }
        )

    @property
    def addresses(self) -> list[ChecksumAddress]:
        return sorted(self._specs)

    def decode(self, log: RawLog) -> EventRecord:
        if log.get("removed"):
            # eth_getLogs never returns removed logs; one here means the node is mid-reorg, which
            # may pass: a ChainError to retry, not a log that can never be decoded.
            raise ChainError(f"the node returned a removed log: {dict(log)}")
        contract = to_checksum_address(log["address"])
        specs = self._specs.get(contract)
        if specs is None:
            raise UndecodableLog(f"log from {contract}, which is not a contract of the deployment")
        topics = log["topics"]
        topic0 = bytes(HexBytes(topics[0])) if topics else b""
        spec = specs.get(topic0)
        if spec is None:
            position = f"{_quantity(log['blockNumber'])}:{_quantity(log['logIndex'])}"
            raise UnknownEvent(
                f"log {position} from {contract} has topic0 0x{topic0.hex()}, which no event of "
                "its ABI has",
                contract=contract,
                topic0="0x" + topic0.hex(),
            )
        return spec.decode(log, contract)

    def decode_all(self, logs: Sequence[RawLog]) -> list[EventRecord]:
        """Decodes ``logs`` and returns them in chain order."""
        return sorted((self.decode(log) for log in logs), key=lambda r: r.position)
