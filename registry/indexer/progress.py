"""The indexer's progress, kept in the index database so that any process can report it.

The API usually runs apart from the indexer (``creditreg serve`` beside ``creditreg index``), so
the rate it reports cannot live in the indexer's memory. Each chunk written adds a row to
``indexer_progress`` in the chunk's own transaction (:func:`record_step`): its blocks, its events
and the seconds it took (reading, decoding and writing it; polls that find nothing new are not
steps). A crash therefore loses or repeats no count, like the rows themselves.

The newest row also carries running totals since the index was created: events loaded, steps,
seconds, and the steps per duration bucket of :data:`STEP_BUCKETS` (a cumulative histogram, which
Prometheus can take as it is). Rows older than :data:`RETENTION` are pruned as new ones come; the
totals on the newest row survive that, and an idle indexer writes nothing, so nothing is pruned.

Events per second (:attr:`Progress.events_per_second`) is measured over the last
:data:`RATE_WINDOW` seconds: the events of the steps committed in it, divided by the time from
the start of the first of those steps (or the window's start, if earlier) to now. So it is the
indexing rate while the indexer works, and falls to 0 over one window once it has caught up with a
quiet chain. Wall-clock time is the indexer's and the reader's clock (UTC), not the chain's.

"Events indexed" counts every event loaded, including events loaded again after a chain
reorganization rolled them back: a counter that never decreases, as Prometheus expects.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, delete, insert, select

from registry.db.schema import indexer_progress
from registry.indexer.extract import BlockRange

__all__ = [
    "RATE_WINDOW",
    "RETENTION",
    "STEP_BUCKETS",
    "Progress",
    "read_progress",
    "record_step",
]

RATE_WINDOW = timedelta(seconds=60)
"""The recent window events per second are measured over."""

RETENTION = timedelta(minutes=10)
"""How long step rows are kept (the newest is always kept)."""

STEP_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
"""Upper bounds (seconds) of the step-duration histogram; the last bucket, +Inf, is the total."""


def _utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (SQLite gives back naive ones; they were written in
    UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class Progress:
    """What the indexer has done, as of ``now``."""

    events_total: int
    """Events loaded since the index was created (re-loads after a reorganization included)."""
    steps_total: int
    seconds_total: float
    step_buckets: tuple[int, ...]
    """Steps that took at most each bound of :data:`STEP_BUCKETS`, cumulative."""
    last_step_at: datetime | None
    window_events: int
    """Events of the steps committed within the rate window."""
    window_seconds: float
    """From the start of the first of those steps (at most the window) to now; 0 without steps."""

    @property
    def events_per_second(self) -> float:
        if self.window_events == 0 or self.window_seconds <= 0:
            return 0.0
        return self.window_events / self.window_seconds


@dataclass(frozen=True)
class _Totals:
    """The running totals on the newest row."""

    events: int
    steps: int
    seconds: float
    buckets: tuple[int, ...]
    committed_at: datetime


def _newest(connection: Connection, cursor_name: str) -> _Totals | None:
    c = indexer_progress.c
    row = connection.execute(
        select(c.events_total, c.steps_total, c.seconds_total, c.step_buckets, c.committed_at)
        .where(c.cursor_name == cursor_name)
        .order_by(c.id.desc())
        .limit(1)
    ).one_or_none()
    if row is None:
        return None
    stored = tuple(int(count) for count in row.step_buckets)
    # A histogram written with other bounds (an older release) restarts its buckets.
    buckets = stored if len(stored) == len(STEP_BUCKETS) else (0,) * len(STEP_BUCKETS)
    return _Totals(
        int(row.events_total),
        int(row.steps_total),
        float(row.seconds_total),
        buckets,
        _utc(row.committed_at),
    )


def record_step(
    connection: Connection,
    cursor_name: str,
    block_range: BlockRange,
    events: int,
    seconds: float,
    now: datetime | None = None,
) -> None:
    """Adds a step to the progress of ``cursor_name``, within the caller's transaction (the
    chunk's), and prunes the rows that fell out of :data:`RETENTION`."""
    moment = _utc(now or datetime.now(UTC))
    newest = _newest(connection, cursor_name) or _Totals(
        0, 0, 0.0, (0,) * len(STEP_BUCKETS), moment
    )
    buckets = list(newest.buckets)
    for index in range(bisect.bisect_left(STEP_BUCKETS, seconds), len(STEP_BUCKETS)):
        buckets[index] += 1
    c = indexer_progress.c
    connection.execute(
        delete(indexer_progress).where(
            c.cursor_name == cursor_name, c.committed_at < moment - RETENTION
        )
    )
    connection.execute(
        insert(indexer_progress).values(
            cursor_name=cursor_name,
            first_block=block_range.start,
            last_block=block_range.end,
            events=events,
            seconds=seconds,
            events_total=newest.events + events,
            steps_total=newest.steps + 1,
            seconds_total=newest.seconds + seconds,
            step_buckets=buckets,
            committed_at=moment,
        )
    )


def read_progress(
    connection: Connection,
    cursor_name: str,
    now: datetime | None = None,
    window: timedelta = RATE_WINDOW,
) -> Progress:
    """The progress of ``cursor_name`` as of ``now`` (the reader's clock by default)."""
    moment = _utc(now or datetime.now(UTC))
    newest = _newest(connection, cursor_name)
    if newest is None:
        return Progress(0, 0, 0.0, (0,) * len(STEP_BUCKETS), None, 0, 0.0)
    c = indexer_progress.c
    since = moment - window
    events, first_commit, first_seconds = 0, None, 0.0
    recent = connection.execute(
        select(c.events, c.seconds, c.committed_at)
        .where(c.cursor_name == cursor_name, c.committed_at > since, c.committed_at <= moment)
        .order_by(c.committed_at)
    ).all()
    for row in recent:
        events += row.events
    if recent:
        first_commit, first_seconds = _utc(recent[0].committed_at), recent[0].seconds
    window_seconds = 0.0
    if first_commit is not None:
        started = max(first_commit - timedelta(seconds=first_seconds), since)
        window_seconds = (moment - started).total_seconds()
    return Progress(
        events_total=newest.events,
        steps_total=newest.steps,
        seconds_total=newest.seconds,
        step_buckets=newest.buckets,
        last_step_at=newest.committed_at,
        window_events=events,
        window_seconds=window_seconds,
    )
