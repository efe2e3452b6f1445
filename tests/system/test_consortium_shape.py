"""The code unchanged on a chain shaped like a consortium network rather than the dev node's
defaults: the operator's chain id, no charge for gas (zero base fee and gas price, as Besu's
``zeroBaseFee`` network), a block every 2 s (QBFT's period), and the index one confirmation behind
the head. Registrations, drawdowns, the duplicate check and the unsigned transactions for a bank
that signs itself all work, and every answer waits for its confirmation.

anvil stands in for the network (no Besu binary can be installed here): deployed on automine, then
switched to mining every 2 s.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.services import Services
from registry.chain.client import Chain
from registry.chain.node import DevNode, NetworkShape
from registry.contracts.deploy import Deployment
from registry.credentials import DevSecrets
from registry.db import make_engine
from registry.devstack import bootstrap
from registry.indexer import Indexer
from registry.settings import Settings
from tests.api.test_api import TestClient, registration
from tests.conftest import TEST_RATES

CHAIN_ID = 2026
BLOCK_SECONDS = 2
CONFIRMATIONS = 1


@dataclass
class Consortium:
    chain: Chain
    secrets: DevSecrets
    deployment: Deployment
    client: TestClient

    def key(self, name: str = "Bank A") -> dict[str, str]:
        return {"X-API-Key": self.secrets.institution(name).api_key}

    def head(self) -> int:
        return self.chain.block_number()


@pytest.fixture
def consortium(tmp_path: Path) -> Iterator[Consortium]:
    node = DevNode("anvil", shape=NetworkShape(chain_id=CHAIN_ID, free_gas=True)).start()
    engine = make_engine(f"sqlite:///{tmp_path / 'index.db'}")
    stop = threading.Event()
    try:
        chain = Chain.connect(node.url)
        secrets = DevSecrets.generate()
        deployment = bootstrap(chain, secrets, TEST_RATES)
        for method, params in (("evm_setAutomine", [False]), ("evm_setIntervalMining", [2])):
            response = chain.w3.provider.make_request(method, params)  # type: ignore[arg-type]
            assert "error" not in response, response
        services = Services.build(
            engine, chain, deployment, secrets, confirmations=CONFIRMATIONS, write_index_timeout=30
        )
        indexer = Indexer(
            engine, chain, deployment, confirmations=CONFIRMATIONS, poll_interval=0.05
        )
        thread = threading.Thread(target=indexer.run_forever, args=(stop,), daemon=True)
        thread.start()
        app = create_app(Settings(state_dir=tmp_path), services)
        with TestClient(app) as client:
            yield Consortium(chain, secrets, deployment, client)
        stop.set()
        thread.join(timeout=30)
    finally:
        stop.set()
        engine.dispose()
        node.stop()


def confirmed(consortium: Consortium, answer: Any) -> dict[str, Any]:
    """The answer's body, once checked to have come only after its block was confirmed."""
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    assert consortium.head() >= body["block_number"] + CONFIRMATIONS
    return body


def test_writes_reads_and_checks_on_a_consortium_shaped_chain(consortium: Consortium) -> None:
    client, chain = consortium.client, consortium.chain
    assert client.get("/health").json()["chain_id"] == CHAIN_ID

    registered = confirmed(
        consortium, client.post("/v1/receivables", json=registration(), headers=consortium.key())
    )
    receivable = registered["receivable_id"]
    financed = confirmed(
        consortium,
        client.post(
            f"/v1/receivables/{receivable}/financings",
            json={"amount": 30_000},
            headers=consortium.key(),
        ),
    )
    assert financed["receivable"]["outstanding"] == 30_000
    for body in (registered, financed):
        tx = chain.w3.eth.get_transaction(body["tx_hash"])
        receipt = chain.w3.eth.get_transaction_receipt(body["tx_hash"])
        assert tx["chainId"] == CHAIN_ID
        assert receipt["effectiveGasPrice"] == 0  # the network charges nothing
        assert receipt["status"] == 1

    check = client.post(
        "/v1/receivables/check",
        json={
            "exporter_uscc": registration()["exporter_uscc"],
            "invoice_number": registration()["invoice_number"],
            "currency": "USD",
            "declaration_numbers": [registration()["declarations"][0]["number"]],
        },
        headers=consortium.key("Bank B"),
    )
    assert check.status_code == 200, check.text
    assert check.json()["receivable_id"] == receivable
    assert check.json()["status"] == "financed_by_other"
    assert (check.json()["outstanding"], check.json()["held_by_you"]) == (30_000, False)

    unsigned = client.post(
        f"/v1/receivables/{receivable}/repayments/unsigned",
        json={"amount": 10_000},
        headers=consortium.key(),
    )
    assert unsigned.status_code == 200, unsigned.text
    assert unsigned.json()["chain_id"] == CHAIN_ID
    assert unsigned.json()["max_fee_per_gas"] == 0
    # Nothing was funded: on a network that charges no gas the accounts hold no ether.
    assert chain.charges_no_gas()
    assert chain.w3.eth.get_balance(consortium.secrets.institution("Bank A").account) == 0
