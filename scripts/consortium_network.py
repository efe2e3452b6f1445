"""Generates the files of a four-member Hyperledger Besu QBFT network for docker-compose's
``consortium`` profile: each member's node key, the genesis (QBFT with the four validators in its
extraData, a 2 s block period, zero base fee: the network charges no gas), the node allowlist (only
the members' nodes connect) and the account allowlist (only the accounts named may send).

    .venv/bin/python scripts/consortium_network.py [--to docker/consortium] [--chain-id 2026]
        [--allow 0xACCOUNT ...] [--allow-from STATE_DIR ...]

``--allow-from`` reads the accounts of a creditreg state directory (``secrets.json`` and
``admin-secrets.json``, written by ``creditreg deploy`` or ``onboard``): the consortium admin and
every institution. Run it again after onboarding a member, and restart the nodes (or add the
account at run time with Besu's ``perm_addAccountsToAllowlist``). The node keys are secrets: the
output directory is for the operator's machine, never for the repository (``.gitignore``).

No Besu binary runs here; tests/project/test_compose.py generates a network and checks the genesis
and allowlists against the compose file and the keys.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import rlp  # type: ignore[import-untyped]
from eth_keys import keys
from eth_utils.address import to_checksum_address

MEMBERS = 4
P2P_PORT = 30303
BLOCK_PERIOD_SECONDS = 2
GAS_LIMIT = 30_000_000
DEFAULT_CHAIN_ID = 2026


def node_key() -> keys.PrivateKey:
    return keys.PrivateKey(os.urandom(32))


def qbft_extra_data(validators: list[str]) -> str:
    """QBFT's genesis extraData: RLP of [32 zero bytes, validators, no vote, round 0, no seals]."""
    encoded = rlp.encode([b"\0" * 32, [bytes.fromhex(v[2:]) for v in validators], [], 0, []])
    return "0x" + encoded.hex()


def genesis(chain_id: int, validators: list[str]) -> dict[str, object]:
    return {
        "config": {
            "chainId": chain_id,
            "berlinBlock": 0,
            "londonBlock": 0,
            "shanghaiTime": 0,
            "zeroBaseFee": True,
            "qbft": {
                "blockperiodseconds": BLOCK_PERIOD_SECONDS,
                "epochlength": 30000,
                "requesttimeoutseconds": 4 * BLOCK_PERIOD_SECONDS,
            },
        },
        "nonce": "0x0",
        "timestamp": "0x0",
        "gasLimit": hex(GAS_LIMIT),
        "difficulty": "0x1",
        "mixHash": "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365",
        "coinbase": "0x" + "00" * 20,
        "alloc": {},
        "extraData": qbft_extra_data(validators),
    }


def accounts_in(state: Path) -> list[str]:
    """The admin's and every institution's account in a creditreg state directory."""
    found = []
    admin = state / "admin-secrets.json"
    if admin.is_file():
        found.append(json.loads(admin.read_text())["deployer"]["account"])
    for institution in json.loads((state / "secrets.json").read_text())["institutions"]:
        found.append(institution["account"])
    return found


def generate(to: Path, chain_id: int, allowed: list[str]) -> dict[str, object]:
    """Writes the network's files under ``to``; returns what was generated (no private key)."""
    members = []
    for n in range(1, MEMBERS + 1):
        key = node_key()
        directory = to / f"member-{n}"
        directory.mkdir(parents=True, exist_ok=True)
        key_file = directory / "key"
        key_file.write_text(key.to_hex())
        key_file.chmod(0o600)
        public = key.public_key.to_hex()[2:]
        members.append(
            {
                "validator": key.public_key.to_checksum_address(),
                "enode": f"enode://{public}@besu-{n}:{P2P_PORT}",
            }
        )
    validators = [str(m["validator"]) for m in members]
    (to / "genesis.json").write_text(json.dumps(genesis(chain_id, validators), indent=2) + "\n")
    enodes = [str(m["enode"]) for m in members]
    accounts = sorted({to_checksum_address(a) for a in allowed})
    (to / "permissions_config.toml").write_text(
        f"nodes-allowlist={json.dumps(enodes)}\naccounts-allowlist={json.dumps(accounts)}\n"
    )
    (to / "static-nodes.json").write_text(json.dumps(enodes, indent=2) + "\n")
    return {"chain_id": chain_id, "validators": validators, "enodes": enodes, "accounts": accounts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--to", type=Path, default=Path("docker/consortium"))
    parser.add_argument("--chain-id", type=int, default=DEFAULT_CHAIN_ID)
    parser.add_argument("--allow", action="append", default=[], help="An account that may send.")
    parser.add_argument(
        "--allow-from", action="append", type=Path, default=[], help="A creditreg state dir."
    )
    args = parser.parse_args()
    allowed = [*args.allow, *(a for state in args.allow_from for a in accounts_in(state))]
    summary = generate(args.to, args.chain_id, allowed)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
