"""Gas per operation next to its floor, alone and amortized in multicall batches.

Every state-changing operation of the three contracts runs on a fresh anvil node (owned by this
benchmark), first alone, then in OpenZeppelin ``multicall(bytes[])`` batches of 10 and 100 calls of
the same operation (gas per call = receipt gas / n). Each transaction's floor is computed from that
very transaction, as the least any implementation could pay for its inputs and its effects:

    21,000                     intrinsic cost of a transaction
    + 16 per non-zero byte     calldata, EIP-2028 pricing (the node runs shanghai, so EIP-7623's
    + 4 per zero byte          floor pricing of Prague does not apply)
    + 20,000 per storage slot  written from zero to non-zero (SSTORE set, cold surcharge not
                               counted)
    + 2,900 per storage slot   changed from non-zero (SSTORE reset, cold surcharge not counted;
                               also when cleared to zero, its refund not counted either)
    + 375 + 375 per topic      per log,
    + 8 per data byte
    + 4,700                    for a contract behind a proxy: finding its code, a cold read of the
                               proxy's implementation slot (2,100) and the first call into the
                               implementation's account (2,600, EIP-2929), which any contract that
                               can be upgraded in place pays once per transaction

Storage writes come from anvil's ``debug_traceTransaction`` with the prestate tracer in diff mode:
a slot listed after but not before was zero, one listed before was not (and is cleared when it is
not listed after). A slot written and restored within the transaction is no net write and costs
nothing here. A batch's floor is that of its multicall transaction (whose calldata carries the
``bytes[]`` encoding), divided by n. The reference row, a plain ether transfer, must sit exactly
on its floor: it checks the model in the same run.

Targets: each operation within 1.5x its floor; batched financing under 40,000 gas per drawdown.
Prints a table and writes bench/results/gas.json.

    .venv/bin/python bench/gas.py [--batches 10,100]

Adding an operation is one entry in SCENARIOS: a function that prepares n independent instances of
it (sending whatever setup it needs) and returns n ``Op``s, each a method of the contract bindings
in registry/chain with its arguments. An operation runs alone as the transaction its binding
method sends; a batch records those transactions without sending them (``Recorder``) and sends them
in one multicall. Policy settings run alone only; a batch that would not fit in a block is skipped,
and the report says so.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import Web3

from registry.chain.client import Chain, Signer
from registry.chain.node import BLOCK_GAS_LIMIT, HARDFORK, DevNode
from registry.contracts.consents import (
    SCOPE_CREDIT_REPORT,
    Consent,
    ConsentDomain,
    ConsentRegistry,
    Revocation,
    institution_id,
    sign_consent,
    sign_revocation,
)
from registry.contracts.ledger import (
    AdvanceRates,
    DeclarationAlias,
    DeclarationTerm,
    InvoiceAlias,
    ReceivableLedger,
    ReceivableTerms,
)
from registry.contracts.pledges import MIN_CLERK_REASON, PledgeRegistry, pledge_id
from registry.contracts.roles import LENDER_ROLE
from registry.contracts.upgrade import IMPLEMENTATION_SLOT
from registry.credentials import DevSecrets
from registry.devstack import bootstrap
from registry.errors import RegistryError
from registry.fingerprint import Fingerprint

RESULTS = Path(__file__).parent / "results" / "gas.json"

# --- the floor ------------------------------------------------------------------------------------

TX_INTRINSIC = 21_000
CALLDATA_NONZERO_BYTE = 16
CALLDATA_ZERO_BYTE = 4
SSTORE_SET = 20_000
SSTORE_RESET = 2_900
LOG_BASE = 375
LOG_TOPIC = 375
LOG_DATA_BYTE = 8
PROXY_LOOKUP = 2_100 + 2_600

FLOOR_TARGET = 1.5
BATCH_FINANCING_TARGET = 40_000

# What the scenarios register, draw and pledge.
EXPORTER = keccak(b"bench/gas exporter")
EXPORTER_V2 = keccak(b"bench/gas exporter, key version 2")
FACE_VALUE = 100_000
FIRST_TRANCHE = 30_000
FURTHER_TRANCHE = 10_000
PARTIAL_REPAYMENT = 10_000
APPRAISAL = 1_000_000
PLEDGE = 100_000
READ_LOG_ENTRIES_PER_ANCHOR = 100
CASE_REF = keccak(b"bench/gas court case")


@dataclass(frozen=True)
class Floor:
    """The least gas a transaction with this calldata, these storage writes and these logs costs."""

    calldata_gas: int
    slots_set: int
    slots_reset: int
    logs: int
    log_gas: int
    proxy_gas: int = 0

    @property
    def storage_gas(self) -> int:
        return self.slots_set * SSTORE_SET + self.slots_reset * SSTORE_RESET

    @property
    def total(self) -> int:
        return TX_INTRINSIC + self.calldata_gas + self.storage_gas + self.log_gas + self.proxy_gas

    def to_json(self) -> dict[str, int]:
        return {
            "intrinsic": TX_INTRINSIC,
            "calldata_gas": self.calldata_gas,
            "slots_set": self.slots_set,
            "slots_reset": self.slots_reset,
            "storage_gas": self.storage_gas,
            "logs": self.logs,
            "log_gas": self.log_gas,
            "proxy_gas": self.proxy_gas,
            "total": self.total,
        }


def calldata_gas(data: bytes) -> int:
    zeros = data.count(0)
    return zeros * CALLDATA_ZERO_BYTE + (len(data) - zeros) * CALLDATA_NONZERO_BYTE


def log_gas(logs: Iterable[Mapping[str, Any]]) -> int:
    """Gas of the receipt's logs: per log 375, 375 per topic and 8 per data byte."""
    return sum(
        LOG_BASE
        + LOG_TOPIC * len(log["topics"])
        + LOG_DATA_BYTE * len(bytes(HexBytes(log["data"])))
        for log in logs
    )


def storage_writes(diff: Mapping[str, Any]) -> tuple[int, int]:
    """(slots set from zero, slots changed from non-zero) in a prestate-tracer diff.

    The diff lists, per account, the original value of every slot the transaction changed (pre)
    and the final value (post); zero values are left out on either side.
    """
    slots_set = slots_reset = 0
    for account in set(diff["pre"]) | set(diff["post"]):
        before = diff["pre"].get(account, {}).get("storage") or {}
        after = diff["post"].get(account, {}).get("storage") or {}
        for slot in set(before) | set(after):
            if int(before.get(slot, "0x0"), 16) == 0:
                slots_set += 1
            else:
                slots_reset += 1
    return slots_set, slots_reset


def storage_diff(w3: Web3, tx_hash: str) -> dict[str, Any]:
    response = w3.provider.make_request(
        "debug_traceTransaction",  # type: ignore[arg-type]
        [tx_hash, {"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}}],
    )
    if "result" not in response:
        raise RuntimeError(f"the node cannot trace {tx_hash}: {response.get('error')}")
    result: dict[str, Any] = response["result"]
    return result


def floor_of(w3: Web3, tx_hash: str) -> Floor:
    """The floor of the mined transaction ``tx_hash``."""
    tx = w3.eth.get_transaction(HexBytes(tx_hash))
    receipt = w3.eth.get_transaction_receipt(HexBytes(tx_hash))
    slots_set, slots_reset = storage_writes(storage_diff(w3, tx_hash))
    proxied = tx["to"] is not None and any(w3.eth.get_storage_at(tx["to"], IMPLEMENTATION_SLOT))
    return Floor(
        calldata_gas=calldata_gas(bytes(tx["input"])),
        slots_set=slots_set,
        slots_reset=slots_reset,
        logs=len(receipt["logs"]),
        log_gas=log_gas(receipt["logs"]),
        proxy_gas=PROXY_LOOKUP if proxied else 0,
    )


@dataclass(frozen=True)
class Measurement:
    calls: int
    gas_used: int
    floor: Floor
    tx_hash: str

    @property
    def gas_per_call(self) -> float:
        return self.gas_used / self.calls

    @property
    def floor_per_call(self) -> float:
        return self.floor.total / self.calls

    @property
    def ratio(self) -> float:
        return self.gas_used / self.floor.total

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "gas_used": self.gas_used,
            "gas_per_call": round(self.gas_per_call),
            "floor_per_call": round(self.floor_per_call),
            "ratio": round(self.ratio, 3),
            "within_floor_target": self.ratio <= FLOOR_TARGET,
            "floor": self.floor.to_json(),
            "tx_hash": self.tx_hash,
        }


def measure(w3: Web3, tx_hash: str, calls: int = 1) -> Measurement:
    receipt = w3.eth.get_transaction_receipt(HexBytes(tx_hash))
    return Measurement(calls, receipt["gasUsed"], floor_of(w3, tx_hash), tx_hash)


# --- running operations alone and in batches ------------------------------------------------------


@dataclass(frozen=True)
class Bindings:
    ledger: ReceivableLedger
    pledges: PledgeRegistry
    consents: ConsentRegistry

    @classmethod
    def over(cls, chain: Chain, addresses: Bindings) -> Bindings:
        return cls(
            ReceivableLedger(chain, addresses.ledger.address),
            PledgeRegistry(chain, addresses.pledges.address),
            ConsentRegistry(chain, addresses.consents.address),
        )

    def at(self, address: str) -> ReceivableLedger | PledgeRegistry | ConsentRegistry:
        for binding in (self.ledger, self.pledges, self.consents):
            if binding.address == address:
                return binding
        raise KeyError(address)


class Op:
    """One operation: a binding method called with its arguments, e.g.
    ``Op("ledger", "finance", bank, receivable_id, amount)``; it sends one transaction."""

    def __init__(self, binding: str, method: str, *args: Any) -> None:
        self.binding = binding
        self.method = method
        self.args = args

    def on(self, bindings: Bindings) -> object:
        return getattr(getattr(bindings, self.binding), self.method)(*self.args)


class _Recorded(Exception):
    """Stops a binding method once its transaction is recorded (it would read the receipt next)."""


@dataclass(frozen=True)
class Call:
    signer: Signer
    function: Any  # a bound web3 ContractFunction


class Recorder(Chain):
    """A chain that records the transactions bindings would send, and sends nothing."""

    def __init__(self, w3: Web3) -> None:
        super().__init__(w3, abis=[])
        self.calls: list[Call] = []

    def transact(self, signer: Signer, function: Any, on_signed: Any = None) -> Any:
        self.calls.append(Call(signer, function))
        raise _Recorded


@dataclass
class Env:
    """The deployed system, its institutions, and the setup helpers scenarios share."""

    chain: Chain
    secrets: DevSecrets
    bindings: Bindings
    recorder: Recorder = field(init=False)
    recording: Bindings = field(init=False)
    _counter: int = 0

    def __post_init__(self) -> None:
        self.recorder = Recorder(self.chain.w3)
        self.recording = Bindings.over(self.recorder, self.bindings)
        # Calls that may share a transaction go through the bindings' write groups, which send
        # for real: recorded too, each alone (a batch here is the benchmark's own multicall).
        for binding in (self.recording.ledger, self.recording.pledges, self.recording.consents):
            binding.groups = self.recorder  # type: ignore[assignment]

    def signer(self, institution: str) -> Signer:
        return self.secrets.institution(institution).signer

    @property
    def admin(self) -> Signer:
        return self.secrets.deployer

    def fresh(self) -> bytes:
        """A new 32-byte id (fingerprints, case references, roots)."""
        self._counter += 1
        return keccak(b"bench/gas" + self._counter.to_bytes(8, "big"))

    def now(self) -> int:
        return int(self.chain.w3.eth.get_block("latest")["timestamp"])

    def record(self, ops: Sequence[Op]) -> list[Call]:
        """The transactions ``ops`` make, recorded, not sent."""
        self.recorder.calls.clear()
        for op in ops:
            try:
                op.on(self.recording)
            except _Recorded:
                continue
            raise RuntimeError("an operation returned without sending a transaction")
        calls = list(self.recorder.calls)
        if len(calls) != len(ops):
            raise RuntimeError("an operation sent more than one transaction")
        return calls

    def multicall(self, calls: Sequence[Call]) -> str:
        """Sends ``calls`` (one signer, one contract) in one multicall; returns its hash."""
        signers = {c.signer.address for c in calls}
        contracts = {c.function.address for c in calls}
        if len(signers) != 1 or len(contracts) != 1:
            raise ValueError("a multicall batch needs one signer and one contract")
        binding = self.bindings.at(calls[0].function.address)
        data = [binding.call_data(c.function.fn_name, *c.function.args) for c in calls]
        return binding.multicall(calls[0].signer, data).tx_hash

    def setup(self, ops: Sequence[Op], chunk: int = 20) -> None:
        """Runs ``ops`` for their effect, in multicalls of consecutive calls by one signer to one
        contract (a scenario's preparations are not measured)."""
        calls = self.record(ops)
        group: list[Call] = []
        for call in calls:
            if group and (
                call.signer is not group[0].signer
                or call.function.address != group[0].function.address
                or len(group) == chunk
            ):
                self.multicall(group)
                group = []
            group.append(call)
        if group:
            self.multicall(group)

    # --- setups scenarios share -------------------------------------------------------------------

    def receivables(
        self, n: int, declarations: int = 1, financed: int = 0
    ) -> list[tuple[ReceivableTerms, list[DeclarationTerm]]]:
        """``n`` receivables registered by Bank A (face 100,000 USD, declarations worth 100,000 in
        all), each financed ``financed`` by Bank A."""
        bank = self.signer("Bank A")
        maturity = self.now() + 365 * 86_400
        made = []
        for _ in range(n):
            terms = ReceivableTerms(self.fresh(), EXPORTER, 1, FACE_VALUE, "USD", maturity)
            value = FACE_VALUE // declarations
            decls = [DeclarationTerm(self.fresh(), value) for _ in range(declarations)]
            made.append((terms, decls))
        self.setup([Op("ledger", "register", bank, t, d) for t, d in made])
        if financed:
            self.setup([Op("ledger", "finance", bank, t.id, financed) for t, _ in made])
        return made

    def properties(self, n: int, applications: int = 0, approved: int = 0) -> list[bytes]:
        """``n`` properties appraised at 1,000,000 CNY, each with ``applications`` pledge
        applications by Bank A of which the first ``approved`` are approved (ranks 1, 2, ...)."""
        registrar, bank = self.signer("Registry center"), self.signer("Bank A")
        props = [self.fresh() for _ in range(n)]
        self.setup(
            [Op("pledges", "register_property", registrar, p, 1, APPRAISAL, "CNY") for p in props]
        )
        maturity = self.now() + 365 * 86_400
        self.setup(
            [
                Op("pledges", "apply", bank, p, PLEDGE, "CNY", maturity)
                for p in props
                for _ in range(applications)
            ]
        )
        self.setup(
            [
                Op("pledges", "approve", registrar, pledge_id(p, s))
                for p in props
                for s in range(1, approved + 1)
            ]
        )
        return props

    def enterprises(self, n: int, granted: bool = False) -> list[tuple[Signer, bytes]]:
        """``n`` enterprises (key, fingerprint) bound to their accounts; with ``granted``, each has
        consented (nonce 1) to Bank A reading its credit report."""
        registrar = self.signer("Registry center")
        made = [(Signer.generate(), self.fresh()) for _ in range(n)]
        self.setup(
            [
                Op("consents", "bind_enterprise", registrar, k.address, Fingerprint(1, e))
                for k, e in made
            ]
        )
        if granted:
            self.setup([self.grant_op(k, e, nonce=1) for k, e in made])
        return made

    @cached_property
    def consent_domain(self) -> ConsentDomain:
        return self.bindings.consents.domain()

    def grant_op(self, key: Signer, enterprise: bytes, nonce: int) -> Op:
        bank = institution_id(self.signer("Bank A").address)
        consent = Consent(enterprise, bank, SCOPE_CREDIT_REPORT, self.now() + 30 * 86_400, nonce)
        signature = sign_consent(key.private_key_hex, self.consent_domain, consent)
        relayer = self.signer("API operator")
        return Op("consents", "grant", relayer, consent, signature)

    def revoke_op(self, key: Signer, enterprise: bytes, nonce: int) -> Op:
        bank = institution_id(self.signer("Bank A").address)
        revocation = Revocation(enterprise, bank, SCOPE_CREDIT_REPORT, nonce)
        signature = sign_revocation(key.private_key_hex, self.consent_domain, revocation)
        relayer = self.signer("API operator")
        return Op("consents", "revoke", relayer, revocation, signature)


# --- the operations -------------------------------------------------------------------------------


def register_1(env: Env, n: int) -> list[Op]:
    return _register(env, n, declarations=1)


def register_3(env: Env, n: int) -> list[Op]:
    return _register(env, n, declarations=3)


def _register(env: Env, n: int, declarations: int) -> list[Op]:
    bank, maturity = env.signer("Bank A"), env.now() + 365 * 86_400
    ops: list[Op] = []
    for _ in range(n):
        terms = ReceivableTerms(env.fresh(), EXPORTER, 1, FACE_VALUE, "USD", maturity)
        decls = [
            DeclarationTerm(env.fresh(), FACE_VALUE // declarations) for _ in range(declarations)
        ]
        ops.append(Op("ledger", "register", bank, terms, decls))
    return ops


def register_aliased(env: Env, n: int) -> list[Op]:
    """Registered under key version 2 with its documents' version-1 fingerprints, which the rules
    look up too (after a key rotation)."""
    bank, maturity = env.signer("Bank A"), env.now() + 365 * 86_400
    ops: list[Op] = []
    for _ in range(n):
        terms = ReceivableTerms(env.fresh(), EXPORTER_V2, 2, FACE_VALUE, "USD", maturity)
        decls = [DeclarationTerm(env.fresh(), FACE_VALUE)]
        alias = InvoiceAlias(1, env.fresh(), EXPORTER, (env.fresh(),))
        ops.append(Op("ledger", "register", bank, terms, decls, [alias]))
    return ops


def register_refused(env: Env, n: int) -> list[Op]:
    """Bank B presents a declaration already behind Bank A's invoice (recorded, not reverted)."""
    bank_b, maturity = env.signer("Bank B"), env.now() + 365 * 86_400
    taken = env.receivables(n)
    ops = []
    for _, decls in taken:
        terms = ReceivableTerms(env.fresh(), EXPORTER, 1, FACE_VALUE, "USD", maturity)
        ops.append(Op("ledger", "try_register", bank_b, terms, decls))
    return ops


def finance_first(env: Env, n: int) -> list[Op]:
    bank = env.signer("Bank A")
    return [Op("ledger", "finance", bank, t.id, FIRST_TRANCHE) for t, _ in env.receivables(n)]


def finance_further(env: Env, n: int) -> list[Op]:
    bank = env.signer("Bank A")
    return [
        Op("ledger", "finance", bank, t.id, FURTHER_TRANCHE)
        for t, _ in env.receivables(n, financed=FIRST_TRANCHE)
    ]


def finance_first_3(env: Env, n: int) -> list[Op]:
    bank = env.signer("Bank A")
    return [
        Op("ledger", "finance", bank, t.id, FIRST_TRANCHE)
        for t, _ in env.receivables(n, declarations=3)
    ]


def finance_refused(env: Env, n: int) -> list[Op]:
    """Bank B tries to draw on receivables Bank A financed (recorded, not reverted)."""
    bank_b = env.signer("Bank B")
    return [
        Op("ledger", "try_finance", bank_b, t.id, FURTHER_TRANCHE)
        for t, _ in env.receivables(n, financed=FIRST_TRANCHE)
    ]


def repay_partial(env: Env, n: int) -> list[Op]:
    bank = env.signer("Bank A")
    return [
        Op("ledger", "repay", bank, t.id, PARTIAL_REPAYMENT)
        for t, _ in env.receivables(n, financed=FIRST_TRANCHE)
    ]


def repay_full(env: Env, n: int) -> list[Op]:
    bank = env.signer("Bank A")
    return [
        Op("ledger", "repay", bank, t.id, FIRST_TRANCHE)
        for t, _ in env.receivables(n, financed=FIRST_TRANCHE)
    ]


def cancel(env: Env, n: int) -> list[Op]:
    bank = env.signer("Bank A")
    return [Op("ledger", "cancel", bank, t.id) for t, _ in env.receivables(n)]


def attest(env: Env, n: int) -> list[Op]:
    """Customs attests a declaration already behind an invoice (its balance is recounted)."""
    customs, exported = env.signer("Customs"), env.now() - 86_400
    return [
        Op("ledger", "attest_declaration", customs, d.fingerprint, EXPORTER, d.value, exported)
        for _, (d,) in env.receivables(n)
    ]


def attest_aliased(env: Env, n: int) -> list[Op]:
    """After a key rotation: customs attests under version 2 a declaration registered under
    version 1, found through its alias and recounted."""
    customs, exported = env.signer("Customs"), env.now() - 86_400
    return [
        Op(
            "ledger",
            "attest_declaration",
            customs,
            env.fresh(),
            EXPORTER_V2,
            d.value,
            exported,
            [DeclarationAlias(d.fingerprint, EXPORTER)],
        )
        for _, (d,) in env.receivables(n)
    ]


def set_advance_rates(env: Env, n: int) -> list[Op]:
    return [Op("ledger", "set_advance_rates", env.admin, 9000, 5000)]


def register_property(env: Env, n: int) -> list[Op]:
    registrar = env.signer("Registry center")
    props = [env.fresh() for _ in range(n)]
    return [Op("pledges", "register_property", registrar, p, 1, APPRAISAL, "CNY") for p in props]


def update_appraisal(env: Env, n: int) -> list[Op]:
    registrar = env.signer("Registry center")
    return [
        Op("pledges", "update_appraisal", registrar, p, APPRAISAL * 2) for p in env.properties(n)
    ]


def apply_for_pledge(env: Env, n: int) -> list[Op]:
    bank, maturity = env.signer("Bank A"), env.now() + 365 * 86_400
    return [Op("pledges", "apply", bank, p, PLEDGE, "CNY", maturity) for p in env.properties(n)]


def approve(env: Env, n: int) -> list[Op]:
    registrar = env.signer("Registry center")
    return [
        Op("pledges", "approve", registrar, pledge_id(p, 1))
        for p in env.properties(n, applications=1)
    ]


def reject(env: Env, n: int) -> list[Op]:
    registrar = env.signer("Registry center")
    return [
        Op("pledges", "reject", registrar, pledge_id(p, 1), MIN_CLERK_REASON)
        for p in env.properties(n, applications=1)
    ]


def decide_approved(env: Env, n: int) -> list[Op]:
    registrar = env.signer("Registry center (automated)")
    return [
        Op("pledges", "decide", registrar, pledge_id(p, 1))
        for p in env.properties(n, applications=1)
    ]


def decide_rejected(env: Env, n: int) -> list[Op]:
    """The automated registrar decides on a seized property: the rejection is recorded."""
    registrar, court = env.signer("Registry center (automated)"), env.signer("Court")
    props = env.properties(n, applications=1)
    env.setup([Op("pledges", "seize", court, p, CASE_REF) for p in props])
    return [Op("pledges", "decide", registrar, pledge_id(p, 1)) for p in props]


def release_senior(env: Env, n: int) -> list[Op]:
    """Bank A releases the rank-1 pledge of three: the two juniors move up."""
    bank = env.signer("Bank A")
    return [
        Op("pledges", "release", bank, pledge_id(p, 1))
        for p in env.properties(n, applications=3, approved=3)
    ]


def seize(env: Env, n: int) -> list[Op]:
    court = env.signer("Court")
    return [Op("pledges", "seize", court, p, CASE_REF) for p in env.properties(n)]


def unseize(env: Env, n: int) -> list[Op]:
    court = env.signer("Court")
    props = env.properties(n)
    env.setup([Op("pledges", "seize", court, p, CASE_REF) for p in props])
    return [Op("pledges", "unseize", court, p, CASE_REF) for p in props]


def set_default_max_ltv(env: Env, n: int) -> list[Op]:
    return [Op("pledges", "set_default_max_ltv", env.admin, 6500)]


def bind_enterprise(env: Env, n: int) -> list[Op]:
    registrar = env.signer("Registry center")
    made = [(Signer.generate().address, env.fresh()) for _ in range(n)]
    return [Op("consents", "bind_enterprise", registrar, a, Fingerprint(1, e)) for a, e in made]


def unbind_enterprise(env: Env, n: int) -> list[Op]:
    registrar = env.signer("Registry center")
    return [Op("consents", "unbind_enterprise", registrar, e) for _, e in env.enterprises(n)]


def grant_consent(env: Env, n: int) -> list[Op]:
    return [env.grant_op(key, e, nonce=1) for key, e in env.enterprises(n)]


def revoke_consent(env: Env, n: int) -> list[Op]:
    return [env.revoke_op(key, e, nonce=2) for key, e in env.enterprises(n, granted=True)]


def anchor_read_log(env: Env, n: int) -> list[Op]:
    """The operator anchors the roots of consecutive runs of 100 read-log entries."""
    operator = env.signer("API operator")
    first = env.bindings.consents.next_read_log_entry()
    size = READ_LOG_ENTRIES_PER_ANCHOR
    runs = [(first + i * size, env.fresh()) for i in range(n)]
    return [Op("consents", "anchor_read_log", operator, r, f, f + size - 1) for f, r in runs]


def grant_role(env: Env, n: int) -> list[Op]:
    accounts = [Signer.generate().address for _ in range(n)]
    return [Op("ledger", "grant_role", env.admin, LENDER_ROLE, a) for a in accounts]


def assign_institution(env: Env, n: int) -> list[Op]:
    made = [(Signer.generate().address, env.fresh()) for _ in range(n)]
    return [Op("pledges", "assign_institution", env.admin, a, i) for a, i in made]


def move_account(env: Env, n: int) -> list[Op]:
    """Bank accounts (with roles, so numbered) moved to another bank: each gets a new number."""
    accounts = [Signer.generate().address for _ in range(n)]
    env.setup([Op("ledger", "grant_role", env.admin, LENDER_ROLE, a) for a in accounts])
    return [Op("ledger", "assign_institution", env.admin, a, env.fresh()) for a in accounts]


@dataclass(frozen=True)
class Scenario:
    name: str
    contract: str
    """The heading it is reported under: the contract, or the base contract it comes from."""
    prepare: Callable[[Env, int], list[Op]]
    """Prepares n independent instances of the operation; returns them."""
    batched: bool = True
    """False for a policy setting: n of them in one transaction would overwrite one slot n times."""
    financing: bool = False
    """Held to the batch financing target too."""


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("register receivable, 1 declaration", "ReceivableLedger", register_1),
    Scenario("register receivable, 3 declarations", "ReceivableLedger", register_3),
    Scenario("register, 1 decl., 1 older key alias", "ReceivableLedger", register_aliased),
    Scenario("register refused, recorded (try*)", "ReceivableLedger", register_refused),
    Scenario("finance first tranche", "ReceivableLedger", finance_first, financing=True),
    Scenario("finance first tranche, 3 decl.", "ReceivableLedger", finance_first_3, financing=True),
    Scenario("finance further tranche", "ReceivableLedger", finance_further, financing=True),
    Scenario("finance refused, recorded (try*)", "ReceivableLedger", finance_refused),
    Scenario("repay partial", "ReceivableLedger", repay_partial),
    Scenario("repay full", "ReceivableLedger", repay_full),
    Scenario("cancel", "ReceivableLedger", cancel),
    Scenario("attest declaration (linked)", "ReceivableLedger", attest),
    Scenario("attest, linked under an older key", "ReceivableLedger", attest_aliased),
    Scenario("set advance rates", "ReceivableLedger", set_advance_rates, batched=False),
    Scenario("register property", "PledgeRegistry", register_property),
    Scenario("update appraisal", "PledgeRegistry", update_appraisal),
    Scenario("apply for pledge", "PledgeRegistry", apply_for_pledge),
    Scenario("approve pledge", "PledgeRegistry", approve),
    Scenario("reject pledge", "PledgeRegistry", reject),
    Scenario("decide pledge, approved", "PledgeRegistry", decide_approved),
    Scenario("decide pledge, rejected (recorded)", "PledgeRegistry", decide_rejected),
    Scenario("release senior (2 juniors move up)", "PledgeRegistry", release_senior),
    Scenario("seize", "PledgeRegistry", seize),
    Scenario("unseize", "PledgeRegistry", unseize),
    Scenario("set default max LTV", "PledgeRegistry", set_default_max_ltv, batched=False),
    Scenario("bind enterprise", "ConsentRegistry", bind_enterprise),
    Scenario("unbind enterprise", "ConsentRegistry", unbind_enterprise),
    Scenario("grant consent (relayed signature)", "ConsentRegistry", grant_consent),
    Scenario("revoke consent (relayed signature)", "ConsentRegistry", revoke_consent),
    Scenario("anchor read log (Merkle root)", "ConsentRegistry", anchor_read_log),
    Scenario("grant role (on the ledger)", "ConsortiumAccess", grant_role),
    Scenario("assign institution (on the registry)", "ConsortiumAccess", assign_institution),
    Scenario("move an account to another bank", "ConsortiumAccess", move_account),
)


# --- the run --------------------------------------------------------------------------------------


def run_alone(env: Env, scenario: Scenario) -> Measurement:
    (call,) = env.record(scenario.prepare(env, 1))
    tx = env.chain.transact(call.signer, call.function)
    return measure(env.chain.w3, tx.tx_hash)


def run_batch(env: Env, scenario: Scenario, n: int, alone: Measurement) -> Measurement | str:
    """The batch's measurement, or why it was not run."""
    # n times what the operation costs alone beyond the intrinsic gas: close to the batch's gas.
    projected = TX_INTRINSIC + n * (alone.gas_used - TX_INTRINSIC)
    if projected > BLOCK_GAS_LIMIT:
        return f"needs about {projected:,} gas, beyond the block gas limit of {BLOCK_GAS_LIMIT:,}"
    calls = env.record(scenario.prepare(env, n))
    try:
        tx_hash = env.multicall(calls)
    except RegistryError as error:  # e.g. beyond the block gas limit
        return f"not run: {error}"
    return measure(env.chain.w3, tx_hash, calls=n)


def reference_transfer(env: Env) -> Measurement:
    """An ether transfer: intrinsic gas only, so it must equal its floor."""
    tx_hash = env.chain.send_value(env.chain.w3.eth.accounts[0], env.admin.address, 1)
    return measure(env.chain.w3, tx_hash)


def run(batch_sizes: Sequence[int]) -> dict[str, Any]:
    with DevNode("anvil") as node:
        chain = Chain.connect(node.url)
        secrets = DevSecrets.generate()
        deployment = bootstrap(chain, secrets, AdvanceRates(8000, 8000))
        env = Env(
            chain,
            secrets,
            Bindings(
                ReceivableLedger(chain, deployment.address_of(ReceivableLedger.NAME)),
                PledgeRegistry(chain, deployment.address_of(PledgeRegistry.NAME)),
                ConsentRegistry(chain, deployment.address_of(ConsentRegistry.NAME)),
            ),
        )
        reference = reference_transfer(env)
        rows = []
        for scenario in SCENARIOS:
            alone = run_alone(env, scenario)
            batches: dict[str, Any] = {}
            if scenario.batched:
                for n in batch_sizes:
                    result = run_batch(env, scenario, n, alone)
                    batches[str(n)] = result if isinstance(result, str) else result.to_json()
            rows.append(
                {
                    "operation": scenario.name,
                    "contract": scenario.contract,
                    "financing": scenario.financing,
                    "alone": alone.to_json(),
                    "batches": batches,
                }
            )
    return {
        "node": f"anvil (automine, hardfork {HARDFORK}, block gas limit {BLOCK_GAS_LIMIT:,})",
        "floor_model": {
            "intrinsic": TX_INTRINSIC,
            "calldata_per_nonzero_byte": CALLDATA_NONZERO_BYTE,
            "calldata_per_zero_byte": CALLDATA_ZERO_BYTE,
            "slot_set_from_zero": SSTORE_SET,
            "slot_changed_from_nonzero": SSTORE_RESET,
            "log": LOG_BASE,
            "log_per_topic": LOG_TOPIC,
            "log_per_data_byte": LOG_DATA_BYTE,
            "storage_writes_from": "debug_traceTransaction prestateTracer diffMode",
        },
        "targets": {
            "ratio_to_floor_at_most": FLOOR_TARGET,
            "batched_financing_gas_per_call_below": BATCH_FINANCING_TARGET,
        },
        "batch_sizes": list(batch_sizes),
        "reference_transfer": reference.to_json(),
        "operations": rows,
    }


# --- the report -----------------------------------------------------------------------------------


def _cell(measured: Mapping[str, Any] | str | None, gas_width: int, financing: bool = False) -> str:
    """gas, floor, ratio and a mark: * beyond 1.5x the floor, ! financing at or above 40,000."""
    width = gas_width + 9 + 6
    if measured is None:
        return f"{'-':>{width}} "
    if isinstance(measured, str):
        return f"{'not run':>{width}} "
    mark = " " if measured["within_floor_target"] else "*"
    if financing and measured["gas_per_call"] >= BATCH_FINANCING_TARGET:
        mark = "!"
    return (
        f"{measured['gas_per_call']:>{gas_width},}{measured['floor_per_call']:>9,}"
        f"{measured['ratio']:>6.2f}{mark}"
    )


def report(results: Mapping[str, Any]) -> str:
    sizes = [str(n) for n in results["batch_sizes"]]
    name_width, alone_width, batch_width = 38, 11, 16
    head = f"{'operation':<{name_width}}{'alone gas':>{alone_width}}{'floor':>9}{'ratio':>6} "
    for n in sizes:
        head += f"{'x' + n + ' gas/call':>{batch_width}}{'floor':>9}{'ratio':>6} "
    lines = [head, "-" * len(head)]
    reference = _cell(results["reference_transfer"], alone_width)
    lines.append(f"{'ether transfer (reference)':<{name_width}}{reference}")
    contract = None
    for row in results["operations"]:
        if row["contract"] != contract:
            contract = row["contract"]
            lines.append(contract)
        line = f"  {row['operation']:<{name_width - 2}}{_cell(row['alone'], alone_width)}"
        for n in sizes:
            line += _cell(row["batches"].get(n), batch_width, row["financing"])
        lines.append(line)
    lines.append(
        f"* beyond {FLOOR_TARGET}x its floor   ! batched financing at or above "
        f"{BATCH_FINANCING_TARGET:,} gas per drawdown   - not batched (a policy setting)"
    )
    operations = results["operations"]
    for row in operations:
        for n, measured in row["batches"].items():
            if isinstance(measured, str):
                lines.append(f"not run: {row['operation']} x{n}: {measured}")
    within = sum(row["alone"]["within_floor_target"] for row in operations)
    lines.append(
        f"alone within {FLOOR_TARGET}x its floor: {within} of {len(operations)} operations"
    )
    for row in operations:
        if row["financing"]:
            batched = [
                (n, m["gas_per_call"]) for n, m in row["batches"].items() if isinstance(m, dict)
            ]
            verdict = "ok" if all(g < BATCH_FINANCING_TARGET for _, g in batched) else "MISSED"
            figures = ", ".join(f"{g:,} (x{n})" for n, g in batched)
            lines.append(
                f"batched financing under {BATCH_FINANCING_TARGET:,} gas per drawdown, "
                f"{row['operation']}: {figures}: {verdict}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="10,100", help="batch sizes, comma-separated")
    args = parser.parse_args()
    sizes = [int(n) for n in args.batches.split(",") if n]
    results = run(sizes)
    print(report(results))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
