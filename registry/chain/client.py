"""JSON-RPC access to the chain: signed transactions with revert data decoded into domain errors.

A transaction is first estimated: a refusal by the contract surfaces there as a decoded
:class:`~registry.errors.RegistryError` and nothing is sent, so a refused operation never leaves a
failed transaction behind. Nonces are kept locally per signer (under a lock, so concurrent API
requests by one institution queue) and re-read from the node after any send failure.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
import requests.adapters
import requests.utils
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, HexStr
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3Exception
from web3.types import Nonce, TxParams, Wei

from registry.artifacts import all_abis
from registry.chain.reverts import RevertDecoder
from registry.errors import ChainError, RegistryError

__all__ = ["Chain", "Signer", "TxResult"]

T = TypeVar("T")

# web3's default (0.1 s) would dominate an API call on an automining dev node, where the receipt
# exists as soon as the send returns; on an interval-mining network it only adds cheap polls.
RECEIPT_POLL_SECONDS = 0.01
# Connections kept open to one node: as many as threads that may call it at once (the API's
# thread pool); beyond, a request opens a connection of its own and closes it after.
_POOL_SIZE = 32


class Signer:
    """An account whose key signs locally; the key never leaves this object (repr hides it)."""

    def __init__(self, private_key: str | bytes) -> None:
        self._account: LocalAccount = Account.from_key(private_key)
        self.lock = threading.Lock()
        self.next_nonce: int | None = None

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

    def __init__(self, w3: Web3, abis: Iterable[list[dict[str, Any]]] | None = None) -> None:
        """``abis``: whose custom errors to decode; by default every committed contract's."""
        self.w3 = w3
        self.decoder = RevertDecoder(all_abis() if abis is None else abis)
        self._chain_id: int | None = None
        # Every signer whose nonce this connection has cached, so that forget_nonces reaches them
        # all (weakly: a signer dropped by its owner is not kept alive here).
        self._signers: weakref.WeakSet[Signer] = weakref.WeakSet()

    @classmethod
    def connect(
        cls, url: str, abis: Iterable[list[dict[str, Any]]] | None = None, timeout: float = 30
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
        return cls(w3, abis)

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self._rpc(lambda: self.w3.eth.chain_id)
        return self._chain_id

    def block_number(self) -> int:
        return self._rpc(lambda: self.w3.eth.block_number)

    def head(self) -> tuple[int, int]:
        """The newest block's number and timestamp, in one request."""
        latest = self._rpc(lambda: self.w3.eth.get_block("latest"))
        return int(latest["number"]), int(latest["timestamp"])

    def block_timestamp(self, block: int) -> int:
        """The timestamp (unix seconds) of ``block``: the clock every time rule is judged by."""
        return int(self._rpc(lambda: self.w3.eth.get_block(block)["timestamp"]))

    def _rpc(self, request: Callable[[], T]) -> T:
        try:
            return request()
        except ContractLogicError as error:
            raise self._decode(error) from None
        except (Web3Exception, OSError) as error:
            raise ChainError(f"node request failed: {type(error).__name__}: {error}") from error

    def _decode(self, error: ContractLogicError) -> RegistryError:
        data: Any = error.data
        # ganache nests the revert data in an object; anvil sends the hex string itself.
        if isinstance(data, dict):
            data = data.get("data") or data.get("result")
        if not isinstance(data, str) or not data.startswith("0x") or len(data) < 10:
            return ChainError(f"the chain reverted without error data: {error.message}")
        return self.decoder.to_exception(bytes(HexBytes(data)))

    def forget_nonces(self) -> None:
        """Drops the nonces cached for every signer that sent through this connection, after the
        chain moved back under them (a dev node's ``evm_revert``, a reorg that dropped our
        transactions): the next transaction of each asks the node again."""
        for signer in list(self._signers):
            signer.next_nonce = None

    def call(self, function: Any, block: int | str = "latest") -> Any:
        """Calls a view function (a bound web3 ContractFunction)."""
        return self._rpc(lambda: function.call(block_identifier=block))

    def transact(self, signer: Signer, function: Any) -> TxResult:
        """Estimates, signs, sends and waits for ``function`` from ``signer``.

        Raises the decoded domain error when the contract refuses: at estimation (nothing sent) or,
        if the state changed in between, from the mined receipt, re-simulated at its block.
        """
        params: TxParams = {"from": signer.address, "chainId": self.chain_id}
        tx: TxParams = self._rpc(lambda: function.build_transaction(params))
        with signer.lock:
            if signer.next_nonce is None:
                self._signers.add(signer)
                signer.next_nonce = self._rpc(
                    lambda: self.w3.eth.get_transaction_count(signer.address, "pending")
                )
            tx["nonce"] = Nonce(signer.next_nonce)
            try:
                raw = signer.sign(tx)
                tx_hash = self._rpc(lambda: self.w3.eth.send_raw_transaction(raw))
            except RegistryError:
                signer.next_nonce = None
                raise
            signer.next_nonce += 1
        receipt = self._rpc(
            lambda: self.w3.eth.wait_for_transaction_receipt(
                tx_hash, timeout=120, poll_latency=RECEIPT_POLL_SECONDS
            )
        )
        if receipt["status"] != 1:
            replay: TxParams = {"from": signer.address, "to": tx["to"], "data": tx["data"]}
            block = receipt["blockNumber"]
            self._rpc(lambda: self.w3.eth.call(replay, block - 1))
            raise ChainError(f"transaction {tx_hash.to_0x_hex()} failed without a revert reason")
        return TxResult(
            tx_hash=HexBytes(tx_hash).to_0x_hex(),
            block_number=receipt["blockNumber"],
            gas_used=receipt["gasUsed"],
        )

    def send_value(self, sender: ChecksumAddress, to: ChecksumAddress, wei: int) -> HexStr:
        """Sends ether from an account the node itself holds (dev nodes only: funding dev keys)."""
        tx_hash = self._rpc(
            lambda: self.w3.eth.send_transaction({"from": sender, "to": to, "value": Wei(wei)})
        )
        self._rpc(lambda: self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60))
        return HexStr(HexBytes(tx_hash).to_0x_hex())
