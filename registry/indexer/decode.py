"""Decode: raw logs into one frozen, typed record per contract event.

Generic: :class:`EventRecord`, the base of every record, and :class:`Decoder`. The records
themselves are declared beside their contract's handlers (:mod:`~registry.indexer.ledger`,
:mod:`~registry.indexer.pledges`, ...) and handed to the decoder by name
(:data:`registry.indexer.contracts.EVENT_TYPES`); this module imports none of them.

The decoder is built from the compiled ABIs of the deployment's contracts (topic0 -> event ABI),
independent of web3's contract objects, so that it decodes raw JSON-RPC logs (hex strings, what
:class:`~registry.indexer.extract.Web3LogSource` returns), recorded ones and web3's formatted ones
(``HexBytes``) alike.

Speed: every argument of our events is a static ABI type, one 32-byte word, so each event's
decoder is precomputed from the ABI as a tuple of word decoders (slice, ``int.from_bytes``, a
cached checksum) and a log is decoded without ``eth_abi``'s generic machinery, which cost about
0.4 ms a log and made decoding, not the node, the indexer's bottleneck. The word decoders keep
``eth_abi``'s strict rules (zero padding, integer ranges, exact data length): a log that breaks
them is :class:`~registry.indexer.errors.UndecodableLog`. A dynamic type in a future event is
refused when the decoder is built (:class:`~registry.errors.ConfigurationError`), not mid-chain.

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

import enum
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from operator import attrgetter
from typing import Any, ClassVar, Self, TypeVar, cast

from eth_typing import ABIEvent, ChecksumAddress, HexStr
from eth_utils.abi import event_abi_to_log_topic
from eth_utils.address import to_checksum_address

from registry.artifacts import load_artifact
from registry.contracts.deploy import Deployment
from registry.contracts.values import currency_text
from registry.errors import ChainError, ConfigurationError
from registry.indexer.errors import UndecodableLog, UnknownEvent

__all__ = [
    "Decoder",
    "EventRecord",
    "RawLog",
    "enum_argument",
]

RawLog = Mapping[str, Any]
"""A log as ``eth_getLogs`` returns it (web3's ``LogReceipt``, or a recorded copy of one)."""

E = TypeVar("E", bound=enum.IntEnum)


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
        return {camel: _json_value(getattr(self, name)) for name, camel in _arg_names(type(self))}

    def args_json(self) -> str:
        """:meth:`args` as compact JSON text (what ``json.dumps`` with separators ``,`` and ``:``
        gives), through a template precomputed for the record class: it is written for every
        event, and building the dictionary and encoding it cost a tenth of a replay."""
        template, text_fields, getter = _args_template(type(self))
        values = getter(self)
        if not text_fields:
            return template % values
        encoded = list(values)
        for i in text_fields:
            encoded[i] = json.dumps(_json_value(encoded[i]))
        return template % tuple(encoded)

    @classmethod
    def from_values(cls, **values: Any) -> Self:
        """Builds the record from decoded values; overridden where a field needs a richer type."""
        return cls(**values)


def enum_argument(record: str, values: dict[str, Any], name: str, kind: type[E]) -> E:
    """Takes the enum argument ``name`` out of ``values`` as ``kind`` (for a record's
    :meth:`EventRecord.from_values`); an unknown value makes the log undecodable rather than a
    projection wrong."""
    try:
        return kind(values.pop(name))
    except ValueError as error:
        raise UndecodableLog(f"{record} with an unknown {name}: {error}") from None


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


_ARG_NAMES: dict[type[EventRecord], tuple[tuple[str, str], ...]] = {}


def _arg_names(record: type[EventRecord]) -> tuple[tuple[str, str], ...]:
    """(field, ABI name) of the event arguments of ``record``, in ABI order."""
    names = _ARG_NAMES.get(record)
    if names is None:
        names = tuple(
            (f.name, _camel(f.name)) for f in fields(record) if f.name not in record.LOCATION_FIELDS
        )
        _ARG_NAMES[record] = names
    return names


# Field annotations whose values the decoder spells with hex digits only (``0x``-hex, checksum
# addresses): written between quotes as they are. Integers (enums included) are written by ``%d``
# between quotes, anything else (the free-text currency) through ``json.dumps``.
_HEX_ANNOTATIONS = frozenset({"HexStr", "ChecksumAddress"})
_ARGS_TEMPLATES: dict[
    type[EventRecord], tuple[str, tuple[int, ...], Callable[[EventRecord], tuple[Any, ...]]]
] = {}


def _is_int_annotation(record: type[EventRecord], annotation: str) -> bool:
    if annotation == "int":
        return True
    # An enum's name, resolved where the record class is declared.
    kind = getattr(sys.modules[record.__module__], annotation, None)
    return isinstance(kind, type) and issubclass(kind, int)


def _values_getter(record: type[EventRecord]) -> Callable[[EventRecord], tuple[Any, ...]]:
    """The event arguments' values of a record, as a tuple (``attrgetter`` gives one only for
    two names or more)."""
    names = [name for name, _ in _arg_names(record)]
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        single = attrgetter(names[0])
        return lambda r: (single(r),)
    return lambda r: ()


def _args_template(
    record: type[EventRecord],
) -> tuple[str, tuple[int, ...], Callable[[EventRecord], tuple[Any, ...]]]:
    """(``%`` template, positions of the fields to JSON-encode, getter of the field values)."""
    found = _ARGS_TEMPLATES.get(record)
    if found is None:
        annotations = {f.name: str(f.type) for f in fields(record)}
        parts, text_fields = [], []
        for i, (name, camel) in enumerate(_arg_names(record)):
            annotation = annotations[name]
            if _is_int_annotation(record, annotation):
                parts.append(f'"{camel}":"%d"')
            elif annotation in _HEX_ANNOTATIONS:
                parts.append(f'"{camel}":"%s"')
            else:
                parts.append(f'"{camel}":%s')
                text_fields.append(i)
        found = ("{" + ",".join(parts) + "}", tuple(text_fields), _values_getter(record))
        _ARGS_TEMPLATES[record] = found
    return found


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


def _raw_bytes(value: str | bytes) -> bytes:
    """The bytes of a hex string (``0x``-prefixed, as JSON-RPC sends it) or of web3's HexBytes."""
    if isinstance(value, str):
        return bytes.fromhex(value[2:] if value[:2] in ("0x", "0X") else value)
    return bytes(value)


def _hash_hex(value: str | bytes) -> HexStr:
    """A 32-byte hash as ``0x``-prefixed lower-case hex, the form every table stores."""
    if isinstance(value, str):
        return HexStr(value.lower() if value[:2] == "0x" else "0x" + value.lower())
    return HexStr("0x" + bytes(value).hex())


@lru_cache(maxsize=65_536)
def _checksum(raw: bytes) -> ChecksumAddress:
    # Checksumming hashes the address (keccak), and the same few banks act in most events.
    return to_checksum_address(raw)


_ZERO_WORD = bytes(32)

WordDecoder = Callable[[bytes], Any]
"""Python value of one 32-byte ABI word; raises UndecodableLog where the ABI's padding or range
rules are broken (what ``eth_abi``'s strict decoder refuses)."""


def _word_decoder(abi_type: str) -> WordDecoder:
    """The decoder of a static ABI type, for the types our events use.

    Each of them is one 32-byte word, so decoding is slicing: no generic ABI machinery per log,
    which is what lets decoding keep up with the node (see the module docstring).
    """
    if abi_type == "address":

        def address(word: bytes) -> ChecksumAddress:
            if word[:12] != _ZERO_WORD[:12]:
                raise UndecodableLog(f"address with non-zero padding: 0x{word.hex()}")
            return _checksum(word[12:])

        return address
    if abi_type == "bytes32":
        return lambda word: HexStr("0x" + word.hex())
    if match := re.fullmatch(r"bytes([1-9]|[12][0-9]|3[01])", abi_type):
        size = int(match.group(1))

        def short_bytes(word: bytes) -> str:
            if word[size:] != _ZERO_WORD[size:]:
                raise UndecodableLog(f"{abi_type} with non-zero padding: 0x{word.hex()}")
            return currency_text(word[:size])

        return short_bytes
    if match := re.fullmatch(r"(u?)int([0-9]*)", abi_type):
        bits = int(match.group(2) or 256)
        if match.group(1):
            limit = 1 << bits

            def unsigned(word: bytes) -> int:
                value = int.from_bytes(word, "big")
                if value >= limit:
                    raise UndecodableLog(f"{abi_type} out of range: {value}")
                return value

            return unsigned
        low, high = -(1 << (bits - 1)), 1 << (bits - 1)

        def signed(word: bytes) -> int:
            value = int.from_bytes(word, "big", signed=True)
            if not low <= value < high:
                raise UndecodableLog(f"{abi_type} out of range: {value}")
            return value

        return signed
    raise ConfigurationError(f"the indexer cannot decode ABI type {abi_type} in an event")


@dataclass(frozen=True)
class _Argument:
    field: str
    abi_type: str
    decode: WordDecoder


class _EventSpec:
    """How to decode one event: its record class, indexed arguments (topics 1..n) and data."""

    def __init__(
        self, record: type[EventRecord], topics: tuple[_Argument, ...], data: tuple[_Argument, ...]
    ) -> None:
        self.record = record
        self.topics = topics
        self.data = data
        # Topics then data, one word each: the arguments' places in the two concatenated.
        self._places = tuple((a.field, a.decode, 32 * i) for i, a in enumerate((*topics, *data)))
        self._size = 32 * (len(topics) + len(data))
        # Records whose class does not refine from_values are built without their __init__
        # (a frozen dataclass's __init__ costs a setattr call per field): the fields were checked
        # against the ABI in from_abi, so the dictionary holds exactly the record's fields.
        custom = record.__dict__.get("from_values") is not None
        self._build: Callable[..., EventRecord] = record.from_values if custom else self._construct

    @classmethod
    def from_abi(
        cls, event_abi: Mapping[str, Any], records: Mapping[str, type[EventRecord]]
    ) -> _EventSpec:
        name = event_abi["name"]
        record = records.get(name)
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
            (i["indexed"], _Argument(_snake(i["name"]), i["type"], _word_decoder(i["type"])))
            for i in inputs
        ]
        return cls(
            record=record,
            topics=tuple(a for indexed, a in arguments if indexed),
            data=tuple(a for indexed, a in arguments if not indexed),
        )

    def _construct(self, **values: Any) -> EventRecord:
        record = object.__new__(self.record)
        record.__dict__.update(values)
        return record

    def decode(self, log: RawLog, contract: ChecksumAddress) -> EventRecord:
        topics = log["topics"]
        if len(topics) != len(self.topics) + 1:
            raise UndecodableLog(
                f"{self.record.__name__} log has {len(topics) - 1} indexed topics, the ABI "
                f"{len(self.topics)}"
            )
        try:
            data = log["data"]
            if isinstance(data, str):
                # One hex conversion for the whole log, as raw JSON-RPC spells it.
                words = bytes.fromhex("".join([t[2:] for t in topics[1:]]) + data[2:])
            else:
                words = b"".join([bytes(t) for t in topics[1:]]) + bytes(data)
        except (ValueError, TypeError) as error:
            raise UndecodableLog(f"{self.record.__name__} log is not hex: {error}") from None
        # Static arguments only (the converters refuse others), so the topics and the data are
        # exactly one word per argument; anything else is not this event.
        if len(words) != self._size or not all(len(t) in (66, 32) for t in topics[1:]):
            raise UndecodableLog(
                f"{self.record.__name__} log has {len(words)} bytes of topics and data; the ABI "
                f"needs {self._size}"
            )
        values = {field: decode(words[at : at + 32]) for field, decode, at in self._places}
        return self._build(
            block_number=_quantity(log["blockNumber"]),
            block_hash=_hash_hex(log["blockHash"]),
            tx_hash=_hash_hex(log["transactionHash"]),
            tx_index=_quantity(log["transactionIndex"]),
            log_index=_quantity(log["logIndex"]),
            contract=contract,
            **values,
        )


class Decoder:
    """Decodes the logs of a set of contracts, each with its own ABI."""

    def __init__(
        self,
        abis: Mapping[str, Iterable[Mapping[str, Any]]],
        records: Mapping[str, type[EventRecord]],
    ) -> None:
        """``abis`` maps each contract address to its ABI, ``records`` each event's Solidity name
        to its record class (:data:`registry.indexer.contracts.EVENT_TYPES`: every event the
        indexer knows); an ABI event without a record is refused here."""
        self._specs: dict[ChecksumAddress, dict[bytes, _EventSpec]] = {
            to_checksum_address(address): {
                event_abi_to_log_topic(cast(ABIEvent, dict(item))): _EventSpec.from_abi(
                    item, records
                )
                for item in abi
                if item["type"] == "event"
            }
            for address, abi in abis.items()
        }
        # Lookups by the forms a log spells its address and topic0 in, to skip converting them.
        self._by_address: dict[str, tuple[ChecksumAddress, dict[str, _EventSpec]]] = {
            address.lower(): (address, {"0x" + topic.hex(): spec for topic, spec in specs.items()})
            for address, specs in self._specs.items()
        }

    @classmethod
    def for_deployment(
        cls, deployment: Deployment, records: Mapping[str, type[EventRecord]]
    ) -> Decoder:
        return cls(
            {
                contract.address: load_artifact(name).abi
                for name, contract in deployment.contracts.items()
            },
            records,
        )

    @property
    def addresses(self) -> list[ChecksumAddress]:
        return sorted(self._specs)

    def decode(self, log: RawLog) -> EventRecord:
        if log.get("removed"):
            # eth_getLogs never returns removed logs; one here means the node is mid-reorg, which
            # may pass: a ChainError to retry, not a log that can never be decoded.
            raise ChainError(f"the node returned a removed log: {dict(log)}")
        address = log["address"]
        known = self._by_address.get(address.lower() if isinstance(address, str) else "")
        if known is None:
            contract = to_checksum_address(address)
            raise UndecodableLog(f"log from {contract}, which is not a contract of the deployment")
        contract, specs = known
        topics = log["topics"]
        topic0 = _hash_hex(topics[0]) if topics else HexStr("0x")
        spec = specs.get(topic0)
        if spec is None:
            position = f"{_quantity(log['blockNumber'])}:{_quantity(log['logIndex'])}"
            raise UnknownEvent(
                f"log {position} from {contract} has topic0 {topic0}, which no event of its ABI "
                "has",
                contract=contract,
                topic0=topic0,
            )
        return spec.decode(log, contract)

    def decode_all(self, logs: Iterable[RawLog]) -> list[EventRecord]:
        """Decodes ``logs`` and returns them in chain order."""
        # Nodes return logs in chain order already, where sorting costs one pass.
        return sorted((self.decode(log) for log in logs), key=lambda r: r.position)
