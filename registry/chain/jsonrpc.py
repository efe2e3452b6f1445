"""JSON-RPC over HTTP without web3's request stack, for the requests every API call makes.

web3 sends a request through its request manager, middlewares, parameter and result formatters
and ``requests``: about 1.5 ms of CPU for an ``eth_blockNumber`` here, many times what the node
takes to answer it. A duplicate check reads the head and one batched ``eth_call``; a write
estimates, asks for fees and its nonce, sends, and polls for its receipt: through web3 that
overhead was most of their cost. This client posts the JSON body on a pooled urllib3 connection
and reads the answer, nothing more; :class:`~registry.chain.client.Chain` uses it for those
requests (raw hex answers) and web3 for the rest (logs, blocks, tracing, decoding events).
"""

from __future__ import annotations

import itertools
import json
from typing import Any
from urllib.parse import urlsplit

import urllib3

__all__ = ["JsonRpc", "RpcError"]


class RpcError(Exception):
    """The node answered with a JSON-RPC error; ``data`` is its revert data, if any."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(str(error.get("message", error)))
        self.code = error.get("code")
        data = error.get("data")
        # ganache nests the revert data in an object; anvil sends the hex string itself.
        if isinstance(data, dict):
            data = data.get("data") or data.get("result")
        self.data: str | None = data if isinstance(data, str) else None


class JsonRpc:
    """Posts JSON-RPC requests to one node on a pool of kept-alive connections (thread-safe)."""

    def __init__(self, url: str, *, timeout: float, pool_size: int) -> None:
        parts = urlsplit(url)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._pool = urllib3.connection_from_url(
            url,
            maxsize=pool_size,
            block=False,
            timeout=urllib3.Timeout(total=timeout),
            retries=False,
        )
        self._ids = itertools.count(1)

    def request(self, method: str, params: list[Any]) -> Any:
        """The ``result`` of ``method``; :class:`RpcError` for an error answer, and
        :class:`OSError` or urllib3's errors when the node cannot be reached."""
        body = json.dumps(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        )
        response = self._pool.urlopen(
            "POST", self._path, body=body, headers={"Content-Type": "application/json"}
        )
        if response.status != 200:
            raise RpcError({"message": f"HTTP {response.status} from the node"})
        reply = json.loads(response.data)
        if "error" in reply:
            raise RpcError(reply["error"])
        return reply["result"]
