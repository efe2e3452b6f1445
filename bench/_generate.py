"""Ledger events in bulk on an anvil dev node, for bench/indexer.py.

Each transaction is one ``multicall`` carrying ``pairs`` registerReceivable calls (one declaration
each: a DeclarationLinked, a DeclarationCounted and a ReceivableRegistered event) followed by a
finance call for each of those receivables (a DeclarationFinanced and a ReceivableFinanced event),
so five events per pair. A batch is sized from a gas estimate to fill 95% of the standard 30M
block gas limit, so any single transaction would fit a normal block. All transactions of a stage
are signed first, then sent and mined.

Blocks, though, hold :data:`TXS_PER_BLOCK` transactions each: anvil (1.7) spends time proportional
to the whole contract state on every block it mines, even an empty one (2 ms on a fresh chain,
165 ms after 25,000 events, 340 ms after 50,000), so at one transaction per block, generating
100,000 events took three and a half minutes, quadratic in the event count. Fewer, bigger blocks
keep it under half a minute. The generator switches automine off and raises the block gas limit to
twice what a block uses, so that the base fee, which rises after any block above half the limit
(EIP-1559), stays flat.

Events are counted from every receipt (raw JSON-RPC, which skips web3's per-log formatting), so the
count is exact and a failed transaction is caught.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode
from eth_utils.abi import function_abi_to_4byte_selector
from hexbytes import HexBytes
from web3.types import RPCEndpoint

from registry.chain.client import Chain, Signer
from registry.chain.node import BLOCK_GAS_LIMIT
from registry.contracts.ledger import ReceivableLedger

EVENTS_PER_PAIR = 5
GAS_FILL = 0.95
TXS_PER_BLOCK = 5
PROBE_PAIRS = 10
FACE_VALUE = 100_000
DRAWDOWN = 50_000  # within the cap (80% of the face value at the bootstrap's advance rate)


@dataclass(frozen=True)
class Stage:
    """What one :meth:`EventGenerator.generate` put on the chain, and how long it took."""

    events: int
    transactions: int
    first_block: int
    last_block: int
    sign_seconds: float
    mine_seconds: float
    count_seconds: float

    @property
    def blocks(self) -> int:
        return self.last_block - self.first_block + 1

    @property
    def seconds(self) -> float:
        return self.sign_seconds + self.mine_seconds + self.count_seconds


class EventGenerator:
    """Registers and finances receivables in multicall batches from one lender's key.

    Takes over the node's mining (automine off, a raised block gas limit): create it after the
    bootstrap, which waits for its receipts.
    """

    def __init__(self, chain: Chain, ledger: ReceivableLedger, signer: Signer) -> None:
        self.chain = chain
        self.ledger = ledger
        self.signer = signer
        self._next_id = 0
        abi = {item.get("name"): item for item in ledger.contract.abi}
        # eth_abi directly, with the selectors from the ABI: web3's encode_abi costs milliseconds
        # per call, which would dominate generating 100,000 events.
        self._register = function_abi_to_4byte_selector(abi["registerReceivable"])
        self._finance = function_abi_to_4byte_selector(abi["finance"])
        self._multicall = function_abi_to_4byte_selector(abi["multicall"])
        self._gas_price = chain.w3.eth.gas_price * 2
        self.gas_per_pair = self._estimate(self._batch_data(0, PROBE_PAIRS)) / PROBE_PAIRS
        self.pairs_per_tx = int(BLOCK_GAS_LIMIT * GAS_FILL / self.gas_per_pair)
        # Every batch has the same shape, so one estimate at full size holds for all of them.
        estimate = self._estimate(self._batch_data(0, self.pairs_per_tx))
        assert estimate <= BLOCK_GAS_LIMIT, f"a batch needs {estimate} gas, over a block's limit"
        self.gas_per_tx = min(int(estimate * 1.05), BLOCK_GAS_LIMIT)
        self._rpc("anvil_setBlockGasLimit", [hex(2 * TXS_PER_BLOCK * BLOCK_GAS_LIMIT)])
        self._rpc("evm_setAutomine", [False])
        # A million ether: 100,000 events cost tens of ether at a dev node's gas price, more than
        # the bootstrap gives a bank.
        self._rpc("anvil_setBalance", [signer.address, hex(10**24)])

    @property
    def events_per_tx(self) -> int:
        return self.pairs_per_tx * EVENTS_PER_PAIR

    def _rpc(self, method: str, params: list[Any]) -> Any:
        response = self.chain.w3.provider.make_request(RPCEndpoint(method), params)
        assert "error" not in response, f"{method} failed: {response['error']}"
        return response["result"]

    def _estimate(self, data: bytes) -> int:
        tx: Any = {"from": self.signer.address, "to": self.ledger.address, "data": data}
        return int(self.chain.w3.eth.estimate_gas(tx))

    def _batch_data(self, first: int, pairs: int) -> bytes:
        calls: list[bytes] = []
        for index in range(first, first + pairs):
            receivable = b"\xa0" + index.to_bytes(31, "big")
            declaration = b"\xd0" + index.to_bytes(31, "big")
            terms = (receivable, b"\x01" * 32, 1, FACE_VALUE, b"USD", 2_000_000_000)
            calls.append(
                self._register
                + encode(
                    [
                        "(bytes32,bytes32,uint16,uint256,bytes3,uint64)",
                        "(bytes32,uint256)[]",
                        "(uint16,bytes32,bytes32,bytes32[])[]",
                    ],
                    [terms, [(declaration, FACE_VALUE)], []],
                )
            )
        for index in range(first, first + pairs):
            receivable = b"\xa0" + index.to_bytes(31, "big")
            calls.append(self._finance + encode(["bytes32", "uint256"], [receivable, DRAWDOWN]))
        return self._multicall + encode(["bytes[]"], [calls])

    def generate(self, events: int) -> Stage:
        """Puts at least ``events`` events on the chain (whole batches); returns the exact count."""
        w3 = self.chain.w3
        transactions = math.ceil(events / self.events_per_tx)
        start = time.perf_counter()
        nonce = w3.eth.get_transaction_count(self.signer.address, "pending")
        raw: list[bytes] = []
        for offset in range(transactions):
            data = self._batch_data(self._next_id, self.pairs_per_tx)
            self._next_id += self.pairs_per_tx
            tx: Any = {
                "to": self.ledger.address,
                "data": data,
                "gas": self.gas_per_tx,
                "gasPrice": self._gas_price,
                "nonce": nonce + offset,
                "chainId": self.chain.chain_id,
            }
            raw.append(self.signer.sign(tx))
        signed = time.perf_counter()
        hashes = []
        for first in range(0, len(raw), TXS_PER_BLOCK):
            hashes += [w3.eth.send_raw_transaction(r) for r in raw[first : first + TXS_PER_BLOCK]]
            self._rpc("evm_mine", [])  # returns once the block is mined
        mined = time.perf_counter()
        count, blocks = 0, []
        for tx_hash in hashes:
            receipt = self._rpc("eth_getTransactionReceipt", [HexBytes(tx_hash).to_0x_hex()])
            assert receipt is not None, f"batch {HexBytes(tx_hash).to_0x_hex()} was not mined"
            assert int(receipt["status"], 16) == 1, f"batch {receipt['transactionHash']} failed"
            count += len(receipt["logs"])
            blocks.append(int(receipt["blockNumber"], 16))
        counted = time.perf_counter()
        return Stage(
            events=count,
            transactions=transactions,
            first_block=min(blocks),
            last_block=max(blocks),
            sign_seconds=signed - start,
            mine_seconds=mined - signed,
            count_seconds=counted - mined,
        )
