// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Export-receivable financing ledger
/// @notice Records export receivables (invoices) with the customs declarations they rest on, and the
/// financing banks draw against them, so that no declaration backs two invoices and no receivable is
/// financed twice or beyond its cap. Documents are identified only by keyed fingerprints.
interface IReceivableLedger {
    /// @notice Lifecycle of a receivable. `Settled` means it was financed and repaid to zero; it can be
    /// financed again, by any bank.
    enum Status {
        None,
        Registered,
        Financed,
        Settled,
        Cancelled
    }

    /// @notice A customs declaration presented with a receivable.
    /// @param fingerprint Keyed fingerprint of the declaration number.
    /// @param value Declared value, in minor units of the receivable's currency.
    struct Declaration {
        bytes32 fingerprint;
        uint256 value;
    }

    /// @notice What a bank presents to register a receivable.
    /// @param id Invoice fingerprint (exporter, invoice number, currency), the receivable's id.
    /// @param exporter Exporter (enterprise) fingerprint.
    /// @param keyVersion Fingerprint key version of `id`, `exporter` and the declarations.
    /// @param faceValue Invoice amount in minor units of `currency`.
    /// @param currency ISO 4217 code, ASCII.
    /// @param maturity Due date, unix seconds.
    struct Terms {
        bytes32 id;
        bytes32 exporter;
        uint16 keyVersion;
        uint256 faceValue;
        bytes3 currency;
        uint64 maturity;
    }

    /// @notice A receivable as stored. `cap` is min(face value x advance rate, total declared value),
    /// fixed at registration.
    struct Receivable {
        Status status;
        uint16 keyVersion;
        bytes3 currency;
        uint64 maturity;
        address registrant;
        address financier;
        bytes32 exporter;
        uint256 faceValue;
        uint256 declaredValue;
        uint256 cap;
        uint256 outstanding;
    }

    /// @notice The receivable `id` is already registered, by `registrant`.
    error ReceivableAlreadyRegistered(bytes32 id, address registrant);
    /// @notice No receivable `id` is registered.
    error ReceivableNotFound(bytes32 id);
    /// @notice Declaration `declaration` already backs invoice `linkedReceivable`.
    error DeclarationLinkedToOtherInvoice(bytes32 declaration, bytes32 linkedReceivable);
    /// @notice The same declaration appears twice in one registration.
    error DeclarationDuplicated(bytes32 declaration);
    /// @notice A receivable must rest on at least one declaration, and on at most `max`.
    error DeclarationCountOutOfRange(uint256 count, uint256 max);
    /// @notice Face value and every declared value must be positive.
    error ZeroValue(bytes32 document);
    /// @notice The receivable is `status` and cannot take this operation.
    error ReceivableNotActive(bytes32 id, Status status);
    /// @notice Financing `amount` would exceed the receivable's remaining `headroom`.
    error FinancingExceedsCap(bytes32 id, uint256 amount, uint256 headroom);
    /// @notice Bank `financier` has financing outstanding on `id`; no other bank may finance it.
    error ReceivableFinancedByOtherBank(bytes32 id, address financier);
    /// @notice Repayment `amount` is more than the `outstanding` financing.
    error RepaymentExceedsOutstanding(bytes32 id, uint256 amount, uint256 outstanding);
    /// @notice Only the bank with outstanding financing (`financier`) records repayments.
    error ReceivableNotFinancedByCaller(bytes32 id, address financier);
    /// @notice Only the registering bank can cancel, and only while nothing was ever financed.
    error ReceivableNotCancellable(bytes32 id, Status status);
    /// @notice Amounts must be positive.
    error ZeroAmount();
    /// @notice Advance rates are basis points, at most 10000.
    error AdvanceRateOutOfRange(uint256 rateBps);

    /// @notice A receivable was registered, right after one {DeclarationLinked} event per declaration.
    /// @param id Invoice fingerprint, the receivable's id.
    /// @param registrant Bank that registered it.
    /// @param exporter Exporter (enterprise) fingerprint.
    /// @param keyVersion Fingerprint key version of `id`, `exporter` and the declarations.
    /// @param faceValue Invoice amount in minor units.
    /// @param currency ISO 4217 code.
    /// @param maturity Due date, unix seconds.
    /// @param advanceRateBps Advance rate applied to the cap.
    /// @param cap Maximum outstanding financing.
    event ReceivableRegistered(
        bytes32 indexed id,
        address indexed registrant,
        bytes32 indexed exporter,
        uint16 keyVersion,
        uint256 faceValue,
        bytes3 currency,
        uint64 maturity,
        uint16 advanceRateBps,
        uint256 cap
    );

    /// @notice Declaration `declaration`, worth `value`, now backs receivable `id`.
    event DeclarationLinked(bytes32 indexed declaration, bytes32 indexed id, uint256 value);

    /// @notice `bank` drew `amount` on `id`; `outstanding` is the new balance.
    event ReceivableFinanced(bytes32 indexed id, address indexed bank, uint256 amount, uint256 outstanding);

    /// @notice `bank` recorded repayment of `amount` on `id`; `outstanding` is the new balance, and
    /// `status` is Settled when it reached zero.
    event ReceivableRepaid(
        bytes32 indexed id, address indexed bank, uint256 amount, uint256 outstanding, Status status
    );

    /// @notice The registering bank cancelled the unfinanced receivable `id`; its declarations are free.
    event ReceivableCancelled(bytes32 indexed id, address indexed bank);

    /// @notice The admin set the advance rate for receivables registered from now on.
    event AdvanceRateSet(uint16 rateBps, address indexed admin);

    /// @notice Registers the receivable described by `terms`, resting on `declarations` (at least one,
    /// each backing no other invoice; values in the receivable's currency).
    /// @dev Caller needs LENDER_ROLE. Emits one {DeclarationLinked} event per declaration, then a
    /// {ReceivableRegistered} event.
    function registerReceivable(Terms calldata terms, Declaration[] calldata declarations) external;

    /// @notice Draws `amount` of financing on receivable `id` for the calling bank.
    /// @dev Caller needs LENDER_ROLE. Emits a {ReceivableFinanced} event.
    function finance(bytes32 id, uint256 amount) external;

    /// @notice Records repayment of `amount` against the calling bank's financing of `id`.
    /// @dev Caller needs LENDER_ROLE and must be the financier. Emits a {ReceivableRepaid} event.
    function repay(bytes32 id, uint256 amount) external;

    /// @notice Cancels the caller's receivable `id`, which must never have been financed.
    /// @dev Emits a {ReceivableCancelled} event.
    function cancel(bytes32 id) external;

    /// @notice Sets the advance rate (basis points) for receivables registered from now on.
    /// @dev Caller needs DEFAULT_ADMIN_ROLE. Emits an {AdvanceRateSet} event.
    function setAdvanceRate(uint16 rateBps) external;

    /// @notice The receivable `id` (status None when unknown).
    function getReceivable(bytes32 id) external view returns (Receivable memory);

    /// @notice The receivable that declaration `declaration` backs, or zero.
    function receivableOfDeclaration(bytes32 declaration) external view returns (bytes32);

    /// @notice Financing that can still be drawn on `id`: cap minus outstanding, zero when inactive.
    function headroom(bytes32 id) external view returns (uint256);

    /// @notice The advance rate, in basis points, for new registrations.
    function advanceRateBps() external view returns (uint16);
}
