"""The ``creditreg`` command line: ``up`` runs the whole system; the others run one part each.

Commands import what they use inside their bodies, so ``creditreg --help`` and ``compile`` stay
fast, and the ``registry`` package does not import the ``api`` package at module level (the API is
built on the registry, not the other way round; only this entry point wires the two).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from registry.errors import RegistryError
from registry.settings import Settings, get_settings

__all__ = ["app"]

app = typer.Typer(
    help="Credit registry and trade-finance ledger.", no_args_is_help=True, add_completion=False
)
console = Console()


def _fail(error: RegistryError) -> typer.Exit:
    console.print(f"[bold red]error:[/] {error.message}")
    return typer.Exit(code=1)


@app.command()
def up() -> None:
    """Start a dev chain (unless CREDITREG_RPC_URL is set), deploy, index and serve until Ctrl-C."""
    from api.app import create_app
    from api.services import Services
    from registry.system import run_until_signalled, running_system

    settings = get_settings()
    try:
        with running_system(settings) as system:
            app_ = create_app(settings, Services.from_running(system))
            _print_banner(system.rpc_url, settings, started_node=system.node is not None)
            run_until_signalled(system, app_)
    except RegistryError as error:
        raise _fail(error) from None
    console.print("stopped: API, indexer and dev node are down.")


def _print_banner(rpc_url: str, settings: Settings, *, started_node: bool) -> None:
    base = f"http://{settings.api_host}:{settings.api_port}"
    chain = f"{settings.node} dev node at {rpc_url}" if started_node else f"node at {rpc_url}"
    console.print(f"[bold green]creditreg is up[/]: {chain}")
    console.print(f"  index     {settings.resolved_database_url}")
    console.print(f"  API       {base}")
    console.print(f"  API docs  {base}/docs")
    console.print(f"  API keys  {settings.resolved_secrets_path} (dev secrets, mode 0600)")
    console.print("  Try it:   .venv/bin/creditreg demo   (in another terminal)")
    console.print("Press Ctrl-C to stop everything.")


@app.command()
def deploy() -> None:
    """Deploy the contracts to CREDITREG_RPC_URL (funding dev keys from the node's accounts) and
    write the manifest; reuses a manifest whose contracts already exist on that chain."""
    from registry.credentials import DevSecrets
    from registry.system import connect_chain, deploy_or_reuse

    settings = get_settings()
    if settings.rpc_url is None:
        console.print("[bold red]error:[/] set CREDITREG_RPC_URL (or use `creditreg up`)")
        raise typer.Exit(code=2)
    try:
        chain = connect_chain(settings.rpc_url)
        secrets = DevSecrets.load_or_generate(settings.resolved_secrets_path)
        deployment, new = deploy_or_reuse(settings, chain, secrets)
    except RegistryError as error:
        raise _fail(error) from None
    verb = "deployed" if new else "already deployed"
    for name, contract in deployment.contracts.items():
        console.print(f"{name} {verb} at {contract.address} (block {contract.block_number})")
    console.print(f"manifest: {settings.resolved_manifest_path}")


@app.command()
def index(
    once: Annotated[bool, typer.Option(help="Catch up with the chain, then exit.")] = False,
) -> None:
    """Run the indexer against the manifest's deployment."""
    from registry.chain.deploy import Deployment
    from registry.db import create_schema, make_engine
    from registry.indexer import Indexer
    from registry.system import connect_chain

    settings = get_settings()
    if settings.rpc_url is None:
        console.print("[bold red]error:[/] set CREDITREG_RPC_URL")
        raise typer.Exit(code=2)
    try:
        deployment = Deployment.load(settings.resolved_manifest_path)
        engine = make_engine(settings.resolved_database_url)
        create_schema(engine)
        indexer = Indexer.from_settings(
            engine, connect_chain(settings.rpc_url), deployment, settings
        )
        if once:
            indexer.run_until_caught_up()
            console.print(f"indexed up to block {indexer.status().indexed_block}")
            return
        stop = threading.Event()
        try:
            indexer.run_forever(stop)
        except KeyboardInterrupt:
            stop.set()
    except RegistryError as error:
        raise _fail(error) from None


@app.command()
def serve() -> None:
    """Serve the API for the manifest's deployment (the indexer runs separately)."""
    import uvicorn

    from api.app import create_app
    from api.services import Services

    settings = get_settings()
    try:
        services = Services.from_settings(settings)
    except RegistryError as error:
        raise _fail(error) from None
    uvicorn.run(create_app(settings, services), host=settings.api_host, port=settings.api_port)


@app.command()
def demo(
    api_url: Annotated[str | None, typer.Option(help="API base URL.")] = None,
    secrets: Annotated[
        Path | None, typer.Option(help="Secrets file with the banks' API keys.")
    ] = None,
) -> None:
    """Play a short scenario against a running API: one shipment, two invoices, two banks."""
    from registry.demo import run_demo

    settings = get_settings()
    url = api_url or f"http://{settings.api_host}:{settings.api_port}"
    try:
        run_demo(url, secrets or settings.resolved_secrets_path, console)
    except RegistryError as error:
        raise _fail(error) from None


@app.command(name="compile")
def compile_() -> None:
    """Compile contracts/ with the pinned solc and rewrite the committed artifacts."""
    from registry.chain.compiler import compile_contracts, find_solc, write_artifacts

    settings = get_settings()
    try:
        solc = find_solc(settings.solc_version, settings.solc_binary)
        written = write_artifacts(compile_contracts(solc, settings.solc_version))
    except RegistryError as error:
        raise _fail(error) from None
    for path in written:
        console.print(f"wrote {path}")


if __name__ == "__main__":
    app()
