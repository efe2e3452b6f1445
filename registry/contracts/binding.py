"""What every contract binding shares: deployment, roles and institutions (ConsortiumAccess),
batching (OpenZeppelin Multicall) and reading a contract's events from a receipt.

Each contract's own binding (:mod:`~registry.contracts.ledger`, :mod:`~registry.contracts.pledges`,
:mod:`~registry.contracts.consents`) adds its functions and typed views on top of
:class:`ConsortiumContract`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from eth_typing import ChecksumAddress
from eth_utils.abi import event_abi_to_log_topic
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes

from registry.artifacts import Artifact, load_artifact
from registry.chain.client import Chain, OnSigned, Signer, TxResult
from registry.chain.grouping import WriteGroups
from registry.chain.views import ContractViews
from registry.errors import ChainError

__all__ = ["Call", "ConsortiumContract", "deploy_artifact", "deploy_contract"]

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class Call(Generic[T]):
    """A transaction ready to sign, and how to read its outcome once mined.

    Preparing and sending are apart so that what is sent can be followed by whoever holds the
    call: the process that sends it (:meth:`ConsortiumContract.execute`), or one that finds its
    hash after the sender died and reads the same outcome from the mined transaction.
    """

    function: Any
    """The bound web3 contract function."""
    outcome: Callable[[TxResult], T]
    """The operation's result from its mined transaction; raises the refusal it recorded."""
    grouped: bool = False
    """Whether the call may share a transaction with the signer's other calls of the moment
    (:mod:`registry.chain.grouping`): true of calls that refuse by recording, never by reverting
    for a rule, and that end with one of the contract's
    :attr:`ConsortiumContract.OUTCOME_EVENTS`."""

    def read_as(self, outcome: Callable[[TxResult], U]) -> Call[U]:
        """The same transaction, its outcome read by ``outcome`` (a service's answer built on
        the binding's)."""
        return Call(self.function, outcome, self.grouped)


def deploy_contract(
    chain: Chain, deployer: Signer, name: str, *constructor_args: Any
) -> tuple[ChecksumAddress, TxResult]:
    """Deploys the committed artifact ``name``; returns its address and the deploying
    transaction."""
    return deploy_artifact(chain, deployer, load_artifact(name), *constructor_args)


def deploy_artifact(
    chain: Chain, deployer: Signer, artifact: Artifact, *constructor_args: Any
) -> tuple[ChecksumAddress, TxResult]:
    """Deploys ``artifact``; returns its address and the deploying transaction."""
    name = artifact.contract_name
    factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    result = chain.transact(deployer, factory.constructor(*constructor_args))
    receipt = chain.w3.eth.get_transaction_receipt(HexBytes(result.tx_hash))
    address: ChecksumAddress | None = receipt["contractAddress"]
    if address is None:
        raise ChainError(f"deploying {name} created no contract")
    return address, result


class ConsortiumContract:
    """A deployed contract that inherits ConsortiumAccess and Multicall."""

    NAME: ClassVar[str]
    OUTCOME_EVENTS: ClassVar[tuple[str, ...]] = ()
    """The events that end each grouped call (:attr:`Call.grouped`): a grouped transaction's
    logs are its calls' logs one after the other, each ending with one of these."""

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.contract: Any = chain.w3.eth.contract(
            address=chain.w3.to_checksum_address(address), abi=load_artifact(self.NAME).abi
        )
        self.views = ContractViews(chain, self.contract)
        """The contract's views, encoded once, for batched reads (:mod:`registry.chain.views`)."""
        # Each event's first topic as a node sends it, by name: what a log is told apart by.
        self._topics = {
            item["name"]: "0x" + event_abi_to_log_topic(item).hex()
            for item in self.contract.abi
            if item["type"] == "event"
        }
        self._outcome_topics = frozenset(self._topics[name] for name in self.OUTCOME_EVENTS)
        self._address_hex = self.contract.address.lower()
        self.groups = WriteGroups(chain)
        """Where concurrent grouped calls (:attr:`Call.grouped`) wait to go out together."""

    @property
    def address(self) -> ChecksumAddress:
        address: ChecksumAddress = self.contract.address
        return address

    # --- transactions -------------------------------------------------------------------------

    def execute(self, signer: Signer, call: Call[T], on_signed: OnSigned | None = None) -> T:
        """Sends ``call`` from ``signer`` and returns its outcome."""
        send = self.groups.transact if call.grouped else self.chain.transact
        return call.outcome(send(signer, call.function, on_signed))

    def relay(
        self,
        account: ChecksumAddress,
        call: Call[T],
        raw: bytes,
        on_signed: OnSigned | None = None,
        field: str = "signed_transaction",
    ) -> T:
        """Sends ``call`` as ``account`` signed it itself (``raw``, checked to be that call:
        :meth:`~registry.chain.client.Chain.relay`) and returns its outcome."""
        return call.outcome(self.chain.relay(account, call.function, raw, on_signed, field))

    def grant_role(self, signer: Signer, role: bytes, account: str) -> TxResult:
        return self.chain.transact(signer, self.contract.functions.grantRole(role, account))

    def assign_institution(self, signer: Signer, account: str, institution: bytes) -> TxResult:
        function = self.contract.functions.assignInstitution(account, institution)
        return self.chain.transact(signer, function)

    def call_data(self, function_name: str, *args: Any) -> bytes:
        """The calldata of one contract call, for :meth:`multicall`."""
        return bytes(HexBytes(self.contract.encode_abi(function_name, args=list(args))))

    def multicall(self, signer: Signer, calls: Sequence[bytes]) -> TxResult:
        """Runs ``calls`` (from :meth:`call_data`) in one transaction, all or nothing."""
        return self.chain.transact(signer, self.contract.functions.multicall(list(calls)))

    # --- views --------------------------------------------------------------------------------

    def has_role(self, role: bytes, account: str) -> bool:
        return bool(self.chain.call(self.contract.functions.hasRole(role, account)))

    def institution_of(self, account: str, block: int | str = "latest") -> bytes:
        return bytes(self.chain.call(self.contract.functions.institutionOf(account), block))

    def events(self, tx: TxResult, event_name: str) -> list[dict[str, Any]]:
        """The decoded arguments of this contract's ``event_name`` events in ``tx``'s receipt:
        of the call ``tx`` is the result of, when it was one of a grouped transaction's."""
        logs = [
            log
            for log in self.chain.receipt_logs(tx.tx_hash, tx.block_hash)
            if log["address"].lower() == self._address_hex
        ]
        if tx.part is not None:
            logs = self._part_of(logs, tx)
        event = getattr(self.contract.events, event_name)()
        topic = self._topics[event_name]
        return [
            dict(event.process_log(_formatted(log))["args"])
            for log in logs
            if log["topics"] and log["topics"][0] == topic
        ]

    def _part_of(self, logs: Sequence[Any], tx: TxResult) -> list[Any]:
        """The logs of ``tx``'s call among ``logs``, its grouped transaction's."""
        part = tx.part
        assert part is not None
        ends = self._outcome_topics
        parts: list[list[Any]] = [[]]
        for log in logs:
            parts[-1].append(log)
            if log["topics"] and log["topics"][0] in ends:
                parts.append([])
        if part >= len(parts) - 1:
            raise ChainError(
                f"transaction {tx.tx_hash} holds {len(parts) - 1} calls' outcomes, "
                f"not a call numbered {part}"
            )
        return parts[part]


def _formatted(log: dict[str, Any]) -> dict[str, Any]:
    """A log as the node sends it (hex strings), in the form web3's event decoder takes."""
    return {
        "address": to_checksum_address(log["address"]),
        "topics": [HexBytes(topic) for topic in log["topics"]],
        "data": HexBytes(log["data"]),
        "logIndex": int(log["logIndex"], 16),
        "transactionIndex": int(log["transactionIndex"], 16),
        "transactionHash": HexBytes(log["transactionHash"]),
        "blockHash": HexBytes(log["blockHash"]),
        "blockNumber": int(log["blockNumber"], 16),
    }
