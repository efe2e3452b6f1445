"""``creditreg backup`` and ``restore``: a dev registry moved to another machine, whole.

A backup is one ``.tar.gz`` of what the state directory holds for the registry: the dev node's
saved chain (``chain/``), the deployment manifest, the API's and the admin's secrets files with
their keystores (encrypted; the keystore password is never put in a backup: carry it apart), and
the embedded SQLite index, copied through SQLite's online backup so that a running indexer's
writes never tear it. Restored into an empty state directory, ``up`` goes on from it as from its
own last stop.

A configured node (``CREDITREG_RPC_URL``) keeps its own chain, and a configured database
(``CREDITREG_DATABASE_URL``) is backed up with its own tools (``pg_dump``): neither is in the
archive, and :func:`backup` says so.
"""

from __future__ import annotations

import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from registry.errors import ConfigurationError
from registry.keystore import KEYSTORE_DIR
from registry.settings import Settings

__all__ = ["backup", "restore"]

INDEX_NAME = "registry.db"


def _members(settings: Settings) -> Iterator[tuple[Path, str]]:
    """The files and directories to archive, with their names in the archive."""
    state = settings.state_dir
    for path, name in (
        (settings.node_state_dir, "chain"),
        (settings.resolved_manifest_path, "deployment.json"),
        (settings.resolved_secrets_path, "secrets.json"),
        (settings.resolved_admin_secrets_path, "admin-secrets.json"),
        (state / KEYSTORE_DIR, KEYSTORE_DIR),
    ):
        if path.exists():
            yield path, name


def backup(settings: Settings, archive: Path) -> list[str]:
    """Writes the registry of ``settings``' state directory to ``archive``; returns what was
    left out and why (a configured node or database)."""
    left_out = []
    if settings.rpc_url is not None:
        left_out.append(f"the chain of {settings.rpc_url}: the node keeps it")
    if settings.database_url is not None:
        left_out.append("the configured index database: back it up with its own tools (pg_dump)")
    if not settings.resolved_manifest_path.is_file():
        raise ConfigurationError(f"nothing to back up in {settings.state_dir}: no deployment yet")
    with tempfile.TemporaryDirectory() as scratch, tarfile.open(archive, "w:gz") as tar:
        for path, name in _members(settings):
            tar.add(path, arcname=name)
        if settings.database_url is None and settings.embedded_database_path.is_file():
            copy = Path(scratch) / INDEX_NAME
            with (
                sqlite3.connect(settings.embedded_database_path) as source,
                sqlite3.connect(copy) as target,
            ):
                source.backup(target)
            tar.add(copy, arcname=INDEX_NAME)
    archive.chmod(0o600)  # the secrets files are in it
    return left_out


def restore(settings: Settings, archive: Path) -> None:
    """Unpacks ``archive`` into ``settings``' state directory, which must hold no registry yet
    (no manifest, no saved chain): a restore never overwrites one."""
    state = settings.state_dir
    if settings.resolved_manifest_path.exists() or settings.node_state_dir.exists():
        raise ConfigurationError(
            f"{state} holds a registry already; restore into an empty state directory "
            "(CREDITREG_STATE_DIR)"
        )
    state.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        # The "data" filter refuses absolute paths, links out of the directory and device files.
        tar.extractall(state, filter="data")
