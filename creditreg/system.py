"""The whole system on one machine, as ``creditreg up`` runs it: dev node, deployment, index, API.

This is where the core (:mod:`registry`) and the HTTP API (:mod:`api`) are put together; neither
imports the other's way up.

On embedded defaults the chain is a fresh dev node each time, so each start deploys anew and starts
a fresh SQLite index beside it (an index describes one deployment). The secrets files persist, so
API keys stay the same from one run to the next.

The consortium admin's key is read for the deployment step only (:func:`_deploy`): what ``up``
keeps running, and builds the API from, is :class:`~registry.credentials.ApiSecrets`, which cannot
hold it. The API runs in this same process (a child ``creditreg serve`` would run as the same user
and could read the admin file all the same); what keeps the key out of it is that nothing the API
is built from refers to it once deployed. Where the separation must hold against a compromised
API, run ``creditreg deploy`` where the admin file is, and ``creditreg serve`` where it is not (as
``docker-compose.yml`` does).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from api.app import create_app
from api.services import Services
from registry.chain.client import Chain
from registry.chain.node import DevNode
from registry.connect import connect_chain, deploy_or_reuse
from registry.contracts.deploy import Deployment
from registry.contracts.ledger import ReceivableLedger
from registry.credentials import ApiSecrets, DevSecrets
from registry.db import create_schema, opened_engine
from registry.db.locks import account_lock
from registry.errors import ConfigurationError
from registry.indexer import Indexer
from registry.keystore import Keystores
from registry.settings import Settings

__all__ = ["Running", "api_for", "run_until_signalled", "running_system"]


@dataclass(frozen=True)
class Running:
    """What ``up`` started or connected to; the secrets are the API's, without the admin's key."""

    settings: Settings
    rpc_url: str
    chain: Chain
    secrets: ApiSecrets
    deployment: Deployment
    engine: Engine
    node: DevNode | None


def _deploy(settings: Settings, chain: Chain) -> tuple[Deployment, bool, ApiSecrets]:
    """Loads (or generates, or migrates) the dev secrets, unlocking their keystores with the
    configured password (or the dev password, generated if need be), deploys if needed, and
    returns the API's part of the secrets: the admin's key goes out of scope with this call."""
    secrets = DevSecrets.load_or_generate(
        settings.resolved_secrets_path,
        settings.resolved_admin_secrets_path,
        Keystores.from_settings(settings, generate_password=True),
    )
    deployment, new = deploy_or_reuse(settings, chain, secrets)
    return deployment, new, secrets.api_secrets()


def _reset_embedded_index(settings: Settings) -> None:
    """Removes the embedded SQLite index (never a configured database): it described the
    previous dev chain."""
    if settings.database_url is not None:
        return
    path = settings.embedded_database_path
    for sibling in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        sibling.unlink(missing_ok=True)


@contextlib.contextmanager
def running_system(settings: Settings) -> Iterator[Running]:
    """Starts (or connects to) the chain, deploys if needed and prepares the index database.

    Stops the dev node it started on exit, whatever happened.
    """
    node: DevNode | None = None
    if settings.rpc_url is None:
        node = DevNode(settings.node, settings.node_block_time).start()
    try:
        rpc_url = settings.rpc_url or node.url  # type: ignore[union-attr]
        chain = connect_chain(rpc_url)
        deployment, new, secrets = _deploy(settings, chain)
        if new:
            _reset_embedded_index(settings)
        with opened_engine(settings.resolved_database_url) as engine:
            create_schema(engine)
            yield Running(settings, rpc_url, chain, secrets, deployment, engine, node)
    finally:
        if node is not None:
            node.stop()


def api_for(system: Running) -> FastAPI:
    """The API over what ``up`` started (``up`` owns and disposes of the engine), on a connection
    of its own to the node rather than the one that deployed, whose signers the admin's key was
    one of."""
    chain = Chain.connect(system.rpc_url, account_lock=account_lock(system.engine))
    ledger = ReceivableLedger(chain, system.deployment.address_of(ReceivableLedger.NAME))
    settings = system.settings
    services = Services.build(
        system.engine,
        chain,
        ledger,
        system.secrets,
        settings.confirmations,
        settings.write_index_timeout,
    )
    return create_app(system.settings, services)


def run_until_signalled(system: Running, app: FastAPI) -> None:
    """Runs the indexer and serves ``app`` until SIGINT or SIGTERM, then stops both.

    Both run in threads and the main thread only waits for a signal, so shutdown is one path
    whatever stops us (uvicorn in the main thread would re-raise the signal at an arbitrary point
    of our cleanup). Raises ConfigurationError when the API cannot start (its port is taken).
    """
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    settings = system.settings
    server = uvicorn.Server(
        uvicorn.Config(app, host=settings.api_host, port=settings.api_port, log_level="warning")
    )
    indexer = Indexer.from_settings(system.engine, system.chain, system.deployment, settings)
    threads = [
        threading.Thread(target=indexer.run_forever, args=(stop,), name="indexer"),
        threading.Thread(target=server.run, name="api"),
    ]
    try:
        for thread in threads:
            thread.start()
        while not stop.wait(0.2):
            if not all(thread.is_alive() for thread in threads):
                break
    finally:
        stop.set()
        server.should_exit = True
        for thread in threads:
            thread.join(timeout=30)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not server.started:
        raise ConfigurationError(
            f"the API could not listen on {settings.api_host}:{settings.api_port} (in use?)"
        )
