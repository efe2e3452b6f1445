"""Shared fixtures: one dev node per kind for the whole session, snapshot/revert around each test,
and index databases on SQLite and on PostgreSQL.

PostgreSQL tests use the server at CREDITREG_TEST_POSTGRES_URL (default: the local server's `test`
database). Without a reachable server they skip, except under CI (CI=true), where they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from hypothesis import HealthCheck, settings
from sqlalchemy.engine import make_url

from registry.chain.client import Chain
from registry.chain.node import DevNode
from registry.contracts.consents import ConsentRegistry
from registry.contracts.deploy import Deployment
from registry.contracts.ledger import AdvanceRates, ReceivableLedger
from registry.contracts.pledges import PledgeRegistry
from registry.credentials import DevSecrets, Institution
from registry.db import alembic_config, create_schema, make_engine, schema
from registry.devstack import bootstrap
from registry.indexer import Indexer
from registry.settings import NodeKind

# The state machine's profiles (tests/contracts/test_state_machine.py). Not named "ci":
# Hypothesis loads a profile of that name by itself under CI=true, for every property test in the
# process.
settings.register_profile(
    "creditreg-ci",
    max_examples=25,
    stateful_step_count=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "creditreg-slow",
    max_examples=300,
    stateful_step_count=80,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Tests that run for a minute or more, started first: under pytest-xdist a long test left to the
# end of a worker's queue keeps the whole run waiting while the other worker idles.
LONG_TESTS = (
    "tests/indexer/test_crash.py::",
    "tests/contracts/test_state_machine.py::",
    "tests/audit/test_audit_paths.py::",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(LONG_TESTS))


POSTGRES_URL = os.environ.get(
    "CREDITREG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ADVANCE_RATE_BPS = 8000
# The tests' policy: one rate for verified and unverified declarations alike, so that expected
# amounts stay simple; tests of the two rates set them. (Deployments default to SPEC's shape,
# a higher verified rate: registry.settings.)
TEST_RATES = AdvanceRates(ADVANCE_RATE_BPS, ADVANCE_RATE_BPS)


@dataclass
class Stack:
    """A deployed registry on a running dev node, with the secrets of its institutions."""

    node: DevNode
    chain: Chain
    secrets: DevSecrets
    deployment: Deployment
    ledger: ReceivableLedger
    pledges: PledgeRegistry
    consents: ConsentRegistry

    @property
    def bank_a(self) -> Institution:
        return self.secrets.institution("Bank A")

    @property
    def bank_b(self) -> Institution:
        return self.secrets.institution("Bank B")

    @property
    def admin(self) -> Institution:
        return self.secrets.institution("Consortium admin")

    @property
    def registrar(self) -> Institution:
        """The registry center's clerk (REGISTRAR_ROLE on the pledge and consent registries)."""
        return self.secrets.institution("Registry center")

    @property
    def auto_registrar(self) -> Institution:
        """The registry center's automated account (REGISTRAR_ROLE too)."""
        return self.secrets.institution("Registry center (automated)")

    @property
    def verifier(self) -> Institution:
        return self.secrets.institution("Customs")

    @property
    def enforcer(self) -> Institution:
        """The court (ENFORCER_ROLE on the pledge registry)."""
        return self.secrets.institution("Court")

    @property
    def operator(self) -> Institution:
        """The API operator (OPERATOR_ROLE on the consent registry)."""
        return self.secrets.institution("API operator")

    def tip(self) -> tuple[int, str]:
        """The head's number and hash. Both unchanged after a refused operation mean that it
        mined no block and changed no state: the hash commits to the state root, and a dev node
        changes state only by mining (tests that move its clock or storage do it themselves)."""
        block = self.chain.w3.eth.get_block("latest")
        return block["number"], block["hash"].to_0x_hex()

    def mine_at(self, timestamp: int) -> int:
        """Mines an empty block at ``timestamp``; returns its number."""
        response = self.chain.w3.provider.make_request("evm_mine", [timestamp])  # type: ignore[arg-type]
        assert "error" not in response, response
        return self.chain.block_number()

    def snapshot(self) -> str:
        return str(self.chain.w3.provider.make_request("evm_snapshot", [])["result"])  # type: ignore[arg-type]

    def revert(self, snapshot_id: str) -> None:
        response = self.chain.w3.provider.make_request("evm_revert", [snapshot_id])  # type: ignore[arg-type]
        assert response.get("result") is True, response


@contextmanager
def indexing(stack: Stack, engine: sa.Engine) -> Iterator[Indexer]:
    """An indexer of ``stack``'s deployment into ``engine``, running in a thread for the block's
    duration: what the API's writes wait for before they answer (read your writes)."""
    indexer = Indexer(engine, stack.chain, stack.deployment, poll_interval=0.01)
    stop = threading.Event()
    thread = threading.Thread(target=indexer.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        yield indexer
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the indexer did not stop"


def start_stack(kind: NodeKind) -> Stack:
    node = DevNode(kind).start()
    try:
        chain = Chain.connect(node.url)
        secrets = DevSecrets.generate()
        deployment = bootstrap(chain, secrets, TEST_RATES)
    except BaseException:
        node.stop()
        raise
    return Stack(
        node,
        chain,
        secrets,
        deployment,
        ReceivableLedger(chain, deployment.address_of(ReceivableLedger.NAME)),
        PledgeRegistry(chain, deployment.address_of(PledgeRegistry.NAME)),
        ConsentRegistry(chain, deployment.address_of(ConsentRegistry.NAME)),
    )


@pytest.fixture(scope="session")
def anvil_stack() -> Iterator[Stack]:
    stack = start_stack("anvil")
    yield stack
    stack.node.stop()


@pytest.fixture(scope="session")
def ganache_stack() -> Iterator[Stack]:
    stack = start_stack("ganache")
    yield stack
    stack.node.stop()


def _isolated(stack: Stack) -> Iterator[Stack]:
    snapshot_id = stack.snapshot()
    yield stack
    stack.revert(snapshot_id)


@pytest.fixture
def stack(anvil_stack: Stack) -> Iterator[Stack]:
    """The anvil stack, rewound after the test."""
    yield from _isolated(anvil_stack)


@pytest.fixture(params=["anvil", "ganache"])
def any_stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The same test on anvil and on ganache, each rewound after the test."""
    yield from _isolated(request.getfixturevalue(f"{request.param}_stack"))


def _postgres_reachable() -> str | None:
    try:
        engine = make_engine(POSTGRES_URL)
        with engine.connect() as connection:
            connection.execute(sa.text("select 1"))
        engine.dispose()
    except sa.exc.OperationalError as error:
        return str(error.orig).strip().splitlines()[0]
    return None


def schema_name(prefix: str = "t") -> str:
    """A fresh PostgreSQL schema name that tells which test process made it (see
    :func:`_drop_abandoned_schemas`)."""
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:12]}"


_SCHEMA_OWNER = re.compile(r"^t(?:_[a-z]+)?_(\d+)_[0-9a-f]{12}$")


def _drop_abandoned_schemas(url: str) -> None:
    """Drops the schemas of test processes that are gone: a run killed or timed out never reached
    its fixtures' teardown. Schemas of live processes (another run in progress) are left alone."""
    engine = make_engine(url)
    with engine.begin() as connection:
        names = connection.scalars(sa.text("SELECT nspname FROM pg_namespace")).all()
        for name in names:
            owner = _SCHEMA_OWNER.match(name)
            if owner is None or _alive(int(owner.group(1))):
                continue
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    engine.dispose()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@pytest.fixture(scope="session")
def postgres_url() -> str:
    problem = _postgres_reachable()
    if problem is not None:
        reason = f"no PostgreSQL at {POSTGRES_URL}: {problem}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true requires it)")
        pytest.skip(reason)
    _drop_abandoned_schemas(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'index.db'}"


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    name = schema_name()
    admin = make_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    yield f"{postgres_url}?options=-csearch_path%3D{name}"
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
    admin.dispose()


def swept_on_sqlite(name: str, values: Sequence[Any], representative: Any) -> pytest.MarkDecorator:
    """Parametrizes ``database_url`` with ``name``: every value on SQLite, ``representative`` on
    PostgreSQL. For sweeps whose values exercise the index's logic (the same code on both
    backends): PostgreSQL needs one case of them, not all."""
    cases = [pytest.param("sqlite", value, id=f"sqlite-{value}") for value in values]
    postgres = pytest.param(
        "postgres", representative, id=f"postgres-{representative}", marks=pytest.mark.postgres
    )
    return pytest.mark.parametrize(
        ("database_url", name), [*cases, postgres], indirect=["database_url"]
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """The same test against SQLite and against PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_schema_url"))


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite index migrated to head once per session, for tests to copy."""
    path = tmp_path_factory.mktemp("migrated") / "index.db"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    engine.dispose()  # the last connection's close checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


@pytest.fixture
def engine(
    request: pytest.FixtureRequest, database_url: str, head_revision: str
) -> Iterator[sa.Engine]:
    """An index database at the newest schema, on each backend of ``database_url``.

    Running the migrations costs a quarter of a second per database, most of it Alembic loading
    its scripts, and some hundred tests want one: SQLite copies a file migrated once per session;
    PostgreSQL creates the declared tables and records the head revision, which is the schema the
    migrations make (``tests/indexer/test_migrations.py`` proves it on both backends).
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), url.database)
        engine = make_engine(database_url)
    else:
        engine = make_engine(database_url)
        with engine.begin() as connection:
            schema.metadata.create_all(connection)
            version = sa.Table(
                "alembic_version",
                sa.MetaData(),
                sa.Column("version_num", sa.String(32), primary_key=True),
            )
            version.create(connection)
            connection.execute(version.insert().values(version_num=head_revision))
    yield engine
    engine.dispose()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Callable[[], sa.Engine]]:
    """New SQLite databases at the newest schema, for fresh replays."""
    made: list[sa.Engine] = []

    def make() -> sa.Engine:
        made.append(make_engine(f"sqlite:///{tmp_path / f'fresh{len(made)}.db'}"))
        create_schema(made[-1])
        return made[-1]

    yield make
    for engine in made:
        engine.dispose()


def fp(label: str) -> bytes:
    """A stand-in fingerprint: the contracts only see 32-byte values."""
    return label.encode().ljust(32, b"\0")


def hx(value: bytes) -> str:
    """32 bytes as the 0x-prefixed hex the index stores."""
    return "0x" + value.hex()
