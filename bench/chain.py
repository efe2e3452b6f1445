"""Registry operations per second on a dev node, next to the node's raw capacity in the same run.

Reference: pre-signed ether transfers, all sent, then the last receipt awaited (what the node can
mine). Registry: registerReceivable + finance, pre-signed the same way (what the contracts cost in
gas and time), then the same operations through the binding one by one (estimate, send, wait: the
latency a bank sees per API call). Prints a table and writes bench/results/chain.json.

    .venv/bin/python bench/chain.py [--count 500]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from registry.artifacts import load_artifact
from registry.chain.client import Chain, Signer
from registry.chain.node import DevNode
from registry.contracts.ledger import (
    AdvanceRates,
    DeclarationTerm,
    ReceivableLedger,
    ReceivableTerms,
)
from registry.credentials import DevSecrets
from registry.devstack import bootstrap

RESULTS = Path(__file__).parent / "results" / "chain.json"


def presigned_rate(chain: Chain, signer: Signer, txs: list[dict[str, Any]]) -> dict[str, float]:
    nonce = chain.w3.eth.get_transaction_count(signer.address, "pending")
    raw = []
    for offset, tx in enumerate(txs):
        tx = {**tx, "nonce": nonce + offset, "chainId": chain.chain_id}
        raw.append(signer.sign(tx))  # type: ignore[arg-type]
    start = time.perf_counter()
    hashes = [chain.w3.eth.send_raw_transaction(r) for r in raw]
    # Nonces are consecutive, so the last receipt means all are mined.
    chain.w3.eth.wait_for_transaction_receipt(hashes[-1], timeout=300, poll_latency=0.005)
    elapsed = time.perf_counter() - start
    receipts = [chain.w3.eth.get_transaction_receipt(h) for h in hashes]
    assert all(r["status"] == 1 for r in receipts), "a pre-signed transaction failed"
    gas = sum(r["gasUsed"] for r in receipts)
    return {
        "tx_per_s": len(raw) / elapsed,
        "gas_per_tx": gas / len(raw),
        "gas_per_s": gas / elapsed,
    }


def receivable_terms(i: int, tag: bytes) -> tuple[ReceivableTerms, list[DeclarationTerm]]:
    rid = tag + i.to_bytes(31, "big")
    decl = bytes([tag[0] ^ 0xFF]) + i.to_bytes(31, "big")
    return ReceivableTerms(rid, b"\x01" * 32, 1, 100_000, "USD", 2_000_000_000), [
        DeclarationTerm(decl, 100_000)
    ]


def run(count: int) -> dict[str, Any]:
    with DevNode("anvil") as node:
        chain = Chain.connect(node.url, [load_artifact("ReceivableLedger").abi])
        secrets = DevSecrets.generate()
        deployment = bootstrap(chain, secrets, AdvanceRates(8000, 8000))
        ledger = ReceivableLedger(chain, deployment.address_of("ReceivableLedger"))
        bank = secrets.institution("Bank A").signer
        gas_price = chain.w3.eth.gas_price * 2
        common = {"gas": 400_000, "gasPrice": gas_price}

        transfers = [{"to": secrets.deployer.address, "value": 1, **common} for _ in range(count)]
        reference = presigned_rate(chain, bank, transfers)

        registrations = []
        for i in range(count):
            terms, decls = receivable_terms(i, b"\xa0")
            function = ledger.contract.functions.registerReceivable(
                (terms.id, terms.exporter, 1, terms.face_value, b"USD", terms.maturity),
                [(d.fingerprint, d.value) for d in decls],
                [],
            )
            registrations.append(function.build_transaction({"from": bank.address, **common}))
        presigned_register = presigned_rate(chain, bank, registrations)
        financings = [
            ledger.contract.functions.finance(
                receivable_terms(i, b"\xa0")[0].id, 50_000
            ).build_transaction({"from": bank.address, **common})
            for i in range(count)
        ]
        presigned_finance = presigned_rate(chain, bank, financings)

        sequential = max(count // 5, 20)
        start = time.perf_counter()
        for i in range(sequential):
            terms, decls = receivable_terms(i, b"\xb0")
            ledger.register(bank, terms, decls)
            ledger.finance(bank, terms.id, 50_000)
        elapsed = time.perf_counter() - start
        through_binding = {
            "ops_per_s": 2 * sequential / elapsed,
            "ms_per_op": elapsed / (2 * sequential) * 1000,
        }

    return {
        "node": "anvil (automine)",
        "count": count,
        "reference_transfer": reference,
        "register_presigned": presigned_register,
        "finance_presigned": presigned_finance,
        "binding_sequential": through_binding,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    results = run(args.count)
    ref = results["reference_transfer"]
    print(f"{'operation':<32}{'tx/s':>10}{'gas/tx':>12}{'vs transfers':>14}")
    label = "ether transfer (reference)"
    print(f"{label:<32}{ref['tx_per_s']:>10.0f}{ref['gas_per_tx']:>12.0f}{'1.00x':>14}")
    for key, label in (
        ("register_presigned", "registerReceivable"),
        ("finance_presigned", "finance"),
    ):
        row = results[key]
        print(
            f"{label:<32}{row['tx_per_s']:>10.0f}{row['gas_per_tx']:>12.0f}"
            f"{row['tx_per_s'] / ref['tx_per_s']:>13.2f}x"
        )
    seq = results["binding_sequential"]
    print(
        f"{'register+finance via binding':<32}{seq['ops_per_s']:>10.0f}{'':>12}"
        f"{seq['ops_per_s'] / ref['tx_per_s']:>13.2f}x   ({seq['ms_per_op']:.1f} ms per call)"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
