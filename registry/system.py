"""The whole system on one machine, as ``creditreg up`` runs it: dev node, deployment, index, API.

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
from typing import Any

import uvicorn
from sqlalchemy import Engine

from registry.chain.client import Chain
from registry.chain.deploy import CONTRACT_NAMES, Deployment
from registry.chain.ledger import AdvanceRates
from registry.chain.node import DevNode, wait_for_rpc
from registry.credentials import ApiSecrets, DevSecrets
from registry.db import create_schema, opened_engine
from registry.devstack import bootstrap
from registry.errors import ConfigurationError
from registry.indexer import Indexer
from registry.settings import Settings

__all__ = [
    "Running",
    "connect_chain",
    "connect_deployment",
    "deploy_or_reuse",
    "run_until_signalled",
    "running_system",
]


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


def connect_chain(rpc_url: str) -> Chain:
    wait_for_rpc(rpc_url, timeout=60)
    return Chain.connect(rpc_url)


def connect_deployment(settings: Settings, missing_rpc_hint: str) -> tuple[Chain, Deployment]:
    """The configured node and the manifest's deployment on it.

    Raises :class:`ConfigurationError` when no node is configured (``missing_rpc_hint`` says what
    to do), the manifest is missing, or it describes another chain.
    """
    if settings.rpc_url is None:
        raise ConfigurationError(f"set CREDITREG_RPC_URL{missing_rpc_hint}")
    deployment = Deployment.load(settings.resolved_manifest_path)
    chain = connect_chain(settings.rpc_url)
    if chain.chain_id != deployment.chain_id:
        raise ConfigurationError(
            f"the manifest describes chain {deployment.chain_id}, the node serves "
            f"chain {chain.chain_id}"
        )
    return chain, deployment


def _deployed(chain: Chain, deployment: Deployment) -> bool:
    """The manifest describes every contract of ours, and they exist on this chain."""
    if deployment.chain_id != chain.chain_id or set(CONTRACT_NAMES) - set(deployment.contracts):
        return False
    return all(
        len(chain.w3.eth.get_code(chain.w3.to_checksum_address(c.address))) > 0
        for c in deployment.contracts.values()
    )


def deploy_or_reuse(
    settings: Settings, chain: Chain, secrets: DevSecrets
) -> tuple[Deployment, bool]:
    """The manifest's deployment if it exists on this chain, else a new one (manifest rewritten).

    Returns the deployment and whether it is new.
    """
    path = settings.resolved_manifest_path
    if path.is_file():
        existing = Deployment.load(path)
        if _deployed(chain, existing):
            return existing, False
    rates = AdvanceRates(settings.verified_advance_rate_bps, settings.unverified_advance_rate_bps)
    deployment = bootstrap(chain, secrets, rates)
    deployment.save(path)
    return deployment, True


def _deploy(settings: Settings, chain: Chain) -> tuple[Deployment, bool, ApiSecrets]:
    """Loads (or generates, or migrates) the dev secrets, deploys if needed, and returns the
    API's part of the secrets: the admin's key goes out of scope with this call."""
    secrets = DevSecrets.load_or_generate(
        settings.resolved_secrets_path, settings.resolved_admin_secrets_path
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


def run_until_signalled(system: Running, app: Any) -> None:
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
