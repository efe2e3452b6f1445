"""Per-key request budgets, checked after authentication and before the body is read.

Each API key (one per institution) draws on token buckets: a bucket holds at most ``burst``
tokens, refills at ``rate`` tokens per second, and a request takes one token from every budget it
counts against. Two budgets, configured in :class:`~registry.settings.Settings`:

- ``requests``: every request to a route that takes a key (``CREDITREG_RATE_LIMIT_PER_SECOND``,
  ``CREDITREG_RATE_LIMIT_BURST``; 1000 per second, bursts of 2000 by default);
- ``writes``: the routes that send a transaction (register, finance, repay), on top of the first
  (``CREDITREG_WRITE_RATE_LIMIT_PER_SECOND``, ``CREDITREG_WRITE_RATE_LIMIT_BURST``; 500 per
  second, bursts of 1000 by default). A write spends gas and block space for everyone on the
  chain, a duplicate check only this process's time.

A request that finds a bucket empty is answered ``429`` ``rate-limited`` with ``Retry-After``: the
whole seconds until that bucket holds a token again (at least 1). It takes nothing from the other
buckets, so a refused write leaves the key's request budget as it was. The refusals are counted in
``creditreg_http_rate_limited_total`` by budget and route template (:mod:`api.metrics`).

The buckets live in the process, with :class:`RateLimiter`'s lock around them: no database round
trip on every request. Each worker of ``creditreg serve --workers N`` keeps its own, so a key's
budget across the server is up to N times the configured one; an operator who wants a total
divides by N. A public route (health, index status, metrics) and a request without a working key
(answered 401 first) draw on nothing. A bucket starts full, and one is kept per key seen since the
process started: as many as the secrets file has institutions.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from prometheus_client import Counter
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from api.authentication import principal_of_scope
from api.metrics import route_template
from api.problems import RateLimited, send_problem
from registry.settings import Settings

__all__ = ["Budget", "RateLimit", "RateLimiter", "Refusal", "budgets_from"]

Clock = Callable[[], float]

# Tokens a float refill may fall short of 1 by and still count as a whole one: after waiting the
# Retry-After the refusal named, the request is served.
_EPSILON = 1e-9


@dataclass(frozen=True)
class Budget:
    """A sustained ``rate`` per second and a ``burst`` above it, under a ``name`` the refusal
    shows; ``setting`` names the environment variable that sets the rate."""

    name: str
    rate: float
    burst: int
    setting: str

    @property
    def enabled(self) -> bool:
        return self.rate > 0


@dataclass(frozen=True)
class Refusal:
    """Why a request was refused: the budget it found empty, and the whole seconds (at least 1)
    until that budget holds a token again."""

    budget: Budget
    retry_after: int


@dataclass
class _Bucket:
    tokens: float
    updated: float

    def refill(self, budget: Budget, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(float(budget.burst), self.tokens + elapsed * budget.rate)
        self.updated = now


@dataclass
class RateLimiter:
    """Token buckets per key and budget, read against ``clock`` (monotonic seconds)."""

    requests: Budget
    writes: Budget
    clock: Clock = time.monotonic
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def budgets(self, write: bool) -> list[Budget]:
        """What a request draws on: the request budget, and the write budget for a write."""
        chosen = [self.requests, self.writes] if write else [self.requests]
        return [budget for budget in chosen if budget.enabled]

    def take(self, key: str, write: bool) -> Refusal | None:
        """One token from each of ``key``'s budgets for the request, or, when one is empty,
        none from any and the refusal naming it (the longest wait, if several are)."""
        budgets = self.budgets(write)
        if not budgets:
            return None
        now = self.clock()
        with self._lock:
            buckets = [self._bucket(key, budget, now) for budget in budgets]
            short = [
                (budget, bucket)
                for budget, bucket in zip(budgets, buckets, strict=True)
                if bucket.tokens + _EPSILON < 1
            ]
            if short:
                return max(
                    (
                        Refusal(budget, _seconds_until_a_token(budget, bucket))
                        for budget, bucket in short
                    ),
                    key=lambda refusal: refusal.retry_after,
                )
            for bucket in buckets:
                bucket.tokens -= 1
        return None

    def _bucket(self, key: str, budget: Budget, now: float) -> _Bucket:
        bucket = self._buckets.get((key, budget.name))
        if bucket is None:
            bucket = self._buckets[(key, budget.name)] = _Bucket(float(budget.burst), now)
        else:
            bucket.refill(budget, now)
        return bucket


def _seconds_until_a_token(budget: Budget, bucket: _Bucket) -> int:
    return max(1, math.ceil((1 - bucket.tokens) / budget.rate - _EPSILON))


def budgets_from(settings: Settings) -> tuple[Budget, Budget]:
    """The request and write budgets ``settings`` configure."""
    return (
        Budget(
            "requests",
            settings.rate_limit_per_second,
            settings.rate_limit_burst,
            "CREDITREG_RATE_LIMIT_PER_SECOND",
        ),
        Budget(
            "writes",
            settings.write_rate_limit_per_second,
            settings.write_rate_limit_burst,
            "CREDITREG_WRITE_RATE_LIMIT_PER_SECOND",
        ),
    )


class RateLimit:
    """ASGI middleware: refuses with 429 a request whose key is over budget, before its body is
    read. It runs inside :class:`~api.authentication.Authentication`, which has put the caller's
    principal and the matched route in the scope; a request without a principal goes on."""

    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter,
        writes: Sequence[BaseRoute],
        refused: Counter,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.writes: Collection[BaseRoute] = tuple(writes)
        self.refused = refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = principal_of_scope(scope) if scope["type"] == "http" else None
        if principal is None:
            await self.app(scope, receive, send)
            return
        route = scope.get("route")
        refusal = self.limiter.take(principal.institution, write=route in self.writes)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        self.refused.labels(refusal.budget.name, route_template(route)).inc()
        budget = refusal.budget
        await send_problem(
            scope,
            receive,
            send,
            RateLimited(
                f"this API key is over its {budget.name} budget ({budget.rate:g} per second, "
                f"bursts of {budget.burst}; {budget.setting}); retry after {refusal.retry_after} s",
                limit=budget.name,
                rate_per_second=budget.rate,
                burst=budget.burst,
                retry_after=refusal.retry_after,
            ),
        )
