"""The HTTP metrics stay bounded whatever clients send: no method, path or status a caller makes up
becomes a series of its own."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.exceptions import StarletteDeprecationWarning

from api.app import create_app
from api.metrics import METHODS, OTHER, UNMATCHED, method_label, status_label
from api.services import Services
from registry.db import make_engine
from registry.settings import Settings
from tests.api.test_api import check_body, key
from tests.conftest import Stack

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

ODD_REQUESTS = 60


@pytest.fixture
def client(stack: Stack, sqlite_url: str, tmp_path: Path) -> Iterator[TestClient]:
    engine = make_engine(sqlite_url)
    services = Services.build(engine, stack.chain, stack.deployment, stack.secrets)
    with TestClient(create_app(Settings(state_dir=tmp_path), services)) as test_client:
        yield test_client
    engine.dispose()


def request_series(client: TestClient) -> list[dict[str, str]]:
    """The label sets of ``creditreg_http_requests_total``, as Prometheus scrapes them."""
    scraped = client.get("/metrics").text
    return [
        sample.labels
        for family in text_string_to_metric_families(scraped)
        if family.name == "creditreg_http_requests"
        for sample in family.samples
        if sample.name == "creditreg_http_requests_total"
    ]


def test_odd_methods_paths_and_statuses_make_a_bounded_number_of_series(
    client: TestClient, stack: Stack
) -> None:
    bank = key(stack, "Bank A")
    for number in range(ODD_REQUESTS):
        # Anonymous callers, with a method of their own and a path of their own each time...
        client.request(f"ZZ{number:03}", f"/nope/{number}")
        client.request("GET", f"/health/{number}")
        client.request(f"ZZ{number:03}", f"/v1/receivables/0x{number:064x}")
        client.get(f"/v1/receivables/0x{number:064x}")
        # ... and a bank, with odd methods on real routes and on ids of its own.
        client.request(f"ZZ{number:03}", "/v1/receivables/check", headers=bank)
        client.get(f"/v1/receivables/0x{number:064x}", headers=bank)
    client.post("/v1/receivables/check", json=check_body(), headers=bank)

    series = request_series(client)

    templates = set(client.get("/openapi.json").json()["paths"]) | {"/metrics", UNMATCHED}
    assert {labels["method"] for labels in series} <= METHODS | {OTHER}
    assert {labels["route"] for labels in series} <= templates
    assert all(labels["status"].isdigit() for labels in series)
    # Four hundred odd requests, a handful of series: the bound does not grow with them.
    assert len(series) <= 8, series
    assert {"method": OTHER, "route": UNMATCHED, "status": "404"} in series
    # Refused before routing for want of a key, and still counted under the route's template.
    assert {"method": "GET", "route": "/v1/receivables/{receivable_id}", "status": "401"} in series
    assert {"method": "POST", "route": "/v1/receivables/check", "status": "200"} in series


def test_every_label_maps_onto_a_fixed_set() -> None:
    assert [method_label(m) for m in ("GET", "POST", "get", "ZZ007", "PROPFIND")] == [
        "GET",
        "POST",
        OTHER,
        OTHER,
        OTHER,
    ]
    assert [status_label(s) for s in (200, 401, 413, 599, 999, -1)] == [
        "200",
        "401",
        "413",
        OTHER,
        OTHER,
        OTHER,
    ]
