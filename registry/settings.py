"""Settings, read from the environment (prefix ``CREDITREG_``) with embedded defaults.

The defaults run everything on one machine: a dev node the package starts itself, a SQLite file and
generated dev keys, all below ``state_dir``. Nothing is read at import time: call
:func:`get_settings` (cached) or build :class:`Settings` directly in tests.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["NodeKind", "Settings", "get_settings"]

NodeKind = Literal["anvil", "ganache"]


class Settings(BaseSettings):
    """Every setting, with its environment variable ``CREDITREG_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="CREDITREG_", extra="ignore", frozen=True)

    state_dir: Path = Field(
        default=Path(".creditreg"),
        description="Directory for the embedded defaults: SQLite file, manifest, dev secrets.",
    )
    rpc_url: str | None = Field(
        default=None,
        description="JSON-RPC URL of an Ethereum node. Unset: `creditreg up` starts a dev node.",
    )
    node: NodeKind = Field(default="anvil", description="Dev node to start when rpc_url is unset.")
    node_block_time: int = Field(
        default=0, ge=0, description="Dev node block time in seconds; 0 mines on each transaction."
    )
    node_state_interval: int = Field(
        # Each save writes the whole chain: every second cost a fifth of the API's write
        # throughput in bench/api.py once the chain held a few thousand receivables.
        default=5,
        ge=0,
        description="Seconds between the dev node's saves of its chain (anvil; 0: on exit only). "
        "A hard kill loses at most the last interval's blocks.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the index. Unset: sqlite file registry.db in state_dir.",
    )
    manifest_path: Path | None = Field(
        default=None,
        description="Deployment manifest. Unset: deployment.json in state_dir.",
    )
    secrets_path: Path | None = Field(
        default=None,
        description="The API's secrets (the institutions' API keys, and the keystores of their "
        "signing keys and of the fingerprint keys; never the admin's key). Unset: secrets.json "
        "in state_dir, generated on first `up`.",
    )
    admin_secrets_path: Path | None = Field(
        default=None,
        description="Names the keystore of the consortium admin's (deployer's) key, read by `up` "
        "and `deploy` only, never by `serve`. Unset: admin-secrets.json in state_dir, generated "
        "on first `up`.",
    )
    keystore_password: SecretStr | None = Field(
        default=None,
        description="Unlocks every keystore (registry.keystore). Unset: the file "
        "keystore_password_file names, else the dev password file in state_dir.",
    )
    keystore_password_file: Path | None = Field(
        default=None,
        description="A file whose first line is the keystore password (a Docker secret), read "
        "when keystore_password is unset.",
    )
    keystore_scrypt_n: int | None = Field(
        default=None,
        ge=2,
        description="scrypt cost N (a power of two) of the keystores written from now on. Unset: "
        "2**17, or 2**12 under the generated dev password.",
    )
    api_host: str = Field(default="127.0.0.1", description="Address the API listens on.")
    api_port: int = Field(default=8000, ge=0, le=65535, description="Port the API listens on.")
    max_request_bytes: int = Field(
        default=1024 * 1024,
        ge=1,
        description="Largest request body the API accepts, in bytes; larger ones are refused "
        "with 413 before they are read.",
    )
    # Per-key budgets (api/rate_limits.py): a token bucket per API key and budget, kept in the API
    # process (each worker of `serve --workers N` keeps its own). The defaults sit well above what
    # bench/api.py drives through the dev stack's two bank keys; they stop a runaway client, they
    # do not ration a working one.
    rate_limit_per_second: float = Field(
        default=1000.0,
        ge=0,
        description="Requests per second each API key may make, sustained (every route that takes "
        "a key); 0 turns the budget off.",
    )
    rate_limit_burst: int = Field(
        default=2000,
        ge=1,
        description="Requests each API key may make at once, beyond the sustained rate.",
    )
    write_rate_limit_per_second: float = Field(
        default=500.0,
        ge=0,
        description="Writes per second (register, finance, repay: each sends a transaction) each "
        "API key may make, sustained, within its request budget; 0 turns the budget off.",
    )
    write_rate_limit_burst: int = Field(
        default=1000,
        ge=1,
        description="Writes each API key may make at once, beyond the sustained write rate.",
    )
    confirmations: int = Field(
        default=0, ge=0, description="Blocks the indexer stays behind the head (0 on a dev chain)."
    )
    write_index_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a write waits for the index to reach its block before it is "
        "answered 503 index-behind (the same request with the same Idempotency-Key then gets "
        "the answer once the index is there).",
    )
    index_chunk_size: int = Field(
        default=2000, ge=1, description="Blocks per eth_getLogs request of the indexer."
    )
    poll_interval: float = Field(
        # A write's answer waits for the index (read your writes), so the indexer looks for new
        # blocks often: one eth_blockNumber per poll.
        default=0.05,
        gt=0,
        description="Seconds between indexer polls when it has caught up.",
    )
    verified_advance_rate_bps: int = Field(
        # SPEC's example policy: attested declarations finance at 90%, others at 50%.
        default=9_000,
        ge=0,
        le=10_000,
        description="Advance rate for attested declarations (and the face value) set at "
        "deployment, basis points.",
    )
    unverified_advance_rate_bps: int = Field(
        default=5_000,
        ge=0,
        le=10_000,
        description="Advance rate for declarations no verifier attested, set at deployment, basis "
        "points; at most the verified rate (0: they carry no financing).",
    )
    solc_version: str = Field(default="0.8.28", description="Pinned Solidity compiler version.")
    solc_binary: Path | None = Field(
        default=None,
        description="solc executable. Unset: a native solc on PATH of the pinned version, else "
        "the npm solc package through scripts/solc-wasm.",
    )

    @model_validator(mode="after")
    def _unverified_rate_at_most_verified(self) -> Settings:
        # The ledger refuses the opposite at deployment; say so before any node is started.
        if self.unverified_advance_rate_bps > self.verified_advance_rate_bps:
            raise ValueError(
                "unverified_advance_rate_bps must be at most verified_advance_rate_bps"
            )
        return self

    @property
    def node_state_dir(self) -> Path:
        """Where the dev node started by `up` keeps its chain across restarts."""
        return self.state_dir / "chain"

    @property
    def embedded_database_path(self) -> Path:
        """The SQLite file used when no database_url is set."""
        return self.state_dir / "registry.db"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.embedded_database_path}"

    @property
    def resolved_manifest_path(self) -> Path:
        return self.manifest_path or self.state_dir / "deployment.json"

    @property
    def resolved_secrets_path(self) -> Path:
        return self.secrets_path or self.state_dir / "secrets.json"

    @property
    def resolved_admin_secrets_path(self) -> Path:
        return self.admin_secrets_path or self.state_dir / "admin-secrets.json"

    @property
    def dev_keystore_password_path(self) -> Path:
        """The dev password, generated by `up` and `deploy` when no password is configured."""
        return self.state_dir / "keystore-password"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
