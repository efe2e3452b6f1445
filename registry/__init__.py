"""The credit registry's core: contracts, index, audit and the domain services, without HTTP.

- :mod:`~registry.chain`: talking to a node (JSON-RPC client, signed transactions, revert
  decoding, batched views) and starting a dev node;
- :mod:`~registry.artifacts`: the compiled contracts (ABI and bytecode) and their compiler;
- :mod:`~registry.contracts`: one typed binding per contract, the roles, the deployment;
- :mod:`~registry.connect`: reaching a configured deployment; :mod:`~registry.devstack`: bringing
  a fresh dev chain to a usable state;
- :mod:`~registry.indexer`: contract events into SQL projections, with reorgs and crashes;
- :mod:`~registry.db`: the index database, its schema, migrations and point-in-time reads;
- :mod:`~registry.audit`: replay, verify, report and digest, for auditors;
- :mod:`~registry.receivables`: what a bank does with an export receivable (check, register,
  finance, repay), on :mod:`~registry.fingerprint` (documents named by keyed fingerprints) and
  :mod:`~registry.overdue`;
- :mod:`~registry.credentials`, :mod:`~registry.api_keys`: institutions, their keys, and the
  secrets files; :mod:`~registry.settings`: configuration; :mod:`~registry.errors`: the one
  exception tree; :mod:`~registry.merkle`: OpenZeppelin-compatible Merkle proofs.

The HTTP API is the :mod:`api` package, built on this one; :mod:`creditreg` puts them together.
"""
