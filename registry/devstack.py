"""Brings a fresh chain to a usable state: funded dev keys, deployed contracts, granted roles.

Used by ``creditreg up`` and ``creditreg deploy`` on dev nodes, and by the tests. On a consortium
network the accounts are funded and roles granted by its operators instead; only :func:`deploy` and
:func:`grant_roles` apply there.
"""

from __future__ import annotations

from registry.chain.client import Chain
from registry.chain.deploy import Deployment, deploy
from registry.chain.ledger import LENDER_ROLE, ReceivableLedger
from registry.credentials import DevSecrets, Role
from registry.errors import ConfigurationError

__all__ = ["DEV_FUNDING_WEI", "bootstrap", "fund_dev_accounts", "grant_roles"]

DEV_FUNDING_WEI = 100 * 10**18  # ganache gives each of its accounts 1,000 ether


def fund_dev_accounts(chain: Chain, secrets: DevSecrets) -> None:
    """Sends ether from the node's own first account (dev nodes hold unlocked, funded accounts)."""
    node_accounts = chain.w3.eth.accounts
    if not node_accounts:
        raise ConfigurationError("the node holds no unlocked account to fund dev keys from")
    addresses = {secrets.deployer.address} | {i.signer.address for i in secrets.institutions}
    for address in sorted(addresses):
        if chain.w3.eth.get_balance(address) < DEV_FUNDING_WEI // 2:
            chain.send_value(node_accounts[0], address, DEV_FUNDING_WEI)


def grant_roles(ledger: ReceivableLedger, secrets: DevSecrets) -> None:
    for institution in secrets.institutions:
        if institution.role is Role.LENDER and not ledger.has_role(
            LENDER_ROLE, institution.signer.address
        ):
            ledger.grant_role(secrets.deployer, LENDER_ROLE, institution.signer.address)


def bootstrap(chain: Chain, secrets: DevSecrets, advance_rate_bps: int) -> Deployment:
    """Funds the dev keys, deploys every contract and grants each bank its role."""
    fund_dev_accounts(chain, secrets)
    deployment = deploy(chain, secrets.deployer, advance_rate_bps)
    grant_roles(ReceivableLedger(chain, deployment.address_of("ReceivableLedger")), secrets)
    return deployment
