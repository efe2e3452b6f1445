"""Brings a fresh chain to a usable state: funded dev keys, deployed contracts, granted roles.

Used by ``creditreg up`` and ``creditreg deploy`` on dev nodes, and by the tests. On a consortium
network the accounts are funded and roles granted by its operators instead; only :func:`deploy` and
:func:`grant_roles` apply there.
"""

from __future__ import annotations

from typing import Any

from hexbytes import HexBytes

from registry.artifacts import load_artifact
from registry.chain.client import Chain
from registry.contracts.deploy import Deployment, deploy
from registry.contracts.ledger import AdvanceRates
from registry.contracts.roles import CONTRACT_ROLES, ROLE_IDS
from registry.credentials import DevSecrets
from registry.errors import ConfigurationError

__all__ = ["DEV_FUNDING_WEI", "bootstrap", "fund_dev_accounts", "grant_roles"]

DEV_FUNDING_WEI = 100 * 10**18  # ganache gives each of its accounts 1,000 ether


def fund_dev_accounts(chain: Chain, secrets: DevSecrets) -> None:
    """Sends ether from the node's own first account (dev nodes hold unlocked, funded accounts).
    Nothing on a network that charges no gas (a consortium's zero base fee and gas price): its
    accounts need no ether."""
    if chain.charges_no_gas():
        return
    node_accounts = chain.w3.eth.accounts
    if not node_accounts:
        raise ConfigurationError("the node holds no unlocked account to fund dev keys from")
    addresses = {secrets.deployer.address} | {i.signer.address for i in secrets.institutions}
    for address in sorted(addresses):
        if chain.w3.eth.get_balance(address) < DEV_FUNDING_WEI // 2:
            chain.send_value(node_accounts[0], address, DEV_FUNDING_WEI)


def _declares(abi: list[dict[str, Any]], constant: str) -> bool:
    return any(item["type"] == "function" and item.get("name") == constant for item in abi)


def grant_roles(chain: Chain, deployment: Deployment, secrets: DevSecrets) -> None:
    """Grants each institution its role on each contract (:data:`CONTRACT_ROLES`) that it lacks,
    in one multicall transaction per contract."""
    for name, roles in CONTRACT_ROLES.items():
        if name not in deployment.contracts:
            continue
        abi = load_artifact(name).abi
        address = chain.w3.to_checksum_address(deployment.address_of(name))
        contract = chain.w3.eth.contract(address=address, abi=abi)
        calls = []
        for role in roles:
            if not _declares(abi, role.chain_role):
                continue
            role_id = ROLE_IDS[role.chain_role]
            for institution in secrets.with_role(role):
                account = institution.signer.address
                if not chain.call(contract.functions.hasRole(role_id, account)):
                    calls.append(contract.encode_abi("grantRole", args=[role_id, account]))
        if calls:
            data = [bytes(HexBytes(call)) for call in calls]
            chain.transact(secrets.deployer, contract.functions.multicall(data))


def bootstrap(chain: Chain, secrets: DevSecrets, rates: AdvanceRates) -> Deployment:
    """Funds the dev keys, deploys every contract (the ledger with the advance ``rates``) and
    grants each institution its roles."""
    fund_dev_accounts(chain, secrets)
    deployment = deploy(chain, secrets.deployer, rates)
    grant_roles(chain, deployment, secrets)
    return deployment
