"""The Alembic migrations produce exactly the schema the code declares, on SQLite and PostgreSQL.

``create_schema`` (what every entry point calls) upgrades to head; the database it leaves must
have no difference from ``registry.db.schema.metadata`` that Alembic's autogenerate comparison can
see (tables, columns, types, nullability, indexes, unique constraints). Downgrading to base empties
the database, and upgrading again is harmless.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from registry.db import alembic_config, create_schema, make_engine, schema
from registry.errors import ConfigurationError


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def differences(engine: sa.Engine, metadata: sa.MetaData = schema.metadata) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def user_tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_to_head_gives_exactly_the_declared_schema(engine: sa.Engine) -> None:
    create_schema(engine)
    assert differences(engine) == []
    assert user_tables(engine) == set(schema.metadata.tables)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision(engine) == head


def _partial_conditions(indexes: list[Any], dialect: str) -> dict[str, str | None]:
    """Each index's WHERE condition, normalized (reflection adds parentheses on PostgreSQL)."""
    conditions = {}
    for index in indexes:
        where = index["dialect_options"].get(f"{dialect}_where")
        text = None if where is None else str(where).replace("(", "").replace(")", "").lower()
        conditions[index["name"]] = text
    return conditions


def test_partial_indexes_keep_their_conditions(engine: sa.Engine) -> None:
    """Autogenerate does not compare index conditions: the migrated ones must equal the
    declared ones (table rebuilds on SQLite re-create indexes from reflection)."""
    create_schema(engine)
    dialect = engine.dialect.name
    inspector = sa.inspect(engine)
    for table in schema.metadata.tables.values():
        declared = {index.name: index.dialect_options[dialect]["where"] for index in table.indexes}
        expected = {
            name: None if where is None else str(where).lower() for name, where in declared.items()
        }
        found = _partial_conditions(inspector.get_indexes(table.name), dialect)
        # PostgreSQL also lists each unique constraint's index: only the declared ones count.
        assert {name: found.get(name, "missing") for name in expected} == expected, table.name


def test_the_comparison_sees_a_difference(engine: sa.Engine) -> None:
    """Proof that the empty diff above is not a comparison that sees nothing."""
    create_schema(engine)
    changed = sa.MetaData()
    for table in schema.metadata.tables.values():
        table.to_metadata(changed)
    sa.Table("receivables", changed, sa.Column("extra", sa.Integer), extend_existing=True)
    changed.remove(changed.tables["api_keys"])
    found = {difference[0] for difference in differences(engine, changed)}
    assert {"add_column", "remove_table"} <= found


def test_upgrade_is_idempotent_and_keeps_the_data(engine: sa.Engine) -> None:
    create_schema(engine)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(schema.indexed_blocks).values(number=7, hash="0x" + "07" * 32, events=1)
        )
    create_schema(engine)
    create_schema(engine)
    assert differences(engine) == []
    with engine.connect() as connection:
        assert connection.execute(sa.select(schema.indexed_blocks.c.number)).scalars().all() == [7]


def test_downgrade_to_base_and_up_again(engine: sa.Engine) -> None:
    create_schema(engine)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert user_tables(engine) == set()
    assert revision(engine) is None
    create_schema(engine)
    assert differences(engine) == []


def test_a_database_from_before_the_migrations_is_refused(engine: sa.Engine) -> None:
    """Tables without an alembic_version: an index of another shape, to be rebuilt."""
    with engine.begin() as connection:
        connection.execute(
            sa.text("CREATE TABLE indexer_cursor (name VARCHAR(64) PRIMARY KEY, block_number INT)")
        )
    with pytest.raises(ConfigurationError, match="predates its migrations") as raised:
        create_schema(engine)
    assert raised.value.rule == "configuration-error"
    # Refused before migrating: the old table is left as it was, and no other appears.
    assert set(sa.inspect(engine).get_table_names()) == {"indexer_cursor"}
