"""How every write route answers: once, idempotently, and only once the index agrees.

A write route validates and prepares its operation (a :class:`~registry.contracts.binding.Call`)
and hands it to :meth:`Writes.perform`, which

1. claims the request's ``Idempotency-Key``, if it has one (:mod:`registry.idempotency`): a
   retry of an answered request gets the first answer again; a retry while the first is still
   being answered waits for it (then 409 ``idempotency-key-in-flight`` with ``Retry-After``); a
   retry after the process answering it died follows the transaction that process signed, and
   gets its answer (marked replayed), or 503 ``transaction-dropped`` if the node let it go; so
   does a retry of an answer whose transaction a reorganization took out of its block (the
   caller learns that it was dropped, or its outcome where it was mined again);
2. signs and sends the call for the bank, keeping the transaction's hash before it is sent, and
   reads its outcome: the operation's result, or the refusal the chain recorded;
3. waits until the index has reached the transaction's block (:mod:`registry.index_watch`), so
   that the next read agrees with the answer; past :attr:`Writes.index_timeout` the answer is 503
   ``index-behind`` with the transaction's hash and block, and a retry with the same key gets the
   real answer once the index is there.

Refusals are answers too: a request the chain refused is refused again on retry, from the store.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from eth_typing import ChecksumAddress
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from api.problems import problem_for
from registry.chain.client import OnSigned, SentTx, Signer
from registry.contracts.binding import Call, ConsortiumContract
from registry.errors import (
    AccessDenied,
    ChainError,
    IndexBehind,
    RegistryError,
    RequestInFlight,
    TransactionDropped,
    TransactionReplaced,
)
from registry.idempotency import Answer, Claim, IdempotencyStore, Pending, request_digest
from registry.index_watch import IndexWatch

__all__ = ["IDEMPOTENCY_KEY_HEADER", "SIGNED_TRANSACTION_HEADER", "Rendered", "Sender", "Writes"]

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
SIGNED_TRANSACTION_HEADER = "Signed-Transaction"
_SIGNED_FIELD = f"header.{SIGNED_TRANSACTION_HEADER}"
REPLAYED_HEADER = "Idempotent-Replayed"

T = TypeVar("T")


@dataclass(frozen=True)
class Rendered:
    """A write's answer as the client gets it."""

    status_code: int
    body: BaseModel
    headers: dict[str, str]
    tx_block: int | None
    """The block the answer waits for the index to reach; None when it wrote nothing."""


class Writes:
    """Performs the API's writes; one per process, shared by its requests."""

    def __init__(
        self,
        store: IdempotencyStore,
        index: IndexWatch,
        *,
        index_timeout: float = 30.0,
        in_flight_wait: float = 10.0,
    ) -> None:
        self.store = store
        self.index = index
        self.index_timeout = index_timeout
        self.in_flight_wait = in_flight_wait
        # Requests of this process holding a key: a retry arriving on another connection of the
        # same process waits on this rather than polling the table.
        self._answered = threading.Condition()

    def perform(
        self,
        request: Request,
        sender: Sender,
        key: str | None,
        body: BaseModel,
        contract: ConsortiumContract,
        call: Call[T],
        render: Callable[[T], Rendered],
    ) -> Response:
        """Carries out ``call`` for ``sender``; answers with ``render(outcome)``, the refusal's
        problem, or a stored answer."""
        if key is None:
            sender.check(contract, call)
            outcome, _ = self._execute(request, contract, sender, call, render)
            return self._answer(request, outcome)
        digest = request_digest(
            request.method, request.url.path, body.model_dump(mode="json", by_alias=True)
        )
        claim = self._claim(sender.institution, key, digest)
        while isinstance(claim, Answer):
            if _stands(contract, claim):
                return self._replay(request, claim)
            reopened = self.store.reopen(sender.institution, key, claim)
            claim = reopened or self._claim(sender.institution, key, digest)
        try:
            # Refused before anything is signed: no answer of the key's, so that the retry the
            # refusal asks for (the transaction signed, or signed again) is carried out.
            sender.check(contract, call)
        except RegistryError:
            claim.release()
            raise
        try:
            outcome, recovered = self._execute(request, contract, sender, call, render, claim)
        except (TransactionDropped, TransactionReplaced):
            claim.release()  # it did nothing: a retry starts anew
            raise
        except ChainError:
            if claim.sent is None:
                claim.release()
            else:
                claim.abandon()  # a retry follows the transaction signed for it
            raise
        except BaseException:
            claim.abandon()
            raise
        claim.answer(outcome.status_code, _json(outcome.body), outcome.headers, outcome.tx_block)
        with self._answered:
            self._answered.notify_all()
        response = self._answer(request, outcome)
        if recovered:
            # The first request's answer, which its process died before giving: a replay too.
            response.headers[REPLAYED_HEADER] = "true"
        return response

    def _claim(self, institution: str, key: str, digest: str) -> Claim | Answer:
        """Claims the key, waiting a while for a live owner's answer."""
        deadline = time.monotonic() + self.in_flight_wait
        while True:
            claim = self.store.begin(institution, key, digest)
            if not isinstance(claim, Pending):
                return claim
            left = deadline - time.monotonic()
            if left <= 0:
                raise RequestInFlight(key, retry_after=1)
            with self._answered:
                self._answered.wait(min(left, 0.05))

    def _execute(
        self,
        request: Request,
        contract: ConsortiumContract,
        sender: Sender,
        call: Call[T],
        render: Callable[[T], Rendered],
        claim: Claim | None = None,
    ) -> tuple[Rendered | _Refused, bool]:
        """The outcome of ``call``, and whether it is recovered: followed from the transaction a
        dead predecessor signed for the same key (True), else sent now. A refusal is an outcome
        too; a :class:`ChainError` is not, and is raised: among them the predecessor's
        transaction dropped or replaced, which did nothing (and is not sent again unasked)."""
        signed: list[SentTx] = []

        def on_signed(sent: SentTx) -> None:
            if claim is not None:
                claim.signed(sent)
            signed.append(sent)

        earlier = claim.sent if claim is not None else None
        recovered = earlier is not None
        try:
            if earlier is not None:
                signed.append(earlier)
                followed = contract.chain.follow(earlier)
                if followed is not None:
                    return render(call.outcome(followed)), recovered
                signed.pop()  # it ran out of gas and did nothing: carried out anew below
                recovered = False
            return render(sender.send(contract, call, on_signed)), recovered
        except ChainError:
            raise
        except RegistryError as error:
            # Recorded on chain (the try* entry points), or decoded from a mined failure: the
            # answer waits for that transaction's block like any write's.
            block = _block_of(contract, signed[-1]) if signed else None
            tx_hash = signed[-1].tx_hash if signed else None
            return _Refused(problem_for(request, error), block, tx_hash), recovered

    def _answer(self, request: Request, outcome: Rendered | _Refused) -> Response:
        """``outcome`` once the index holds its block."""
        block = outcome.tx_block
        if block is not None:
            indexed = self.index.wait_for(block, self.index_timeout)
            if indexed is None or indexed < block:
                raise IndexBehind(_tx_hash(outcome), block, indexed)
        if isinstance(outcome, _Refused):
            return outcome.response
        return JSONResponse(_json(outcome.body), outcome.status_code, outcome.headers)

    def _replay(self, request: Request, answer: Answer) -> Response:
        if answer.tx_block is not None:
            indexed = self.index.wait_for(answer.tx_block, self.index_timeout)
            if indexed is None or indexed < answer.tx_block:
                raise IndexBehind(str(answer.body.get("tx_hash", "")), answer.tx_block, indexed)
        headers = {**answer.headers, REPLAYED_HEADER: "true"}
        media_type = "application/problem+json" if answer.status_code >= 400 else None
        return JSONResponse(answer.body, answer.status_code, headers, media_type=media_type)


@dataclass(frozen=True)
class Sender:
    """Whom a write is sent for: the bank's account, and the key the API signs with for it, or
    the transaction the bank signed itself (``signed``: a bank whose key the API does not hold
    asks for the transaction unsigned, signs it, and sends the request again with it)."""

    institution: str
    account: ChecksumAddress
    signer: Signer | None
    signed: bytes | None = None

    def check(self, contract: ConsortiumContract, call: Call[Any]) -> None:
        """Refuses what can be refused before anything is signed or sent: no key to sign with
        and no signed transaction, or a signed transaction that is not ``call``'s."""
        if self.signed is not None:
            contract.chain.verify_signed(self.account, call.function, self.signed, _SIGNED_FIELD)
        elif self.signer is None:
            raise AccessDenied(
                f"this API holds no signing key for {self.institution}: ask for the transaction "
                f"unsigned (POST to the write's path + /unsigned), sign it, and send the request "
                f"again with it in the {SIGNED_TRANSACTION_HEADER} header",
                institution=self.institution,
            )

    def send(self, contract: ConsortiumContract, call: Call[T], on_signed: OnSigned) -> T:
        """Sends ``call`` as :meth:`check` allowed: relayed as the bank signed it, or signed
        here."""
        if self.signed is not None:
            return contract.relay(self.account, call, self.signed, on_signed, _SIGNED_FIELD)
        assert self.signer is not None, "Sender.check refuses a sender without a key"
        return contract.execute(self.signer, call, on_signed)


@dataclass(frozen=True)
class _Refused:
    """A refusal as answered: its problem, and the block of the transaction that recorded it
    (None when it was refused before anything was sent)."""

    response: JSONResponse
    tx_block: int | None
    tx_hash: str | None

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def body(self) -> Any:
        return json.loads(bytes(self.response.body))

    @property
    def headers(self) -> dict[str, str]:
        return {k: v for k, v in self.response.headers.items() if k.lower() == "retry-after"}


def _stands(contract: ConsortiumContract, answer: Answer) -> bool:
    """Whether ``answer`` still holds: it sent nothing, or its transaction is still mined in the
    block it answered from. A reorganization deeper than the confirmations waited for can take it
    out (dropped, or mined again elsewhere, perhaps with another outcome)."""
    if answer.sent is None or answer.tx_block is None:
        return True
    return contract.chain.mined_block(answer.sent.tx_hash) == answer.tx_block


def _block_of(contract: ConsortiumContract, sent: SentTx) -> int | None:
    """The block ``sent`` was mined in; None if it was not (refused before it was sent again)."""
    return contract.chain.mined_block(sent.tx_hash)


def _tx_hash(outcome: Rendered | _Refused) -> str:
    if isinstance(outcome, _Refused):
        return outcome.tx_hash or ""
    return str(_json(outcome.body).get("tx_hash", ""))


def _json(body: BaseModel | Any) -> Any:
    return body.model_dump(mode="json") if isinstance(body, BaseModel) else body
