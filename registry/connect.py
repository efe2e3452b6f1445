"""Connecting to a configured deployment: the node (once it answers), the manifest's contracts on
it, and on a dev chain the deployment itself when there is none yet.

Every entry point that talks to a deployment starts here: the CLI's commands, the API's
:meth:`~api.services.Services.from_settings` and ``creditreg up``.
"""

from __future__ import annotations

from registry.chain.client import Chain
from registry.chain.node import wait_for_rpc
from registry.contracts.deploy import CONTRACT_NAMES, Deployment
from registry.contracts.ledger import AdvanceRates
from registry.credentials import DevSecrets
from registry.db.locks import AccountLock
from registry.devstack import bootstrap, fund_dev_accounts, grant_roles
from registry.errors import ConfigurationError
from registry.keystore import Keystores
from registry.settings import Settings

__all__ = [
    "connect_chain",
    "connect_deployment",
    "deploy_or_reuse",
    "dev_secrets",
    "enrol_members",
]


def connect_chain(rpc_url: str, account_lock: AccountLock | None = None) -> Chain:
    """A connection to the node at ``rpc_url`` once it answers; ``account_lock`` where other
    processes send from the same accounts (:mod:`registry.db.locks`)."""
    wait_for_rpc(rpc_url, timeout=60)
    return Chain.connect(rpc_url, account_lock=account_lock)


def connect_deployment(
    settings: Settings, missing_rpc_hint: str, account_lock: AccountLock | None = None
) -> tuple[Chain, Deployment]:
    """The configured node and the manifest's deployment on it.

    Raises :class:`ConfigurationError` when no node is configured (``missing_rpc_hint`` says what
    to do), the manifest is missing, or it describes another chain.
    """
    if settings.rpc_url is None:
        raise ConfigurationError(f"set CREDITREG_RPC_URL{missing_rpc_hint}")
    deployment = Deployment.load(settings.resolved_manifest_path)
    chain = connect_chain(settings.rpc_url, account_lock)
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


def dev_secrets(settings: Settings) -> DevSecrets:
    """The secrets files ``settings`` name, loaded (or generated, completed or migrated), their
    keystores unlocked with the configured password, or the dev password, generated if need be:
    what `up`, `deploy` and `init` work from."""
    return DevSecrets.load_or_generate(
        settings.resolved_secrets_path,
        settings.resolved_admin_secrets_path,
        Keystores.from_settings(settings, generate_password=True),
    )


def enrol_members(chain: Chain, deployment: Deployment, secrets: DevSecrets) -> None:
    """Every institution of ``secrets`` granted its roles on ``deployment`` and, on a dev node
    (one that holds unlocked accounts), funded: what a new deployment gives its institutions,
    given to those onboarded since it was made. Idempotent: nothing is sent for what is done."""
    if chain.w3.eth.accounts:
        fund_dev_accounts(chain, secrets)
    grant_roles(chain, deployment, secrets)


def deploy_or_reuse(
    settings: Settings, chain: Chain, secrets: DevSecrets
) -> tuple[Deployment, bool]:
    """The manifest's deployment if it exists on this chain, with every institution of
    ``secrets`` granted its roles (those onboarded since it was made too); else a new one
    (manifest rewritten).

    Returns the deployment and whether it is new.
    """
    path = settings.resolved_manifest_path
    if path.is_file():
        existing = Deployment.load(path)
        if _deployed(chain, existing):
            enrol_members(chain, existing, secrets)
            return existing, False
    rates = AdvanceRates(settings.verified_advance_rate_bps, settings.unverified_advance_rate_bps)
    deployment = bootstrap(chain, secrets, rates)
    deployment.save(path)
    return deployment, True
