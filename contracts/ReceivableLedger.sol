// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {IReceivableLedger} from "./IReceivableLedger.sol";

/// @title ReceivableLedger
/// @notice Export receivables, the customs declarations behind them and the financing drawn on them.
/// Enforces SPEC's trade-finance rules on chain, because they protect money: a declaration backs at
/// most one invoice; outstanding financing stays within face value x advance rate and within the total
/// declared value; one bank at a time holds financing on a receivable.
contract ReceivableLedger is IReceivableLedger, AccessControl, Multicall {
    /// @notice Role of banks: register, finance, repay, cancel.
    bytes32 public constant LENDER_ROLE = keccak256("LENDER_ROLE");

    /// @notice Upper bound on declarations per receivable, so cancellation stays within a block's gas.
    uint256 public constant MAX_DECLARATIONS = 32;

    uint16 private constant _BPS = 10_000;

    uint16 private _advanceRateBps;
    mapping(bytes32 id => Receivable) private _receivables;
    mapping(bytes32 id => bytes32[]) private _declarationsOf;
    mapping(bytes32 declaration => bytes32 id) private _receivableOfDeclaration;

    /// @param admin Account granted DEFAULT_ADMIN_ROLE.
    /// @param initialAdvanceRateBps Advance rate for the first registrations (basis points).
    constructor(address admin, uint16 initialAdvanceRateBps) {
        if (initialAdvanceRateBps > _BPS) revert AdvanceRateOutOfRange(initialAdvanceRateBps);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _advanceRateBps = initialAdvanceRateBps;
        emit AdvanceRateSet(initialAdvanceRateBps, admin);
    }

    /// @inheritdoc IReceivableLedger
    function registerReceivable(Terms calldata terms, Declaration[] calldata declarations)
        external
        onlyRole(LENDER_ROLE)
    {
        bytes32 id = terms.id;
        Receivable storage receivable = _receivables[id];
        // A cancelled receivable may be registered again (a corrected presentation of the same invoice).
        if (receivable.status != Status.None && receivable.status != Status.Cancelled) {
            revert ReceivableAlreadyRegistered(id, receivable.registrant);
        }
        if (terms.faceValue == 0) revert ZeroValue(id);
        uint256 count = declarations.length;
        if (count == 0 || count > MAX_DECLARATIONS) revert DeclarationCountOutOfRange(count, MAX_DECLARATIONS);

        uint256 declaredValue = _linkDeclarations(id, declarations);
        uint16 rateBps = _advanceRateBps;
        uint256 rateCap = (terms.faceValue * rateBps) / _BPS;
        uint256 cap = rateCap < declaredValue ? rateCap : declaredValue;
        receivable.status = Status.Registered;
        receivable.keyVersion = terms.keyVersion;
        receivable.currency = terms.currency;
        receivable.maturity = terms.maturity;
        receivable.registrant = msg.sender;
        receivable.financier = address(0);
        receivable.exporter = terms.exporter;
        receivable.faceValue = terms.faceValue;
        receivable.declaredValue = declaredValue;
        receivable.cap = cap;
        receivable.outstanding = 0;
        _emitRegistered(terms, rateBps, cap);
    }

    /// @dev Links each declaration to `id`, refusing one that backs another invoice; returns the total
    /// declared value. Apart from registerReceivable to stay within the EVM's stack limit.
    function _linkDeclarations(bytes32 id, Declaration[] calldata declarations) private returns (uint256 total) {
        bytes32[] storage linked = _declarationsOf[id];
        // Left over from a cancelled registration of the same invoice: those links were already freed.
        delete _declarationsOf[id];
        for (uint256 i; i < declarations.length; ++i) {
            bytes32 declaration = declarations[i].fingerprint;
            uint256 value = declarations[i].value;
            if (value == 0) revert ZeroValue(declaration);
            bytes32 holder = _receivableOfDeclaration[declaration];
            if (holder == id) revert DeclarationDuplicated(declaration);
            if (holder != bytes32(0)) revert DeclarationLinkedToOtherInvoice(declaration, holder);
            _receivableOfDeclaration[declaration] = id;
            linked.push(declaration);
            total += value;
            emit DeclarationLinked(declaration, id, value);
        }
    }

    /// @dev Apart from registerReceivable for the stack limit, like _linkDeclarations.
    function _emitRegistered(Terms calldata terms, uint16 rateBps, uint256 cap) private {
        emit ReceivableRegistered(
            terms.id,
            msg.sender,
            terms.exporter,
            terms.keyVersion,
            terms.faceValue,
            terms.currency,
            terms.maturity,
            rateBps,
            cap
        );
    }

    /// @inheritdoc IReceivableLedger
    function finance(bytes32 id, uint256 amount) external onlyRole(LENDER_ROLE) {
        Receivable storage receivable = _receivables[id];
        Status status = receivable.status;
        if (status == Status.None) revert ReceivableNotFound(id);
        if (status == Status.Cancelled) revert ReceivableNotActive(id, status);
        if (amount == 0) revert ZeroAmount();
        uint256 outstanding = receivable.outstanding;
        if (outstanding != 0 && receivable.financier != msg.sender) {
            revert ReceivableFinancedByOtherBank(id, receivable.financier);
        }
        uint256 headroomLeft = receivable.cap - outstanding;
        if (amount > headroomLeft) revert FinancingExceedsCap(id, amount, headroomLeft);

        outstanding += amount;
        receivable.outstanding = outstanding;
        receivable.financier = msg.sender;
        receivable.status = Status.Financed;
        emit ReceivableFinanced(id, msg.sender, amount, outstanding);
    }

    /// @inheritdoc IReceivableLedger
    function repay(bytes32 id, uint256 amount) external onlyRole(LENDER_ROLE) {
        Receivable storage receivable = _receivables[id];
        Status status = receivable.status;
        if (status == Status.None) revert ReceivableNotFound(id);
        if (status != Status.Financed) revert ReceivableNotActive(id, status);
        if (receivable.financier != msg.sender) revert ReceivableNotFinancedByCaller(id, receivable.financier);
        if (amount == 0) revert ZeroAmount();
        uint256 outstanding = receivable.outstanding;
        if (amount > outstanding) revert RepaymentExceedsOutstanding(id, amount, outstanding);

        outstanding -= amount;
        receivable.outstanding = outstanding;
        if (outstanding == 0) {
            // Settled: exclusivity ends, so the financier is cleared and any bank may finance again.
            receivable.status = Status.Settled;
            receivable.financier = address(0);
        }
        emit ReceivableRepaid(id, msg.sender, amount, outstanding, receivable.status);
    }

    /// @inheritdoc IReceivableLedger
    function cancel(bytes32 id) external onlyRole(LENDER_ROLE) {
        Receivable storage receivable = _receivables[id];
        Status status = receivable.status;
        if (status == Status.None) revert ReceivableNotFound(id);
        if (status != Status.Registered || receivable.registrant != msg.sender) {
            revert ReceivableNotCancellable(id, status);
        }
        receivable.status = Status.Cancelled;
        bytes32[] storage linked = _declarationsOf[id];
        for (uint256 i; i < linked.length; ++i) {
            delete _receivableOfDeclaration[linked[i]];
        }
        emit ReceivableCancelled(id, msg.sender);
    }

    /// @inheritdoc IReceivableLedger
    function setAdvanceRate(uint16 rateBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (rateBps > _BPS) revert AdvanceRateOutOfRange(rateBps);
        _advanceRateBps = rateBps;
        emit AdvanceRateSet(rateBps, msg.sender);
    }

    /// @inheritdoc IReceivableLedger
    function getReceivable(bytes32 id) external view returns (Receivable memory) {
        return _receivables[id];
    }

    /// @inheritdoc IReceivableLedger
    function receivableOfDeclaration(bytes32 declaration) external view returns (bytes32) {
        return _receivableOfDeclaration[declaration];
    }

    /// @inheritdoc IReceivableLedger
    function headroom(bytes32 id) external view returns (uint256) {
        Receivable storage receivable = _receivables[id];
        Status status = receivable.status;
        if (status == Status.None || status == Status.Cancelled) return 0;
        return receivable.cap - receivable.outstanding;
    }

    /// @inheritdoc IReceivableLedger
    function advanceRateBps() external view returns (uint16) {
        return _advanceRateBps;
    }
}
