"""What the API's routes need, built once per process: :class:`Services`.

A container, not a framework: the index database engine, the chain connection, the ledger binding,
the fingerprint keyring, the signing keys of the institutions the API acts for, the chain's role
checks (:mod:`api.roles`), and the domain service built on them. Three ways to build it:

- :meth:`Services.from_settings` for ``creditreg serve``: node URL, deployment manifest and the
  API's secrets file from :class:`~registry.settings.Settings` (never the admin secrets file);
- :func:`creditreg.system.api_for` for ``creditreg up``, from what it started, through
  :meth:`Services.build`;
- :meth:`Services.build` from parts, which the tests use with their own dev chain.

Every way stores the institutions' API keys (hashed) in the database, so the keys in the secrets
file are the keys that work (:func:`registry.api_keys.store_api_keys`). Signing keys stay in this
object: ``repr`` shows addresses only. No key of the consortium admin is ever among them: the
secrets come in as :class:`~registry.credentials.ApiSecrets`, which cannot hold one (dev secrets
are cut down to that first), and ``up`` connects to the node anew rather than share the connection
that deployed, whose signers the admin's key was one of.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from eth_typing import ChecksumAddress
from sqlalchemy import Engine

from api.roles import ChainRoles
from api.writes import Writes
from registry.api_keys import Principal, store_api_keys
from registry.chain.client import Chain, Signer
from registry.connect import connect_deployment
from registry.consents import ConsentService
from registry.contracts.consents import ConsentRegistry
from registry.contracts.deploy import Deployment
from registry.contracts.ledger import ReceivableLedger
from registry.contracts.pledges import PledgeRegistry
from registry.credentials import ApiSecrets, DevSecrets
from registry.db import create_schema, make_engine
from registry.db.locks import account_lock
from registry.errors import AccessDenied
from registry.fingerprint import FingerprintKeyring
from registry.history import HistoryService
from registry.idempotency import IdempotencyStore
from registry.index_watch import IndexWatch
from registry.indexer import CURSOR_NAME, IndexStatus, read_cursor, read_index_status
from registry.keystore import Keystores
from registry.pledges import PledgeService
from registry.receivables import ReceivableService
from registry.settings import Settings

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
    pledges: PledgeRegistry
    consents: ConsentRegistry
    keyring: FingerprintKeyring
    signers: Mapping[str, Signer]
    receivables: ReceivableService
    properties: PledgeService
    consent: ConsentService
    history: HistoryService
    roles: ChainRoles
    writes: Writes
    confirmations: int = 0
    """Blocks the indexer stays behind the head (the index's safe head is head minus these)."""

    def __repr__(self) -> str:
        return f"Services(ledger {self.ledger.address}, institutions {sorted(self.signers)})"

    @classmethod
    def build(
        cls,
        engine: Engine,
        chain: Chain,
        deployment: Deployment,
        secrets: ApiSecrets | DevSecrets,
        confirmations: int = 0,
        write_index_timeout: float = 30.0,
    ) -> Services:
        """Services over existing parts; creates the index schema if missing and stores the
        institutions' API keys. Dev secrets are cut down to the API's part first, so that even a
        caller holding the admin's key (one that deployed) cannot hand it over."""
        api_secrets = secrets.api_secrets() if isinstance(secrets, DevSecrets) else secrets
        create_schema(engine)
        store_api_keys(engine, api_secrets.credentials)
        ledger = ReceivableLedger(chain, deployment.address_of(ReceivableLedger.NAME))
        pledges = PledgeRegistry(chain, deployment.address_of(PledgeRegistry.NAME))
        consents = ConsentRegistry(chain, deployment.address_of(ConsentRegistry.NAME))
        return cls(
            engine=engine,
            chain=chain,
            ledger=ledger,
            pledges=pledges,
            consents=consents,
            keyring=api_secrets.keyring,
            signers={i.name: i.signer for i in api_secrets.institutions},
            receivables=ReceivableService(ledger, api_secrets.keyring),
            properties=PledgeService(pledges, api_secrets.keyring, engine),
            consent=ConsentService(consents, api_secrets.keyring),
            history=HistoryService(engine),
            roles=ChainRoles(engine),
            writes=Writes(
                IdempotencyStore(engine), IndexWatch(engine), index_timeout=write_index_timeout
            ),
            confirmations=confirmations,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        """Connects to ``settings.rpc_url``, the manifest's ledger and the configured database.

        Raises :class:`~registry.errors.ConfigurationError` when the node URL, the manifest or the
        secrets file is missing, the manifest describes another chain, or the keystore password
        (:mod:`registry.keystore`) is missing or does not unlock the keystores."""
        engine = make_engine(settings.resolved_database_url)
        # Workers sharing a PostgreSQL index send from each bank's account one at a time.
        chain, deployment = connect_deployment(
            settings, ", or run `creditreg up`", account_lock(engine)
        )
        secrets = ApiSecrets.load(settings.resolved_secrets_path, Keystores.from_settings(settings))
        return cls.build(
            engine,
            chain,
            deployment,
            secrets,
            settings.confirmations,
            settings.write_index_timeout,
        )

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

    def index_status(self, now: datetime | None = None) -> IndexStatus:
        """The index against the chain's head; the rate as of ``now`` (this clock by default).
        Raises ChainError when the node is unreachable."""
        return read_index_status(self.engine, self.chain, confirmations=self.confirmations, now=now)
