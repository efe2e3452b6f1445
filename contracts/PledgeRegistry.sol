// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {ConsortiumAccess} from "./ConsortiumAccess.sol";
import {IPledgeRegistry} from "./IPledgeRegistry.sol";

/// @title PledgeRegistry
/// @notice Properties and the pledges on them, with SPEC's rules enforced on chain: no approval on a
/// seized property or beyond appraised value x LTV; ranks in approval order, juniors moving up on
/// release; refused decisions recorded as events (see {IPledgeRegistry}).
contract PledgeRegistry is IPledgeRegistry, ConsortiumAccess, Multicall {
    /// @notice Reason code: the property is seized.
    uint16 public constant REASON_PROPERTY_SEIZED = 1;
    /// @notice Reason code: active secured amounts plus this pledge would exceed appraisal x LTV.
    uint16 public constant REASON_EXCEEDS_HEADROOM = 2;
    /// @notice Reason code: the property already has MAX_ACTIVE_PLEDGES active pledges.
    uint16 public constant REASON_TOO_MANY_ACTIVE_PLEDGES = 3;
    /// @notice The lowest reason code a clerk may give; lower ones are the contract's own.
    uint16 public constant MIN_CLERK_REASON = 100;
    /// @notice Active pledges per property. Bounds the shift on release (at most 15 slots written) and
    /// the title view; real properties carry a handful of pledges.
    uint256 public constant MAX_ACTIVE_PLEDGES = 16;
    /// @notice SPEC's policy default for the maximum LTV, in force until the admin changes it.
    uint16 public constant POLICY_DEFAULT_MAX_LTV_BPS = 7000;

    uint16 private constant _BPS = 10_000;

    uint16 private _defaultMaxLtvBps;
    mapping(bytes32 property => Property) private _properties;
    mapping(bytes32 pledgeId => Pledge) private _pledges;
    /// @dev Active pledge ids per property in rank order: index i holds rank i + 1.
    mapping(bytes32 property => bytes32[]) private _active;

    /// @param admin Account granted DEFAULT_ADMIN_ROLE.
    constructor(address admin) ConsortiumAccess(admin) {
        _defaultMaxLtvBps = POLICY_DEFAULT_MAX_LTV_BPS;
        emit DefaultMaxLtvSet(POLICY_DEFAULT_MAX_LTV_BPS, admin);
    }

    /// @inheritdoc IPledgeRegistry
    function registerProperty(
        bytes32 property,
        uint16 keyVersion,
        uint256 appraisedValue,
        bytes3 currency,
        uint16 maxLtvBps
    ) external onlyRole(REGISTRAR_ROLE) {
        Property storage stored = _properties[property];
        if (stored.status != PropertyStatus.None) revert PropertyAlreadyRegistered(property);
        if (appraisedValue == 0) revert ZeroAmount();
        if (maxLtvBps > _BPS) revert MaxLtvOutOfRange(maxLtvBps);

        // The default is copied in, so a later policy change never moves an existing property's cap.
        uint16 ltvBps = maxLtvBps == 0 ? _defaultMaxLtvBps : maxLtvBps;
        stored.status = PropertyStatus.Normal;
        stored.keyVersion = keyVersion;
        stored.maxLtvBps = ltvBps;
        stored.currency = currency;
        stored.appraisedValue = appraisedValue;
        emit PropertyRegistered(property, msg.sender, keyVersion, appraisedValue, currency, ltvBps);
    }

    /// @inheritdoc IPledgeRegistry
    function updateAppraisal(bytes32 property, uint256 appraisedValue) external onlyRole(REGISTRAR_ROLE) {
        Property storage stored = _existing(property);
        if (appraisedValue == 0) revert ZeroAmount();

        stored.appraisedValue = appraisedValue;
        emit AppraisalUpdated(property, msg.sender, appraisedValue, _headroom(stored));
    }

    /// @inheritdoc IPledgeRegistry
    function applyForPledge(bytes32 property, uint256 amount, bytes3 currency, uint64 maturity)
        external
        onlyRole(LENDER_ROLE)
        returns (bytes32 pledgeId)
    {
        Property storage stored = _existing(property);
        if (amount == 0) revert ZeroAmount();
        if (currency != stored.currency) revert PledgeCurrencyMismatch(property, stored.currency, currency);
        if (maturity <= block.timestamp) revert MaturityNotInFuture(maturity);

        uint64 sequence = stored.applications + 1;
        stored.applications = sequence;
        pledgeId = keccak256(abi.encode(property, sequence));
        // The pledgee is fixed now: a later reassignment of the account does not move the pledge.
        bytes32 institution = institutionOf(msg.sender);
        _pledges[pledgeId] = Pledge({
            status: PledgeStatus.Pending,
            reasonCode: 0,
            maturity: maturity,
            lender: msg.sender,
            property: property,
            institution: institution,
            amount: amount
        });
        emit PledgeApplied(pledgeId, property, msg.sender, institution, sequence, amount, currency, maturity);
    }

    /// @inheritdoc IPledgeRegistry
    function approvePledge(bytes32 pledgeId) external onlyRole(REGISTRAR_ROLE) {
        (Pledge storage pledge, Property storage stored) = _pending(pledgeId);
        (uint16 reasonCode, uint256 room) = _check(pledge, stored);
        if (reasonCode == REASON_PROPERTY_SEIZED) revert PropertySeized(pledge.property, stored.caseRef);
        if (reasonCode == REASON_EXCEEDS_HEADROOM) {
            revert PledgeExceedsHeadroom(pledge.property, pledge.amount, room);
        }
        if (reasonCode == REASON_TOO_MANY_ACTIVE_PLEDGES) {
            revert TooManyActivePledges(pledge.property, MAX_ACTIVE_PLEDGES);
        }
        _approve(pledgeId, pledge, stored);
    }

    /// @inheritdoc IPledgeRegistry
    function decidePledge(bytes32 pledgeId) external onlyRole(REGISTRAR_ROLE) returns (uint16 reasonCode) {
        (Pledge storage pledge, Property storage stored) = _pending(pledgeId);
        uint256 room;
        (reasonCode, room) = _check(pledge, stored);
        if (reasonCode == 0) _approve(pledgeId, pledge, stored);
        else _reject(pledgeId, pledge, reasonCode, room);
    }

    /// @inheritdoc IPledgeRegistry
    function rejectPledge(bytes32 pledgeId, uint16 reasonCode) external onlyRole(REGISTRAR_ROLE) {
        (Pledge storage pledge, Property storage stored) = _pending(pledgeId);
        if (reasonCode < MIN_CLERK_REASON) revert ReasonCodeReserved(reasonCode);
        _reject(pledgeId, pledge, reasonCode, _headroom(stored));
    }

    /// @inheritdoc IPledgeRegistry
    function releasePledge(bytes32 pledgeId) external {
        bool registrar = hasRole(REGISTRAR_ROLE, msg.sender);
        if (!registrar) _checkRole(LENDER_ROLE);
        Pledge storage pledge = _pledges[pledgeId];
        PledgeStatus status = pledge.status;
        if (status == PledgeStatus.None) revert PledgeNotFound(pledgeId);
        if (!registrar && institutionOf(msg.sender) != pledge.institution) {
            revert ReleaseNotAuthorized(pledgeId, msg.sender, pledge.institution);
        }
        if (status != PledgeStatus.Active) revert PledgeNotActive(pledgeId, status);

        bytes32 property = pledge.property;
        uint256 rank = _removeActive(property, pledgeId);
        Property storage stored = _properties[property];
        uint256 secured = stored.securedAmount - pledge.amount;
        stored.securedAmount = secured;
        pledge.status = PledgeStatus.Released;
        emit PledgeReleased(pledgeId, property, msg.sender, rank, pledge.amount, secured, _headroom(stored));
    }

    /// @inheritdoc IPledgeRegistry
    function seize(bytes32 property, bytes32 caseRef) external onlyRole(ENFORCER_ROLE) {
        Property storage stored = _existing(property);
        if (caseRef == bytes32(0)) revert MissingCaseRef();
        if (stored.status == PropertyStatus.Seized) revert PropertySeized(property, stored.caseRef);

        stored.status = PropertyStatus.Seized;
        stored.caseRef = caseRef;
        emit SeizureImposed(property, caseRef, msg.sender);
    }

    /// @inheritdoc IPledgeRegistry
    function unseize(bytes32 property, bytes32 caseRef) external onlyRole(ENFORCER_ROLE) {
        Property storage stored = _existing(property);
        if (stored.status != PropertyStatus.Seized) revert PropertyNotSeized(property);
        if (caseRef != stored.caseRef) revert SeizureCaseMismatch(property, stored.caseRef);

        stored.status = PropertyStatus.Normal;
        stored.caseRef = bytes32(0);
        emit SeizureLifted(property, caseRef, msg.sender);
    }

    /// @inheritdoc IPledgeRegistry
    function setDefaultMaxLtv(uint16 maxLtvBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (maxLtvBps == 0 || maxLtvBps > _BPS) revert MaxLtvOutOfRange(maxLtvBps);
        _defaultMaxLtvBps = maxLtvBps;
        emit DefaultMaxLtvSet(maxLtvBps, msg.sender);
    }

    /// @inheritdoc IPledgeRegistry
    function getProperty(bytes32 property) external view returns (Property memory) {
        return _properties[property];
    }

    /// @inheritdoc IPledgeRegistry
    function getPledge(bytes32 pledgeId) external view returns (Pledge memory) {
        return _pledges[pledgeId];
    }

    /// @inheritdoc IPledgeRegistry
    function rankOf(bytes32 pledgeId) external view returns (uint256 rank) {
        Pledge storage pledge = _pledges[pledgeId];
        if (pledge.status != PledgeStatus.Active) return 0;
        return _indexOf(_active[pledge.property], pledgeId) + 1;
    }

    /// @inheritdoc IPledgeRegistry
    function activePledges(bytes32 property) external view returns (bytes32[] memory ids) {
        return _active[property];
    }

    /// @inheritdoc IPledgeRegistry
    function headroom(bytes32 property) external view returns (uint256) {
        return _headroom(_properties[property]);
    }

    /// @inheritdoc IPledgeRegistry
    function titleOf(bytes32 property) external view returns (Title memory title) {
        Property storage stored = _properties[property];
        bytes32[] storage ids = _active[property];
        title.property = stored;
        title.headroom = _headroom(stored);
        title.pledges = new RankedPledge[](ids.length);
        for (uint256 i; i < ids.length; ++i) {
            title.pledges[i] = RankedPledge({pledgeId: ids[i], rank: i + 1, pledge: _pledges[ids[i]]});
        }
    }

    /// @inheritdoc IPledgeRegistry
    function defaultMaxLtvBps() external view returns (uint16) {
        return _defaultMaxLtvBps;
    }

    /// @dev The registered property `property`, or a {PropertyNotFound} revert.
    function _existing(bytes32 property) private view returns (Property storage stored) {
        stored = _properties[property];
        if (stored.status == PropertyStatus.None) revert PropertyNotFound(property);
    }

    /// @dev The pending pledge `pledgeId` and its property, or a revert saying why it is not pending.
    function _pending(bytes32 pledgeId) private view returns (Pledge storage pledge, Property storage stored) {
        pledge = _pledges[pledgeId];
        PledgeStatus status = pledge.status;
        if (status == PledgeStatus.None) revert PledgeNotFound(pledgeId);
        if (status != PledgeStatus.Pending) revert PledgeNotPending(pledgeId, status);
        stored = _properties[pledge.property];
    }

    /// @dev The approval rules, in the order their codes are reported: 0 when all pass. Also returns
    /// the headroom they were judged against.
    function _check(Pledge storage pledge, Property storage stored)
        private
        view
        returns (uint16 reasonCode, uint256 room)
    {
        room = _headroom(stored);
        if (stored.status == PropertyStatus.Seized) return (REASON_PROPERTY_SEIZED, room);
        if (pledge.amount > room) return (REASON_EXCEEDS_HEADROOM, room);
        if (_active[pledge.property].length >= MAX_ACTIVE_PLEDGES) return (REASON_TOO_MANY_ACTIVE_PLEDGES, room);
        return (0, room);
    }

    /// @dev Activates the pledge as the most junior one. Emits {PledgeApproved}.
    function _approve(bytes32 pledgeId, Pledge storage pledge, Property storage stored) private {
        bytes32[] storage ids = _active[pledge.property];
        ids.push(pledgeId);
        uint256 amount = pledge.amount;
        uint256 secured = stored.securedAmount + amount;
        stored.securedAmount = secured;
        pledge.status = PledgeStatus.Active;
        emit PledgeApproved(pledgeId, pledge.property, msg.sender, ids.length, amount, secured, _headroom(stored));
    }

    /// @dev Records the rejection. Emits {PledgeRejected}.
    function _reject(bytes32 pledgeId, Pledge storage pledge, uint16 reasonCode, uint256 room) private {
        pledge.status = PledgeStatus.Rejected;
        pledge.reasonCode = reasonCode;
        emit PledgeRejected(
            pledgeId, pledge.property, pledge.institution, pledge.lender, reasonCode, pledge.amount, room, msg.sender
        );
    }

    /// @dev Removes an active pledge, moving its juniors up; returns the rank it held.
    function _removeActive(bytes32 property, bytes32 pledgeId) private returns (uint256 rank) {
        bytes32[] storage ids = _active[property];
        uint256 index = _indexOf(ids, pledgeId);
        uint256 last = ids.length - 1;
        for (uint256 i = index; i < last; ++i) {
            ids[i] = ids[i + 1];
        }
        ids.pop();
        return index + 1;
    }

    /// @dev Position of `pledgeId` in `ids`; the caller knows it is there (an Active pledge is listed).
    function _indexOf(bytes32[] storage ids, bytes32 pledgeId) private view returns (uint256 index) {
        while (ids[index] != pledgeId) ++index;
    }

    /// @dev Appraisal x LTV minus the active secured amounts, floored at 0; 0 unless Normal.
    function _headroom(Property storage stored) private view returns (uint256) {
        if (stored.status != PropertyStatus.Normal) return 0;
        uint256 cap = (stored.appraisedValue * stored.maxLtvBps) / _BPS;
        uint256 secured = stored.securedAmount;
        return cap > secured ? cap - secured : 0;
    }
}
