"""The index's status and the Prometheus metrics, over HTTP, after indexing real events on anvil.

The indexer runs beside the app on the same database, as ``creditreg index`` beside ``creditreg
serve``: the API reads everything it reports from the index database and the node. The rate is
checked with an injected clock (the reader's "now"), never against the wall clock.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.exceptions import StarletteDeprecationWarning

from api.app import create_app
from api.services import Services
from registry.db import make_engine
from registry.db.schema import events, indexer_progress
from registry.indexer import Indexer
from registry.indexer.progress import RATE_WINDOW
from registry.settings import Settings
from tests.conftest import Stack
from tests.helpers import register

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@pytest.fixture
def services(stack: Stack, database_url: str) -> Iterator[Services]:
    engine = make_engine(database_url)
    yield Services.build(engine, stack.chain, stack.deployment, stack.secrets)
    engine.dispose()


@pytest.fixture
def client(services: Services, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(state_dir=tmp_path), services)) as test_client:
        yield test_client


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition ``text``."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? (\S+)", line)
        if (
            match
            and match[1] == name
            and ",".join(sorted((match[2] or "").split(",")))
            == (",".join(sorted(wanted.split(","))))
        ):
            return float(match[3])
    raise AssertionError(f"no sample {name}{{{wanted}}} in:\n{text}")


def test_status_and_metrics_after_indexing_real_events(
    stack: Stack, services: Services, client: TestClient
) -> None:
    before = client.get("/v1/index/status").json()
    assert before["indexed_block"] is None
    assert (before["caught_up"], before["events_indexed"], before["events_per_second"]) == (
        False,
        0,
        0.0,
    )

    register(stack, stack.bank_a.signer, "INV-1", ("D1", 50_000))
    register(stack, stack.bank_a.signer, "INV-2", ("D2", 50_000))
    # Small chunks: several steps, so the histogram and the totals add up over steps.
    Indexer(services.engine, stack.chain, stack.deployment, chunk_size=3).run_until_caught_up()
    head = stack.chain.block_number()
    with services.engine.connect() as connection:
        stored = connection.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()
        steps = connection.execute(
            sa.select(sa.func.count()).select_from(indexer_progress)
        ).scalar_one()
    assert stored > 0
    assert steps >= 2

    response = client.get("/v1/index/status")
    assert response.status_code == 200
    status = response.json()
    assert status["head"] == head
    assert (status["safe_head"], status["confirmations"]) == (head, 0)
    assert status["indexed_block"] == head
    assert status["indexed_hash"] == stack.chain.w3.eth.get_block(head)["hash"].to_0x_hex()
    assert (status["lag"], status["caught_up"]) == (0, True)
    assert (status["reorgs"], status["last_reorg_depth"]) == (0, None)
    assert status["events_indexed"] == stored
    assert status["rate_window_seconds"] == RATE_WINDOW.total_seconds()
    assert status["last_step_at"] is not None

    # The rate over the window, as of the last step, and one window later (idle: 0).
    last_step = services.index_status().last_step_at
    assert last_step is not None
    at_last_step = services.index_status(now=last_step)
    assert at_last_step.events_per_second > 0
    assert at_last_step.progress.window_events == stored
    assert services.index_status(now=last_step + RATE_WINDOW).events_per_second == 0.0

    scrape = client.get("/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    text = scrape.text
    assert metric(text, "creditreg_chain_up") == 1
    assert metric(text, "creditreg_chain_head_block") == head
    assert metric(text, "creditreg_index_indexed_block") == head
    assert metric(text, "creditreg_index_lag_blocks") == 0
    assert metric(text, "creditreg_index_events_total") == stored
    assert metric(text, "creditreg_index_reorgs_total") == 0
    assert metric(text, "creditreg_index_step_duration_seconds_count") == steps
    assert metric(text, "creditreg_index_step_duration_seconds_bucket", le="+Inf") == steps
    assert metric(text, "creditreg_index_step_duration_seconds_sum") > 0
    # HTTP requests by route template and status, the unmatched path under one label.
    assert client.get("/no/such/path").status_code == 404
    assert client.get(f"/v1/receivables/0x{'ab' * 32}").status_code == 401
    text = client.get("/metrics").text
    requests = "creditreg_http_requests_total"
    assert metric(text, requests, method="GET", route="/v1/index/status", status="200") == 2
    assert metric(text, requests, method="GET", route="unmatched", status="404") == 1
    assert (
        metric(text, requests, method="GET", route="/v1/receivables/{receivable_id}", status="401")
        == 1
    )
    assert "ab" * 32 not in text
    assert (
        metric(
            text,
            "creditreg_http_request_duration_seconds_count",
            method="GET",
            route="/v1/index/status",
        )
        == 2
    )


def test_each_app_has_its_own_metrics(services: Services, tmp_path: Path) -> None:
    """Apps built in one process do not share (or collide on) a metrics registry."""
    with (
        TestClient(create_app(Settings(state_dir=tmp_path), services)) as first,
        TestClient(create_app(Settings(state_dir=tmp_path), services)) as second,
    ):
        first.get("/health")
        first.get("/health")
        second.get("/health")
        requests = "creditreg_http_requests_total"
        labels = {"method": "GET", "route": "/health", "status": "200"}
        assert metric(first.get("/metrics").text, requests, **labels) == 2
        assert metric(second.get("/metrics").text, requests, **labels) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_lag_when_the_chain_moves_ahead(
    stack: Stack, services: Services, client: TestClient
) -> None:
    register(stack, stack.bank_a.signer, "INV-1", ("D1", 50_000))
    Indexer(services.engine, stack.chain, stack.deployment).run_until_caught_up()
    indexed = stack.chain.block_number()
    for _ in range(3):
        stack.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    status = client.get("/v1/index/status").json()
    assert (status["head"], status["indexed_block"]) == (indexed + 3, indexed)
    assert (status["lag"], status["caught_up"]) == (3, False)
    assert metric(client.get("/metrics").text, "creditreg_index_lag_blocks") == 3

    # With confirmations the safe head trails the head, and an index at it is caught up.
    trailing = Services.build(
        services.engine, stack.chain, stack.deployment, stack.secrets, confirmations=3
    )
    assert trailing.index_status().caught_up
    assert trailing.index_status().safe_head == indexed


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_reorg_count_after_a_real_reorg(
    stack: Stack, services: Services, client: TestClient
) -> None:
    """The old branch registers one receivable; the chain is rewound (anvil snapshot/revert) and
    a longer branch registers two others."""
    register(stack, stack.bank_a.signer, "INV-0", ("D0", 50_000))
    index = Indexer(services.engine, stack.chain, stack.deployment)
    index.run_until_caught_up()
    fork = stack.chain.block_number()
    snapshot = stack.snapshot()
    register(stack, stack.bank_a.signer, "INV-OLD", ("D-OLD", 50_000))
    index.run_until_caught_up()
    old_head = stack.chain.block_number()

    stack.revert(snapshot)
    register(stack, stack.bank_a.signer, "INV-NEW-1", ("D-NEW-1", 50_000))
    register(stack, stack.bank_a.signer, "INV-NEW-2", ("D-NEW-2", 50_000))
    index.run_until_caught_up()

    status = client.get("/v1/index/status").json()
    assert status["reorgs"] == 1
    assert status["last_reorg_depth"] == old_head - fork
    assert status["last_reorg_at"] is not None
    assert (status["indexed_block"], status["caught_up"]) == (stack.chain.block_number(), True)
    text = client.get("/metrics").text
    assert metric(text, "creditreg_index_reorgs_total") == 1
    # The events of the abandoned branch were loaded, rolled back, and the new ones loaded: the
    # counter only grows.
    with services.engine.connect() as connection:
        stored = connection.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()
    assert metric(text, "creditreg_index_events_total") > stored
