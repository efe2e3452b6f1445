"""``creditreg demo``: the classic trade-finance fraud, then a property pledged twice, played
against a running API.

One shipment, so one customs declaration, is presented under two invoices to two banks. Bank A
checks, registers and finances the first invoice; Bank B's duplicate check then shows the
declaration already backing another invoice, and the ledger refuses B's registration.

Then one property and two banks: the registry center's clerk registers it, Bank A's pledge is
approved (rank 1), Bank B's is decided by the automated registrar (rank 2), Bank A releases and
Bank B moves up; a court seizes the property and a new pledge is refused. It talks to the API over
HTTP with each institution's API key, exactly as they would.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from registry.credentials import read_api_credentials
from registry.errors import ChainError, ConfigurationError

__all__ = ["run_demo"]

EXPORTER_USCC = "91350100M000100Y43"


def _declaration_number() -> str:
    # Fresh numbers each run, so the demo can be played again on the same chain.
    return "".join(secrets.choice("0123456789") for _ in range(18))


class _Caller:
    def __init__(self, client: httpx.Client, name: str, api_key: str, console: Console) -> None:
        self.client, self.name, self.console = client, name, console
        self.headers = {"X-API-Key": api_key}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        response = self.client.request(method, path, json=body, headers=self.headers)
        style = "green" if response.is_success else "red"
        self.console.print(
            f"  [dim]{self.name}: {method} {path} ->[/] [{style}]{response.status_code}[/]"
        )
        return response


def _show_check(console: Console, answer: dict[str, Any]) -> None:
    table = Table(show_header=True, header_style="bold")
    table.add_column("document")
    table.add_column("status")
    table.add_column("headroom", justify="right")
    headroom = answer.get("headroom")
    table.add_row("invoice", answer["status"], "-" if headroom is None else f"{headroom:,}")
    for declaration in answer["declarations"]:
        table.add_row(f"declaration {declaration['number']}", declaration["status"], "")
    console.print(table)


def _expect(response: httpx.Response, status: int) -> dict[str, Any]:
    if response.status_code != status:
        raise ChainError(f"unexpected answer {response.status_code}: {response.text}")
    body: dict[str, Any] = response.json()
    return body


def run_demo(api_url: str, secrets_path: Path, console: Console) -> None:
    # The API keys only, which the file holds in clear: the demo needs no keystore password.
    keys = {
        credential.name: credential.api_key for credential in read_api_credentials(secrets_path)
    }
    for name in ("Bank A", "Bank B", *_PLEDGE_SCENE):
        if name not in keys:
            raise ConfigurationError(f"no institution named {name!r} in {secrets_path}")
    declaration = _declaration_number()
    invoice_a = f"INV-{declaration[-6:]}-A"
    invoice_b = f"INV-{declaration[-6:]}-B"
    maturity = (datetime.now(UTC).date() + timedelta(days=90)).isoformat()
    invoice = {"exporter_uscc": EXPORTER_USCC, "currency": "USD"}

    with httpx.Client(base_url=api_url, timeout=30) as client:
        try:
            health = _expect(client.get("/health"), 200)
        except httpx.HTTPError as error:
            raise ChainError(f"no API at {api_url} ({error}); start it with `make run`") from None
        console.print(
            f"[bold]API[/] {api_url}: chain {health['chain_id']}, block {health['head_block']}"
        )
        bank_a = _Caller(client, "Bank A", keys["Bank A"], console)
        bank_b = _Caller(client, "Bank B", keys["Bank B"], console)

        console.rule(f"1. Exporter {EXPORTER_USCC} presents invoice {invoice_a} to Bank A")
        check = {**invoice, "invoice_number": invoice_a, "declaration_numbers": [declaration]}
        _show_check(console, _expect(bank_a.call("POST", "/v1/receivables/check", check), 200))
        registration = {
            **invoice,
            "invoice_number": invoice_a,
            "face_value": 10_000_000,
            "maturity_date": maturity,
            "declarations": [{"number": declaration, "value": 10_000_000}],
        }
        registered = _expect(bank_a.call("POST", "/v1/receivables", registration), 201)
        receivable_id = registered["receivable_id"]
        console.print(
            f"  registered as {receivable_id[:18]}... in block {registered['block_number']}"
        )
        # Half the declared value: what an unattested declaration allows under the default policy
        # (CREDITREG_UNVERIFIED_ADVANCE_RATE_BPS).
        financed = _expect(
            bank_a.call(
                "POST", f"/v1/receivables/{receivable_id}/financings", {"amount": 5_000_000}
            ),
            201,
        )
        console.print(
            f"  Bank A advanced USD {financed['amount'] / 100:,.2f}; "
            f"headroom left {financed['receivable']['headroom'] / 100:,.2f}"
        )

        console.rule(f"2. The same shipment, as invoice {invoice_b}, goes to Bank B")
        check_b = {**invoice, "invoice_number": invoice_b, "declaration_numbers": [declaration]}
        _show_check(console, _expect(bank_b.call("POST", "/v1/receivables/check", check_b), 200))
        refused = bank_b.call(
            "POST", "/v1/receivables", {**registration, "invoice_number": invoice_b}
        )
        problem = _expect(refused, 409)
        console.print(
            f"  [bold red]refused[/] ({refused.headers['content-type']}): {problem['title']}"
        )
        console.print(f"  rule: [bold]{problem['rule']}[/]; {problem['detail']}")

        console.rule("3. Bank B tries to finance Bank A's receivable directly")
        grab = bank_b.call(
            "POST", f"/v1/receivables/{receivable_id}/financings", {"amount": 1_000_000}
        )
        console.print(f"  [bold red]refused[/]: rule [bold]{_expect(grab, 409)['rule']}[/]")
        console.print(
            "\nNo declaration backs two invoices; no receivable is financed by two banks."
        )
        clerk, automated, court = (
            _Caller(client, name, keys[name], console) for name in _PLEDGE_SCENE
        )
        _pledge_scene(console, bank_a, bank_b, clerk, automated, court, declaration[-8:])


_PLEDGE_SCENE = ("Registry center", "Registry center (automated)", "Court")
"""The clerk, the automated registrar and the court of the pledge scene."""


def _pledge_scene(
    console: Console,
    bank_a: _Caller,
    bank_b: _Caller,
    clerk: _Caller,
    automated: _Caller,
    court: _Caller,
    run: str,
) -> None:
    maturity = (datetime.now(UTC).date() + timedelta(days=365)).isoformat()
    certificate = f"ZJ-NB-DEMO-{run}"
    console.rule(f"4. The registry center registers property {certificate}")
    prop = {
        "region_code": "330203",
        "certificate_number": certificate,
        "appraised_value": 100_000_000,
        "currency": "CNY",
        "max_ltv_bps": 7000,
    }
    property_id = _expect(clerk.call("POST", "/v1/properties", prop), 201)["property_id"]
    application = {"amount": 30_000_000, "currency": "CNY", "maturity_date": maturity}
    pledges = f"/v1/properties/{property_id}/pledges"
    senior = _expect(bank_a.call("POST", pledges, application), 201)["pledge_id"]
    _expect(clerk.call("POST", f"/v1/pledges/{senior}/approval"), 201)
    junior = _expect(bank_b.call("POST", pledges, application), 201)["pledge_id"]
    decided = _expect(automated.call("POST", f"/v1/pledges/{junior}/decision"), 201)
    console.print(f"  the automated registrar approved Bank B's pledge: {decided['approved']}")
    _show_title(console, _expect(bank_b.call("GET", f"/v1/properties/{property_id}/title"), 200))

    console.rule("5. Bank A releases its pledge: Bank B's moves up to rank 1")
    _expect(bank_a.call("POST", f"/v1/pledges/{senior}/release"), 201)
    _show_title(console, _expect(bank_b.call("GET", f"/v1/properties/{property_id}/title"), 200))

    console.rule("6. A court seizes the property; a new pledge is refused")
    case = {"case_number": f"(2026) Zhe 0203 Zhi {run}"}
    _expect(court.call("POST", f"/v1/properties/{property_id}/seizures", case), 201)
    late = _expect(bank_a.call("POST", pledges, {**application, "amount": 1_000_000}), 201)
    refused = clerk.call("POST", f"/v1/pledges/{late['pledge_id']}/approval")
    console.print(f"  [bold red]refused[/]: rule [bold]{_expect(refused, 409)['rule']}[/]")
    console.print("\nRanks follow approvals; a seized property takes no new pledge.")


def _show_title(console: Console, title: dict[str, Any]) -> None:
    table = Table(show_header=True, header_style="bold")
    table.add_column("rank", justify="right")
    table.add_column("pledge")
    table.add_column("amount (CNY)", justify="right")
    for pledge in title["pledges"]:
        table.add_row(
            str(pledge["rank"]), pledge["pledge_id"][:18] + "...", f"{pledge['amount'] / 100:,.2f}"
        )
    console.print(table)
    console.print(
        f"  status {title['status']}, headroom CNY {title['headroom'] / 100:,.2f} "
        f"(block {title['as_of_block']})"
    )
