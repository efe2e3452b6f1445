"""docker-compose.yml cannot run here (no Docker engine); this checks it agrees with the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from registry.chain.node import DEV_CHAIN_IDS
from registry.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
REGISTRY_SERVICES = ("deploy", "indexer", "api")


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def setting_names() -> set[str]:
    prefix = Settings.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in Settings.model_fields}


def test_services_present() -> None:
    assert set(compose()["services"]) == {"ganache", "postgres", *REGISTRY_SERVICES}


def test_registry_services_use_only_known_settings() -> None:
    known = setting_names()
    for name in REGISTRY_SERVICES:
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
