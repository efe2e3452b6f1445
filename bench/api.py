"""The API under load, as a bank's load test would run it, next to the node's raw capacity.

Starts its own system (``creditreg up`` in a subprocess, on a temporary state directory: anvil,
deployment, indexer and API) and drives it with closed-loop clients (asyncio and aiohttp, in this
process, each sending its next request when the last is answered):

- **checks**: ``POST /v1/receivables/check`` with two declarations, at 1 and 32 clients;
- **writes**: per client iteration a registration then a first tranche (two writes), at 1 and 64
  clients; in automine, and again with a block every ``--block-time`` seconds (as a consortium
  chain mines);
- **reference**: the node's raw rate for pre-signed ``registerReceivable`` transactions of the same
  gas, sent to the same node in the same run (what the chain alone carries); and the framework's
  floor for the check: the same request, validated by the same model, answered at once by the same
  FastAPI and uvicorn (bench/floor_app.py), at 1 and 32 clients.

The load generator shares the two cores with the server, so its own CPU time is printed beside the
figures, as is the server's (``up`` and its dev node). Prints a table with the issue's targets
marked and writes bench/results/api.json.

    .venv/bin/python bench/api.py [--duration 10] [--block-time 1] [--skip-block-time]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from chain import presigned_rate, receivable_terms

from registry.chain.client import Chain
from registry.chain.node import free_port
from registry.contracts.deploy import Deployment
from registry.contracts.ledger import ReceivableLedger
from registry.credentials import ApiSecrets, read_api_credentials
from registry.keystore import Keystores
from registry.settings import Settings

RESULTS = Path(__file__).parent / "results" / "api.json"
EXPORTER_USCC = "91350100M000100Y43"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

TARGETS = {
    "checks_per_s_32": 1500.0,
    "checks_p99_ms_32": 25.0,
    "write_p50_ms_1": 100.0,
    "write_p99_ms_1": 250.0,
    "writes_per_s_64": 300.0,
    "writes_vs_raw": 0.5,
}
"""Issue 11's goals: checks at 32 clients, one write end to end in automine, writes at 64."""


# --- the system under test ----------------------------------------------------------------------


@dataclass
class System:
    process: subprocess.Popen[bytes]
    state_dir: Path
    base_url: str
    rpc_url: str
    bank_keys: list[str]

    def cpu_seconds(self) -> float:
        """User and system time of ``up`` and every process below it (the dev node)."""
        return sum(_cpu_of(pid) for pid in _descendants(self.process.pid))


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [root], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _cpu_of(pid: int) -> float:
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return 0.0


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def running_system(block_time: float) -> Iterator[System]:
    """``creditreg up`` on a fresh state directory, until its API answers; stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="creditreg-bench-") as directory:
        state_dir = Path(directory)
        port = free_port()
        env = {
            **os.environ,
            "CREDITREG_STATE_DIR": str(state_dir),
            "CREDITREG_API_PORT": str(port),
            "CREDITREG_NODE_BLOCK_TIME": str(block_time),
        }
        for name in ("CREDITREG_RPC_URL", "CREDITREG_DATABASE_URL", "CREDITREG_MANIFEST_PATH"):
            env.pop(name, None)
        process = subprocess.Popen(
            [sys.executable, "-m", "creditreg", "up"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_for_api(base_url, process)
            manifest = Deployment.load(state_dir / "deployment.json")
            keys = read_api_credentials(state_dir / "secrets.json")
            banks = [i for i in keys if i.role.value == "lender"]
            system = System(
                process,
                state_dir,
                base_url,
                _rpc_url_of(process, state_dir),
                [bank.api_key for bank in banks],
            )
            assert manifest.contracts, "up deployed nothing"
            yield system
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


def _wait_for_api(base_url: str, process: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise SystemExit(f"creditreg up exited:\n{output}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit("creditreg up did not serve within 180 s")


def _rpc_url_of(process: subprocess.Popen[bytes], state_dir: Path) -> str:
    """The dev node's URL, from the banner ``up`` prints once it serves."""
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    banner = b""
    deadline = time.monotonic() + 30
    while b"dev node at " not in banner or not banner.rstrip(b" ").endswith(b"\n"):
        chunk = process.stdout.read()
        if chunk:
            banner += chunk
        elif time.monotonic() > deadline:
            raise SystemExit(f"no node URL in up's banner: {banner.decode()!r}")
        else:
            time.sleep(0.05)
    line = banner.split(b"dev node at ", 1)[1].split()[0]
    return line.decode()


# --- requests -----------------------------------------------------------------------------------


def _number(digits: int = 18) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(digits))


MATURITY = (datetime.now(UTC).date() + timedelta(days=90)).isoformat()


def check_body(declarations: list[str]) -> dict[str, Any]:
    return {
        "exporter_uscc": EXPORTER_USCC,
        "currency": "USD",
        "invoice_number": f"INV-{_number(8)}",
        "declaration_numbers": declarations,
    }


def registration_body() -> dict[str, Any]:
    return {
        "exporter_uscc": EXPORTER_USCC,
        "currency": "USD",
        "invoice_number": f"INV-{_number(10)}",
        "face_value": 1_000_000,
        "maturity_date": MATURITY,
        "declarations": [{"number": _number(), "value": 1_000_000}],
    }


@dataclass
class Phase:
    """What one load phase saw: each request's latency and answer."""

    name: str
    clients: int
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    elapsed: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0

    def record(self, status: int, seconds: float) -> None:
        self.statuses[status] += 1
        self.latencies.append(seconds)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def quantile(q: float) -> float:
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0

        return {
            "phase": self.name,
            "clients": self.clients,
            "requests": len(ordered),
            "per_s": len(ordered) / self.elapsed if self.elapsed else 0.0,
            "p50_ms": quantile(0.50),
            "p99_ms": quantile(0.99),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "client_cpu_share": self.client_cpu / self.elapsed if self.elapsed else 0.0,
            "server_cpu_share": self.server_cpu / self.elapsed if self.elapsed else 0.0,
            # What each request cost the server (API, indexer and dev node together): unlike the
            # rates, barely moved by other load on the machine.
            "server_cpu_ms_per_request": 1000 * self.server_cpu / len(ordered) if ordered else 0.0,
        }


Step = Callable[[aiohttp.ClientSession, str, Phase], Awaitable[None]]


async def _post(
    session: aiohttp.ClientSession, url: str, key: str, body: dict[str, Any], phase: Phase
) -> dict[str, Any] | None:
    start = time.perf_counter()
    async with session.post(url, json=body, headers={"X-API-Key": key}) as response:
        payload = await response.json(content_type=None)
        phase.record(response.status, time.perf_counter() - start)
        return payload if response.status < 300 else None


async def _run_phase(
    system: System, name: str, clients: int, duration: float, step: Step
) -> dict[str, Any]:
    phase = Phase(name, clients)
    deadline = time.perf_counter() + duration
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=120)

    async def client(index: int, session: aiohttp.ClientSession) -> None:
        key = system.bank_keys[index % len(system.bank_keys)]
        while time.perf_counter() < deadline:
            await step(session, key, phase)

    async with aiohttp.ClientSession(
        system.base_url, connector=connector, timeout=timeout
    ) as session:
        client_cpu, server_cpu = _own_cpu_seconds(), system.cpu_seconds()
        start = time.perf_counter()
        await asyncio.gather(*(client(i, session) for i in range(clients)))
        phase.elapsed = time.perf_counter() - start
        phase.client_cpu = _own_cpu_seconds() - client_cpu
        phase.server_cpu = system.cpu_seconds() - server_cpu
    return phase.summary()


async def _registered_declarations(system: System) -> list[str]:
    """Two declarations for the checks: one backing a registered receivable, one unknown."""
    phase = Phase("setup", 1)
    body = registration_body()
    async with aiohttp.ClientSession(system.base_url) as session:
        answer = await _post(session, "/v1/receivables", system.bank_keys[0], body, phase)
    assert answer is not None, f"setup registration refused: {phase.statuses}"
    return [body["declarations"][0]["number"], _number()]


def _checks(declarations: list[str]) -> Step:
    async def step(session: aiohttp.ClientSession, key: str, phase: Phase) -> None:
        await _post(session, "/v1/receivables/check", key, check_body(declarations), phase)

    return step


async def _write(session: aiohttp.ClientSession, key: str, phase: Phase) -> None:
    registered = await _post(session, "/v1/receivables", key, registration_body(), phase)
    if registered is not None:
        url = f"/v1/receivables/{registered['receivable_id']}/financings"
        await _post(session, url, key, {"amount": 400_000}, phase)


# --- the node's raw rate ------------------------------------------------------------------------


def raw_node_rate(system: System, count: int) -> dict[str, float]:
    """The same writes pre-signed (``count`` registrations, then a tranche on each) by a bank's
    key and sent all at once to the same node: the rate the chain alone carries them at.

    Runs after the API's phases: the API keeps its own count of this bank's nonces and would
    have to re-read them."""
    chain = Chain.connect(system.rpc_url)
    manifest = Deployment.load(system.state_dir / "deployment.json")
    ledger = ReceivableLedger(chain, manifest.address_of(ReceivableLedger.NAME))
    # `up` unlocked the keystores with the dev password (or the one the environment sets).
    keystores = Keystores.from_settings(Settings(state_dir=system.state_dir))
    bank = (
        ApiSecrets.load(system.state_dir / "secrets.json", keystores).institution("Bank B").signer
    )
    common = {"from": bank.address, "gas": 400_000, "gasPrice": chain.w3.eth.gas_price * 2}
    tag = secrets.token_bytes(1)
    registrations, financings = [], []
    for i in range(count):
        terms, declarations = receivable_terms(i, tag)
        registrations.append(
            ledger.contract.functions.registerReceivable(
                (terms.id, terms.exporter, 1, terms.face_value, b"USD", terms.maturity),
                [(d.fingerprint, d.value) for d in declarations],
                [],
            ).build_transaction(common)  # type: ignore[arg-type]
        )
        financings.append(
            ledger.contract.functions.finance(terms.id, 50_000).build_transaction(common)  # type: ignore[arg-type]
        )
    register = presigned_rate(chain, bank, registrations)
    finance = presigned_rate(chain, bank, financings)
    seconds = count / register["tx_per_s"] + count / finance["tx_per_s"]
    gas = count * (register["gas_per_tx"] + finance["gas_per_tx"])
    return {
        "writes_per_s": 2 * count / seconds,
        "gas_per_write": gas / (2 * count),
        "gas_per_s": gas / seconds,
    }


# --- the run ------------------------------------------------------------------------------------


@contextlib.contextmanager
def floor_server() -> Iterator[System]:
    """bench/floor_app.py served by uvicorn as ``creditreg serve`` serves the API."""
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "bench.floor_app:app", "--port", str(port)),
            *("--http", "httptools", "--loop", "uvloop", "--log-level", "warning"),
        ],
        cwd=Path(__file__).parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_for_api(base_url, process)
        yield System(process, Path("."), base_url, "", ["-"])
    finally:
        process.terminate()
        process.communicate(timeout=30)


def framework_floor(duration: float) -> list[dict[str, Any]]:
    """The check's load on the framework floor: what the check could reach at best here."""
    print("floor: starting uvicorn with bench/floor_app.py ...", flush=True)
    declarations = [_number(), _number()]
    with floor_server() as system:

        async def load() -> list[dict[str, Any]]:
            return [
                await _run_phase(system, "floor", clients, duration, _checks(declarations))
                for clients in (1, 32)
            ]

        return asyncio.run(load())


def run_mode(block_time: float, duration: float, with_checks: bool) -> dict[str, Any]:
    mode = "automine" if block_time == 0 else f"{block_time:g} s blocks"
    print(f"{mode}: starting creditreg up ...", flush=True)
    with running_system(block_time) as system:
        phases = []

        async def load() -> None:
            if with_checks:
                declarations = await _registered_declarations(system)
                for clients in (1, 32):
                    phases.append(
                        await _run_phase(system, "checks", clients, duration, _checks(declarations))
                    )
            for clients in (1, 64):
                phases.append(await _run_phase(system, "writes", clients, duration, _write))

        asyncio.run(load())
        raw = raw_node_rate(system, count=200 if block_time == 0 else 400)
    return {"mode": mode, "block_time": block_time, "phases": phases, "raw": raw}


def _row(phase: dict[str, Any], raw: dict[str, float]) -> str:
    errors = sum(n for status, n in phase["statuses"].items() if int(status) >= 500)
    refused = sum(n for status, n in phase["statuses"].items() if 400 <= int(status) < 500)
    vs_raw = f"{phase['per_s'] / raw['writes_per_s']:.2f}x" if phase["phase"] == "writes" else ""
    return (
        f"  {phase['phase']:<8}{phase['clients']:>8}{phase['per_s']:>10.1f}"
        f"{phase['p50_ms']:>10.1f}{phase['p99_ms']:>10.1f}{refused:>7}{errors:>6}"
        f"{vs_raw:>8}{phase['client_cpu_share']:>9.0%}{phase['server_cpu_share']:>9.0%}"
        f"{phase['server_cpu_ms_per_request']:>11.1f}"
    )


def _verdicts(modes: list[dict[str, Any]]) -> list[str]:
    automine = modes[0]
    by = {(p["phase"], p["clients"]): p for p in automine["phases"]}
    raw = automine["raw"]["writes_per_s"]
    checks, write1, write64 = by[("checks", 32)], by[("writes", 1)], by[("writes", 64)]
    rows = [
        ("checks/s at 32 clients", checks["per_s"], ">=", TARGETS["checks_per_s_32"]),
        ("check p99 ms at 32 clients", checks["p99_ms"], "<", TARGETS["checks_p99_ms_32"]),
        ("write p50 ms, 1 client", write1["p50_ms"], "<", TARGETS["write_p50_ms_1"]),
        ("write p99 ms, 1 client", write1["p99_ms"], "<", TARGETS["write_p99_ms_1"]),
        ("writes/s at 64 clients", write64["per_s"], ">=", TARGETS["writes_per_s_64"]),
        ("writes at 64 vs node raw", write64["per_s"] / raw, ">=", TARGETS["writes_vs_raw"]),
    ]
    lines = []
    for label, value, op, target in rows:
        met = value >= target if op == ">=" else value < target
        lines.append(
            f"  {'met ' if met else 'MISS'}  {label:<28}{value:>10.2f}  target {op} {target:g}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="Seconds per phase.")
    parser.add_argument("--block-time", type=float, default=1.0, help="The second mode's.")
    parser.add_argument("--skip-block-time", action="store_true", help="Automine only.")
    args = parser.parse_args()

    modes = [run_mode(0, args.duration, with_checks=True)]
    if not args.skip_block_time:
        modes.append(run_mode(args.block_time, args.duration, with_checks=False))
    floor = framework_floor(args.duration)

    print(
        f"  {'phase':<8}{'clients':>8}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'4xx':>7}"
        f"{'5xx':>6}{'vs raw':>8}{'gen CPU':>9}{'srv CPU':>9}{'srv ms/req':>11}"
    )
    for mode in modes:
        raw = mode["raw"]
        print(
            f"{mode['mode']}: node raw rate {raw['writes_per_s']:.0f} writes/s "
            f"({raw['gas_per_write']:,.0f} gas per write, {raw['gas_per_s'] / 1e6:.1f} M gas/s)"
        )
        for phase in mode["phases"]:
            print(_row(phase, raw))
    print("framework floor (the check's request, validated and answered at once, same server):")
    for phase in floor:
        print(_row(phase, modes[0]["raw"]))
    print("targets (automine):")
    print("\n".join(_verdicts(modes)))
    print(
        "gen CPU: this load generator's CPU time over the phase (of one core); srv CPU: up's "
        "(API, indexer, dev node), or the floor server's; srv ms/req: that CPU time per request."
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"modes": modes, "framework_floor": floor, "targets": TARGETS}, indent=2) + "\n"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
