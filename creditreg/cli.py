"""The ``creditreg`` command line: ``up`` runs the whole system; the others run one part each.

Commands import what they use inside their bodies, so that ``creditreg --help`` and ``compile``
stay fast. Like :mod:`creditreg.system`, this sits above both the core (:mod:`registry`) and the
HTTP API (:mod:`api`): the only place that wires the two.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from registry.errors import ConfigurationError, RegistryError
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
def up(
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="Forget the dev chain kept from earlier runs (its deployment and the embedded "
            "index too) and start a new registry. Without it, up goes on where it stopped.",
        ),
    ] = False,
) -> None:
    """Start a dev chain (unless CREDITREG_RPC_URL is set), deploy, index and serve until Ctrl-C.
    The dev chain, its deployment and the index are kept under the state directory: the next
    `up` goes on with the same records."""
    from creditreg.system import api_for, run_until_signalled, running_system

    settings = get_settings()
    try:
        with running_system(settings, fresh=fresh) as system:
            app_ = api_for(system)
            _print_banner(system.rpc_url, settings, started_node=system.node is not None)
            run_until_signalled(system, app_)
    except RegistryError as error:
        raise _fail(error) from None
    console.print("stopped: API, indexer and dev node are down.")


def _print_banner(rpc_url: str, settings: Settings, *, started_node: bool) -> None:
    from registry.keystore import KEYSTORE_DIR

    base = f"http://{settings.api_host}:{settings.api_port}"
    chain = f"{settings.node} dev node at {rpc_url}" if started_node else f"node at {rpc_url}"
    console.print(f"[bold green]creditreg is up[/]: {chain}")
    if started_node:
        console.print(
            f"  chain     kept in {settings.node_state_dir}: the next `up` goes on from it "
            "(`up --fresh` starts a new registry)"
        )
    console.print(f"  index     {settings.resolved_database_url}")
    console.print(f"  API       {base}")
    console.print(f"  API docs  {base}/docs")
    console.print(f"  API keys  {settings.resolved_secrets_path} (dev secrets, mode 0600)")
    console.print(
        f"  admin key {settings.resolved_admin_secrets_path} (read to deploy, never by the API)"
    )
    console.print(
        f"  keystores {settings.resolved_secrets_path.parent / KEYSTORE_DIR} (the keys, encrypted)"
    )
    console.print(f"  password  {_password_note(settings)}")
    console.print("  Try it:   .venv/bin/creditreg demo   (in another terminal)")
    console.print("Press Ctrl-C to stop everything.")


def _password_note(settings: Settings) -> str:
    """Where the keystore password came from, never the password."""
    from registry.keystore import PASSWORD_FILE_VARIABLE, PASSWORD_VARIABLE, KeystorePassword

    password = KeystorePassword.from_settings(settings)
    if not password.is_dev:
        return f"from {password.source}"
    return (
        f"generated dev password in {settings.dev_keystore_password_path} (dev only: a real "
        f"deployment sets {PASSWORD_VARIABLE} or {PASSWORD_FILE_VARIABLE})"
    )


@app.command()
def onboard(
    name: Annotated[str, typer.Argument(help='The new member\'s name, e.g. "Bank C".')],
    role: Annotated[
        str, typer.Option(help="lender, registrar, verifier, enforcer or operator.")
    ] = "lender",
) -> None:
    """Add an institution to the consortium: a signing key (in a keystore) and an API key in the
    secrets file, and its role on the contracts. With CREDITREG_RPC_URL the role is granted now;
    on the embedded dev chain, by the next `up`. A running API picks the key up at its restart."""
    from registry.connect import connect_chain, enrol_members
    from registry.contracts.deploy import Deployment
    from registry.contracts.roles import Role
    from registry.credentials import DevSecrets
    from registry.keystore import Keystores

    settings = get_settings()
    try:
        member_role = Role(role)
    except ValueError:
        console.print(f"[bold red]error:[/] no role {role!r}")
        raise typer.Exit(code=2) from None
    try:
        keystores = Keystores.from_settings(settings, generate_password=True)
        paths = (settings.resolved_secrets_path, settings.resolved_admin_secrets_path)
        secrets = DevSecrets.load(*paths, keystores).with_institution(name, member_role)
        secrets.save(*paths, keystores)
        if settings.rpc_url is not None:
            deployment = Deployment.load(settings.resolved_manifest_path)
            enrol_members(connect_chain(settings.rpc_url), deployment, secrets)
    except RegistryError as error:
        raise _fail(error) from None
    account = secrets.institution(name).account
    console.print(f"onboarded {name} ({member_role}) with account {account}")
    console.print(f"  its API key is in {settings.resolved_secrets_path}")
    if settings.rpc_url is None:
        console.print("  its role is granted by the next `creditreg up` (restart a running one)")
    else:
        console.print("  its role is granted; restart `creditreg serve` to serve its API key")


@app.command()
def backup(
    archive: Annotated[Path, typer.Argument(help="The .tar.gz to write.")],
) -> None:
    """Write the dev registry (saved chain, manifest, secrets files and keystores, embedded index)
    to one archive, to move it to another machine. Best taken while `up` is stopped: a running
    node's chain is as of its last save."""
    from creditreg.backup import backup as write_backup

    try:
        left_out = write_backup(get_settings(), archive)
    except RegistryError as error:
        raise _fail(error) from None
    console.print(f"backed up to {archive} (mode 0600: it holds the encrypted keystores)")
    for what in left_out:
        console.print(f"  not in it: {what}")
    console.print("  the keystore password is never in it: carry it apart")


@app.command()
def restore(
    archive: Annotated[Path, typer.Argument(help="A .tar.gz written by `creditreg backup`.")],
) -> None:
    """Unpack a backup into the state directory, which must hold no registry yet; `up` then goes
    on from it."""
    from creditreg.backup import restore as read_backup

    settings = get_settings()
    try:
        read_backup(settings, archive)
    except RegistryError as error:
        raise _fail(error) from None
    console.print(f"restored into {settings.state_dir}: `creditreg up` goes on from it")


@app.command()
def init() -> None:
    """Generate the secrets files and keystores (the consortium admin's and the institutions'
    keys) without touching a chain, and print their accounts: a permissioned network allows
    them before anything is deployed (scripts/consortium_network.py --allow-from). `deploy`
    and `up` use the same files."""
    from registry.connect import dev_secrets

    settings = get_settings()
    try:
        secrets = dev_secrets(settings)
    except RegistryError as error:
        raise _fail(error) from None
    console.print(f"secrets in {settings.resolved_secrets_path} (keys in encrypted keystores)")
    console.print(f"  admin (deployer)  {secrets.deployer.address}")
    for institution in secrets.institutions:
        console.print(f"  {institution.name:<17} {institution.account} ({institution.role})")


@app.command()
def deploy() -> None:
    """Deploy the contracts to CREDITREG_RPC_URL (funding dev keys from the node's accounts) and
    write the manifest; reuses a manifest whose contracts already exist on that chain."""
    from registry.connect import connect_chain, deploy_or_reuse, dev_secrets

    settings = get_settings()
    if settings.rpc_url is None:
        console.print("[bold red]error:[/] set CREDITREG_RPC_URL (or use `creditreg up`)")
        raise typer.Exit(code=2)
    try:
        chain = connect_chain(settings.rpc_url)
        secrets = dev_secrets(settings)
        deployment, new = deploy_or_reuse(settings, chain, secrets)
        password = _password_note(settings)
    except RegistryError as error:
        raise _fail(error) from None
    verb = "deployed" if new else "already deployed"
    for name, contract in deployment.contracts.items():
        console.print(f"{name} {verb} at {contract.address} (block {contract.block_number})")
    console.print(f"manifest: {settings.resolved_manifest_path}")
    console.print(f"keystore password: {password}")


@app.command()
def upgrade(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Contracts to upgrade (ReceivableLedger ...); default: all."),
    ] = None,
    artifacts: Annotated[
        Path | None,
        typer.Option(
            help="A directory of compiled contracts (`creditreg compile`'s <Name>.json) to "
            "upgrade to, instead of this release's."
        ),
    ] = None,
) -> None:
    """Point the deployment's contracts at the code of this release (registry/artifacts) in place:
    same addresses, every record kept, a running indexer following. Sent by the admin, and only
    once OpenZeppelin's upgrades-core finds each new storage layout compatible with the running
    code's (needs Node and `npm ci`); the manifest follows the upgrade."""
    from registry.artifacts import load_artifact
    from registry.connect import connect_deployment, dev_secrets
    from registry.contracts.deploy import CONTRACT_NAMES
    from registry.contracts.upgrade import upgrade_contract

    settings = get_settings()
    try:
        chain, deployment = connect_deployment(settings, " (the node the deployment is on)")
        admin = dev_secrets(settings).deployer
        for name in names or CONTRACT_NAMES:
            code = load_artifact(name, artifacts) if artifacts else None
            deployment, done = upgrade_contract(chain, admin, deployment, name, code)
            if done is None:
                console.print(f"{name} already runs this code")
                continue
            # Saved after each upgrade: the manifest must name the code each proxy runs.
            deployment.save(settings.resolved_manifest_path)
            console.print(
                f"{name} upgraded: {done.previous} -> {done.implementation} "
                f"(block {done.block_number}, tx {done.tx_hash})"
            )
    except RegistryError as error:
        raise _fail(error) from None


@app.command()
def index(
    once: Annotated[bool, typer.Option(help="Catch up with the chain, then exit.")] = False,
) -> None:
    """Run the indexer against the manifest's deployment. On PostgreSQL one indexer writes an
    index at a time: another started beside it waits as a standby and takes over when the first
    dies."""
    from registry.connect import connect_chain
    from registry.contracts.deploy import Deployment
    from registry.db import create_schema, make_engine
    from registry.db.locks import indexer_lock
    from registry.indexer import Indexer

    settings = get_settings()
    if settings.rpc_url is None:
        console.print("[bold red]error:[/] set CREDITREG_RPC_URL")
        raise typer.Exit(code=2)
    try:
        deployment = Deployment.load(settings.resolved_manifest_path)
        engine = make_engine(settings.resolved_database_url)
        create_schema(engine)
        # This process only indexes, so the indexer may pause the garbage collector (process-wide)
        # while it holds a chunk; not under `creditreg up`, which serves the API in its process.
        indexer = Indexer.from_settings(
            engine, connect_chain(settings.rpc_url), deployment, settings, pause_gc=True
        )
        stop = threading.Event()

        def standby() -> None:
            console.print("standby: another indexer holds this index; waiting to take over")

        try:
            with indexer_lock(engine, indexer.cursor_name, stop, standby) as active:
                if not active:
                    return
                console.print("indexing: this indexer holds the index")
                if once:
                    indexer.run_until_caught_up()
                    indexed = indexer.status().indexed_block
                    # Nothing indexed yet (the safe head short of the deployment): the block
                    # before it.
                    block = deployment.deployment_block - 1 if indexed is None else indexed
                    console.print(f"indexed up to block {block}")
                    return
                indexer.run_forever(stop)
        except KeyboardInterrupt:
            stop.set()
    except RegistryError as error:
        raise _fail(error) from None


@app.command()
def serve(
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes. More than one needs PostgreSQL (CREDITREG_DATABASE_URL): "
            "the workers queue on it per account, so that they never share a nonce.",
        ),
    ] = 1,
) -> None:
    """Serve the API for the manifest's deployment (the indexer runs separately). Reads the API's
    secrets file only, never the admin secrets file."""
    import uvicorn
    from sqlalchemy.engine import make_url

    from api.app import create_app
    from api.services import Services

    settings = get_settings()
    try:
        if workers > 1 and make_url(settings.resolved_database_url).get_backend_name() != (
            "postgresql"
        ):
            raise ConfigurationError(
                "several workers need a PostgreSQL index (CREDITREG_DATABASE_URL): on SQLite "
                "they could not queue for an account's nonces"
            )
        # Built here once in every case, so that a bad setting fails now, not in each worker.
        services = Services.from_settings(settings)
    except RegistryError as error:
        raise _fail(error) from None
    if workers == 1:
        app_ = create_app(settings, services)
        uvicorn.run(app_, host=settings.api_host, port=settings.api_port)
        return
    services.engine.dispose()
    uvicorn.run(
        "api.app:create_app_from_environment",
        factory=True,
        workers=workers,
        host=settings.api_host,
        port=settings.api_port,
    )


@app.command()
def demo(
    api_url: Annotated[str | None, typer.Option(help="API base URL.")] = None,
    secrets: Annotated[
        Path | None, typer.Option(help="Secrets file with the banks' API keys.")
    ] = None,
) -> None:
    """Play a short scenario against a running API: one shipment, two invoices, two banks."""
    from creditreg.demo import run_demo

    settings = get_settings()
    url = api_url or f"http://{settings.api_host}:{settings.api_port}"
    try:
        run_demo(url, secrets or settings.resolved_secrets_path, console)
    except RegistryError as error:
        raise _fail(error) from None


@app.command(name="compile")
def compile_() -> None:
    """Compile contracts/ with the pinned solc and rewrite the committed artifacts."""
    from registry.artifacts.compiler import compile_contracts, find_solc, write_artifacts

    settings = get_settings()
    try:
        solc = find_solc(settings.solc_version, settings.solc_binary)
        written = write_artifacts(compile_contracts(solc, settings.solc_version))
    except RegistryError as error:
        raise _fail(error) from None
    for path in written:
        console.print(f"wrote {path}")


# --- keys: the API keys in the database (registry.api_keys) -------------------------------------

keys_app = typer.Typer(
    help="The API keys the API accepts: list them, revoke them (effective at the next request).",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")


@keys_app.command("list")
def keys_list() -> None:
    """Every stored API key, working or revoked, by institution; a key is named by the first
    digits of its hash, never shown itself."""
    from rich.table import Table

    from registry.api_keys import list_api_keys
    from registry.db import create_schema, opened_engine

    settings = get_settings()
    try:
        with opened_engine(settings.resolved_database_url) as engine:
            create_schema(engine)
            keys = list_api_keys(engine)
    except RegistryError as error:
        raise _fail(error) from None
    table = Table("key id", "institution", "role", "account", "created", "revoked", "reason")
    for key in keys:
        table.add_row(
            key.key_id,
            key.institution,
            key.role,
            key.account or "-",
            f"{key.created_at:%Y-%m-%d %H:%M:%S}",
            "-" if key.revoked_at is None else f"{key.revoked_at:%Y-%m-%d %H:%M:%S}",
            key.revoked_reason or "-",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    institution: Annotated[str, typer.Argument(help="The institution whose keys to revoke.")],
    key_id: Annotated[
        str | None,
        typer.Option(help="Only the key whose id (from `keys list`) starts with this."),
    ] = None,
    reason: Annotated[str, typer.Option(help="Why, kept with the key.")] = (
        "revoked by an operator"
    ),
) -> None:
    """Revoke an institution's working API keys in the database: the API refuses them from the
    next request on, without a restart, and storing the secrets file's keys at its next start does
    not bring them back (give the institution a new key there to let it in again)."""
    from registry.api_keys import revoke_api_keys
    from registry.db import create_schema, opened_engine

    settings = get_settings()
    try:
        with opened_engine(settings.resolved_database_url) as engine:
            create_schema(engine)
            revoked = revoke_api_keys(engine, institution, key_id=key_id, reason=reason)
    except RegistryError as error:
        raise _fail(error) from None
    if not revoked:
        raise _fail(ConfigurationError(f"{institution} has no working API key to revoke"))
    console.print(f"revoked {len(revoked)} key(s) of {institution}: {', '.join(revoked)}")


# --- audit: the auditor's tools (registry.audit) ------------------------------------------------

audit_app = typer.Typer(
    help="The auditor's tools: replay the chain, verify the index, report a block range, digest.",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")

JsonOption = Annotated[
    Path | None, typer.Option("--json", help="Also write the result as JSON to this file.")
]


def _write_json(path: Path | None, document: object) -> None:
    if path is not None:
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        console.print(f"wrote {path}")


@audit_app.command("replay")
def audit_replay(
    database_url: Annotated[
        str | None,
        typer.Option(help="Fresh database to replay into. Default: replay.db in the state dir."),
    ] = None,
    json_path: JsonOption = None,
) -> None:
    """Rebuild the whole index from the deployment block into a fresh database (a database
    holding any row is refused) and print its summary and digest."""
    from registry.audit.render import render_replay
    from registry.audit.replay import replay
    from registry.connect import connect_deployment
    from registry.db import opened_engine

    settings = get_settings()
    url = database_url or f"sqlite:///{settings.state_dir / 'replay.db'}"
    try:
        chain, deployment = connect_deployment(settings, " to the node of the chain to audit")
        with opened_engine(url) as engine:
            summary = replay(engine, chain, deployment, chunk_size=settings.index_chunk_size)
    except RegistryError as error:
        raise _fail(error) from None
    render_replay(console, summary)
    _write_json(json_path, summary.to_json())


@audit_app.command("verify")
def audit_verify(
    replay_url: Annotated[
        str | None,
        typer.Option(
            help="Replay database: an empty one to replay into, or one `audit replay` filled. "
            "Default: a temporary SQLite database."
        ),
    ] = None,
    json_path: JsonOption = None,
) -> None:
    """Compare the live index, a fresh replay and the contracts' views record by record, at the
    index's block; exit 1 on any difference."""
    from registry.audit.render import render_verify
    from registry.audit.verify import verify
    from registry.connect import connect_deployment
    from registry.db import opened_engine

    settings = get_settings()
    try:
        chain, deployment = connect_deployment(settings, " to the node of the chain to audit")
        with opened_engine(settings.resolved_database_url) as engine:
            report = verify(
                engine,
                chain,
                deployment,
                replay_url=replay_url,
                chunk_size=settings.index_chunk_size,
            )
    except RegistryError as error:
        raise _fail(error) from None
    render_verify(console, report)
    _write_json(json_path, report.to_json())
    if not report.ok:
        raise typer.Exit(code=1)


@audit_app.command("report")
def audit_report(
    from_block: Annotated[int, typer.Option(help="First block of the range.")],
    to_block: Annotated[int, typer.Option(help="Last block of the range (included).")],
    json_path: JsonOption = None,
) -> None:
    """Refused attempts, seizures, role changes, consents and anchored read-log roots of a block
    range, from the live index's events."""
    from registry.audit.render import render_report
    from registry.audit.report import build_report
    from registry.contracts.deploy import Deployment
    from registry.db import opened_engine

    settings = get_settings()
    try:
        deployment = Deployment.load(settings.resolved_manifest_path)
        with opened_engine(settings.resolved_database_url) as engine:
            report = build_report(engine, deployment, from_block, to_block)
    except RegistryError as error:
        raise _fail(error) from None
    render_report(console, report)
    _write_json(json_path, report.to_json())


@audit_app.command("digest")
def audit_digest(
    database_url: Annotated[
        str | None, typer.Option(help="Index to digest. Default: the live index.")
    ] = None,
    block: Annotated[
        int | None, typer.Option(help="As of this block (at most the index's). Default: its.")
    ] = None,
    json_path: JsonOption = None,
) -> None:
    """Print a digest of the index's canonical rows as of a block, to compare two indexes
    without sharing them."""
    from registry.audit.digest import digest_index
    from registry.audit.render import render_digest
    from registry.db import opened_engine
    from registry.indexer import CURSOR_NAME, read_cursor

    settings = get_settings()
    try:
        with opened_engine(database_url or settings.resolved_database_url) as engine:
            with engine.connect() as connection:
                cursor = read_cursor(connection, CURSOR_NAME)
            if cursor is None:
                raise ConfigurationError("the index is empty: nothing to digest")
            if block is not None and block > cursor.block_number:
                raise ConfigurationError(
                    f"the index has reached block {cursor.block_number}, not {block}"
                )
            digest = digest_index(engine, as_of=cursor.block_number if block is None else block)
    except RegistryError as error:
        raise _fail(error) from None
    render_digest(console, digest)
    _write_json(json_path, digest.to_json())


if __name__ == "__main__":
    app()
