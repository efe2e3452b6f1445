"""What the API's routes need, built once per process: :class:`Services`.

A container, not a framework: the index database engine, the chain connection, the ledger binding,
the fingerprint keyring, the signing keys of the institutions the API acts for, and the domain
service built on them. Three ways to build it:

- :meth:`Services.from_settings` for ``creditreg serve``: node URL, deployment manifest and secrets
  file from :class:`~registry.settings.Settings`;
- :meth:`Services.from_running` for ``creditreg up``, from what it started;
- :meth:`Services.build` from parts, which the tests use with their own dev chain.

Every way stores the institutions' API keys (hashed) in the database, so the keys in the secrets
file are the keys that work. Signing keys stay in this object: ``repr`` shows addresses only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from eth_typing import ChecksumAddress
from sqlalchemy import Engine

from registry.api_keys import Principal, store_api_keys
from registry.chain.client import Chain, Signer
from registry.chain.deploy import Deployment
from registry.chain.ledger import ReceivableLedger
from registry.credentials import DevSecrets
from registry.db import create_schema, make_engine
from registry.errors import AccessDenied, ConfigurationError
from registry.fingerprint import FingerprintKeyring
from registry.indexer import CURSOR_NAME, read_cursor
from registry.receivables import ReceivableService
from registry.settings import Settings
from registry.system import Running, connect_chain

__all__ = ["HealthStatus", "Services"]


@dataclass(frozen=True)
class HealthStatus:
    status: str
    chain_id: int
    head_block: int
    indexed_block: int | None
    ledger_address: ChecksumAddress


@dataclass(frozen=True, repr=False)
class Services:
    """The API's collaborators. ``signers`` maps institution names to the keys the API signs
    their transactions with."""

    engine: Engine
    chain: Chain
    ledger: ReceivableLedger
    keyring: FingerprintKeyring
    signers: Mapping[str, Signer]
    receivables: ReceivableService

    def __repr__(self) -> str:
        return f"Services(ledger {self.ledger.address}, institutions {sorted(self.signers)})"

    @classmethod
    def build(
        cls, engine: Engine, chain: Chain, ledger: ReceivableLedger, secrets: DevSecrets
    ) -> Services:
        """Services over existing parts; creates the index schema if missing and stores the
        institutions' API keys."""
        create_schema(engine)
        store_api_keys(engine, secrets.institutions)
        return cls(
            engine=engine,
            chain=chain,
            ledger=ledger,
            keyring=secrets.keyring,
            signers={institution.name: institution.signer for institution in secrets.institutions},
            receivables=ReceivableService(ledger, secrets.keyring),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        """Connects to ``settings.rpc_url``, the manifest's ledger and the configured database.

        Raises :class:`~registry.errors.ConfigurationError` when the node URL, the manifest or the
        secrets file is missing, or the manifest describes another chain.
        """
        if settings.rpc_url is None:
            raise ConfigurationError("set CREDITREG_RPC_URL, or run `creditreg up`")
        deployment = Deployment.load(settings.resolved_manifest_path)
        secrets = DevSecrets.load(settings.resolved_secrets_path)
        chain = connect_chain(settings.rpc_url)
        if chain.chain_id != deployment.chain_id:
            raise ConfigurationError(
                f"the manifest describes chain {deployment.chain_id}, the node serves "
                f"chain {chain.chain_id}"
            )
        ledger = ReceivableLedger(chain, deployment.address_of(ReceivableLedger.NAME))
        return cls.build(make_engine(settings.resolved_database_url), chain, ledger, secrets)

    @classmethod
    def from_running(cls, running: Running) -> Services:
        """Services over what ``creditreg up`` started (it owns and disposes of the engine)."""
        ledger = ReceivableLedger(
            running.chain, running.deployment.address_of(ReceivableLedger.NAME)
        )
        return cls.build(running.engine, running.chain, ledger, running.secrets)

    def signer_for(self, principal: Principal) -> Signer:
        """The key that signs for ``principal``'s institution."""
        signer = self.signers.get(principal.institution)
        if signer is None:
            raise AccessDenied(
                f"this API holds no signing key for {principal.institution}",
                institution=principal.institution,
            )
        return signer

    def health(self) -> HealthStatus:
        """The chain's head and how far the index has got (None before the first indexed block)."""
        with self.engine.connect() as connection:
            cursor = read_cursor(connection, CURSOR_NAME)
        return HealthStatus(
            status="ok",
            chain_id=self.chain.chain_id,
            head_block=self.chain.block_number(),
            indexed_block=None if cursor is None else cursor.block_number,
            ledger_address=self.ledger.address,
        )
