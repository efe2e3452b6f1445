"""The whole system on one machine, as ``creditreg up`` runs it: dev node, deployment, index, API.

This is where the core (:mod:`registry`) and the HTTP API (:mod:`api`) are put together; neither
imports the other's way up.

On embedded defaults the dev node keeps its chain under the state directory
(:attr:`~registry.settings.Settings.node_state_dir`), so a start goes on with the same deployment
and the same SQLite index as the last one: the records survive a restart. After a hard kill the
saved chain may be a few seconds behind the index; the indexer rolls the index back to the
chain's head, as after a reorganization, before the API serves. ``fresh`` (``up --fresh``)
forgets the chain, the manifest and the embedded index on purpose; a new deployment starts a
fresh index in any case (an index describes one deployment). The secrets files persist, so API
keys stay the same from one run to the next.

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
from registry.chain.node import DevNode, NodeState
from registry.connect import connect_chain, deploy_or_reuse, dev_secrets
from registry.contracts.deploy import Deployment
from registry.credentials import ApiSecrets
from registry.db import create_schema, opened_engine
from registry.db.locks import account_lock
from registry.errors import ConfigurationError
from registry.indexer import Indexer
from registry.settings import Settings

__all__ = ["Running", "api_for", "forget_dev_chain", "run_until_signalled", "running_system"]


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
    secrets = dev_secrets(settings)
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


def forget_dev_chain(settings: Settings) -> None:
    """Forgets the dev node's saved chain, the deployment on it and the embedded index: the next
    start is a new registry. Never touches a configured node or database."""
    if settings.rpc_url is not None:
        return
    NodeState(settings.node_state_dir).clear()
    if settings.manifest_path is None:
        settings.resolved_manifest_path.unlink(missing_ok=True)
    _reset_embedded_index(settings)


@contextlib.contextmanager
def running_system(settings: Settings, *, fresh: bool = False) -> Iterator[Running]:
    """Starts (or connects to) the chain, deploys if needed and prepares the index database.
    ``fresh``: forget the dev chain kept from earlier runs first (:func:`forget_dev_chain`).

    Stops the dev node it started on exit, whatever happened.
    """
    node: DevNode | None = None
    if fresh:
        forget_dev_chain(settings)
    if settings.rpc_url is None:
        settings.node_state_dir.mkdir(parents=True, exist_ok=True)
        state = NodeState(settings.node_state_dir, settings.node_state_interval)
        node = DevNode(settings.node, settings.node_block_time, state=state).start()
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
    settings = system.settings
    services = Services.build(
        system.engine,
        chain,
        system.deployment,
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
    # Before the API answers, the index agrees with the chain: after a hard kill the saved chain
    # may be behind the index, which this first step rolls back (as after a reorganization).
    indexer.advance()
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
