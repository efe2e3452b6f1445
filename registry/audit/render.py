"""Rich renderings of the audit's results, for the terminal; the JSON reports are the results'
own ``to_json``."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from registry.audit.digest import IndexDigest
from registry.audit.replay import ReplaySummary
from registry.audit.report import AuditReport
from registry.audit.verify import VerifyReport

__all__ = ["DIFFERENCES_SHOWN", "render_digest", "render_replay", "render_report", "render_verify"]

DIFFERENCES_SHOWN = 50
"""Differences printed on the terminal; the JSON report has them all."""


def render_replay(console: Console, summary: ReplaySummary) -> None:
    console.print(
        f"replayed blocks {summary.first_block}..{summary.last_block} ({summary.blocks} blocks, "
        f"{summary.events} events) into {summary.database} in {summary.seconds:.2f}s"
    )
    console.print(f"digest as of block {summary.last_block}: {summary.digest.digest}")


def render_digest(console: Console, digest: IndexDigest) -> None:
    table = Table(title=f"index digest as of block {digest.block}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("sha-256")
    for name in sorted(digest.tables):
        table.add_row(name, str(digest.rows[name]), digest.tables[name])
    console.print(table)
    console.print(f"digest: {digest.digest}")


def render_verify(console: Console, report: VerifyReport) -> None:
    table = Table(title=f"verification at block {report.block} ({report.block_hash})")
    for column in ("projection", "contract", "against", "compared", "differences"):
        table.add_column(
            column, justify="right" if column in ("compared", "differences") else "left"
        )
    for result in report.results:
        if result.skipped is not None:
            table.add_row(
                result.name, result.contract, result.source, "-", f"skipped: {result.skipped}"
            )
            continue
        count = len(result.differences)
        table.add_row(
            result.name,
            result.contract,
            result.source,
            str(result.compared),
            f"[bold red]{count}[/]" if count else "[green]0[/]",
        )
    console.print(table)
    differences = [d for result in report.results for d in result.differences]
    if differences:
        detail = Table(title="differences (index vs witness)")
        for column in ("projection", "against", "record", "field", "index", "witness"):
            detail.add_column(column, overflow="fold")
        for d in differences[:DIFFERENCES_SHOWN]:
            detail.add_row(d.check, d.source, d.record, d.field, repr(d.index), repr(d.witness))
        console.print(detail)
        if len(differences) > DIFFERENCES_SHOWN:
            console.print(
                f"... and {len(differences) - DIFFERENCES_SHOWN} more (see the JSON report)"
            )
    console.print(f"live digest:   {report.live_digest.digest}")
    console.print(f"replay digest: {report.replay_digest.digest}")
    if report.ok:
        console.print("[bold green]verified[/]: the live index, the replay and the contracts agree")
    else:
        console.print(f"[bold red]NOT verified[/]: {report.differences} differences")


def _short(value: str) -> str:
    """A 32-byte hex value shortened for the terminal (the JSON report has it whole)."""
    if value.startswith("0x") and len(value) == 66:
        return f"{value[:10]}…{value[-6:]}"
    return value


def render_report(console: Console, report: AuditReport) -> None:
    console.print(f"audit report, blocks {report.from_block}..{report.to_block}")
    for section, entries in report.sections.items():
        table = Table(title=f"{section} ({len(entries)})")
        for column in ("block", "log", "contract", "event", "note", "arguments", "tx"):
            table.add_column(column, overflow="fold")
        for entry in entries:
            table.add_row(
                str(entry.block_number),
                str(entry.log_index),
                entry.contract,
                entry.event,
                entry.note or "",
                "\n".join(f"{name}={_short(value)}" for name, value in sorted(entry.args.items())),
                _short(entry.tx_hash),
            )
        console.print(table)
