"""Concurrent writes of one signer to one contract, sent as one transaction.

A bank's writes arrive together (twenty loan officers at once, a batch job); sent one by one, each
pays for its own estimate, fees, nonce, signature and transaction, and they queue on the signer's
nonce. Here the calls a signer makes to a contract while its previous transaction is being sent
wait together (:class:`~registry.batching.Batcher`, one per signer and contract), and go out as one
call of the contract's ``multicall`` (OpenZeppelin's Multicall: each call runs as the signer, in
order, all or nothing). A call alone goes out as itself. Only the sending is in turn: each caller
waits for its transaction's block on its own, so that the next group goes out at once, with the
next nonce, into the same block where the chain mines at intervals.

Each caller gets its own answer. Only calls that never revert for a rule are grouped (the
recording entry points, whose refusals are events; see
:attr:`~registry.contracts.binding.Call.grouped`), so one caller's refusal does not undo the
others' calls; each caller's result says which part of the transaction was its call
(:attr:`~registry.chain.client.TxResult.part`), and its outcome is read from that part's events.
Where the group cannot go out together (a call the contract refuses at estimation, such as an
unknown receivable), the calls the contract refuses alone are answered with their refusal and the
rest go out together, or, if they still cannot, each alone. A group that fails mined (the state
moved between estimate and block; or it ran out of gas) did nothing: its calls are sent again,
grouped once more with whatever waits then, and after that each alone, as
:meth:`~registry.chain.client.Chain.transact` sends a call.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from registry.batching import Batcher
from registry.chain.abi import multicall_data
from registry.chain.client import (
    Chain,
    OnSigned,
    SentTx,
    Signer,
    TxResult,
    call_of,
    out_of_gas,
)
from registry.errors import ChainError, RegistryError

__all__ = ["MAX_GROUP", "WriteGroups"]

MAX_GROUP = 16
"""Calls in one transaction at most: with the largest registrations (16 declarations each) a
group stays well inside a 30M-gas block."""

# Times a call goes out grouped before it goes out alone: a group that failed mined is tried once
# more (with whatever waits then), since the call that broke it is then refused at estimation.
_GROUP_ATTEMPTS = 2


@dataclass(frozen=True)
class _Write:
    signer: Signer
    call: dict[str, Any]
    on_signed: OnSigned | None


@dataclass(frozen=True)
class _Sent:
    """A write gone out: its transaction (its part of it, if grouped) and that one's gas limit."""

    tx: SentTx
    gas: int


class WriteGroups:
    """The grouped writes sent through one :class:`~registry.chain.client.Chain`."""

    def __init__(self, chain: Chain) -> None:
        self._chain = chain
        self._lock = threading.Lock()
        self._groups: dict[tuple[str, str], Batcher[_Write, _Sent | RegistryError]] = {}

    def transact(
        self, signer: Signer, function: Any, on_signed: OnSigned | None = None
    ) -> TxResult:
        """:meth:`~registry.chain.client.Chain.transact`, in a transaction with whatever else
        the signer sends the contract at the same moment: ``function``'s result, which says
        which part of the transaction it was; raises its refusal, or the failure of the node or
        of the transaction (dropped, replaced) that carried it."""
        write = _Write(signer, call_of(signer.address, function), on_signed)
        group = self.queue(signer.address, str(write.call["to"]))
        for _ in range(_GROUP_ATTEMPTS):
            sent = group.submit(write)
            if isinstance(sent, RegistryError):
                raise sent
            receipt = self._chain.wait_for(sent.tx)
            if receipt["status"] == 1:
                return self._chain.result(sent.tx, receipt)
            if sent.tx.part is None and not out_of_gas(receipt, sent.gas):
                return self._chain.result(sent.tx, receipt)  # raises its decoded failure
            # A group that failed, or a call out of gas: it did nothing, and goes out again.
        return self._chain.send_call(signer, write.call, on_signed)

    def queue(self, account: str, contract: str) -> Batcher[_Write, _Sent | RegistryError]:
        """Where ``account``'s calls to ``contract`` wait to go out together."""
        with self._lock:
            group = self._groups.get((account, contract))
            if group is None:
                group = self._groups[account, contract] = Batcher(self._send, limit=MAX_GROUP)
            return group

    def _send(self, writes: Sequence[_Write]) -> list[_Sent | RegistryError]:
        """Sends ``writes`` (which arrived together), as few transactions as they allow; what
        went out for each, or its refusal."""
        outcomes: list[_Sent | RegistryError | None] = [None] * len(writes)
        pending = list(range(len(writes)))
        while len(pending) > 1:
            try:
                together = self._together([writes[i] for i in pending])
            except ChainError as failure:  # the node gone, or refusing the transaction: for all
                for i in pending:
                    outcomes[i] = failure
                return outcomes  # type: ignore[return-value]
            if together is not None:
                for i, sent in zip(pending, together, strict=True):
                    outcomes[i] = sent
                return outcomes  # type: ignore[return-value]
            remaining = [i for i in pending if not self._refused_alone(writes[i], outcomes, i)]
            if len(remaining) == len(pending):
                break  # none is refused alone, yet together they are: each goes alone
            pending = remaining
        for i in pending:
            outcomes[i] = self._alone(writes[i])
        return outcomes  # type: ignore[return-value]

    def _together(self, writes: Sequence[_Write]) -> list[_Sent] | None:
        """Each write's part of one transaction, sent; None when the contract refuses the group
        at estimation (nothing is sent)."""
        first = writes[0]
        call = {
            "from": first.signer.address,
            "to": first.call["to"],
            "data": multicall_data([write.call["data"] for write in writes]),
        }

        def on_signed(sent: SentTx) -> None:
            for part, write in enumerate(writes):
                if write.on_signed is not None:
                    write.on_signed(replace(sent, part=part))

        try:
            tx = self._chain.prepare(call)
        except ChainError:
            raise
        except RegistryError:
            return None
        sent = self._chain.sign_and_send(first.signer, tx, on_signed)
        return [_Sent(replace(sent, part=part), int(tx["gas"])) for part in range(len(writes))]

    def _refused_alone(
        self, write: _Write, outcomes: list[_Sent | RegistryError | None], index: int
    ) -> bool:
        """Whether the contract refuses ``write`` on its own now; if so its refusal is its
        outcome."""
        try:
            self._chain.estimate(write.call)
        except RegistryError as refusal:  # the node's failure too: the caller is told of it
            outcomes[index] = refusal
            return True
        return False

    def _alone(self, write: _Write) -> _Sent | RegistryError:
        try:
            tx = self._chain.prepare(write.call)
            return _Sent(
                self._chain.sign_and_send(write.signer, tx, write.on_signed), int(tx["gas"])
            )
        except RegistryError as outcome:
            return outcome
