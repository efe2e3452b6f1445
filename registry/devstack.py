"""Brings a fresh chain to a usable state: funded dev keys, deployed contracts, granted roles.

Used by ``creditreg up`` and ``creditreg deploy`` on dev nodes, and by the tests. On a consortium
network the accounts are funded and roles granted by its operators instead; only :func:`deploy` and
:func:`grant_roles` apply there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eth_utils.crypto import keccak
from hexbytes import HexBytes

from registry.chain.artifacts import load_artifact
from registry.chain.client import Chain
from registry.chain.deploy import Deployment, deploy
from registry.chain.ledger import AdvanceRates
from registry.credentials import DevSecrets, Role
from registry.errors import ConfigurationError

__all__ = ["CONTRACT_ROLES", "DEV_FUNDING_WEI", "bootstrap", "fund_dev_accounts", "grant_roles"]

DEV_FUNDING_WEI = 100 * 10**18  # ganache gives each of its accounts 1,000 ether

CONTRACT_ROLES: Mapping[str, Mapping[Role, str]] = {
    # VERIFIER_ROLE applies once the ledger declares it (attested declarations); until then the
    # ledger's ABI has no such role and customs gets nothing there.
    "ReceivableLedger": {Role.LENDER: "LENDER_ROLE", Role.VERIFIER: "VERIFIER_ROLE"},
    "PledgeRegistry": {
        Role.LENDER: "LENDER_ROLE",
        Role.REGISTRAR: "REGISTRAR_ROLE",
        Role.ENFORCER: "ENFORCER_ROLE",
    },
    # Registrars bind enterprises to their accounts; the operator anchors the read log.
    "ConsentRegistry": {Role.REGISTRAR: "REGISTRAR_ROLE", Role.OPERATOR: "OPERATOR_ROLE"},
}
"""Which institutions get which role on which contract: only the roles each contract checks for
them (every contract inherits all the role constants, most of which it never uses)."""


def fund_dev_accounts(chain: Chain, secrets: DevSecrets) -> None:
    """Sends ether from the node's own first account (dev nodes hold unlocked, funded accounts)."""
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
        for role, constant in roles.items():
            if not _declares(abi, constant):
                continue
            role_id = keccak(text=constant)
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
