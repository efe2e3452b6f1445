"""Prometheus metrics of the API process: the index's progress and the HTTP traffic.

Each app gets its own :class:`~prometheus_client.CollectorRegistry` (``app.state.metrics``), not
the process-wide default one, so that several apps in one process (the tests make many) never
register a metric twice, and ``GET /metrics`` shows this app's only.

- The index (:class:`IndexCollector`): read at each scrape from the index database and the node,
  like ``GET /v1/index/status``, so the indexer may run in another process. Gauges for the chain's
  head, the safe head, the indexed block, the lag and the indexing rate; counters for the events
  indexed and the reorganizations rolled back; a histogram of step durations (the indexer keeps
  its running buckets in the database, see :mod:`registry.indexer.progress`). A node that does not
  answer makes ``creditreg_chain_up`` 0 and leaves out what needs the head.
- HTTP (:class:`HttpMetrics`): requests by method, route *template* (``/v1/receivables/{id}``,
  never the raw path, whose ids would make a series per receivable) and status, and their
  latency. Every label takes its values from a fixed set, whatever a client sends, so that no
  caller (an anonymous one least of all) can grow the series without bound: the standard methods
  or ``other`` (the server accepts any token as a method), the app's route templates or
  ``unmatched`` (a path no route matches, or an answer given before the route was known), the
  registered HTTP status codes or ``other``.
- Budgets (:func:`rate_limited_counter`): requests refused ``429`` for want of budget
  (:mod:`api.rate_limits`), by budget (``requests``, ``writes``) and route template: both sets fixed
  by the code, never by a caller (nor by the institutions of the secrets file).
"""

from __future__ import annotations

import http
import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.services import Services
from registry.errors import ChainError
from registry.indexer import IndexStatus
from registry.indexer.progress import STEP_BUCKETS

__all__ = [
    "METHODS",
    "OTHER",
    "UNMATCHED",
    "HttpMetrics",
    "IndexCollector",
    "method_label",
    "new_registry",
    "rate_limited_counter",
    "route_template",
    "status_label",
]

UNMATCHED = "unmatched"
OTHER = "other"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""The methods counted by name; any other counts as ``other``."""
_STATUSES = frozenset(str(status.value) for status in http.HTTPStatus)


def method_label(method: str) -> str:
    return method if method in METHODS else OTHER


def status_label(status: int) -> str:
    label = str(status)
    return label if label in _STATUSES else OTHER


class IndexCollector(Collector):
    """The index's progress, read at each scrape through ``services``."""

    def __init__(self, services: Callable[[], Services | None]) -> None:
        # A callable: an app built from settings has its services only once it has started.
        self._services = services

    def collect(self) -> Iterable[Metric]:
        services = self._services()
        if services is None:
            return
        up = GaugeMetricFamily("creditreg_chain_up", "1 if the chain node answered this scrape.")
        try:
            status = services.index_status()
        except ChainError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _index_metrics(status)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _index_metrics(status: IndexStatus) -> Iterable[Metric]:
    yield _gauge("creditreg_chain_head_block", "The chain's newest block.", status.head)
    yield _gauge(
        "creditreg_index_safe_head_block",
        "The newest block the indexer indexes (head minus confirmations).",
        status.safe_head,
    )
    if status.indexed_block is not None:
        yield _gauge(
            "creditreg_index_indexed_block", "The last block indexed.", status.indexed_block
        )
    if status.lag is not None:
        yield _gauge(
            "creditreg_index_lag_blocks",
            "Blocks between the head and the last indexed.",
            status.lag,
        )
    yield _gauge(
        "creditreg_index_events_per_second",
        "Events indexed per second over the recent window.",
        status.events_per_second,
    )
    yield CounterMetricFamily(
        "creditreg_index_events",
        "Events loaded since the index was created (re-loads after a reorganization included).",
        value=status.events_indexed,
    )
    yield CounterMetricFamily(
        "creditreg_index_reorgs", "Reorganizations the index rolled back.", value=status.reorgs
    )
    progress = status.progress
    buckets = [
        (str(bound), float(count))
        for bound, count in zip(STEP_BUCKETS, progress.step_buckets, strict=True)
    ]
    buckets.append(("+Inf", float(progress.steps_total)))
    yield HistogramMetricFamily(
        "creditreg_index_step_duration_seconds",
        "Time to read, decode and write one chunk of blocks.",
        buckets=buckets,
        sum_value=progress.seconds_total,
    )


class HttpMetrics:
    """ASGI middleware counting requests and timing them, by route template and status."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "creditreg_http_requests",
            "HTTP requests answered.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "creditreg_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["method", "route"],
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the app fails before answering
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # The router (or the authentication before it) stores the matched route in the scope
            # it was given (this one).
            template = route_template(scope.get("route"))
            method = method_label(scope["method"])
            self.requests.labels(method, template, status_label(status)).inc()
            self.latency.labels(method, template).observe(time.perf_counter() - started)


def route_template(route: object) -> str:
    """The template a request's route answers (``/v1/receivables/{receivable_id}``, without a
    path convertor), as the OpenAPI document shows it; ``unmatched`` when none."""
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) else UNMATCHED


def rate_limited_counter(registry: CollectorRegistry) -> Counter:
    """``creditreg_http_rate_limited_total``: requests refused for want of budget, by budget and
    route template."""
    return Counter(
        "creditreg_http_rate_limited",
        "Requests refused 429 rate-limited: the API key was over the budget named.",
        ["limit", "route"],
        registry=registry,
    )


def new_registry(services: Callable[[], Services | None]) -> CollectorRegistry:
    """A registry of its own for one app, with the index's collector registered."""
    registry = CollectorRegistry()
    registry.register(IndexCollector(services))
    return registry
