"""A bank's lists from the index: its own receivables and a receivable's financing history, a page
at a time, now or as of a block; filters and the refusals of bad paging."""

from __future__ import annotations

from tests.api.test_api import DECL_1, TestClient, assert_problem, client, key, register
from tests.conftest import Stack

__all__ = ["client"]


def _declaration(n: int) -> list[dict[str, object]]:
    return [{"number": f"3101202600000{n:05d}", "value": 10_000}]


def test_a_bank_pages_through_its_receivables(client: TestClient, stack: Stack) -> None:
    mine = sorted(
        register(client, stack, invoice_number=f"LIST-{n}", declarations=_declaration(n))
        for n in range(5)
    )
    register(client, stack, "Bank B", invoice_number="OTHER-1", declarations=_declaration(9))
    bank_a = key(stack, "Bank A")
    seen, after = [], None
    while True:
        params = {"limit": 2} | ({"after": after} if after else {})
        page = client.get("/v1/receivables", params=params, headers=bank_a).json()
        seen += [item["receivable_id"] for item in page["items"]]
        after = page["next_after"]
        if after is None:
            break
    assert seen == mine  # Bank B's is not Bank A's

    drawn = client.post(
        f"/v1/receivables/{mine[0]}/financings", json={"amount": 4_000}, headers=bank_a
    )
    assert drawn.status_code == 201, drawn.text
    financed = client.get("/v1/receivables", params={"status": "financed"}, headers=bank_a).json()
    assert [item["receivable_id"] for item in financed["items"]] == [mine[0]]
    before = client.get(
        "/v1/receivables",
        params={"status": "financed", "as_of_block": drawn.json()["block_number"] - 1},
        headers=bank_a,
    ).json()
    assert before["items"] == []


def test_a_receivable_s_financing_history_in_chain_order(client: TestClient, stack: Stack) -> None:
    receivable_id = register(client, stack)
    bank_a = key(stack, "Bank A")
    url = f"/v1/receivables/{receivable_id}"
    for path, amount in (("financings", 30_000), ("repayments", 10_000), ("financings", 5_000)):
        done = client.post(f"{url}/{path}", json={"amount": amount}, headers=bank_a)
        assert done.status_code == 201, done.text
    first = client.get(f"{url}/financings", params={"limit": 2}, headers=bank_a).json()
    rest = client.get(
        f"{url}/financings", params={"after": first["next_after"]}, headers=bank_a
    ).json()
    history = [
        (i["kind"], i["amount"], i["outstanding_after"]) for i in first["items"] + rest["items"]
    ]
    assert history == [
        ("drawdown", 30_000, 30_000),
        ("repayment", 10_000, 20_000),
        ("drawdown", 5_000, 25_000),
    ]
    assert rest["next_after"] is None
    # Another bank reads it too: what every member can read on chain.
    assert client.get(f"{url}/financings", headers=key(stack, "Bank B")).status_code == 200


def test_bad_paging_names_its_rule(client: TestClient, stack: Stack) -> None:
    receivable_id = register(client, stack, declarations=[{"number": DECL_1, "value": 10_000}])
    bank_a = key(stack, "Bank A")
    for params, rule in (
        ({"limit": 0}, "page-size"),
        ({"limit": 201}, "page-size"),
        ({"status": "lost"}, "receivable-status"),
        ({"after": "zz"}, "page-after"),
        ({"as_of_block": 10**9}, "block-not-indexed"),
    ):
        field = next(iter(params))
        assert_problem(
            client.get("/v1/receivables", params=params, headers=bank_a),
            422,
            rule,
            "limit" if rule == "page-size" else field,
        )
    assert_problem(
        client.get(
            f"/v1/receivables/{receivable_id}/financings", params={"after": "1"}, headers=bank_a
        ),
        422,
        "page-after",
        "after",
    )


def test_a_query_parameter_the_operation_does_not_take_is_refused(
    client: TestClient, stack: Stack
) -> None:
    assert_problem(
        client.get("/v1/receivables", params={"limt": 5}, headers=key(stack, "Bank A")),
        422,
        "unknown-query-parameter",
        "query.limt",
    )
