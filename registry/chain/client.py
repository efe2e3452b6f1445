"""JSON-RPC access to the chain: signed transactions with revert data decoded into domain errors.

A transaction is first estimated: a refusal by the contract surfaces there as a decoded
:class:`~registry.errors.RegistryError` and nothing is sent, so a refused operation never leaves a
failed transaction behind. A sent transaction is followed to its receipt: a failure is decoded the
same way, one that ran out of gas is sent again, one the node dropped or replaced is reported as
such. Nonces are the node's count, read under a per-signer lock (:meth:`Chain._send`).
"""

from __future__ import annotations

import enum
import os
import random
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
import requests.adapters
import requests.utils
import urllib3
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_typing import ChecksumAddress, HexStr
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractConstructor
from web3.exceptions import ContractLogicError, Web3Exception
from web3.types import AccessList, Nonce, RPCEndpoint, TxParams, Wei

from registry.artifacts import all_abis
from registry.batching import Batcher
from registry.chain.abi import calldata, signature
from registry.chain.jsonrpc import JsonRpc, RpcError
from registry.chain.receipts import SharedReceipts
from registry.chain.reverts import RevertDecoder
from registry.errors import (
    ChainError,
    InvalidInput,
    RegistryError,
    TransactionDropped,
    TransactionReplaced,
)

__all__ = [
    "Chain",
    "OnSigned",
    "SentTx",
    "Signer",
    "TxResult",
    "TxState",
    "call_of",
    "gas_limit",
    "out_of_gas",
]

T = TypeVar("T")

# web3's default (0.1 s) would dominate an API call on an automining dev node, where the receipt
# exists as soon as the send returns; on an interval-mining network it only adds cheap polls.
RECEIPT_POLL_SECONDS = 0.01
RECEIPT_TIMEOUT_SECONDS = 120
# How often a transaction still waiting for its receipt is checked for having been dropped or
# replaced: a block time or so, not every poll.
FATE_CHECK_SECONDS = 1.0
# Sends that may lose the race for a nonce to another process signing for the same account; each
# loss waits a random moment (up to a millisecond per loss so far) so that two racers part.
NONCE_ATTEMPTS = 16
SIGNING_TAG_BYTES = 8
"""Random bytes after a call's calldata, so that every signed transaction is distinct
(:meth:`Chain.sign_and_send`)."""
# Connections kept open to one node: as many as threads that may call it at once (the API's
# thread pool); beyond, a request opens a connection of its own and closes it after.
_POOL_SIZE = 32
_EXECUTION_REVERTED = 3
"""The JSON-RPC error code of a reverted call (EIP-1474's "execution error")."""


def gas_limit(estimate: int) -> int:
    """The gas a transaction may use, given its estimate against the state at sending.

    Requests that arrive together are estimated against the same state and mined one after the
    other, so a transaction can take a costlier path than its estimate (a recorded refusal
    estimated, a first drawdown executed). Unused gas is not paid for, so the margin is generous:
    a half again, and 20,000 for a few cold storage writes. A transaction that runs out all the
    same changed nothing and is sent again (:meth:`Chain.transact`)."""
    return estimate * 3 // 2 + 20_000


@dataclass(frozen=True)
class SentTx:
    """A signed transaction, as it goes to the node: what is needed to follow it later, from
    another process too (:meth:`Chain.follow`)."""

    tx_hash: str
    sender: ChecksumAddress
    nonce: int
    part: int | None = None
    """Which call of a grouped transaction (:mod:`registry.chain.grouping`) this one is; None
    when the transaction was this call's alone."""


class TxState(enum.Enum):
    """Where a transaction stands on the node (:meth:`Chain.whereabouts`)."""

    PENDING = "pending"
    """In the node's pool, not yet mined."""
    MINED = "mined"
    FAILED = "failed"
    """Mined, and reverted: it changed nothing."""
    UNKNOWN = "unknown"
    """The node has no such transaction: never sent, or dropped unmined (the pool evicted it,
    or a reorganization took it out of the chain and nobody sent it again)."""


OnSigned = Callable[[SentTx], None]
"""Told of each transaction after it is signed and before it is sent, so that a caller can keep
its hash durably: a process killed after sending leaves a transaction its successor can find."""


def call_of(sender: ChecksumAddress, function: Any) -> dict[str, Any]:
    """``function`` (a bound ContractFunction, or a ContractConstructor) sent by ``sender``, as
    the node's ``eth_call`` and ``eth_estimateGas`` take it."""
    call: dict[str, Any] = {"from": sender, "data": calldata(function)}
    if not isinstance(function, ContractConstructor):
        call["to"] = function.address
    return call


@dataclass(frozen=True)
class _Signed:
    """What :meth:`Chain.relay` checks of a signed transaction."""

    sender: ChecksumAddress
    to: ChecksumAddress | None
    data: bytes
    chain_id: int
    value: int
    nonce: int


def _signed(raw: bytes, field: str) -> _Signed:
    """The fields of a signed typed transaction (EIP-2718); :class:`InvalidInput` on ``field``
    for anything else."""
    try:
        fields = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
        sender = Account.recover_transaction(raw)
    except Exception as error:  # eth-account raises many kinds for malformed bytes
        raise InvalidInput(
            field,
            "signed-transaction",
            f"not a signed typed transaction (EIP-2718, type 1 or 2): {type(error).__name__}",
        ) from None
    to = fields.get("to")
    return _Signed(
        sender=ChecksumAddress(sender),
        to=Web3.to_checksum_address(to) if to else None,
        data=bytes(fields.get("data", b"")),
        chain_id=int(fields["chainId"]),
        value=int(fields.get("value", 0)),
        nonce=int(fields["nonce"]),
    )


def to_hex(data: bytes) -> str:
    return "0x" + bytes(data).hex()


def out_of_gas(receipt: Any, gas_limit: int) -> bool:
    """A failed transaction that used (nearly) all its gas: it ran out.

    Nearly: a call passes on at most 63/64 of the gas it has and its caller spends the rest on
    reverting, so a transaction that ran out inside the contracts (behind their proxies, and in
    a multicall's calls, three calls deep) leaves a few 64ths unused. A refusal reverts where its
    rule fails and returns what is left, far below: :func:`gas_limit` gives half again its
    estimate."""
    return bool(receipt["status"] != 1 and receipt["gasUsed"] >= gas_limit - gas_limit // 16)


def _nonce_taken(error: Exception) -> bool:
    """Whether the node refused a transaction because its nonce is no longer free (the wording
    of anvil, ganache, geth and Besu)."""
    text = str(error).lower()
    return any(
        phrase in text
        for phrase in (
            "nonce too low",
            "already known",
            "replacement transaction underpriced",
            "known transaction",
            "nonce has already been used",
            "the tx doesn't have the correct nonce",
        )
    )


class Signer:
    """An account whose key signs locally; the key never leaves this object (repr hides it)."""

    def __init__(self, private_key: str | bytes) -> None:
        self._account: LocalAccount = Account.from_key(private_key)
        # Serializes this process's transactions from the account: read the count, sign, send.
        self.lock = threading.Lock()

    @classmethod
    def generate(cls) -> Signer:
        return cls(Account.create().key)

    @property
    def address(self) -> ChecksumAddress:
        return self._account.address

    @property
    def private_key_hex(self) -> str:
        """For writing the dev secrets file only."""
        return "0x" + bytes(self._account.key).hex()

    def sign(self, tx: TxParams) -> bytes:
        return bytes(self._account.sign_transaction(dict(tx)).raw_transaction)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"Signer({self.address})"


@dataclass(frozen=True)
class TxResult:
    tx_hash: str
    block_number: int
    gas_used: int
    """The whole transaction's, grouped calls included."""
    part: int | None = None
    """As :attr:`SentTx.part`: which of a grouped transaction's calls this is the result of."""
    block_hash: str | None = None
    """The hash of the block it was mined in, where known: after a reorganization the same
    transaction may be mined at the same height in another block, with other logs."""


def _session(url: str) -> requests.Session:
    """The HTTP session of one node connection, shared by the threads that use it (connection
    pooling is thread-safe, and no cookie is ever set).

    A session that trusts the environment scans every environment variable for proxy settings
    and looks for a netrc file before each request: a tenth of a call's time on the client. The
    proxies the environment names for the node's URL are read once, here, instead.
    """
    session = requests.Session()
    session.trust_env = False
    session.proxies = requests.utils.get_environ_proxies(url)
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=_POOL_SIZE)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class Chain:
    """A connection to one node, with the ABIs whose errors it decodes."""

    def __init__(
        self,
        w3: Web3,
        abis: Iterable[list[dict[str, Any]]] | None = None,
        account_lock: Callable[[str], AbstractContextManager[None]] | None = None,
        jsonrpc: JsonRpc | None = None,
    ) -> None:
        """``abis``: whose custom errors to decode; by default every committed contract's.
        ``account_lock``: held around each send beside the signer's own lock, where other
        processes send from the same accounts (:func:`registry.db.locks.account_lock`).
        ``jsonrpc``: a lean client for the same node, for the head and batched views; without
        one they go through ``w3`` like everything else."""
        self.w3 = w3
        self.account_lock = account_lock
        self._jsonrpc = jsonrpc
        # The head as the threads waiting for receipts read it: one request for all who ask at once.
        self._heads: Batcher[None, int] = Batcher(lambda asks: [self.block_number()] * len(asks))
        self.decoder = RevertDecoder(all_abis() if abis is None else abis)
        self._receipts = SharedReceipts(self._logs_of)
        self._chain_id: int | None = None
        self._block_gas_limit: int | None = None
        self._gas_price_zero: bool | None = None

    @classmethod
    def connect(
        cls,
        url: str,
        abis: Iterable[list[dict[str, Any]]] | None = None,
        timeout: float = 30,
        account_lock: Callable[[str], AbstractContextManager[None]] | None = None,
    ) -> Chain:
        w3 = Web3(
            Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}, session=_session(url))
        )
        # Two of web3's default middlewares cost every request and do nothing for us: the
        # validation one asks the node for its chain id before each call or estimate (twice the
        # round trips for every view), to check a chain id we set from the node ourselves, and
        # refuses blocks whose extraData is longer than mainnet's (every QBFT consortium block);
        # the ENS one looks for names among arguments that are always addresses.
        w3.middleware_onion.remove("validation")
        w3.middleware_onion.remove("ens_name_to_address")
        # Behind a proxy the environment names, web3's session (which goes through it) does it all.
        jsonrpc = (
            None
            if requests.utils.get_environ_proxies(url)
            else JsonRpc(url, timeout=timeout, pool_size=_POOL_SIZE)
        )
        return cls(w3, abis, account_lock, jsonrpc)

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self._rpc(lambda: self.w3.eth.chain_id)
        return self._chain_id

    def block_number(self) -> int:
        return int(self._lean("eth_blockNumber", []), 16)

    def head(self) -> tuple[int, int]:
        """The newest block's number and timestamp, in one request."""
        latest = self._lean("eth_getBlockByNumber", ["latest", False])
        return int(latest["number"], 16), int(latest["timestamp"], 16)

    def block_timestamp(self, block: int) -> int:
        """The timestamp (unix seconds) of ``block``: the clock every time rule is judged by."""
        found = self._lean("eth_getBlockByNumber", [hex(block), False])
        if found is None:
            raise ChainError(f"the node has no block {block}")
        return int(found["timestamp"], 16)

    def _rpc(self, request: Callable[[], T]) -> T:
        try:
            return request()
        except ContractLogicError as error:
            raise self._decode(error) from None
        except (Web3Exception, OSError) as error:
            raise ChainError(f"node request failed: {type(error).__name__}: {error}") from error

    def _request(self, method: str, params: list[Any]) -> Any:
        """The raw ``result`` of ``method`` (hex strings, as the node sends them), through the
        lean client, or through web3's provider, unformatted, where there is none."""
        if self._jsonrpc is not None:
            return self._jsonrpc.request(method, params)
        response = self.w3.provider.make_request(RPCEndpoint(method), params)
        if "error" in response:
            raise RpcError(dict(response["error"]))
        return response["result"]

    def _lean(self, method: str, params: list[Any]) -> Any:
        """:meth:`_request`, its errors raised as :meth:`_rpc` raises them."""
        try:
            return self._request(method, params)
        except RpcError as error:
            if error.code == _EXECUTION_REVERTED or error.data is not None:
                raise self._revert(error.data, str(error)) from None
            raise ChainError(f"node request failed: {error}") from error
        except (OSError, urllib3.exceptions.HTTPError, Web3Exception) as error:
            raise ChainError(f"node request failed: {type(error).__name__}: {error}") from error

    def _decode(self, error: ContractLogicError) -> RegistryError:
        data: Any = error.data
        # ganache nests the revert data in an object; anvil sends the hex string itself.
        if isinstance(data, dict):
            data = data.get("data") or data.get("result")
        return self._revert(data, error.message)

    def _revert(self, data: Any, message: str | None) -> RegistryError:
        """The domain error a revert's data names."""
        if not isinstance(data, str) or not data.startswith("0x") or len(data) < 10:
            return ChainError(f"the chain reverted without error data: {message}")
        return self.decoder.to_exception(bytes(HexBytes(data)))

    def call(self, function: Any, block: int | str = "latest") -> Any:
        """Calls a view function (a bound web3 ContractFunction) at ``block``; its answer as
        web3 would return it."""
        answer = self.call_data(function.address, calldata(function), block)
        return signature(function.abi).decode(answer)

    def call_data(self, to: ChecksumAddress, data: bytes, block: int | str = "latest") -> bytes:
        """``eth_call`` of encoded calldata: what :meth:`call` does without web3's ABI handling
        (which hashes every signature of the contract's ABI at each call)."""
        tag = hex(block) if isinstance(block, int) else block
        return bytes(HexBytes(self._lean("eth_call", [{"to": to, "data": "0x" + data.hex()}, tag])))

    def transact(
        self, signer: Signer, function: Any, on_signed: OnSigned | None = None
    ) -> TxResult:
        """Estimates, signs, sends and waits for ``function`` from ``signer``.

        Raises the decoded domain error when the contract refuses: at estimation (nothing sent)
        or, if the state changed in between, from the mined transaction. A transaction that ran
        out of gas because the state changed between estimate and block changed nothing, so it is
        estimated and sent once more; one that leaves the node unmined raises
        :class:`~registry.errors.TransactionDropped` or
        :class:`~registry.errors.TransactionReplaced`, never sent again blindly.
        """
        return self.send_call(signer, call_of(signer.address, function), on_signed)

    def send_call(
        self, signer: Signer, call: dict[str, Any], on_signed: OnSigned | None = None
    ) -> TxResult:
        """:meth:`transact` of an encoded call (``from``, ``to``, ``data``: :func:`call_of`)."""
        tx = self.prepare(call)
        sent = self.sign_and_send(signer, tx, on_signed)
        receipt = self.wait_for(sent)
        if out_of_gas(receipt, int(tx["gas"])):
            tx = self.prepare(call, margin=2)
            sent = self.sign_and_send(signer, tx, on_signed)
            receipt = self.wait_for(sent)
        return self.result(sent, receipt)

    def unsigned(self, sender: ChecksumAddress, function: Any) -> TxParams:
        """The transaction ``function`` is from ``sender``, for a sender that signs itself (its
        key in an HSM or a wallet) and hands it to :meth:`relay`: estimated (a refusal raises
        its rule here), with the gas, fees and next nonce :meth:`transact` would give it."""
        tx = self.prepare(call_of(sender, function))
        tx["nonce"] = Nonce(self._count(sender, "pending"))
        if "gasPrice" in tx:
            # EIP-2930: a typed transaction on a chain without base fees.
            tx["accessList"] = AccessList([])
        tx["type"] = 2 if "maxFeePerGas" in tx else 1
        return tx

    def relay(
        self,
        sender: ChecksumAddress,
        function: Any,
        raw: bytes,
        on_signed: OnSigned | None = None,
        field: str = "signed_transaction",
    ) -> TxResult:
        """Sends ``raw``, which ``sender`` signed itself, once it is the transaction
        :meth:`unsigned` describes: signed by ``sender``, to the same contract with the same
        call, on this chain. Anything else is :class:`~registry.errors.InvalidInput` on
        ``field`` and sends nothing, and a rule that refuses the call at estimation raises as in
        :meth:`transact`, sending nothing either. Then it is followed like a transaction signed
        here, except that one out of gas cannot be signed again here: it is reported failed."""
        signed = self.verify_signed(sender, function, raw, field)
        self.estimate(call_of(sender, function))
        sent = self._send_raw(raw, sender, signed.nonce, on_signed)
        if sent is None:
            raise InvalidInput(
                field,
                "nonce-used",
                f"nonce {signed.nonce} of {sender} is used already: ask for the transaction "
                "unsigned again and sign it with the nonce it gives",
            )
        return self.result(sent, self.wait_for(sent))

    def verify_signed(
        self, sender: ChecksumAddress, function: Any, raw: bytes, field: str = "signed_transaction"
    ) -> _Signed:
        """``raw``'s fields, once it is ``function``'s transaction signed by ``sender`` on this
        chain; :class:`~registry.errors.InvalidInput` on ``field`` otherwise. Asks the node
        nothing (but the chain id, once), so a caller may check before it commits to anything."""
        signed = _signed(raw, field)
        expected = call_of(sender, function)
        for name, got, want in (
            ("signer", signed.sender, sender),
            ("to", signed.to, expected.get("to")),
            ("data", signed.data, expected["data"]),
            ("chainId", signed.chain_id, self.chain_id),
            ("value", signed.value, 0),
        ):
            if got != want:
                raise InvalidInput(
                    field,
                    "signed-transaction-mismatch",
                    f"the signed transaction's {name} is not this request's: sign the "
                    "transaction the API describes for it (ask for it unsigned)",
                )
        return signed

    def prepare(self, call: dict[str, Any], margin: int = 1) -> TxParams:
        """``call`` as a transaction ready to sign but for its nonce: estimated (a refusal raises
        its decoded rule here, before anything is signed), its gas limit with room for a state
        that changes before it is mined (times ``margin``), its fees as web3 would set them."""
        estimate = self.estimate(call)
        return {
            **({"to": call["to"]} if "to" in call else {}),
            "data": HexBytes(call["data"]),
            "value": Wei(0),
            "gas": self._within_block(gas_limit(estimate) * margin),
            "chainId": self.chain_id,
            **self._fees(),
        }

    def estimate(self, call: dict[str, Any]) -> int:
        """The gas ``call`` takes on the newest block; a refusal raises its decoded rule.

        On the newest block, not the node's pending state: whether a rival still in the pool
        counts would then depend on which request reached the node first (anvil estimates on
        the pending state by default). Requests that arrive together are estimated alike, and a
        rival mined first is handled when the transaction is (:func:`gas_limit`,
        :meth:`_failure`)."""
        params = [{**call, "data": to_hex(call["data"])}, "latest"]
        return int(self._lean("eth_estimateGas", params), 16)

    def _fees(self) -> TxParams:
        """EIP-1559 fees as web3 sets them (the node's priority fee, plus twice the newest base
        fee), or the node's gas price where blocks carry no base fee."""
        base = self._lean("eth_getBlockByNumber", ["latest", False]).get("baseFeePerGas")
        if base is None:
            return {"gasPrice": Wei(int(self._lean("eth_gasPrice", []), 16))}
        try:
            priority = int(self._lean("eth_maxPriorityFeePerGas", []), 16)
        except ChainError:
            # Nodes without the method: web3 derives one from the fee history.
            priority = self._rpc(lambda: self.w3.eth.max_priority_fee)
        if int(base, 16) == 0 and self._free_gas():
            # A network that does not charge for gas may still suggest a tip (anvil: 1 gwei),
            # which accounts without ether cannot pay.
            priority = 0
        return {
            "maxPriorityFeePerGas": Wei(priority),
            "maxFeePerGas": Wei(priority + 2 * int(base, 16)),
        }

    def _free_gas(self) -> bool:
        """Whether the node's gas price is zero: a network configured not to charge for gas
        (asked once: it is the network's configuration, not the moment's)."""
        if self._gas_price_zero is None:
            self._gas_price_zero = int(self._lean("eth_gasPrice", []), 16) == 0
        return self._gas_price_zero

    def charges_no_gas(self) -> bool:
        """Whether sending costs nothing here: the fees :meth:`_fees` would set are all zero."""
        return not any(self._fees().values())

    def follow(self, sent: SentTx) -> TxResult | None:
        """The result of a transaction signed earlier, perhaps by a process that died before it
        learned it: waits while the node holds it, raises its decoded failure if it reverted.

        Raises :class:`~registry.errors.TransactionDropped` when the node never had it or
        dropped it, and :class:`~registry.errors.TransactionReplaced` when another transaction
        took its nonce: it did nothing, and the caller is told so, as the sender would have been,
        rather than have the operation carried out again behind its back. None when it ran out
        of gas: it changed nothing, and :meth:`transact` would have sent it once more.
        """
        receipt = self.wait_for(sent)
        limit = int(self._rpc(lambda: self.w3.eth.get_transaction(HexStr(sent.tx_hash)))["gas"])
        if out_of_gas(receipt, limit):
            return None
        if sent.part is not None and receipt["status"] != 1:
            # A grouped transaction that failed did nothing for any of its calls, which its
            # sender would have sent again (:mod:`registry.chain.grouping`).
            return None
        return self.result(sent, receipt)

    def result(self, sent: SentTx, receipt: Any) -> TxResult:
        """``sent``'s result from its receipt; raises its decoded failure if it failed."""
        if receipt["status"] != 1:
            raise self._failure(sent, receipt)
        return TxResult(
            tx_hash=sent.tx_hash,
            block_number=receipt["blockNumber"],
            gas_used=receipt["gasUsed"],
            part=sent.part,
            block_hash=receipt.get("blockHash"),
        )

    def _within_block(self, gas: int) -> int:
        """``gas``, or the block's gas limit if that is less: a node refuses a transaction that
        could not fit in a block, whatever it would really use."""
        if self._block_gas_limit is None:
            self._block_gas_limit = int(
                self._rpc(lambda: self.w3.eth.get_block("latest"))["gasLimit"]
            )
        return min(gas, self._block_gas_limit)

    def sign_and_send(self, signer: Signer, tx: TxParams, on_signed: OnSigned | None) -> SentTx:
        """Signs ``tx`` with the sender's next nonce, as the node counts them, and sends it.

        The node is asked for the count every time, so that a nonce is never reused, skipped or
        left behind a gap: not after a reorganization dropped transactions (a cached count would
        be ahead of the chain, and the node would queue the next transaction behind the gap
        forever), nor when another process signs for the same account. The lock makes the
        threads of this process queue, and the account lock, where there is one, makes
        processes queue too. Without one, two processes that read the same count race: the
        loser, refused by the node before anything was pooled, reads the count again (or, if the
        node pooled it and then mined the winner, is reported replaced).

        A call's calldata gets a random tag of :data:`SIGNING_TAG_BYTES` at its end, which the
        contract's ABI decoding ignores: otherwise two requests for the same call (two equal
        tranches) signed with the same nonce are the same transaction, and when one process
        signs, keeps the hash and dies before sending, the successor following that hash would
        find the other request's transaction mined under it and answer with its drawdown.
        """
        if "to" in tx:  # a deployment's arguments are read up to the end of its data: no tag
            tx = {**tx, "data": HexBytes(tx["data"]) + os.urandom(SIGNING_TAG_BYTES)}
        with signer.lock, self.account_lock(signer.address) if self.account_lock else nullcontext():
            for attempt in range(NONCE_ATTEMPTS):
                if attempt:
                    time.sleep(random.uniform(0, attempt / 1000))  # noqa: S311 (jitter, not a secret)
                nonce = self._count(signer.address, "pending")
                raw = signer.sign({**tx, "nonce": Nonce(nonce)})
                sent = self._send_raw(raw, signer.address, nonce, on_signed)
                if sent is not None:
                    return sent
        raise ChainError(f"no free nonce for {signer.address} after {NONCE_ATTEMPTS} attempts")

    def _send_raw(
        self, raw: bytes, sender: ChecksumAddress, nonce: int, on_signed: OnSigned | None
    ) -> SentTx | None:
        """Sends a signed transaction, told to ``on_signed`` first; None when the node refused
        it because its nonce is no longer free."""
        sent = SentTx(Web3.keccak(raw).to_0x_hex(), sender, nonce)
        if on_signed is not None:
            on_signed(sent)
        try:
            self._request("eth_sendRawTransaction", [to_hex(raw)])
        except RpcError as error:
            if _nonce_taken(error):
                return None
            raise ChainError(f"the node refused the transaction: {error}") from error
        except (OSError, urllib3.exceptions.HTTPError) as error:
            raise ChainError(f"node request failed: {type(error).__name__}: {error}") from error
        return sent

    def wait_for(self, sent: SentTx) -> Any:
        """Waits for ``sent``'s receipt; raises when the node no longer has the transaction
        (dropped) or mined another one with its nonce (replaced)."""
        deadline = time.monotonic() + RECEIPT_TIMEOUT_SECONDS
        next_check = time.monotonic() + FATE_CHECK_SECONDS
        # The receipt is asked for again only once the head has moved (read before the receipt,
        # so that a block mined in between is not missed): a hundred writes waiting for the next
        # block share one eth_blockNumber per poll instead of asking for a hundred receipts each
        # time, which was most of a write's CPU with 1 s blocks.
        seen: int | None = None
        while True:
            head = self._heads.submit(None)
            if head != seen:
                seen = head
                receipt = self._mined(sent.tx_hash)
                if receipt is not None:
                    return receipt
            now = time.monotonic()
            if now >= next_check:
                self._check_fate(sent)
                next_check = now + FATE_CHECK_SECONDS
            if now >= deadline:
                raise ChainError(
                    f"transaction {sent.tx_hash} not mined within {RECEIPT_TIMEOUT_SECONDS} s",
                    tx_hash=sent.tx_hash,
                )
            time.sleep(RECEIPT_POLL_SECONDS)

    def _check_fate(self, sent: SentTx) -> None:
        """Raises if ``sent`` can no longer be mined: another transaction has its nonce, or the
        node has forgotten it (a reorganization or the pool dropped it)."""
        if self._count(sent.sender, "latest") > sent.nonce:
            # The nonce is used; if by ours, its receipt is there now.
            if self._mined(sent.tx_hash) is None:
                raise TransactionReplaced(sent.tx_hash, sent.nonce)
            return
        if self._lean("eth_getTransactionByHash", [sent.tx_hash]) is None:
            raise TransactionDropped(sent.tx_hash, sent.nonce)

    def whereabouts(self, tx_hash: str) -> tuple[TxState, int | None]:
        """Where ``tx_hash`` stands on the node now, and the block it is mined in if it is."""
        receipt = self._mined(tx_hash)
        if receipt is not None:
            state = TxState.MINED if receipt["status"] == 1 else TxState.FAILED
            return state, receipt["blockNumber"]
        if self._lean("eth_getTransactionByHash", [tx_hash]) is not None:
            return TxState.PENDING, None
        return TxState.UNKNOWN, None

    def receipt_logs(self, tx_hash: str, block_hash: str | None) -> list[dict[str, Any]]:
        """The logs of ``tx_hash``, mined in the block ``block_hash``, as the node sends them
        (hex strings): asked for once by all the threads that want them at the same moment.
        Without the block's hash, asked for anew."""
        return self._receipts.logs(tx_hash, block_hash)

    def _logs_of(self, tx_hash: str, block_hash: str | None) -> list[dict[str, Any]]:
        receipt = self._lean("eth_getTransactionReceipt", [tx_hash])
        if receipt is None or block_hash not in (None, receipt["blockHash"]):
            raise ChainError(
                f"transaction {tx_hash} is no longer mined in block {block_hash}: the chain "
                "reorganized",
                tx_hash=tx_hash,
            )
        return list(receipt["logs"])

    def mined_block(self, tx_hash: str) -> int | None:
        """The block ``tx_hash`` is mined in now, or None (pending, dropped or unknown)."""
        mined = self._mined(tx_hash)
        return None if mined is None else mined["blockNumber"]

    def _count(self, account: str, block: str) -> int:
        """``account``'s transaction count (its next nonce) at ``block``."""
        return int(self._lean("eth_getTransactionCount", [account, block]), 16)

    def _mined(self, tx_hash: str) -> dict[str, Any] | None:
        """What a sender needs of a receipt (status, block and its hash, gas used), or None
        while unmined."""
        receipt = self._lean("eth_getTransactionReceipt", [tx_hash])
        if receipt is None:
            return None
        mined: dict[str, Any] = {
            name: int(receipt[name], 16) for name in ("status", "blockNumber", "gasUsed")
        }
        mined["blockHash"] = str(receipt["blockHash"])
        return mined

    def _failure(self, sent: SentTx, receipt: Any) -> RegistryError:
        """Why a mined transaction failed, decoded like a refusal at estimation.

        The transaction is simulated again where it ran: after its block's earlier transactions
        (the node's trace of it, where the node offers one), else before and after its block."""
        output = self._traced_output(sent.tx_hash)
        if output is not None:
            return self.decoder.to_exception(output)
        mined = self._rpc(lambda: self.w3.eth.get_transaction(HexStr(sent.tx_hash)))
        replay: TxParams = {"from": sent.sender, "to": mined["to"], "data": mined["input"]}
        block = int(receipt["blockNumber"])
        for at in (block - 1, block):
            try:
                self._rpc(lambda at=at: self.w3.eth.call(replay, at))  # type: ignore[misc]
            except ChainError:
                continue
            except RegistryError as error:
                return error
        return ChainError(
            f"transaction {sent.tx_hash} failed without a revert reason", tx_hash=sent.tx_hash
        )

    def _traced_output(self, tx_hash: str) -> bytes | None:
        """The revert data of a mined transaction from the node's call tracer (anvil, geth,
        Besu), or None where the node has no such tracer or the transaction gave none."""
        try:
            trace = self.w3.provider.make_request(
                RPCEndpoint("debug_traceTransaction"), [tx_hash, {"tracer": "callTracer"}]
            )
        except (Web3Exception, OSError, ValueError):
            return None
        output = (trace.get("result") or {}).get("output")
        if not isinstance(output, str) or len(output) < 10:
            return None
        return bytes(HexBytes(output))

    def send_value(self, sender: ChecksumAddress, to: ChecksumAddress, wei: int) -> HexStr:
        """Sends ether from an account the node itself holds (dev nodes only: funding dev keys)."""
        transfer: TxParams = {"from": sender, "to": to, "value": Wei(wei), **self._fees()}
        tx_hash = self._rpc(lambda: self.w3.eth.send_transaction(transfer))
        self._rpc(lambda: self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60))
        return HexStr(HexBytes(tx_hash).to_0x_hex())
