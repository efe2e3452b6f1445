// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {MulticallUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/MulticallUpgradeable.sol";
import {DeclarationBook} from "./DeclarationBook.sol";
import {IReceivableLedger} from "./IReceivableLedger.sol";
import {AccessRecord} from "./libraries/AccessRecordLib.sol";
import {RateTable} from "./libraries/RateTableLib.sol";
import {ReceivableHead} from "./libraries/ReceivableHeadLib.sol";

/// @title ReceivableLedger
/// @notice Export receivables, the customs declarations behind them and the financing drawn on them.
/// Enforces SPEC's trade-finance rules on chain, because they protect money: a declaration backs at
/// most one invoice; outstanding financing stays within face value x advance rate and within each
/// declaration's limit; only the bank (institution) that registered a receivable draws on it.
/// Refusals can be recorded for auditors (see {IReceivableLedger}).
contract ReceivableLedger is DeclarationBook, MulticallUpgradeable {
    /// @dev `head` is what a drawdown or a repayment reads and writes of the receivable itself, in
    /// one word: a cold read costs 2,100 gas, and the floor of an operation counts only what it
    /// writes. Packed by hand (Solidity would copy a struct member by member, re-reading the slot),
    /// its layout in {ReceivableHeadLib}: status, financier, the cached cap and outstanding.
    ///
    /// The financier is shown only while something is outstanding. The same number there means the
    /// same account still acting for the institution holding the receivable (an account changing
    /// institution is renumbered), so it may draw and repay without reading `institution`. The cap
    /// is the same as long as the policy is, until an attestation recounts a declaration (which
    /// marks it stale): a drawdown under the same policy then reads only the declarations it fills,
    /// not all of them to sum their limits.
    ///
    /// The other slots are never read by a drawdown under an unchanged policy, by the last drawer.
    /// `institution` is the registrant's, fixed at registration: who draws, repays and may cancel.
    struct Stored {
        ReceivableHead head;
        address registrant;
        uint96 declaredValue;
        uint96 faceValue;
        uint64 maturity;
        bytes3 currency;
        uint16 keyVersion;
        uint8 declarationCount;
        bytes32 exporter;
        bytes32 institution;
    }

    mapping(bytes32 id => Stored) private _receivables;

    /// @notice Sets up a proxy of the ledger (called once, by the proxy's constructor).
    /// @param admin Account granted DEFAULT_ADMIN_ROLE.
    /// @param verifiedBps Initial advance rate for attested declarations and the face value.
    /// @param unverifiedBps Initial advance rate for unattested declarations.
    function initialize(address admin, uint16 verifiedBps, uint16 unverifiedBps) public initializer {
        __DeclarationBook_init(admin, verifiedBps, unverifiedBps);
        __Multicall_init();
    }

    /// @inheritdoc IReceivableLedger
    function registerReceivable(
        Terms calldata terms,
        Declaration[] calldata declarations,
        InvoiceAlias[] calldata aliases
    ) external onlyRole(LENDER_ROLE) {
        (Refusal refusal, bytes32 document, bytes32 conflict, bytes32 exporter) =
            _checkRegistration(terms, declarations, aliases);
        if (refusal == Refusal.ReceivableAlreadyRegistered) {
            revert ReceivableAlreadyRegistered(document, _receivables[document].registrant);
        }
        if (refusal == Refusal.DeclarationLinkedToOtherInvoice) revert DeclarationLinkedToOtherInvoice(document, conflict);
        if (refusal == Refusal.DeclarationExporterMismatch) {
            revert DeclarationExporterMismatch(document, conflict, exporter);
        }
        _register(terms, declarations, aliases);
    }

    /// @inheritdoc IReceivableLedger
    function tryRegisterReceivable(
        Terms calldata terms,
        Declaration[] calldata declarations,
        InvoiceAlias[] calldata aliases
    ) external onlyRole(LENDER_ROLE) returns (bool registered) {
        (Refusal refusal, bytes32 document, bytes32 conflict,) = _checkRegistration(terms, declarations, aliases);
        if (refusal != Refusal.None) {
            _refuseRegistration(terms, refusal, document, conflict);
            return false;
        }
        _register(terms, declarations, aliases);
        return true;
    }

    /// @inheritdoc IReceivableLedger
    function finance(bytes32 id, uint256 amount) external onlyRole(LENDER_ROLE) {
        Stored storage receivable = _receivables[id];
        ReceivableHead head = receivable.head;
        (Refusal refusal, uint256 room, RateTable rates, uint256 cap) = _checkFinancing(receivable, id, head, amount);
        if (refusal != Refusal.None) {
            if (refusal == Refusal.ReceivableNotActive) revert ReceivableNotActive(id, Status.Cancelled);
            if (refusal == Refusal.ReceivableHeldByOtherBank) revert ReceivableHeldByOtherBank(id, receivable.institution);
            revert FinancingExceedsCap(id, amount, room);
        }
        _draw(receivable, id, head, amount, rates, cap);
    }

    /// @inheritdoc IReceivableLedger
    function tryFinance(bytes32 id, uint256 amount) external onlyRole(LENDER_ROLE) returns (bool financed) {
        Stored storage receivable = _receivables[id];
        ReceivableHead head = receivable.head;
        (Refusal refusal, uint256 room, RateTable rates, uint256 cap) = _checkFinancing(receivable, id, head, amount);
        if (refusal != Refusal.None) {
            address financier = head.outstanding() == 0 ? address(0) : _accountNumbered(head.financier());
            emit FinancingRefused(id, institutionOf(msg.sender), msg.sender, refusal, amount, room, financier);
            return false;
        }
        _draw(receivable, id, head, amount, rates, cap);
        return true;
    }

    /// @inheritdoc IReceivableLedger
    function repay(bytes32 id, uint256 amount) external onlyRole(LENDER_ROLE) {
        Stored storage receivable = _receivables[id];
        ReceivableHead head = receivable.head;
        Status status = head.status();
        if (status == Status.None) revert ReceivableNotFound(id);
        uint256 outstanding = head.outstanding();
        if (outstanding == 0) revert ReceivableNotActive(id, status);
        if (!_actsFor(receivable, head)) revert ReceivableHeldByOtherBank(id, receivable.institution);
        if (amount == 0) revert ZeroAmount();
        if (amount > outstanding) revert RepaymentExceedsOutstanding(id, amount, outstanding);

        _release(id, receivable.declarationCount, amount);
        unchecked {
            outstanding -= amount;
        }
        // Settled at zero; the receivable stays its registrant's, who may finance it again.
        if (outstanding == 0) status = Status.Settled;
        receivable.head = head.withPosition(status, head.financier(), outstanding);
        emit ReceivableRepaid(id, msg.sender, amount, outstanding, outstanding == 0 ? status : Status.Financed);
    }

    /// @inheritdoc IReceivableLedger
    function cancel(bytes32 id) external onlyRole(LENDER_ROLE) {
        Stored storage receivable = _receivables[id];
        ReceivableHead head = receivable.head;
        Status status = head.status();
        if (status == Status.None) revert ReceivableNotFound(id);
        // Never financed: still Registered (a settled one is Settled) and nothing outstanding.
        uint256 outstanding = head.outstanding();
        if (status != Status.Registered || outstanding != 0 || receivable.institution != institutionOf(msg.sender)) {
            revert ReceivableNotCancellable(id, outstanding != 0 ? Status.Financed : status);
        }
        receivable.head = head.withPosition(Status.Cancelled, head.financier(), 0);
        _unlinkAll(id, receivable.declarationCount);
        emit ReceivableCancelled(id, msg.sender);
    }

    /// @inheritdoc IReceivableLedger
    function getReceivable(bytes32 id) external view returns (Receivable memory view_) {
        Stored storage receivable = _receivables[id];
        ReceivableHead head = receivable.head;
        uint256 outstanding = head.outstanding();
        view_.status = outstanding != 0 ? Status.Financed : head.status();
        view_.keyVersion = receivable.keyVersion;
        view_.currency = receivable.currency;
        view_.maturity = receivable.maturity;
        view_.registrant = receivable.registrant;
        view_.financier = outstanding != 0 ? _accountNumbered(head.financier()) : address(0);
        view_.exporter = receivable.exporter;
        view_.faceValue = receivable.faceValue;
        view_.declaredValue = receivable.declaredValue;
        view_.cap = _liveCapOf(receivable, id, head);
        view_.outstanding = outstanding;
    }

    /// @inheritdoc IReceivableLedger
    function declarationsOf(bytes32 id) external view returns (bytes32[] memory) {
        return _listOf(id, _receivables[id].declarationCount);
    }

    /// @inheritdoc IReceivableLedger
    function institutionOfReceivable(bytes32 id) external view returns (bytes32) {
        return _receivables[id].institution;
    }

    /// @inheritdoc IReceivableLedger
    function headroom(bytes32 id) external view returns (uint256) {
        Stored storage receivable = _receivables[id];
        ReceivableHead head = receivable.head;
        return _roomOf(_liveCapOf(receivable, id, head), head.outstanding());
    }

    /// @inheritdoc IReceivableLedger
    function isOverdue(bytes32 id) external view returns (bool) {
        Stored storage receivable = _receivables[id];
        // Due on the day of its maturity (UTC), overdue from the first second of the next day:
        // the same day arithmetic as the index, the API and reports.
        return receivable.head.outstanding() != 0 && block.timestamp / 1 days > receivable.maturity / 1 days;
    }

    function _exporterOf(bytes32 id) internal view override returns (bytes32) {
        return _receivables[id].exporter;
    }

    /// @dev Marks the cached cap of `id` stale: the next drawdown sums the limits again.
    function _recounted(bytes32 id) internal override {
        Stored storage receivable = _receivables[id];
        receivable.head = receivable.head.withStaleCap();
    }

    /// @dev Reverts on malformed input; returns the financing rule the registration breaks, if any,
    /// the document refused (the invoice or a declaration, fingerprinted under the key version it
    /// was found under), what it conflicts with, and the invoice's exporter under that version.
    function _checkRegistration(
        Terms calldata terms,
        Declaration[] calldata declarations,
        InvoiceAlias[] calldata aliases
    ) private view returns (Refusal, bytes32 document, bytes32 conflict, bytes32 exporter) {
        bytes32 id = terms.id;
        // A zero id would read as a free declaration's link.
        if (id == bytes32(0) || terms.exporter == bytes32(0)) revert ZeroFingerprint();
        _checkValue(id, terms.faceValue);
        _checkDeclarations(declarations);
        _checkAliases(terms.keyVersion, declarations.length, aliases);

        bytes32 holder = _holderOf(id);
        if (holder != bytes32(0)) return (Refusal.ReceivableAlreadyRegistered, id, holder, terms.exporter);
        for (uint256 k; k < aliases.length; ++k) {
            holder = _holderOf(aliases[k].id);
            if (holder != bytes32(0)) {
                return (Refusal.ReceivableAlreadyRegistered, aliases[k].id, holder, aliases[k].exporter);
            }
        }
        return _conflictAmong(declarations, terms.exporter, aliases);
    }

    /// @dev Records a refused registration. Emits {RegistrationRefused}.
    function _refuseRegistration(Terms calldata terms, Refusal refusal, bytes32 document, bytes32 conflict) private {
        bytes32 institution = institutionOf(msg.sender);
        emit RegistrationRefused(terms.id, document, institution, msg.sender, refusal, terms.faceValue, conflict);
    }

    /// @dev The institution holding `id` when it is registered and not cancelled, zero otherwise.
    /// A cancelled receivable may be registered again (a corrected presentation of the invoice).
    function _holderOf(bytes32 id) private view returns (bytes32) {
        Stored storage receivable = _receivables[id];
        Status status = receivable.head.status();
        return status == Status.None || status == Status.Cancelled ? bytes32(0) : receivable.institution;
    }

    /// @dev Stores a registration the rules accepted. Emits the declarations' events, then
    /// {ReceivableRegistered}.
    function _register(Terms calldata terms, Declaration[] calldata declarations, InvoiceAlias[] calldata aliases)
        private
    {
        RateTable rates = _ratesInForce();
        (uint256 limits, uint256 declared) = _linkAll(terms.id, declarations, terms.exporter, rates, aliases);
        _store(terms, declarations.length, rates, limits, declared);
    }

    /// @dev Stores the receivable of a registration whose `count` declarations were linked, their
    /// limits under `rates` adding up to `limits` and their declared values to `declared`. Emits
    /// {ReceivableRegistered}.
    function _store(Terms calldata terms, uint256 count, RateTable rates, uint256 limits, uint256 declared) private {
        bytes32 id = terms.id;
        uint256 cap;
        unchecked {
            cap = (terms.faceValue * rates.verifiedRate()) / _BPS; // below 2**96 x 2**14
        }
        if (limits < cap) cap = limits;
        AccessRecord record = _recordOf(msg.sender);
        _receivables[id] = Stored({
            head: ReceivableHead.wrap(0).withCap(rates, cap).withPosition(Status.Registered, record.number(), 0),
            registrant: msg.sender,
            declaredValue: uint96(declared),
            faceValue: uint96(terms.faceValue),
            maturity: terms.maturity,
            currency: terms.currency,
            keyVersion: terms.keyVersion,
            declarationCount: uint8(count),
            exporter: terms.exporter,
            institution: _institutionIn(record, msg.sender)
        });
        emit ReceivableRegistered(
            id,
            msg.sender,
            terms.exporter,
            terms.keyVersion,
            terms.faceValue,
            terms.currency,
            terms.maturity,
            uint16(rates.verifiedRate()),
            cap
        );
    }

    /// @dev Reverts on an unknown receivable or a zero amount; returns the financing rule the
    /// drawdown breaks, if any, the headroom it was judged against, and the policy and the cap
    /// (what {_draw} needs).
    function _checkFinancing(Stored storage receivable, bytes32 id, ReceivableHead head, uint256 amount)
        private
        view
        returns (Refusal, uint256 room, RateTable rates, uint256 cap)
    {
        Status status = head.status();
        if (status == Status.None) revert ReceivableNotFound(id);
        if (amount == 0) revert ZeroAmount();
        if (status == Status.Cancelled) return (Refusal.ReceivableNotActive, 0, RateTable.wrap(0), 0);
        if (!_actsFor(receivable, head)) return (Refusal.ReceivableHeldByOtherBank, 0, RateTable.wrap(0), 0);
        uint256 outstanding = head.outstanding();
        rates = _ratesInForce();
        cap = _capOf(receivable, id, head, rates);
        room = _roomOf(cap, outstanding);
        return (amount > room ? Refusal.FinancingExceedsCap : Refusal.None, room, rates, cap);
    }

    /// @dev Draws an accepted `amount` under `rates`, `cap` being the cap under them. Emits the
    /// declarations' events, then {ReceivableFinanced}.
    function _draw(
        Stored storage receivable,
        bytes32 id,
        ReceivableHead head,
        uint256 amount,
        RateTable rates,
        uint256 cap
    ) private {
        _fill(id, amount, rates);
        // The drawer acts for the holding institution (checked): its number may stand for it.
        uint32 drawer = _recordOf(msg.sender).number();
        uint256 outstanding = head.outstanding();
        unchecked {
            outstanding += amount; // <= cap <= face value < 2**96
        }
        receivable.head = head.withCap(rates, cap).withPosition(head.status(), drawer, outstanding);
        emit ReceivableFinanced(id, msg.sender, amount, outstanding);
    }

    /// @dev Whether the caller acts for the institution holding the receivable, whose head is
    /// `head`: the account numbered there (the last drawer, or the registrant) does without a
    /// lookup, since a number changes with the account's institution; any other is compared by
    /// institution.
    function _actsFor(Stored storage receivable, ReceivableHead head) private view returns (bool) {
        AccessRecord record = _recordOf(msg.sender);
        return record.number() == head.financier() || _institutionIn(record, msg.sender) == receivable.institution;
    }

    /// @dev The cap of a receivable, zero unless live (registered, financed or settled).
    function _liveCapOf(Stored storage receivable, bytes32 id, ReceivableHead head) private view returns (uint256) {
        Status status = head.status();
        if (status == Status.None || status == Status.Cancelled) return 0;
        return _capOf(receivable, id, head, _ratesInForce());
    }

    /// @dev The cap of a live receivable under `rates`: min(face value x verified rate, sum of the
    /// declarations' limits), from `head` when it was cached under the same rates.
    function _capOf(Stored storage receivable, bytes32 id, ReceivableHead head, RateTable rates)
        private
        view
        returns (uint256 cap)
    {
        if (head.isCapCachedUnder(rates)) return head.cachedCap();
        unchecked {
            cap = (uint256(receivable.faceValue) * rates.verifiedRate()) / _BPS; // below 2**96 x 2**14
        }
        uint256 total = _limits(id, receivable.declarationCount, rates);
        if (total < cap) cap = total;
    }

    function _roomOf(uint256 cap, uint256 outstanding) private pure returns (uint256) {
        return cap > outstanding ? cap - outstanding : 0;
    }
}
