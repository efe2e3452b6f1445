"""Domain exceptions of the credit registry.

Every failure the package reports is a :class:`RegistryError`. The category bases decide how the
API answers (the status code of the problem+json response); the leaves carry what a caller needs to
act on the refusal: the field and rule broken, the document, the current holder.

Exception tree::

    RegistryError
    ├── InvalidInput                  bad input (422): a field breaks a rule
    ├── AccessDenied                  the caller lacks the role (403)
    │   ├── MissingRole               on-chain AccessControl refusal
    │   └── ReleaseNotAuthorized      not the pledgee bank nor a registrar
    ├── NotFound                      no such record (404)
    │   ├── ReceivableNotFound
    │   ├── PropertyNotFound
    │   └── PledgeNotFound
    ├── RuleViolation                 a ledger rule refused the operation (409)
    │   ├── ReceivableAlreadyRegistered
    │   ├── DeclarationLinkedToOtherInvoice
    │   ├── DeclarationExporterMismatch
    │   ├── FinancingExceedsCap
    │   ├── ReceivableHeldByOtherBank
    │   └── RepaymentExceedsOutstanding
    ├── RequestInFlight               the same Idempotency-Key is being answered (409)
    ├── ChainError                    the node misbehaved or is unreachable (503)
    │   ├── NodeStartError
    │   ├── UnknownRevert
    │   ├── TransactionDropped        sent, then forgotten by the node: nothing was done
    │   ├── TransactionReplaced       another transaction took its nonce: nothing was done
    │   └── IndexBehind               written, but the index has not reached its block yet
    └── ConfigurationError            settings or files are missing or inconsistent
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AccessDenied",
    "ChainError",
    "ConfigurationError",
    "DeclarationExporterMismatch",
    "DeclarationLinkedToOtherInvoice",
    "EnterpriseNotBound",
    "FinancingExceedsCap",
    "IndexBehind",
    "InvalidInput",
    "MissingRole",
    "NodeStartError",
    "NotFound",
    "PledgeNotFound",
    "PropertyNotFound",
    "ReceivableAlreadyRegistered",
    "ReceivableHeldByOtherBank",
    "ReceivableNotFound",
    "RegistryError",
    "ReleaseNotAuthorized",
    "RepaymentExceedsOutstanding",
    "RequestInFlight",
    "RuleViolation",
    "TransactionDropped",
    "TransactionReplaced",
    "UnknownRevert",
]


class RegistryError(Exception):
    """Root of every error this package raises.

    ``rule`` is a stable, machine-readable name of the rule that was broken (it becomes the
    problem type); ``details`` holds the values that explain the refusal. ``public``: whether
    the message and details may reach a client when the error is the server's side (a 5xx):
    most such errors may name the node's URL and are only logged.
    """

    rule: str = "registry-error"
    public: bool = False

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(RegistryError, ValueError):
    """A field of the input breaks a rule (format, range, check digit)."""

    rule = "invalid-input"

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message, field=field)
        self.field = field
        self.rule = rule


class AccessDenied(RegistryError):
    """The caller is not allowed to do this."""

    rule = "access-denied"


class MissingRole(AccessDenied):
    """The chain refused the call: the account lacks the role (AccessControlUnauthorizedAccount)."""

    rule = "missing-role"


class ReleaseNotAuthorized(AccessDenied):
    """Only the pledgee bank (any account of its institution) or a registrar releases a pledge."""

    rule = "release-not-authorized"


class NotFound(RegistryError):
    """The record does not exist."""

    rule = "not-found"


class ReceivableNotFound(NotFound):
    rule = "receivable-not-found"


class PropertyNotFound(NotFound):
    rule = "property-not-found"


class PledgeNotFound(NotFound):
    rule = "pledge-not-found"


class EnterpriseNotBound(NotFound):
    """No account is bound to the enterprise: nobody can sign its consents yet."""

    rule = "enterprise-not-bound"


class RuleViolation(RegistryError):
    """A ledger rule refused the operation; nothing was written."""

    rule = "rule-violation"


class ReceivableAlreadyRegistered(RuleViolation):
    rule = "receivable-already-registered"


class DeclarationLinkedToOtherInvoice(RuleViolation):
    """A customs declaration backs at most one invoice (SPEC: export receivables)."""

    rule = "declaration-linked-to-other-invoice"


class DeclarationExporterMismatch(RuleViolation):
    """A customs declaration attested for another exporter than the invoice's: a borrowed
    shipment."""

    rule = "declaration-exporter-mismatch"


class FinancingExceedsCap(RuleViolation):
    """Outstanding financing would exceed the cap: face value x advance rate, and the sum of the
    declarations' limits (counted value x the rate for verified or unverified declarations)."""

    rule = "financing-exceeds-cap"


class ReceivableHeldByOtherBank(RuleViolation):
    """The receivable belongs to the bank (institution) that registered it: only that bank draws
    on it and records its repayments (exclusivity)."""

    rule = "receivable-held-by-other-bank"


class RepaymentExceedsOutstanding(RuleViolation):
    rule = "repayment-exceeds-outstanding"


class ChainError(RegistryError):
    """The node is unreachable or answered in a way the registry cannot interpret."""

    rule = "chain-unavailable"


class NodeStartError(ChainError):
    rule = "node-start-failed"


class UnknownRevert(ChainError):
    """The chain reverted with data that matches no known error of our contracts."""

    rule = "unknown-revert"


class TransactionDropped(ChainError):
    """A transaction the node accepted is gone from it unmined (a reorganization dropped it, or
    the pool evicted it): it did nothing, and the request may be sent again."""

    rule = "transaction-dropped"
    public = True

    def __init__(self, tx_hash: str, nonce: int) -> None:
        super().__init__(
            f"transaction {tx_hash} (nonce {nonce}) was dropped by the node unmined; nothing was "
            "done, send the request again",
            tx_hash=tx_hash,
            nonce=nonce,
        )


class TransactionReplaced(ChainError):
    """Another transaction from the same account was mined with this one's nonce: this one can
    never be, and did nothing."""

    rule = "transaction-replaced"
    public = True

    def __init__(self, tx_hash: str, nonce: int) -> None:
        super().__init__(
            f"transaction {tx_hash} was replaced by another with its nonce {nonce}; nothing was "
            "done, send the request again",
            tx_hash=tx_hash,
            nonce=nonce,
        )


class IndexBehind(ChainError):
    """A write is on chain, but the index has not reached its block within the wait: the next
    read might not show it yet. Sent again with the same Idempotency-Key, the request is answered
    once the index has."""

    rule = "index-behind"
    public = True

    def __init__(self, tx_hash: str, block_number: int, indexed_block: int | None) -> None:
        super().__init__(
            f"transaction {tx_hash} is in block {block_number}, which the index has not reached "
            f"yet (it is at {indexed_block}); send the request again with the same "
            "Idempotency-Key for the answer once it has",
            tx_hash=tx_hash,
            block_number=block_number,
            indexed_block=indexed_block,
        )


class RequestInFlight(RegistryError):
    """A request with this Idempotency-Key is still being answered (by another connection, or a
    worker that has not finished); the retry may come again."""

    rule = "idempotency-key-in-flight"

    def __init__(self, key: str, retry_after: int) -> None:
        super().__init__(
            f"the request with Idempotency-Key {key!r} is still being answered; send it again "
            f"in {retry_after} s",
            retry_after=retry_after,
        )


class ConfigurationError(RegistryError):
    rule = "configuration-error"
