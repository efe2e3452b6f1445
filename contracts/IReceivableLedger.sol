// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Export-receivable financing ledger
/// @notice Records export receivables (invoices) with the customs declarations they rest on, the
/// verifier's attestations of those declarations, and the financing banks draw against them, so that
/// no declaration backs two invoices and no receivable or declaration is financed twice or beyond its
/// value. Documents are identified only by keyed fingerprints.
///
/// Cap, computed when financing is drawn (not frozen at registration): a declaration is worth its
/// *counted value* for its invoice (the declared value; the attested value where a verifier attested
/// a lower one; zero where the attested exporter is another one) and may carry financing up to its
/// *limit*, counted value x the advance rate for its standing (verified or not). The invoice's cap is
/// min(face value x the verified rate, sum of its declarations' limits). Attestations and the admin's
/// policy therefore act on the next drawdown of every receivable, as a bank applies its current rate
/// to each new advance; money already drawn is never called back: where a limit fell below what is
/// outstanding, new drawdowns wait until repayments bring it under.
///
/// Per-declaration balances: a drawdown fills the declarations in presentation order up to their
/// limits, a repayment releases them in reverse order, one {DeclarationFinanced} or
/// {DeclarationRepaid} event per declaration touched. Their outstanding amounts always add up to
/// the receivable's. Those two events name the declaration by its index in the receivable's
/// list (which {DeclarationCounted} gives at registration), not by its fingerprint: reading the
/// fingerprint would cost every drawdown a storage read per declaration, and the index is
/// enough for an indexer to find it from the logs alone.
///
/// Exclusivity: a receivable belongs to the institution ({ConsortiumAccess-institutionOf}) of the
/// account that registered it, fixed at registration. Only that institution draws on it (first
/// tranche, further tranches, again after settlement), records its repayments and may cancel it;
/// any of its accounts may act, and an account moved to another institution acts no more for it.
/// Another bank's drawdown is refused ({ReceivableHeldByOtherBank}) and, through {tryFinance},
/// recorded against that other bank: the first claim registered wins, and the fraud signal points
/// at whoever tried to take it.
///
/// Key rotation: fingerprints are keyed (HMAC), and the consortium may rotate the key. A document
/// registered or attested under an older key version that is still in use must still be found, but
/// the contract cannot compute fingerprints. So whoever computes them (the registry's service)
/// presents, beside a registration or an attestation under the newest version, the same documents
/// fingerprinted under each older version still in use ({InvoiceAlias}, {DeclarationAlias}). The
/// rules then look under every version: an invoice or a declaration registered under any of them
/// is refused as registered (and the refusal recorded), and an attestation made under any of them
/// counts, its exporter compared under its own version. The newest version's attestation of a
/// declaration wins over older ones. Aliases are only looked up, never stored.
///
/// Exporter mismatch: a declaration attested for another exporter than the invoice's is the classic
/// sign of a borrowed shipment. Presented after such an attestation, registration is refused
/// ({DeclarationExporterMismatch}); attested so after registration, the declaration counts zero
/// for that invoice (standing ExporterMismatch) and carries no new financing.
///
/// Recorded refusals: a reverted transaction leaves no log, and most nodes do not keep it, so an
/// auditor replaying the chain would never see a refused double or excess financing. Each financing
/// rule therefore has two entry points: the reverting one ({registerReceivable}, {finance}) for
/// callers who need atomicity (a multicall), and a recording one ({tryRegisterReceivable},
/// {tryFinance}) that, when a rule refuses, emits {RegistrationRefused} or {FinancingRefused} (who,
/// which document, why) and returns false, changing nothing else. Missing roles and malformed input
/// (zero amounts, empty or oversized declaration lists, duplicates) revert on both: they are not
/// financing attempts, and a recorded refusal would only let anyone fill the log.
interface IReceivableLedger {
    /// @notice Lifecycle of a receivable. `Financed` while financing is outstanding; `Settled` once
    /// repaid to zero, after which the bank holding it may finance it again.
    enum Status {
        None,
        Registered,
        Financed,
        Settled,
        Cancelled
    }

    /// @notice What an attestation made of a declaration, for the invoice it backs.
    enum Standing {
        Unverified,
        Verified,
        ExporterMismatch
    }

    /// @notice Why a recorded attempt was refused: named after the error the reverting entry point
    /// raises for the same rule. `None` is never emitted.
    enum Refusal {
        None,
        ReceivableAlreadyRegistered,
        DeclarationLinkedToOtherInvoice,
        DeclarationExporterMismatch,
        ReceivableNotActive,
        ReceivableHeldByOtherBank,
        FinancingExceedsCap
    }

    /// @notice A customs declaration presented with a receivable.
    /// @param fingerprint Keyed fingerprint of the declaration number.
    /// @param value Declared value, in minor units of the receivable's currency.
    struct Declaration {
        bytes32 fingerprint;
        uint256 value;
    }

    /// @notice A registration's documents fingerprinted under another key version still in use.
    /// @param keyVersion The other key version (not the registration's, each version once).
    /// @param id The invoice's fingerprint under `keyVersion`.
    /// @param exporter The exporter's fingerprint under `keyVersion`.
    /// @param declarations Each declaration's fingerprint under `keyVersion`, in the registration's
    /// order.
    struct InvoiceAlias {
        uint16 keyVersion;
        bytes32 id;
        bytes32 exporter;
        bytes32[] declarations;
    }

    /// @notice An attested declaration and its exporter fingerprinted under another key version
    /// still in use.
    /// @param declaration The declaration's fingerprint under that version.
    /// @param exporter The exporter's fingerprint under that version.
    struct DeclarationAlias {
        bytes32 declaration;
        bytes32 exporter;
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

    /// @notice A receivable as read now.
    /// @param status Lifecycle status (None when unknown).
    /// @param keyVersion Fingerprint key version of its documents.
    /// @param currency ISO 4217 code.
    /// @param maturity Due date, unix seconds.
    /// @param registrant Account that registered it.
    /// @param financier Account of the last drawdown while financing is outstanding, zero otherwise.
    /// @param exporter Exporter fingerprint.
    /// @param faceValue Invoice amount.
    /// @param declaredValue Sum of the declared values of its declarations.
    /// @param cap What may be outstanding under the current attestations and policy; zero unless
    /// registered, financed or settled.
    /// @param outstanding Financing outstanding.
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

    /// @notice A declaration as read now.
    /// @param receivable The invoice it backs, zero when it backs none.
    /// @param standing Verified or not for that invoice.
    /// @param declaredValue Value declared with the invoice.
    /// @param countedValue What it is worth for the invoice (see the contract notes).
    /// @param limit Counted value x the advance rate for its standing, now.
    /// @param outstanding Financing drawn against it.
    struct DeclarationState {
        bytes32 receivable;
        Standing standing;
        uint256 declaredValue;
        uint256 countedValue;
        uint256 limit;
        uint256 outstanding;
    }

    /// @notice A verifier's attestation of a declaration; `value` zero means none.
    /// @param exporter Fingerprint of the exporter that filed the declaration.
    /// @param value Attested value, minor units of the declaration's (the invoice's) currency.
    /// @param exportDate Export date, unix seconds.
    struct Attestation {
        bytes32 exporter;
        uint256 value;
        uint64 exportDate;
    }

    /// @notice The receivable `id` is already registered, by `registrant`.
    /// @param id The invoice fingerprint.
    /// @param registrant Account that registered it.
    error ReceivableAlreadyRegistered(bytes32 id, address registrant);
    /// @notice No receivable `id` is registered.
    /// @param id The invoice fingerprint.
    error ReceivableNotFound(bytes32 id);
    /// @notice Declaration `declaration` already backs invoice `linkedReceivable`.
    /// @param declaration The declaration fingerprint.
    /// @param linkedReceivable The invoice it backs.
    error DeclarationLinkedToOtherInvoice(bytes32 declaration, bytes32 linkedReceivable);
    /// @notice Declaration `declaration` is attested for `attestedExporter`, not the invoice's
    /// `exporter`.
    /// @param declaration The declaration fingerprint.
    /// @param attestedExporter The exporter the verifier attested.
    /// @param exporter The invoice's exporter.
    error DeclarationExporterMismatch(bytes32 declaration, bytes32 attestedExporter, bytes32 exporter);
    /// @notice The same declaration appears twice in one registration.
    /// @param declaration The declaration fingerprint.
    error DeclarationDuplicated(bytes32 declaration);
    /// @notice A receivable must rest on at least one declaration, and on at most `max`.
    /// @param count Declarations presented.
    /// @param max MAX_DECLARATIONS.
    error DeclarationCountOutOfRange(uint256 count, uint256 max);
    /// @notice Face value, declared and attested values must be positive.
    /// @param document The invoice or declaration whose value is zero.
    error ZeroValue(bytes32 document);
    /// @notice Invoice, exporter and declaration fingerprints are never zero.
    error ZeroFingerprint();
    /// @notice `amount` is above `max`, the largest amount the ledger stores (2**96 - 1).
    /// @param amount The amount (or the sum of the declared values).
    /// @param max MAX_AMOUNT.
    error AmountOutOfRange(uint256 amount, uint256 max);
    /// @notice The export date must be set and not in the future.
    /// @param declaration The declaration fingerprint.
    /// @param exportDate The date given, unix seconds.
    error ExportDateOutOfRange(bytes32 declaration, uint64 exportDate);
    /// @notice The receivable is `status` and cannot take this operation.
    /// @param id The receivable.
    /// @param status Its status.
    error ReceivableNotActive(bytes32 id, Status status);
    /// @notice Financing `amount` would exceed the receivable's remaining `headroom`.
    /// @param id The receivable.
    /// @param amount Amount asked.
    /// @param headroom What may still be drawn.
    error FinancingExceedsCap(bytes32 id, uint256 amount, uint256 headroom);
    /// @notice The receivable belongs to `institution` (the registering bank's): only it draws on
    /// it and records its repayments.
    /// @param id The receivable.
    /// @param institution The institution holding it.
    error ReceivableHeldByOtherBank(bytes32 id, bytes32 institution);
    /// @notice Repayment `amount` is more than the `outstanding` financing.
    /// @param id The receivable.
    /// @param amount Amount repaid.
    /// @param outstanding Financing outstanding.
    error RepaymentExceedsOutstanding(bytes32 id, uint256 amount, uint256 outstanding);
    /// @notice Only the registering bank can cancel, and only while nothing was ever financed.
    /// @param id The receivable.
    /// @param status Its status.
    error ReceivableNotCancellable(bytes32 id, Status status);
    /// @notice Amounts must be positive.
    error ZeroAmount();
    /// @notice A key alias must name a key version other than the registration's and the other
    /// aliases', with one fingerprint for each declaration; at most MAX_KEY_ALIASES of them.
    /// @param keyVersion The alias's key version (for too many aliases: the registration's, or zero
    /// for an attestation).
    error KeyAliasInvalid(uint16 keyVersion);
    /// @notice Rates are basis points up to 10000, the unverified one at most the verified one.
    /// @param verifiedBps Verified rate given.
    /// @param unverifiedBps Unverified rate given.
    error AdvanceRatesOutOfRange(uint256 verifiedBps, uint256 unverifiedBps);

    /// @notice A receivable was registered, after one {DeclarationLinked} and one
    /// {DeclarationCounted} event per declaration.
    /// @param id Invoice fingerprint, the receivable's id.
    /// @param registrant Bank account that registered it.
    /// @param exporter Exporter (enterprise) fingerprint.
    /// @param keyVersion Fingerprint key version of `id`, `exporter` and the declarations.
    /// @param faceValue Invoice amount in minor units.
    /// @param currency ISO 4217 code.
    /// @param maturity Due date, unix seconds.
    /// @param advanceRateBps The verified advance rate in force at registration.
    /// @param cap The cap at registration; it follows attestations and policy afterwards.
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

    /// @notice Declaration `declaration`, declared worth `value`, now backs receivable `id`.
    /// @param declaration Declaration fingerprint.
    /// @param id The receivable.
    /// @param value Declared value.
    event DeclarationLinked(bytes32 indexed declaration, bytes32 indexed id, uint256 value);

    /// @notice What `declaration` counts for receivable `id`: at registration, and again whenever
    /// an attestation of it changes while it backs `id`.
    /// @param declaration Declaration fingerprint.
    /// @param id The receivable it backs.
    /// @param index Its place in the receivable's list, from 0 (see {DeclarationFinanced}).
    /// @param standing Verified, unverified or attested for another exporter.
    /// @param countedValue Its counted value (zero on an exporter mismatch).
    event DeclarationCounted(
        bytes32 indexed declaration, bytes32 indexed id, uint256 index, Standing standing, uint256 countedValue
    );

    /// @notice A verifier attested (or corrected its attestation of) `declaration`.
    /// @param declaration Declaration fingerprint.
    /// @param exporter Fingerprint of the exporter that filed it.
    /// @param verifier Verifier account.
    /// @param value Attested value.
    /// @param exportDate Export date, unix seconds.
    event DeclarationAttested(
        bytes32 indexed declaration, bytes32 indexed exporter, address indexed verifier, uint256 value, uint64 exportDate
    );

    /// @notice `amount` of a drawdown on `id` was allocated to its declaration at `index`.
    /// @param id The receivable.
    /// @param index The declaration's place in the receivable's list (see {DeclarationCounted}).
    /// @param amount Allocated to this declaration.
    /// @param outstanding The declaration's new balance.
    event DeclarationFinanced(bytes32 indexed id, uint256 index, uint256 amount, uint256 outstanding);

    /// @notice `amount` of a repayment on `id` was released from its declaration at `index`.
    /// @param id The receivable.
    /// @param index The declaration's place in the receivable's list (see {DeclarationCounted}).
    /// @param amount Released from this declaration.
    /// @param outstanding The declaration's new balance.
    event DeclarationRepaid(bytes32 indexed id, uint256 index, uint256 amount, uint256 outstanding);

    /// @notice `bank` drew `amount` on `id`, after one {DeclarationFinanced} event per declaration
    /// it was allocated to.
    /// @param id The receivable.
    /// @param bank Account that drew.
    /// @param amount Drawn.
    /// @param outstanding The receivable's new balance.
    event ReceivableFinanced(bytes32 indexed id, address indexed bank, uint256 amount, uint256 outstanding);

    /// @notice `bank` recorded repayment of `amount` on `id`, after one {DeclarationRepaid} event
    /// per declaration released.
    /// @param id The receivable.
    /// @param bank Account that recorded it.
    /// @param amount Repaid.
    /// @param outstanding The receivable's new balance.
    /// @param status Settled at zero, Financed otherwise.
    event ReceivableRepaid(
        bytes32 indexed id, address indexed bank, uint256 amount, uint256 outstanding, Status status
    );

    /// @notice The registering bank cancelled the unfinanced receivable `id`; its declarations are free.
    /// @param id The receivable.
    /// @param bank Account that cancelled.
    event ReceivableCancelled(bytes32 indexed id, address indexed bank);

    /// @notice The admin set the advance rates, in force for every drawdown from now on.
    /// @param verifiedBps Rate for attested declarations and the invoice's face value, basis points.
    /// @param unverifiedBps Rate for unattested declarations (0: they carry no financing).
    /// @param admin Admin account.
    event AdvanceRatesSet(uint16 verifiedBps, uint16 unverifiedBps, address indexed admin);

    /// @notice A registration was refused by a financing rule and recorded; nothing else changed.
    /// @param id The invoice presented.
    /// @param document The document refused: the invoice, or the offending declaration.
    /// @param institution Institution of the account that tried.
    /// @param account Account that tried.
    /// @param reason The rule.
    /// @param faceValue Face value presented.
    /// @param conflict The other invoice the declaration backs, the exporter it is attested for, or
    /// the institution holding the invoice (ReceivableAlreadyRegistered).
    event RegistrationRefused(
        bytes32 indexed id,
        bytes32 indexed document,
        bytes32 indexed institution,
        address account,
        Refusal reason,
        uint256 faceValue,
        bytes32 conflict
    );

    /// @notice A drawdown was refused by a financing rule and recorded; nothing else changed.
    /// @param id The receivable.
    /// @param institution Institution of the account that tried.
    /// @param account Account that tried.
    /// @param reason The rule.
    /// @param amount Amount asked.
    /// @param headroom What the receivable had left (zero when inactive or held by another bank).
    /// @param financier Account of the holding bank's last drawdown while financing is
    /// outstanding, zero when none.
    event FinancingRefused(
        bytes32 indexed id,
        bytes32 indexed institution,
        address indexed account,
        Refusal reason,
        uint256 amount,
        uint256 headroom,
        address financier
    );

    /// @notice Registers the receivable described by `terms`, resting on `declarations` (at least one,
    /// each backing no other invoice; values in the receivable's currency). Reverts when refused.
    /// The caller's institution holds it from now on.
    /// @dev Caller needs LENDER_ROLE. Emits one {DeclarationLinked} and one {DeclarationCounted}
    /// event per declaration, then a {ReceivableRegistered} event.
    /// @param terms The invoice's terms.
    /// @param declarations The customs declarations it rests on.
    /// @param aliases The same documents under each other key version still in use.
    function registerReceivable(
        Terms calldata terms,
        Declaration[] calldata declarations,
        InvoiceAlias[] calldata aliases
    ) external;

    /// @notice Like {registerReceivable}, but a refusal by a financing rule (invoice already
    /// registered, declaration backing another invoice or attested for another exporter) is recorded
    /// and returned instead of reverted.
    /// @dev Caller needs LENDER_ROLE. Emits what {registerReceivable} emits, or a
    /// {RegistrationRefused} event.
    /// @param terms The invoice's terms.
    /// @param declarations The customs declarations it rests on.
    /// @param aliases The same documents under each other key version still in use.
    /// @return registered False when refused.
    function tryRegisterReceivable(
        Terms calldata terms,
        Declaration[] calldata declarations,
        InvoiceAlias[] calldata aliases
    ) external returns (bool registered);

    /// @notice Draws `amount` of financing on receivable `id` for the calling bank. Reverts when
    /// refused.
    /// @dev Caller needs LENDER_ROLE. Emits one {DeclarationFinanced} event per declaration the
    /// amount is allocated to, then a {ReceivableFinanced} event.
    /// @param id The receivable.
    /// @param amount Minor units.
    function finance(bytes32 id, uint256 amount) external;

    /// @notice Like {finance}, but a refusal by a financing rule (receivable cancelled, held by
    /// another bank, amount beyond the headroom) is recorded and returned instead of reverted. An
    /// unknown receivable still reverts ({ReceivableNotFound}): there is no document to record.
    /// @dev Caller needs LENDER_ROLE. Emits what {finance} emits, or a {FinancingRefused} event.
    /// @param id The receivable.
    /// @param amount Minor units.
    /// @return financed False when refused.
    function tryFinance(bytes32 id, uint256 amount) external returns (bool financed);

    /// @notice Records repayment of `amount` against the calling bank's financing of `id`.
    /// @dev Caller needs LENDER_ROLE and the institution holding `id`. Emits one {DeclarationRepaid}
    /// event per declaration released, then a {ReceivableRepaid} event.
    /// @param id The receivable.
    /// @param amount Minor units, at most what is outstanding.
    function repay(bytes32 id, uint256 amount) external;

    /// @notice Cancels receivable `id`, registered by the caller's institution and never financed,
    /// freeing its declarations.
    /// @dev Caller needs LENDER_ROLE. Emits a {ReceivableCancelled} event.
    /// @param id The receivable.
    function cancel(bytes32 id) external;

    /// @notice Attests `declaration`: filed by `exporter`, worth `value`, exported on `exportDate`.
    /// Attesting again corrects the attestation. It may come before or after the declaration is
    /// presented with an invoice.
    /// @dev Caller needs VERIFIER_ROLE. Emits a {DeclarationAttested} event, and a
    /// {DeclarationCounted} event when the declaration backs an invoice.
    /// @param declaration Declaration fingerprint.
    /// @param exporter Exporter fingerprint.
    /// @param value Attested value, minor units of the declaration's currency.
    /// @param exportDate Export date, unix seconds, not in the future.
    /// @param aliases The declaration and exporter under each other key version still in use, so
    /// that a declaration registered under one of them is recounted.
    function attestDeclaration(
        bytes32 declaration,
        bytes32 exporter,
        uint256 value,
        uint64 exportDate,
        DeclarationAlias[] calldata aliases
    ) external;

    /// @notice Sets the advance rates for every drawdown from now on.
    /// @dev Caller needs DEFAULT_ADMIN_ROLE. Emits an {AdvanceRatesSet} event.
    /// @param verifiedBps Rate for attested declarations and the face value, at most 10000.
    /// @param unverifiedBps Rate for unattested declarations, at most `verifiedBps`; 0 for none.
    function setAdvanceRates(uint16 verifiedBps, uint16 unverifiedBps) external;

    /// @notice The receivable `id` (status None when unknown).
    /// @param id The receivable.
    /// @return The receivable, its status and cap as of now.
    function getReceivable(bytes32 id) external view returns (Receivable memory);

    /// @notice The declarations of receivable `id`, in presentation order (those of its latest
    /// registration).
    /// @param id The receivable.
    /// @return The declaration fingerprints.
    function declarationsOf(bytes32 id) external view returns (bytes32[] memory);

    /// @notice The declaration `declaration`; its fields are zero while it backs no invoice.
    /// @param declaration Declaration fingerprint.
    /// @return The declaration's link, values and balance.
    function getDeclaration(bytes32 declaration) external view returns (DeclarationState memory);

    /// @notice The verifier's attestation of `declaration` (value zero when none).
    /// @param declaration Declaration fingerprint.
    /// @return The attestation.
    function getAttestation(bytes32 declaration) external view returns (Attestation memory);

    /// @notice The receivable that declaration `declaration` backs, or zero.
    /// @param declaration Declaration fingerprint.
    /// @return The receivable id.
    function receivableOfDeclaration(bytes32 declaration) external view returns (bytes32);

    /// @notice The institution holding `id`: its registrant's, fixed at registration. Zero when
    /// unknown.
    /// @param id The receivable.
    /// @return The institution.
    function institutionOfReceivable(bytes32 id) external view returns (bytes32);

    /// @notice Financing that can still be drawn on `id`: cap minus outstanding, floored at zero;
    /// zero when inactive.
    /// @param id The receivable.
    /// @return The headroom.
    function headroom(bytes32 id) external view returns (uint256);

    /// @notice Whether `id` is overdue: financing outstanding, and the block's timestamp on a later
    /// day (UTC) than its maturity, i.e. from the first second of the day after the due date.
    /// @param id The receivable.
    /// @return True when overdue.
    function isOverdue(bytes32 id) external view returns (bool);

    /// @notice The advance rates in force, basis points.
    /// @return verifiedBps For attested declarations and the face value.
    /// @return unverifiedBps For unattested declarations.
    function advanceRates() external view returns (uint16 verifiedBps, uint16 unverifiedBps);
}
