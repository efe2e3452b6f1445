"""Indexer replay speed into SQLite and PostgreSQL, next to the raw fetch-and-decode rate of the
same logs in the same run, with peak memory at two chain sizes.

Events are put on an anvil dev node in multicall batches (see bench/_generate.py) in two stages: a
quarter of them, then the rest. After each stage the ledger's logs are fetched in the indexer's
chunks and decoded with its decoder without storing anything (the raw reference), and replayed by
``Indexer.run_until_caught_up`` into a fresh database: SQLite after both stages (so that peak
memory at 1x and 4x the events can be compared: a streaming indexer stays flat), PostgreSQL after
the second (a fresh schema, dropped afterwards; skipped if the server is unreachable). Every
measured phase runs in a fresh interpreter, whose ``ru_maxrss`` is its own peak.

Then, on the full SQLite index, an advance-rate policy change (which moves the cap of every live
receivable) is sent and indexed: the rows it writes and its time, beside an empty block's (the
indexer's fixed cost per chunk). Caps are computed on read, so the change must write one row
however many receivables are live.

``--chunk-size`` is in blocks. The generated blocks are dense (five full multicall transactions,
about 1,600 events), so the default 3 blocks makes chunks of about 4,800 events: what the indexer's
default 2,000 blocks hold on a chain with 2.4 events per block. At 2,000 blocks here, the whole
chain would be one chunk. ``--profile`` adds an untimed SQLite replay of the first stage under
cProfile and prints its top functions by cumulative time. Prints a table and writes
bench/results/indexer.json.

    .venv/bin/python bench/indexer.py [--events 100000] [--chunk-size 3] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from _generate import TXS_PER_BLOCK, EventGenerator, Stage

from registry.chain.client import Chain
from registry.chain.node import DevNode
from registry.contracts.deploy import Deployment
from registry.contracts.ledger import AdvanceRates, ReceivableLedger
from registry.credentials import DevSecrets
from registry.db import create_schema, make_engine
from registry.db.schema import VERSIONED, receivables
from registry.devstack import bootstrap
from registry.indexer import Indexer, fetch_logs, next_range

RESULTS = Path(__file__).parent / "results" / "indexer.json"
POSTGRES_URL = os.environ.get(
    "CREDITREG_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DEFAULT_CHUNK_BLOCKS = 3
PROFILE_LINES = 15
TARGETS = {
    "sqlite_events_per_s": 20_000,
    "postgres_events_per_s": 10_000,
    "vs_raw": 0.5,
    "policy_change_rows": 1,
}
# Flat: at 4x the events, the replay's RSS growth at most this many times the smaller run's.
FLAT_GROWTH_RATIO = 1.5
MIN_CHUNKS_FOR_FLAT = 4


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# Phases: each runs in its own interpreter (``--phase``), prints one JSON line, and its peak RSS is
# its own. The baseline is the peak before the measured work: interpreter, libraries, connections.


def _phase_raw(chain: Chain, deployment: Deployment, chunk_size: int) -> dict[str, Any]:
    # An Indexer only for its log source and decoder (its engine never connects), so that the
    # reference fetches and decodes exactly as the indexer does.
    indexer = Indexer(make_engine("sqlite://"), chain, deployment, chunk_size=chunk_size)
    head = chain.block_number()
    baseline = _peak_rss_mb()
    cpu = time.process_time()
    indexed, events, chunks, fetch_s, decode_s = deployment.deployment_block - 1, 0, 0, 0.0, 0.0
    while (block_range := next_range(indexed, head, chunk_size)) is not None:
        start = time.perf_counter()
        logs = fetch_logs(indexer.log_source, indexer.decoder.addresses, block_range)
        fetched = time.perf_counter()
        events += len(indexer.decoder.decode_all(logs))
        decode_s += time.perf_counter() - fetched
        fetch_s += fetched - start
        indexed, chunks = block_range.end, chunks + 1
    return {
        "events": events,
        "chunks": chunks,
        "seconds": fetch_s + decode_s,
        "cpu_seconds": time.process_time() - cpu,
        "fetch_seconds": fetch_s,
        "decode_seconds": decode_s,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _phase_replay(
    chain: Chain, deployment: Deployment, chunk_size: int, db_url: str, profile: bool
) -> dict[str, Any]:
    engine = make_engine(db_url)
    create_schema(engine)
    sqlite_file = engine.url.database if engine.dialect.name == "sqlite" else None
    cache_pages = None
    if sqlite_file is not None:
        with engine.connect() as connection:
            cache_pages = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    # A process that only indexes, as under `creditreg index`: the collector paused per chunk.
    indexer = Indexer(
        engine, chain, deployment, confirmations=0, chunk_size=chunk_size, pause_gc=True
    )
    head = chain.block_number()
    baseline = _peak_rss_mb()
    profiler = cProfile.Profile() if profile else None
    start, cpu = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    events = indexer.run_until_caught_up()
    if profiler is not None:
        profiler.disable()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = _peak_rss_mb()
    engine.dispose()
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(PROFILE_LINES)
        print(out.getvalue(), file=sys.stderr)
    blocks = head - deployment.deployment_block + 1
    return {
        "events": events,
        "chunks": math.ceil(blocks / chunk_size),
        "seconds": seconds,
        "cpu_seconds": cpu,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": peak,
        # SQLite only: the file's size with its WAL, and the page cache's limit (PRAGMA cache_size:
        # pages if positive, KiB if negative), which bounds part of the RSS growth.
        "sqlite_file_mb": None if sqlite_file is None else _file_mb(sqlite_file),
        "sqlite_cache_size": cache_pages,
    }


def _policy_change(
    chain: Chain, deployment: Deployment, secrets: DevSecrets, db_url: str, chunk_size: int
) -> dict[str, Any]:
    """An advance-rate change indexed into the index at ``db_url`` (caught up with the chain):
    the projection rows it writes and its seconds, beside an empty block's."""
    engine = make_engine(db_url)
    indexer = Indexer(engine, chain, deployment, confirmations=0, chunk_size=chunk_size)
    ledger = ReceivableLedger(chain, deployment.address_of("ReceivableLedger"))
    indexer.run_until_caught_up()
    # The generator took over mining; a transaction sent here is mined as it arrives.
    chain.w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    with engine.connect() as connection:
        live = connection.execute(
            sa.select(sa.func.count())
            .select_from(receivables)
            .where(receivables.c.valid_to_block.is_(None), receivables.c.status != "cancelled")
        ).scalar_one()

    def rows() -> int:
        with engine.connect() as connection:
            return sum(
                connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for table, _ in VERSIONED.values()
            )

    def indexed(send: Any) -> tuple[float, int]:
        send()
        before, start = rows(), time.perf_counter()
        indexer.run_until_caught_up()
        return time.perf_counter() - start, rows() - before

    empty_seconds, _ = indexed(lambda: chain.w3.provider.make_request("evm_mine", []))
    rates = ledger.advance_rates()
    seconds, written = indexed(
        lambda: ledger.set_advance_rates(
            secrets.deployer, rates.verified_bps - 500, rates.unverified_bps - 500
        )
    )
    engine.dispose()
    return {
        "live_receivables": live,
        "rows_written": written,
        "seconds": seconds,
        "empty_block_seconds": empty_seconds,
    }


def _file_mb(path: str) -> float:
    files = (Path(path), Path(f"{path}-wal"))
    return sum(f.stat().st_size for f in files if f.exists()) / 2**20


def _run_phase(args: list[str]) -> dict[str, Any]:
    """Runs this script with ``--phase ...`` in a fresh interpreter; its stderr passes through."""
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["growth_rss_mb"] = result["peak_rss_mb"] - result["baseline_rss_mb"]
    if result["seconds"] > 0:
        result["events_per_s"] = result["events"] / result["seconds"]
    return result


@contextmanager
def _postgres_schema() -> Iterator[str | None]:
    """A URL whose search_path is a fresh schema, dropped on exit; None if there is no server."""
    try:
        admin = make_engine(POSTGRES_URL)
        with admin.begin() as connection:
            name = f"bench_{uuid.uuid4().hex[:12]}"
            connection.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    except sa.exc.OperationalError as error:
        problem = str(error.orig).strip().splitlines()[0]
        print(f"PostgreSQL unreachable at {POSTGRES_URL} ({problem}): skipping its row")
        yield None
        return
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def _stage_json(stage: Stage) -> dict[str, Any]:
    return {
        "events": stage.events,
        "transactions": stage.transactions,
        "blocks": [stage.first_block, stage.last_block],
        "seconds": stage.seconds,
        "sign_seconds": stage.sign_seconds,
        "mine_seconds": stage.mine_seconds,
        "count_seconds": stage.count_seconds,
    }


def run(events: int, chunk_size: int, profile: bool) -> dict[str, Any]:
    wall, load_average = time.perf_counter(), os.getloadavg()[0]
    with DevNode("anvil") as node, tempfile.TemporaryDirectory() as tmp:
        chain = Chain.connect(node.url, timeout=300)
        secrets = DevSecrets.generate()
        deployment = bootstrap(chain, secrets, AdvanceRates(8000, 8000))
        manifest = Path(tmp) / "deployment.json"
        deployment.save(manifest)
        ledger = ReceivableLedger(chain, deployment.address_of("ReceivableLedger"))
        generator = EventGenerator(chain, ledger, secrets.institution("Bank A").signer)
        common = ["--node-url", node.url, "--deployment", str(manifest)]
        common += ["--chunk-size", str(chunk_size)]

        def replay(db_url: str, *extra: str) -> dict[str, Any]:
            return _run_phase(["--phase", "replay", *common, "--db-url", db_url, *extra])

        quarter = generator.generate(events // 4)
        print(f"generated {quarter.events} events in {quarter.seconds:.1f}s; replaying them")
        phases: dict[str, Any] = {"raw_quarter": _run_phase(["--phase", "raw", *common])}
        phases["sqlite_quarter"] = replay(f"sqlite:///{tmp}/quarter.db")
        if profile:
            replay(f"sqlite:///{tmp}/profile.db", "--profile")

        rest = generator.generate(events - quarter.events)
        print(f"generated {rest.events} more events in {rest.seconds:.1f}s; replaying all")
        phases["raw"] = _run_phase(["--phase", "raw", *common])
        phases["sqlite"] = replay(f"sqlite:///{tmp}/full.db")
        with _postgres_schema() as postgres_url:
            phases["postgres"] = None if postgres_url is None else replay(postgres_url)
        # Last: it adds to the chain the replays above read.
        policy = _policy_change(chain, deployment, secrets, f"sqlite:///{tmp}/full.db", chunk_size)

    # Every phase of a stage must have seen the same events: the bootstrap's and the generated.
    for keys in (("raw_quarter", "sqlite_quarter"), ("raw", "sqlite", "postgres")):
        counts = {key: phases[key]["events"] for key in keys if phases[key] is not None}
        assert len(set(counts.values())) == 1, f"event counts differ: {counts}"
    return {
        "node": "anvil (automine)",
        "load_average": load_average,
        "events_requested": events,
        "chunk_size_blocks": chunk_size,
        "events_per_tx": generator.events_per_tx,
        "events_per_block": generator.events_per_tx * TXS_PER_BLOCK,
        "gas_per_tx": generator.gas_per_tx,
        "generation": {"quarter": _stage_json(quarter), "rest": _stage_json(rest)},
        "phases": phases,
        "policy_change": policy,
        "wall_seconds": time.perf_counter() - wall,
    }


def _targets(results: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(target, measured, goal, met; None when not measured)."""
    phases = results["phases"]
    raw = phases["raw"]["events_per_s"]
    rows: list[tuple[str, str, str, bool | None]] = []
    for key, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
        goal = TARGETS[f"{key}_events_per_s"]
        phase = phases[key]
        if phase is None:
            rows.append((f"{label} events/s", "skipped", f">= {goal:,}", None))
            rows.append((f"{label} vs raw", "skipped", f">= {TARGETS['vs_raw']:.2f}x", None))
            continue
        rate = phase["events_per_s"]
        rows.append((f"{label} events/s", f"{rate:,.0f}", f">= {goal:,}", rate >= goal))
        rows.append(
            (
                f"{label} vs raw",
                f"{rate / raw:.2f}x",
                f">= {TARGETS['vs_raw']:.2f}x",
                rate / raw >= TARGETS["vs_raw"],
            )
        )
    small, large = phases["sqlite_quarter"], phases["sqlite"]
    events_ratio = large["events"] / small["events"]
    growth_ratio = large["growth_rss_mb"] / max(small["growth_rss_mb"], 1.0)
    # Peak memory follows the chunk: a first stage shorter than a few chunks says nothing.
    flat = None if small["chunks"] < MIN_CHUNKS_FOR_FLAT else growth_ratio <= FLAT_GROWTH_RATIO
    rows.append(
        (
            f"SQLite RSS growth at {events_ratio:.1f}x events",
            f"{growth_ratio:.2f}x",
            f"<= {FLAT_GROWTH_RATIO:.2f}x",
            flat,
        )
    )
    policy = results["policy_change"]
    rows.append(
        (
            f"policy change rows ({policy['live_receivables']:,} live)",
            f"{policy['rows_written']:,}",
            f"<= {TARGETS['policy_change_rows']}",
            policy["rows_written"] <= TARGETS["policy_change_rows"],
        )
    )
    return rows


def report(results: dict[str, Any]) -> None:
    phases = results["phases"]
    stages = results["generation"].values()
    gen_events = sum(stage["events"] for stage in stages)
    gen_seconds = sum(stage["seconds"] for stage in stages)
    per_block, chunk = results["events_per_block"], results["chunk_size_blocks"]
    print(
        f"\nanvil, {results['events_per_tx']} events per multicall tx, {per_block:,} per block; "
        f"indexer chunks of {chunk} blocks (~{per_block * chunk:,} events); load average "
        f"{results['load_average']:.1f} on {os.cpu_count()} CPUs"
    )
    print(
        f"{'operation':<34}{'events':>9}{'seconds':>9}{'CPU s':>8}{'events/s':>10}{'vs raw':>8}"
        f"{'peak RSS MB':>13}{'growth MB':>11}"
    )
    label, rate = "generate (multicall, pre-signed)", gen_events / gen_seconds
    print(f"{label:<34}{gen_events:>9,}{gen_seconds:>9.1f}{'':>8}{rate:>10,.0f}")
    rows = (
        ("raw_quarter", "fetch+decode, raw (1st quarter)", "raw_quarter"),
        ("sqlite_quarter", "replay into SQLite (1st quarter)", "raw_quarter"),
        ("raw", "fetch+decode, raw (reference)", "raw"),
        ("sqlite", "replay into SQLite", "raw"),
        ("postgres", "replay into PostgreSQL", "raw"),
    )
    for key, label, reference in rows:
        row = phases[key]
        if row is None:
            print(f"{label:<34}  skipped: no PostgreSQL server")
            continue
        rate = row["events_per_s"]
        print(
            f"{label:<34}{row['events']:>9,}{row['seconds']:>9.1f}{row['cpu_seconds']:>8.1f}"
            f"{rate:>10,.0f}{rate / phases[reference]['events_per_s']:>7.2f}x"
            f"{row['peak_rss_mb']:>13.0f}{row['growth_rss_mb']:>11.1f}"
        )
    raw = phases["raw"]
    print(
        f"raw reference: fetch {raw['fetch_seconds']:.1f}s "
        f"({raw['events'] / raw['fetch_seconds']:,.0f} events/s), decode "
        f"{raw['decode_seconds']:.1f}s ({raw['events'] / raw['decode_seconds']:,.0f} events/s)"
    )
    small, large = phases["sqlite_quarter"], phases["sqlite"]
    cache = large["sqlite_cache_size"]
    cache_text = f"{-cache / 1024:.0f} MiB" if cache < 0 else f"{cache} pages"
    print(
        f"SQLite file {small['sqlite_file_mb']:.0f} MB after the first quarter, "
        f"{large['sqlite_file_mb']:.0f} MB after all; page cache limit {cache_text}"
    )
    policy = results["policy_change"]
    print(
        f"advance-rate change with {policy['live_receivables']:,} live receivables: "
        f"{policy['rows_written']:,} row(s) written in {policy['seconds'] * 1000:.0f} ms "
        f"(an empty block: {policy['empty_block_seconds'] * 1000:.0f} ms)"
    )
    print(f"\n{'target':<40}{'measured':>10}{'goal':>12}")
    for target in results["targets"]:
        met = target["met"]
        verdict = "n/a" if met is None else "PASS" if met else "MISS"
        print(f"{target['target']:<40}{target['measured']:>10}{target['goal']:>12}  {verdict}")
    print(f"\nwall time {results['wall_seconds']:.0f}s, of which generation {gen_seconds:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_BLOCKS)
    parser.add_argument("--profile", action="store_true")
    # Internal: one measured phase, in a fresh interpreter (see _run_phase).
    parser.add_argument("--phase", choices=("raw", "replay"), help=argparse.SUPPRESS)
    parser.add_argument("--node-url", help=argparse.SUPPRESS)
    parser.add_argument("--deployment", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db-url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase is not None:
        chain = Chain.connect(args.node_url, timeout=300)
        deployment = Deployment.load(args.deployment)
        if args.phase == "raw":
            result = _phase_raw(chain, deployment, args.chunk_size)
        else:
            result = _phase_replay(chain, deployment, args.chunk_size, args.db_url, args.profile)
        print(json.dumps(result))
        return

    results = run(args.events, args.chunk_size, args.profile)
    results["targets"] = [
        {"target": label, "measured": measured, "goal": goal, "met": met}
        for label, measured, goal, met in _targets(results)
    ]
    report(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
