// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {DeclarationBook} from "./DeclarationBook.sol";
import {IReceivableLedger} from "./IReceivableLedger.sol";

/// @title ReceivableLedger
/// @notice Export receivables, the customs declarations behind them and the financing drawn on them.
/// Enforces SPEC's trade-finance rules on chain, because they protect money: a declaration backs at
/// most one invoice; outstanding financing stays within face value x advance rate and within each
/// declaration's limit; one bank (institution) at a time holds financing on a receivable. Refusals
/// can be recorded for auditors (see {IReceivableLedger}).
contract ReceivableLedger is DeclarationBook, Multicall {
    /// @dev What every operation reads first. `status` holds None, Registered, Settled or
    /// Cancelled: Financed is derived from a non-zero outstanding, so a drawdown never writes here.
    struct Head {
        Status status;
        uint16 keyVersion;
        bytes3 currency;
        uint64 maturity;
        uint8 declarationCount;
        uint96 faceValue;
    }

    /// @dev What a drawdown or a repayment writes. `financier` is meaningful only while something is
    /// outstanding; registration sets it to the registrant, so that the slot is never empty and a
    /// first drawdown updates it rather than creating it.
    struct Position {
        address financier;
        uint96 outstanding;
    }

    /// @dev Five slots. `institution` is the registrant's until the first drawdown, then the
    /// financing bank's: who may cancel, then who holds the exclusivity and records repayments.
    struct Stored {
        Head head;
        address registrant;
        uint96 declaredValue;
        Position position;
        bytes32 exporter;
        bytes32 institution;
    }

    mapping(bytes32 id => Stored) private _receivables;

    /// @param admin Account granted DEFAULT_ADMIN_ROLE.
    /// @param verifiedBps Initial advance rate for attested declarations and the face value.
    /// @param unverifiedBps Initial advance rate for unattested declarations.
    constructor(address admin, uint16 verifiedBps, uint16 unverifiedBps)
        DeclarationBook(admin, verifiedBps, unverifiedBps)
    {}

    /// @inheritdoc IReceivableLedger
    function registerReceivable(Terms calldata terms, Declaration[] calldata declarations)
        external
        onlyRole(LENDER_ROLE)
    {
        (Refusal refusal, bytes32 document, bytes32 conflict) = _checkRegistration(terms, declarations);
        if (refusal == Refusal.ReceivableAlreadyRegistered) {
            revert ReceivableAlreadyRegistered(terms.id, _receivables[terms.id].registrant);
        }
        if (refusal == Refusal.DeclarationLinkedToOtherInvoice) revert DeclarationLinkedToOtherInvoice(document, conflict);
        if (refusal == Refusal.DeclarationExporterMismatch) {
            revert DeclarationExporterMismatch(document, conflict, terms.exporter);
        }
        _register(terms, declarations);
    }

    /// @inheritdoc IReceivableLedger
    function tryRegisterReceivable(Terms calldata terms, Declaration[] calldata declarations)
        external
        onlyRole(LENDER_ROLE)
        returns (bool registered)
    {
        (Refusal refusal, bytes32 document, bytes32 conflict) = _checkRegistration(terms, declarations);
        if (refusal != Refusal.None) {
            bytes32 institution = institutionOf(msg.sender);
            emit RegistrationRefused(terms.id, document, institution, msg.sender, refusal, terms.faceValue, conflict);
            return false;
        }
        _register(terms, declarations);
        return true;
    }

    /// @inheritdoc IReceivableLedger
    function finance(bytes32 id, uint256 amount) external onlyRole(LENDER_ROLE) {
        (Refusal refusal, uint256 room, Position memory position, uint256[] memory limits) =
            _checkFinancing(id, amount);
        if (refusal == Refusal.ReceivableNotActive) revert ReceivableNotActive(id, Status.Cancelled);
        if (refusal == Refusal.ReceivableFinancedByOtherBank) revert ReceivableFinancedByOtherBank(id, position.financier);
        if (refusal == Refusal.FinancingExceedsCap) revert FinancingExceedsCap(id, amount, room);
        _draw(id, amount, position, limits);
    }

    /// @inheritdoc IReceivableLedger
    function tryFinance(bytes32 id, uint256 amount) external onlyRole(LENDER_ROLE) returns (bool financed) {
        (Refusal refusal, uint256 room, Position memory position, uint256[] memory limits) =
            _checkFinancing(id, amount);
        if (refusal != Refusal.None) {
            address financier = position.outstanding == 0 ? address(0) : position.financier;
            emit FinancingRefused(id, institutionOf(msg.sender), msg.sender, refusal, amount, room, financier);
            return false;
        }
        _draw(id, amount, position, limits);
        return true;
    }

    /// @inheritdoc IReceivableLedger
    function repay(bytes32 id, uint256 amount) external onlyRole(LENDER_ROLE) {
        Stored storage receivable = _receivables[id];
        Head memory head = receivable.head;
        if (head.status == Status.None) revert ReceivableNotFound(id);
        Position memory position = receivable.position;
        uint256 outstanding = position.outstanding;
        if (outstanding == 0) revert ReceivableNotActive(id, head.status);
        if (!_actsFor(receivable, position.financier)) revert ReceivableNotFinancedByCaller(id, position.financier);
        if (amount == 0) revert ZeroAmount();
        if (amount > outstanding) revert RepaymentExceedsOutstanding(id, amount, outstanding);

        _release(id, head.declarationCount, amount);
        unchecked {
            outstanding -= amount;
        }
        receivable.position.outstanding = uint96(outstanding);
        Status status = Status.Financed;
        if (outstanding == 0) {
            // Settled: exclusivity ends with the balance, and any bank may finance it again.
            status = Status.Settled;
            receivable.head.status = status;
        }
        emit ReceivableRepaid(id, msg.sender, amount, outstanding, status);
    }

    /// @inheritdoc IReceivableLedger
    function cancel(bytes32 id) external onlyRole(LENDER_ROLE) {
        Stored storage receivable = _receivables[id];
        Head memory head = receivable.head;
        if (head.status == Status.None) revert ReceivableNotFound(id);
        // Never financed: still Registered (a settled one is Settled) and nothing outstanding, so
        // `institution` is still the registrant's.
        uint256 outstanding = receivable.position.outstanding;
        if (
            head.status != Status.Registered || outstanding != 0 || receivable.institution != institutionOf(msg.sender)
        ) revert ReceivableNotCancellable(id, outstanding != 0 ? Status.Financed : head.status);
        receivable.head.status = Status.Cancelled;
        _unlinkAll(id, head.declarationCount);
        emit ReceivableCancelled(id, msg.sender);
    }

    /// @inheritdoc IReceivableLedger
    function getReceivable(bytes32 id) external view returns (Receivable memory view_) {
        Stored storage receivable = _receivables[id];
        Head memory head = receivable.head;
        Position memory position = receivable.position;
        view_.status = position.outstanding != 0 ? Status.Financed : head.status;
        view_.keyVersion = head.keyVersion;
        view_.currency = head.currency;
        view_.maturity = head.maturity;
        view_.registrant = receivable.registrant;
        view_.financier = position.outstanding != 0 ? position.financier : address(0);
        view_.exporter = receivable.exporter;
        view_.faceValue = head.faceValue;
        view_.declaredValue = receivable.declaredValue;
        (view_.cap,) = _capOf(id, head, _policy());
        view_.outstanding = position.outstanding;
    }

    /// @inheritdoc IReceivableLedger
    function declarationsOf(bytes32 id) external view returns (bytes32[] memory) {
        return _listOf(id, _receivables[id].head.declarationCount);
    }

    /// @inheritdoc IReceivableLedger
    function institutionOfReceivable(bytes32 id) external view returns (bytes32) {
        return _receivables[id].institution;
    }

    /// @inheritdoc IReceivableLedger
    function headroom(bytes32 id) external view returns (uint256) {
        Stored storage receivable = _receivables[id];
        (uint256 cap,) = _capOf(id, receivable.head, _policy());
        return _roomOf(cap, receivable.position.outstanding);
    }

    /// @inheritdoc IReceivableLedger
    function isOverdue(bytes32 id) external view returns (bool) {
        Stored storage receivable = _receivables[id];
        return receivable.position.outstanding != 0 && block.timestamp > receivable.head.maturity;
    }

    function _exporterOf(bytes32 id) internal view override returns (bytes32) {
        return _receivables[id].exporter;
    }

    /// @dev Reverts on malformed input; returns the financing rule the registration breaks, if any.
    function _checkRegistration(Terms calldata terms, Declaration[] calldata declarations)
        private
        view
        returns (Refusal, bytes32 document, bytes32 conflict)
    {
        bytes32 id = terms.id;
        // A zero id would read as a free declaration's link.
        if (id == bytes32(0) || terms.exporter == bytes32(0)) revert ZeroFingerprint();
        _checkValue(id, terms.faceValue);
        _checkDeclarations(declarations);

        Stored storage receivable = _receivables[id];
        Status status = receivable.head.status;
        // A cancelled receivable may be registered again (a corrected presentation of the same invoice).
        if (status != Status.None && status != Status.Cancelled) {
            return (Refusal.ReceivableAlreadyRegistered, id, receivable.institution);
        }
        return _conflictAmong(declarations, terms.exporter);
    }

    /// @dev Stores a registration the rules accepted. Emits the declarations' events, then
    /// {ReceivableRegistered}.
    function _register(Terms calldata terms, Declaration[] calldata declarations) private {
        bytes32 id = terms.id;
        Rates memory rates = _policy();
        (uint256 limits, uint256 declared) = _linkAll(id, declarations, terms.exporter, rates);
        _receivables[id] = Stored({
            head: Head({
                status: Status.Registered,
                keyVersion: terms.keyVersion,
                currency: terms.currency,
                maturity: terms.maturity,
                declarationCount: uint8(declarations.length),
                faceValue: uint96(terms.faceValue)
            }),
            registrant: msg.sender,
            declaredValue: uint96(declared),
            position: Position(msg.sender, 0),
            exporter: terms.exporter,
            institution: institutionOf(msg.sender)
        });
        uint256 byFace = (terms.faceValue * rates.verifiedBps) / _BPS;
        emit ReceivableRegistered(
            id,
            msg.sender,
            terms.exporter,
            terms.keyVersion,
            terms.faceValue,
            terms.currency,
            terms.maturity,
            rates.verifiedBps,
            byFace < limits ? byFace : limits
        );
    }

    /// @dev Reverts on an unknown receivable or a zero amount; returns the financing rule the
    /// drawdown breaks, if any, the headroom it was judged against, the receivable's position and
    /// its declarations' limits (what {_draw} needs).
    function _checkFinancing(bytes32 id, uint256 amount)
        private
        view
        returns (Refusal, uint256 room, Position memory position, uint256[] memory limits)
    {
        Stored storage receivable = _receivables[id];
        Head memory head = receivable.head;
        position = receivable.position;
        if (head.status == Status.None) revert ReceivableNotFound(id);
        if (amount == 0) revert ZeroAmount();
        if (head.status == Status.Cancelled) return (Refusal.ReceivableNotActive, 0, position, limits);
        if (position.outstanding != 0 && !_actsFor(receivable, position.financier)) {
            return (Refusal.ReceivableFinancedByOtherBank, 0, position, limits);
        }
        uint256 cap;
        (cap, limits) = _capOf(id, head, _policy());
        room = _roomOf(cap, position.outstanding);
        return (amount > room ? Refusal.FinancingExceedsCap : Refusal.None, room, position, limits);
    }

    /// @dev Draws an accepted `amount`. Emits the declarations' events, then {ReceivableFinanced}.
    function _draw(bytes32 id, uint256 amount, Position memory position, uint256[] memory limits) private {
        Stored storage receivable = _receivables[id];
        _fill(id, amount, limits);
        // Nothing outstanding: no bank holds it, and the drawer's institution takes charge (an
        // account that already took charge of it still acts for it).
        if (position.outstanding == 0 && position.financier != msg.sender) {
            bytes32 institution = institutionOf(msg.sender);
            if (receivable.institution != institution) receivable.institution = institution;
        }
        uint256 outstanding;
        unchecked {
            outstanding = position.outstanding + amount; // <= cap <= face value < 2**96
        }
        if (position.financier != msg.sender) receivable.position.financier = msg.sender;
        receivable.position.outstanding = uint96(outstanding);
        emit ReceivableFinanced(id, msg.sender, amount, outstanding);
    }

    /// @dev Whether the caller acts for the institution in charge of the receivable: the account of
    /// its last drawdown does without a lookup, any other is compared by institution.
    function _actsFor(Stored storage receivable, address financier) private view returns (bool) {
        return msg.sender == financier || institutionOf(msg.sender) == receivable.institution;
    }

    /// @dev min(face value x verified rate, sum of the declarations' limits), zero unless live;
    /// and the declarations' limits.
    function _capOf(bytes32 id, Head memory head, Rates memory rates)
        private
        view
        returns (uint256 cap, uint256[] memory limits)
    {
        if (head.status == Status.None || head.status == Status.Cancelled) return (0, limits);
        unchecked {
            cap = (uint256(head.faceValue) * rates.verifiedBps) / _BPS; // below 2**96 x 2**16
        }
        uint256 total;
        (total, limits) = _limits(id, head.declarationCount, rates);
        if (total < cap) cap = total;
    }

    function _roomOf(uint256 cap, uint256 outstanding) private pure returns (uint256) {
        return cap > outstanding ? cap - outstanding : 0;
    }
}
