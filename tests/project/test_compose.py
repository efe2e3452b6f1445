"""docker-compose.yml cannot run here (no Docker engine); this checks it agrees with the code."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import rlp  # type: ignore[import-untyped]
import yaml
from eth_keys import keys
from sqlalchemy.engine import make_url

from registry.chain.node import DEV_CHAIN_IDS
from registry.credentials import DevSecrets
from registry.settings import Settings
from tests.keystores import cheap_keystores

ROOT = Path(__file__).resolve().parents[2]
REGISTRY_SERVICES = ("deploy", "indexer", "api")
NODES = ("besu-1", "besu-2", "besu-3", "besu-4")
MEMBER_SERVICES = ("member-deploy", "member-indexer", "member-api")
CONSORTIUM = {*NODES, "member-postgres", *MEMBER_SERVICES}


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def setting_names() -> set[str]:
    prefix = Settings.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in Settings.model_fields}


def test_services_present() -> None:
    services = compose()["services"]
    assert set(services) == {"ganache", "postgres", *REGISTRY_SERVICES, *CONSORTIUM}
    profiled = {name for name, service in services.items() if service.get("profiles")}
    assert profiled == CONSORTIUM
    assert all(services[name]["profiles"] == ["consortium"] for name in CONSORTIUM)


def test_registry_services_use_only_known_settings() -> None:
    known = setting_names()
    for name in (*REGISTRY_SERVICES, *MEMBER_SERVICES):
        environment = compose()["services"][name]["environment"]
        unknown = set(environment) - known
        assert not unknown, f"{name} sets variables no setting reads: {unknown}"
        # Every value must parse as the setting it configures.
        Settings(
            **{key.removeprefix("CREDITREG_").lower(): value for key, value in environment.items()}
        )


def test_services_point_at_the_compose_chain_and_database() -> None:
    services = compose()["services"]
    ganache_port = services["ganache"]["ports"][0].split(":")[1]
    postgres = services["postgres"]["environment"]
    for name in REGISTRY_SERVICES:
        environment = services[name]["environment"]
        assert environment["CREDITREG_RPC_URL"] == f"http://ganache:{ganache_port}"
        url = make_url(environment["CREDITREG_DATABASE_URL"])
        assert (url.host, url.port, url.username, url.password, url.database) == (
            "postgres",
            5432,
            postgres["POSTGRES_USER"],
            postgres["POSTGRES_PASSWORD"],
            postgres["POSTGRES_DB"],
        )


def test_ganache_runs_our_chain_id_and_hardfork() -> None:
    command = compose()["services"]["ganache"]["command"]
    assert f"--chain.chainId={DEV_CHAIN_IDS['ganache']}" in command
    assert "--chain.hardfork=shanghai" in command


def test_api_port_published_matches_its_setting() -> None:
    api = compose()["services"]["api"]
    port = int(api["environment"]["CREDITREG_API_PORT"])
    assert f"{port}:{port}" in api["ports"]
    assert api["command"] == ["serve"]


def test_image_entrypoint_is_the_cli() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["creditreg"]' in dockerfile
    commands = {compose()["services"][name]["command"][0] for name in REGISTRY_SERVICES}
    assert commands == {"deploy", "index", "serve"}


def test_image_copies_every_package_it_installs() -> None:
    # The image installs the project without its work tree: a package left out of the COPY lines
    # installs as nothing and the entrypoint fails on import.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = project["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = set(re.findall(r"^COPY (\w+) \./\1$", (ROOT / "Dockerfile").read_text(), re.M))
    assert {name.rstrip("*") for name in packages} <= copied


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / lock).read_text()
    return {m[0].lower(): m[1] for m in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)$", text, re.M)}


def test_the_image_installs_what_runs_and_no_dev_tool() -> None:
    """The image installs the runtime lock: every runtime dependency pinned as in the full lock,
    and none of the test and analysis tools."""
    assert (
        "pip install --no-cache-dir -r requirements-runtime.lock"
        in (ROOT / "Dockerfile").read_text()
    )
    runtime, full = _pins("requirements-runtime.lock"), _pins("requirements.lock")
    assert {"web3", "fastapi", "sqlalchemy", "uvicorn"} <= set(runtime)
    assert not {"pytest", "slither-analyzer", "mypy", "ruff", "hypothesis", "schemathesis"} & set(
        runtime
    )
    assert {name: full.get(name) for name in runtime} == runtime


def test_the_keystore_password_goes_to_deploy_and_the_api_only() -> None:
    data = compose()
    (name,) = data["secrets"]
    default = re.fullmatch(r"\$\{KEYSTORE_PASSWORD_FILE:-(.+)\}", data["secrets"][name]["file"])
    assert default is not None
    assert (ROOT / default.group(1)).read_text().strip()
    for service in REGISTRY_SERVICES:
        definition = data["services"][service]
        environment = definition["environment"]
        if service == "indexer":
            assert "secrets" not in definition
            assert not any(key.startswith("CREDITREG_KEYSTORE") for key in environment)
            continue
        assert definition["secrets"] == [name]
        assert environment["CREDITREG_KEYSTORE_PASSWORD_FILE"] == f"/run/secrets/{name}"


def test_the_member_points_at_its_own_node_and_database() -> None:
    services = compose()["services"]
    besu = services["besu-1"]["environment"]
    postgres = services["member-postgres"]["environment"]
    for name in MEMBER_SERVICES:
        environment = services[name]["environment"]
        assert environment["CREDITREG_RPC_URL"] == f"http://besu-1:{besu['BESU_RPC_HTTP_PORT']}"
        assert environment["CREDITREG_CONFIRMATIONS"] == "0"  # QBFT: final once mined
        url = make_url(environment["CREDITREG_DATABASE_URL"])
        assert (url.host, url.username, url.password, url.database) == (
            "member-postgres",
            postgres["POSTGRES_USER"],
            postgres["POSTGRES_PASSWORD"],
            postgres["POSTGRES_DB"],
        )


def test_the_generated_network_is_the_one_the_nodes_run(tmp_path: Path) -> None:
    """scripts/consortium_network.py writes what the Besu services read: four node keys, each
    the key of one service; a QBFT genesis whose extraData names exactly those four validators,
    no charge for gas; allowlists of the four enodes and the accounts of a creditreg state
    directory."""
    state = tmp_path / "state"
    secrets = DevSecrets.generate()
    secrets.save(state / "secrets.json", state / "admin-secrets.json", cheap_keystores())
    network = tmp_path / "consortium"
    subprocess.run(
        [
            *(sys.executable, str(ROOT / "scripts" / "consortium_network.py")),
            *("--to", str(network), "--allow-from", str(state)),
        ],
        check=True,
        capture_output=True,
    )
    services = compose()["services"]
    validators = []
    for n, name in enumerate(NODES, start=1):
        environment = services[name]["environment"]
        assert environment["BESU_MIN_GAS_PRICE"] == "0"
        assert "./docker/consortium:/config:ro" in services[name]["volumes"]
        key_path = environment["BESU_NODE_PRIVATE_KEY_FILE"]
        assert key_path == f"/config/member-{n}/key"
        key = keys.PrivateKey(bytes.fromhex((network / f"member-{n}" / "key").read_text()[2:]))
        validators.append(key.public_key.to_canonical_address())
    genesis = json.loads((network / "genesis.json").read_text())
    vanity, named, votes, round_, seals = rlp.decode(bytes.fromhex(genesis["extraData"][2:]))
    assert (vanity, votes, round_, seals) == (b"\0" * 32, [], b"", [])
    assert named == validators
    assert genesis["config"]["zeroBaseFee"] is True
    assert genesis["config"]["qbft"]["blockperiodseconds"] == 2
    permissions = tomllib.loads((network / "permissions_config.toml").read_text())
    assert len(permissions["nodes-allowlist"]) == len(NODES)
    accounts = {secrets.deployer.address, *(i.account for i in secrets.institutions)}
    assert set(permissions["accounts-allowlist"]) == accounts
    assert (
        json.loads((network / "static-nodes.json").read_text()) == (permissions["nodes-allowlist"])
    )
