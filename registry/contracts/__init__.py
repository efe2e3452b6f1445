"""Our contracts (``contracts/*.sol``) as Python: one typed binding per contract.

- :mod:`~registry.contracts.binding`: what every binding shares (ConsortiumAccess, Multicall,
  events from a receipt) and deploying one contract;
- :mod:`~registry.contracts.roles`: the consortium's roles, mirroring ``ConsortiumAccess.sol``;
- :mod:`~registry.contracts.ledger`: ReceivableLedger (receivables, declarations, financing);
- :mod:`~registry.contracts.pledges`: PledgeRegistry (properties, pledges, seizures);
- :mod:`~registry.contracts.consents`: ConsentRegistry and the EIP-712 messages enterprises sign;
- :mod:`~registry.contracts.values`: contract values as Python values, shared with the indexer;
- :mod:`~registry.contracts.deploy`: deploying all three and the manifest that names them.

Built on :mod:`registry.chain` (the node) and :mod:`registry.artifacts` (the compiled code).
"""
