"""schemathesis against the API's OpenAPI document: every operation, every check, statefully too.

The app runs behind a real uvicorn on the session's dev stack, with an indexer (writes answer once
the index holds them) and a bank's API key. schemathesis generates requests from the document
(the examples, the coverage phase's boundaries, fuzzed data; data the schema calls valid and data
it calls invalid) and checks every answer: no 5xx, every status documented, every body and header
as documented (every error an ``application/problem+json`` problem), a request the schema calls
invalid refused, one it calls valid not refused, a key the operation needs not ignored. Then the
stateful phase: sequences of calls with data the schema calls valid, following the document's
links (register, then read, finance and repay what was registered), each from the same state.

The document is the app's own (``create_app(...).openapi()``), loaded when the module is
collected, since schemathesis makes one test per operation from it then;
:func:`test_the_served_document_is_the_one_tested` proves that the server serves that document.

The custom formats the document names (``uscc``, ``iso-4217``, ``identifier``: the rules a JSON
Schema pattern cannot state, such as a check digit) are taught to schemathesis here, so that the
data it calls valid is valid and reaches the chain. What no schema can state is listed in
:data:`RULES_NO_SCHEMA_STATES`: a schema-valid request refused for one of those is not a failure.

Writes send real transactions: the ``stack`` fixture rewinds the chain after each test, and each
test has an index database of its own. Hypothesis keeps no example database here (nothing is
written under ``.hypothesis``), and the run is derandomized per operation, so it is the same run
each time.

``CREDITREG_SCHEMATHESIS_EXAMPLES`` sets the examples per operation (and the stateful scenarios);
the default keeps the file under a minute. ``CREDITREG_SCHEMATHESIS_EXAMPLES=500`` is the slow
profile (see CONTRIBUTING.md).
"""

from __future__ import annotations

import os
import string
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from schemathesis.checks import CheckContext, CheckFunction
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi import checks as openapi_checks

from api.app import create_app
from api.problems import PROBLEM_MEDIA_TYPE
from api.services import Services
from registry.db.schema import idempotency_keys
from registry.errors import InvalidInput
from registry.fingerprint import ISO_4217_CODES, ExportInvoice
from registry.settings import Settings
from tests.conftest import Stack, indexing
from tests.serving import serving

EXAMPLES = int(os.environ.get("CREDITREG_SCHEMATHESIS_EXAMPLES", "25"))
"""Examples per operation in the fuzzing phase, and scenarios in the stateful one."""
STATEFUL_STEPS = 10 if EXAMPLES <= 50 else 25

DOCUMENT = create_app(Settings(state_dir=Path(tempfile.gettempdir()))).openapi()

RULES_NO_SCHEMA_STATES = {
    "maturity-in-past": "a date compared with today's",
    "declaration-duplicated": "one number under two objects of the list (JSON Schema's "
    "uniqueItems compares whole items)",
    "idempotency-key-reused": "a key sent before with another request: the state of the server",
    "signed-transaction": "Signed-Transaction bytes that are no signed transaction (RLP, a "
    "signature): beyond what a pattern can say",
    "signed-transaction-mismatch": "a signed transaction other than the one the API would send: "
    "the state of the chain",
    "nonce-used": "a signed transaction whose nonce the account has spent: the state of the chain",
    "block-not-indexed": "a block the index has not reached yet: the state of the server",
    "consent-grantee": "a signed consent naming another institution than the caller's: who calls",
    "consent-scope": "a scope hash that is no scope's (the keccak-256 of a scope name)",
    "case-number-format": "a case number that normalizes to nothing (spaces only) or beyond "
    "128 characters (NFKC can lengthen a string)",
    "message-field": "a signed message's nonce or expiry written as a float with no fraction: "
    "the enterprise signed an integer; tolerated for such a request only",
    "positive-integer-minor-units": "an amount written as a float with no fraction (1.0): the "
    "same number as 1 to JSON Schema, refused by the API all the same (a float cannot hold a "
    "large amount exactly); tolerated for such a request only",
}
"""422 rules a request valid by the schema may still break, each with why the schema cannot say
so. Each is named in the document, in the description of the field or header it is about."""


FLOATS_REFUSED = {"positive-integer-minor-units", "message-field"}
"""Rules of integers the API refuses written as floats (1.0), whatever JSON Schema says."""


def _no_schema_states(rule: str | None, case: schemathesis.Case) -> bool:
    if rule in FLOATS_REFUSED:
        return _holds_a_float(case.body)
    return rule in RULES_NO_SCHEMA_STATES


def _whole_numbers_as_integers(value: Any) -> Any:
    """``value`` with every float without a fraction (``1.0``) written as the integer it is."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers_as_integers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers_as_integers(item) for item in value]
    return value


def _holds_a_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_holds_a_float(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_a_float(item) for item in value)
    return False


# --- the custom formats --------------------------------------------------------------------------

_USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _an_invoice(exporter_uscc: str = "91350100M000100Y43", invoice_number: str = "INV-1") -> bool:
    """Whether the registry takes these as an invoice's fields (the rules of the formats)."""
    try:
        ExportInvoice(exporter_uscc, invoice_number, "USD")
    except InvalidInput:
        return False
    return True


def _with_check_digit(body: str) -> str:
    return next(body + c for c in _USCC_CHARSET if _an_invoice(exporter_uscc=body + c))


schemathesis.openapi.format(
    "uscc",
    st.text(alphabet=_USCC_CHARSET, min_size=17, max_size=17).map(_with_check_digit),
)
schemathesis.openapi.format("iso-4217", st.sampled_from(sorted(ISO_4217_CODES)))
schemathesis.openapi.format(
    "identifier",
    st.text(
        alphabet=string.ascii_letters + string.digits + "-/. 发票号", min_size=1, max_size=40
    ).filter(lambda value: _an_invoice(invoice_number=value)),
)

# --- the checks ----------------------------------------------------------------------------------


def positive_data_acceptance(
    ctx: CheckContext, response: Any, case: schemathesis.Case
) -> bool | None:
    """schemathesis's own check, but for a 422 whose rule is one no schema states."""
    try:
        return openapi_checks.positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if response.status_code == 422 and _no_schema_states(_rule(response), case):
            return None
        raise


def every_error_is_a_problem(
    ctx: CheckContext, response: Any, case: schemathesis.Case
) -> bool | None:
    """Every 4xx and 5xx is a problem document naming its rule, documented or not."""
    if response.status_code >= 400:
        media_type = response.headers.get("content-type", [""])[0]
        assert media_type == PROBLEM_MEDIA_TYPE, f"{response.status_code} as {media_type!r}"
        problem = response.json()
        assert problem["status"] == response.status_code
        assert problem["type"] == f"urn:creditreg:problem:{problem['rule']}"
    return None


def _rule(response: Any) -> str | None:
    try:
        rule = response.json().get("rule")
    except ValueError:
        return None
    return rule if isinstance(rule, str) else None


EXCLUDED: list[CheckFunction] = [openapi_checks.positive_data_acceptance]
"""Every check of the installed schemathesis runs (its default: all of them), but this one, which
runs wrapped in :func:`positive_data_acceptance` instead."""
ADDED: list[CheckFunction] = [positive_data_acceptance, every_error_is_a_problem]

SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STATEFUL_STEPS,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)

schema = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=schemathesis.Config.from_dict(
        {
            "generation": {"database": "none"},
            # The scenarios are about sequences; data the schema calls invalid is the stateless
            # test's, operation by operation.
            "phases": {"stateful": {"generation": {"mode": "positive"}}},
        }
    ),
)


# --- the server ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The served app: where, with which key, on which stack and index database."""

    url: str
    headers: dict[str, str]
    stack: Stack
    engine: sa.Engine


@pytest.fixture
def target(stack: Stack, services: Services, tmp_path: Path) -> Iterator[Target]:
    """The app on the stack behind uvicorn, its indexer running, and Bank A's key."""
    app = create_app(Settings(state_dir=tmp_path), services)
    with indexing(stack, services.engine), serving(app) as served:
        yield Target(served.url, {"X-API-Key": stack.bank_a.api_key}, stack, services.engine)


def test_the_served_document_is_the_one_tested(target: Target) -> None:
    served = httpx.get(f"{target.url}/openapi.json", timeout=30)
    assert served.status_code == 200
    assert served.json() == DOCUMENT


def test_every_operation_is_tested() -> None:
    operations = {
        f"{method.upper()} {path}"
        for path, methods in DOCUMENT["paths"].items()
        for method in methods
    }
    tested = {result.ok().label for result in schema.get_all_operations()}
    assert tested == operations
    assert operations >= {
        "GET /health",
        "GET /v1/index/status",
        "POST /v1/receivables/check",
        "POST /v1/receivables",
        "POST /v1/receivables/{receivable_id}/financings",
        "POST /v1/receivables/{receivable_id}/repayments",
        "GET /v1/receivables/{receivable_id}",
    }


@schema.parametrize()
@SETTINGS
def test_every_operation_conforms(case: schemathesis.Case, target: Target) -> None:
    case.call_and_validate(
        base_url=target.url,
        headers=target.headers,
        excluded_checks=EXCLUDED,
        additional_checks=ADDED,
    )


def test_sequences_of_operations_conform(target: Target) -> None:
    """The stateful phase: scenarios that follow the document's links from a registration.

    Each scenario starts from the same state: the chain is rewound and the Idempotency-Keys are
    forgotten after each (the index follows the chain back, as after a reorganization). The
    answers, and so the links a scenario can follow, then depend on the scenario alone, and
    Hypothesis can replay one. Where a replay still diverges (the index, the clock), Hypothesis
    calls the run flaky; schemathesis's own engine counts that as no failure, and so does this
    test, unless a check failed on the way: then that failure is raised."""
    failures: list[BaseException] = []
    scenarios: list[set[tuple[str, int]]] = []

    # The bank's key drives the scenarios, so they walk the bank's links: the receivables. The
    # pledge registry's operations belong to clerks and courts as much as to banks; they are
    # checked one by one above and as flows in tests/api/test_properties.py.
    # The lists and the cancellation are left to the stateless phase: they would spread the
    # scenarios' steps thin, and no link leads from a registration to them.
    banks = schema.include(path_regex="^/v1/receivables").exclude(
        operation_id=["list_receivables", "list_financings", "cancel_receivable"]
    )

    class Scenarios(banks.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            self.snapshot = target.stack.snapshot()
            self.answered: set[tuple[str, int]] = set()

        def teardown(self) -> None:
            target.stack.revert(self.snapshot)
            with target.engine.begin() as connection:
                connection.execute(idempotency_keys.delete())
            scenarios.append(self.answered)
            super().teardown()

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": target.url, "headers": target.headers}

        def before_call(self, case: schemathesis.Case) -> None:
            # schemathesis spells half its integers as whole floats (1.0), which the API refuses
            # for amounts (RULES_NO_SCHEMA_STATES); the stateless test tries them. Here they would
            # stop most scenarios at their first registration.
            super().before_call(case)
            case.body = _whole_numbers_as_integers(case.body)

        def after_call(self, response: Any, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            self.answered.add((case.operation.label, response.status_code))

        def validate_response(
            self,
            response: Any,
            case: schemathesis.Case,
            additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:
            try:
                case.validate_response(
                    response,
                    excluded_checks=EXCLUDED,
                    additional_checks=ADDED,
                    headers=target.headers,
                    transport_kwargs=kwargs or None,
                    recorder=self.recorder,
                )
            except Exception as failure:
                failures.append(failure)
                raise

    try:
        Scenarios.run(settings=SETTINGS)
    except Flaky:
        if failures:
            raise failures[0] from None
    answered = set().union(*scenarios)
    # The scenarios went through the links: registrations, then operations on the receivables
    # they registered (found: neither 404 nor a malformed id), financings among them.
    assert ("POST /v1/receivables", 201) in answered, sorted(answered)
    followed = {
        label
        for label, status in answered
        if "{receivable_id}" in label and status in {200, 201, 409}
    }
    assert "POST /v1/receivables/{receivable_id}/financings" in followed, sorted(answered)


def test_a_body_that_is_not_text_is_a_documented_400_problem(target: Target) -> None:
    """What schemathesis found undocumented first: FastAPI answers 400 to a JSON body it cannot
    decode (not UTF-8), which the document did not list. It is a problem like every error, and
    documented on every operation with a body."""
    response = httpx.post(
        f"{target.url}/v1/receivables/check",
        content=b'{"invoice_number": "\xff"}',
        headers=target.headers | {"content-type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["rule"] == "bad-request"
    for path, methods in DOCUMENT["paths"].items():
        for method, operation in methods.items():
            assert ("400" in operation["responses"]) == ("requestBody" in operation), (method, path)


def test_no_parameter_is_documented_as_null() -> None:
    """A header sent as null arrives as the text ``null``: schemathesis sent exactly that for an
    optional header documented as a string or null, and the server refused it as no string of
    the header's pattern. An optional parameter is a string that may be absent."""
    for path, methods in DOCUMENT["paths"].items():
        for method, operation in methods.items():
            for parameter in operation.get("parameters", []):
                assert "null" not in str(parameter["schema"]), (method, path, parameter["name"])


def test_what_no_schema_states_is_named_in_the_document() -> None:
    text = str(DOCUMENT)
    for rule in RULES_NO_SCHEMA_STATES:
        assert f"`{rule}`" in text, rule
    # The formats taught to schemathesis above are the ones the document uses.
    formats = {"uscc", "iso-4217", "identifier"}
    for name in formats:
        assert f"'format': '{name}'" in text, name
