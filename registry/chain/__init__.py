"""Talking to an Ethereum node, whatever contracts it runs.

- :mod:`~registry.chain.client`: :class:`~registry.chain.client.Chain` (JSON-RPC, estimated and
  signed transactions, nonces per signer) and :class:`~registry.chain.client.Signer`;
- :mod:`~registry.chain.reverts`: revert data decoded into the domain's exceptions;
- :mod:`~registry.chain.views`: many view calls at one block in one ``multicall``;
- :mod:`~registry.chain.node`: a local dev node (anvil or ganache) started, awaited and stopped.

The bindings of our own contracts are :mod:`registry.contracts`.
"""
