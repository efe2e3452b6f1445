"""Property pledges through the API, as the registry's users do them: a clerk registers a property,
two banks apply, a clerk and the automated registrar decide, a court seizes and lifts, anyone
verifies the title now or as of a past block; and every refusal as a problem naming its rule,
with nothing written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.test_api import TestClient, assert_problem, client, key
from tests.conftest import Stack

__all__ = ["client"]

PROPERTY = {
    "region_code": "330203",
    "certificate_number": "ZJ-NB-2026-0001234",
    "appraised_value": 1_000_000,
    "currency": "CNY",
    "max_ltv_bps": 7000,
}
MATURITY = (datetime.now(UTC).date() + timedelta(days=365)).isoformat()
CASE = "(2026) Zhe 0203 Zhi 1234"
APPLICATION = {"amount": 10_000, "currency": "CNY", "maturity_date": MATURITY}

CLERK, AUTOMATED, COURT = "Registry center", "Registry center (automated)", "Court"
BANK_A, BANK_B = "Bank A", "Bank B"


def _json(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def register_property(client: TestClient, stack: Stack, **changes: Any) -> str:
    body = PROPERTY | changes
    answer = _json(client.post("/v1/properties", json=body, headers=key(stack, CLERK)), 201)
    return str(answer["property_id"])


def apply(client: TestClient, stack: Stack, bank: str, property_id: str, amount: int) -> str:
    body = {"amount": amount, "currency": "CNY", "maturity_date": MATURITY}
    response = client.post(
        f"/v1/properties/{property_id}/pledges", json=body, headers=key(stack, bank)
    )
    return str(_json(response, 201)["pledge_id"])


def title(client: TestClient, stack: Stack, property_id: str, **params: Any) -> Any:
    response = client.get(
        f"/v1/properties/{property_id}/title", params=params, headers=key(stack, BANK_B)
    )
    return _json(response, 200)


def ranks(answer: Any) -> list[tuple[str, int]]:
    return [(p["pledge_id"], p["rank"]) for p in answer["pledges"]]


def test_two_banks_one_property_ranks_and_a_seizure(client: TestClient, stack: Stack) -> None:
    property_id = register_property(client, stack)
    lookup = {k: PROPERTY[k] for k in ("region_code", "certificate_number")}
    found = client.post("/v1/properties/lookup", json=lookup, headers=key(stack, BANK_A))
    assert _json(found, 200) == {"property_id": property_id}
    fresh = title(client, stack, property_id)
    assert (fresh["status"], fresh["headroom"], fresh["pledges"]) == ("normal", 700_000, [])

    senior = apply(client, stack, BANK_A, property_id, 300_000)
    approved = client.post(f"/v1/pledges/{senior}/approval", headers=key(stack, CLERK))
    assert _json(approved, 201)["pledge_id"] == senior
    junior = apply(client, stack, BANK_B, property_id, 200_000)
    decided = client.post(f"/v1/pledges/{junior}/decision", headers=key(stack, AUTOMATED))
    assert _json(decided, 201)["approved"] is True
    both = title(client, stack, property_id)
    assert ranks(both) == [(senior, 1), (junior, 2)]
    assert (both["secured_amount"], both["headroom"]) == (500_000, 200_000)

    # The senior released: the junior moves up. The title as of before still shows both.
    released = client.post(f"/v1/pledges/{senior}/release", headers=key(stack, BANK_A))
    assert _json(released, 201)["pledge_id"] == senior
    assert ranks(title(client, stack, property_id)) == [(junior, 1)]
    then = title(client, stack, property_id, as_of_block=both["as_of_block"])
    assert ranks(then) == [(senior, 1), (junior, 2)]
    pledge = client.get(f"/v1/pledges/{senior}", headers=key(stack, BANK_B))
    assert _json(pledge, 200)["status"] == "released"

    # A court seizes it: no new pledge; the automated registrar records the rule's refusal, a
    # clerk's approval is refused outright.
    seized = client.post(
        f"/v1/properties/{property_id}/seizures",
        json={"case_number": CASE},
        headers=key(stack, COURT),
    )
    assert _json(seized, 201)["property_id"] == property_id
    under_seizure = title(client, stack, property_id)
    assert under_seizure["status"] == "seized"
    assert [s["case_ref"] for s in under_seizure["seizures"]] == [seized.json()["case_ref"]]
    waiting = apply(client, stack, BANK_A, property_id, 50_000)
    refused = client.post(f"/v1/pledges/{waiting}/decision", headers=key(stack, AUTOMATED))
    assert _json(refused, 201)["approved"] is False
    assert refused.json()["reason_code"] == 1  # the property is seized
    late = apply(client, stack, BANK_A, property_id, 50_000)
    before = stack.tip()
    assert_problem(
        client.post(f"/v1/pledges/{late}/approval", headers=key(stack, CLERK)),
        409,
        "property-seized",
    )
    assert stack.tip() == before
    lifted = client.post(
        f"/v1/properties/{property_id}/seizures/lift",
        json={"case_number": CASE},
        headers=key(stack, COURT),
    )
    assert _json(lifted, 200)["case_ref"] == seized.json()["case_ref"]
    assert title(client, stack, property_id)["status"] == "normal"
    assert _json(client.post(f"/v1/pledges/{late}/approval", headers=key(stack, CLERK)), 201)


def test_a_clerk_records_appraisals_and_rejections(client: TestClient, stack: Stack) -> None:
    property_id = register_property(client, stack)
    lowered = client.put(
        f"/v1/properties/{property_id}/appraisal",
        json={"appraised_value": 500_000},
        headers=key(stack, CLERK),
    )
    assert _json(lowered, 200)["property_id"] == property_id
    assert title(client, stack, property_id)["headroom"] == 350_000
    too_much = apply(client, stack, BANK_A, property_id, 400_000)
    assert_problem(
        client.post(f"/v1/pledges/{too_much}/approval", headers=key(stack, CLERK)),
        409,
        "pledge-exceeds-headroom",
    )
    rejected = client.post(
        f"/v1/pledges/{too_much}/rejection", json={"reason_code": 101}, headers=key(stack, CLERK)
    )
    assert _json(rejected, 201)["reason_code"] == 101
    state = _json(client.get(f"/v1/pledges/{too_much}", headers=key(stack, BANK_A)), 200)
    assert (state["status"], state["reason_code"]) == ("rejected", 101)
    assert_problem(
        client.post(f"/v1/pledges/{too_much}/approval", headers=key(stack, CLERK)),
        409,
        "pledge-not-pending",
    )


@pytest.mark.parametrize(
    ("who", "method", "path", "body"),
    [
        (BANK_A, "post", "/v1/properties", PROPERTY),
        (CLERK, "post", "/v1/properties/{property}/pledges", APPLICATION),
        (COURT, "post", "/v1/pledges/{pledge}/approval", None),
        (BANK_A, "post", "/v1/properties/{property}/seizures", {"case_number": CASE}),
        (CLERK, "post", "/v1/pledges/{pledge}/release", None),
        ("Customs", "put", "/v1/properties/{property}/appraisal", {"appraised_value": 1}),
    ],
)
def test_each_act_is_its_role_s_alone(
    client: TestClient, stack: Stack, who: str, method: str, path: str, body: Any
) -> None:
    property_id = register_property(client, stack)
    pledge_id = apply(client, stack, BANK_A, property_id, 10_000)
    url = path.format(property=property_id, pledge=pledge_id)
    before = stack.tip()
    response = client.request(method, url, json=body, headers=key(stack, who))
    problem = assert_problem(response, 403, "access-denied")
    roles = {"Bank A": "lender", "Registry center": "registrar", "Court": "enforcer"}
    assert problem["details"]["role"] == roles.get(who, "verifier")
    assert problem["details"]["required_role"] != problem["details"]["role"]
    assert stack.tip() == before


def test_refusals_name_their_rule_and_write_nothing(client: TestClient, stack: Stack) -> None:
    property_id = register_property(client, stack)
    pledge_id = apply(client, stack, BANK_A, property_id, 10_000)
    assert _json(client.post(f"/v1/pledges/{pledge_id}/approval", headers=key(stack, CLERK)), 201)
    before = stack.tip()
    bank_a, bank_b, clerk = key(stack, BANK_A), key(stack, BANK_B), key(stack, CLERK)
    assert_problem(
        client.post("/v1/properties", json=PROPERTY, headers=clerk),
        409,
        "property-already-registered",
    )
    assert_problem(
        client.post(f"/v1/pledges/{pledge_id}/release", headers=bank_b),
        403,
        "release-not-authorized",
    )
    assert_problem(
        client.post(f"/v1/pledges/{pledge_id}/rejection", json={"reason_code": 2}, headers=clerk),
        422,
        "clerk-reason-code",
        "reason_code",
    )
    assert_problem(
        client.post("/v1/properties", json=PROPERTY | {"max_ltv_bps": 10_001}, headers=clerk),
        422,
        "ltv-range",
        "max_ltv_bps",
    )
    assert_problem(
        client.post(
            f"/v1/properties/{property_id}/seizures",
            json={"case_number": "   "},
            headers=key(stack, COURT),
        ),
        422,
        "case-number-format",
        "case_number",
    )
    assert_problem(
        client.post(
            f"/v1/properties/{property_id}/seizures/lift",
            json={"case_number": CASE},
            headers=key(stack, COURT),
        ),
        409,
        "seizure-not-found",
    )
    stranger = "0x" + "51" * 32
    assert_problem(
        client.get(f"/v1/properties/{stranger}/title", headers=bank_a), 404, "property-not-found"
    )
    assert_problem(client.get(f"/v1/pledges/{stranger}", headers=bank_a), 404, "pledge-not-found")
    lookup = {"region_code": "330203", "certificate_number": "NOT-REGISTERED"}
    assert_problem(
        client.post("/v1/properties/lookup", json=lookup, headers=bank_a),
        404,
        "property-not-found",
    )
    assert_problem(
        client.get("/v1/properties/0x51/title", headers=bank_a),
        422,
        "property-id-format",
        "property_id",
    )
    assert_problem(
        client.get("/v1/pledges/0x7e", headers=bank_a),
        422,
        "pledge-id-format",
        "pledge_id",
    )
    assert_problem(
        client.get(f"/v1/pledges/{pledge_id}", params={"as_of_block": -1}, headers=bank_a),
        422,
        "block-number",
        "as_of_block",
    )
    indexed = title(client, stack, property_id)["as_of_block"]
    assert_problem(
        client.get(
            f"/v1/properties/{property_id}/title",
            params={"as_of_block": indexed + 1000},
            headers=bank_a,
        ),
        422,
        "block-not-indexed",
        "as_of_block",
    )
    assert stack.tip() == before
