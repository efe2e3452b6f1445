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
    /// @notice Active pledges per property. Bounds the shift on release (at most four words
    /// rewritten) and the title view; real properties carry a handful of pledges.
    uint256 public constant MAX_ACTIVE_PLEDGES = 16;
    /// @notice SPEC's policy default for the maximum LTV, in force until the admin changes it.
    uint16 public constant POLICY_DEFAULT_MAX_LTV_BPS = 7000;

    uint16 private constant _BPS = 10_000;

    // A property's head word: status (bits 0-7), maximum LTV (8-23), active pledges (24-31),
    // appraised value (32-143), secured amount (144-255).
    uint256 private constant _LTV_SHIFT = 8;
    uint256 private constant _ACTIVE_SHIFT = 24;
    uint256 private constant _APPRAISAL_SHIFT = 32;
    uint256 private constant _SECURED_SHIFT = 144;
    /// @dev In a head's 112-bit amount field: the amount does not fit, and is in its own slot.
    uint256 private constant _WIDE = type(uint112).max;

    // A pledge's head word: status (bits 0-6), own-institution flag (bit 7), reason code (8-23),
    // application sequence (24-47), lender (48-207), amount (208-255).
    uint256 private constant _OWN_INSTITUTION = 1 << 7;
    uint256 private constant _REASON_SHIFT = 8;
    uint256 private constant _SEQUENCE_SHIFT = 24;
    uint256 private constant _LENDER_SHIFT = 48;
    uint256 private constant _AMOUNT_SHIFT = 208;
    /// @dev In a pledge head's 24-bit sequence field: the sequence does not fit (read `sequence`).
    uint256 private constant _WIDE_SEQUENCE = type(uint24).max;
    /// @dev In a pledge head's 48-bit amount field: the amount does not fit, and is in its own slot.
    uint256 private constant _WIDE_PLEDGE = type(uint48).max;

    /// @dev A property. `head` is what a decision, a release, an appraisal or a seizure reads and
    /// writes of it, in one word packed by hand (layout above): a cold read costs 2,100 gas, the
    /// floor of an operation counts only what it writes, and Solidity would copy a struct member
    /// by member. Amounts are uint256 in the interface: one below 2**112 - 1 (every real one) is
    /// kept in the head, a larger one as `_WIDE` there with its value in a `wide*` slot, so that
    /// every amount keeps its exact value.
    struct PropertyRecord {
        uint256 head;
        uint16 keyVersion;
        bytes3 currency;
        uint64 applications;
        uint32 seizures;
        uint256 wideAppraisedValue;
        uint256 wideSecuredAmount;
    }

    /// @dev A pledge. `head` is what a decision or a release reads of it besides its property, in
    /// one word (layout above). The institution is stored only when it is not the lender's own
    /// (`_OWN_INSTITUTION` clear); the amount as in {PropertyRecord}, `_WIDE_PLEDGE` standing for
    /// one of 2**48 - 1 or more (2.8e14 minor units); the sequence, which an approval ranks by, in
    /// full in `sequence` and in the head too unless it is 2**24 - 1 or more.
    struct PledgeRecord {
        uint256 head;
        bytes32 property;
        uint64 maturity;
        uint64 sequence;
        bytes32 institution;
        uint256 wideAmount;
    }

    uint16 private _defaultMaxLtvBps;
    mapping(bytes32 property => PropertyRecord) private _properties;
    mapping(bytes32 pledgeId => PledgeRecord) private _pledges;
    /// @dev The active pledges of a property in rank order (entry i holds rank i + 1), each by the
    /// application sequence its id is made of (64 bits), four to a word: a release rewrites the
    /// word(s) of its juniors, not one slot per junior. Entries from the active count on are zero.
    mapping(bytes32 property => uint256[4]) private _ranks;
    /// @dev The seizures in force: the court (institution) that imposed each, by case.
    mapping(bytes32 property => mapping(bytes32 caseRef => bytes32 court)) private _seizures;

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
        PropertyRecord storage stored = _properties[property];
        if (_statusOf(stored.head) != PropertyStatus.None) revert PropertyAlreadyRegistered(property);
        if (appraisedValue == 0) revert ZeroAmount();
        if (maxLtvBps > _BPS) revert MaxLtvOutOfRange(maxLtvBps);

        // The default is copied in, so a later policy change never moves an existing property's cap.
        uint16 ltvBps = maxLtvBps == 0 ? _defaultMaxLtvBps : maxLtvBps;
        uint256 head = uint256(PropertyStatus.Normal) | (uint256(ltvBps) << _LTV_SHIFT);
        stored.head = _withAppraisal(stored, head, appraisedValue);
        stored.keyVersion = keyVersion;
        stored.currency = currency;
        emit PropertyRegistered(property, msg.sender, keyVersion, appraisedValue, currency, ltvBps);
    }

    /// @inheritdoc IPledgeRegistry
    function updateAppraisal(bytes32 property, uint256 appraisedValue) external onlyRole(REGISTRAR_ROLE) {
        (PropertyRecord storage stored, uint256 head) = _existing(property);
        if (appraisedValue == 0) revert ZeroAmount();

        head = _withAppraisal(stored, head, appraisedValue);
        stored.head = head;
        emit AppraisalUpdated(property, msg.sender, appraisedValue, _headroom(stored, head));
    }

    /// @inheritdoc IPledgeRegistry
    function applyForPledge(bytes32 property, uint256 amount, bytes3 currency, uint64 maturity)
        external
        onlyRole(LENDER_ROLE)
        returns (bytes32 pledgeId)
    {
        (PropertyRecord storage stored,) = _existing(property);
        if (amount == 0) revert ZeroAmount();
        if (currency != stored.currency) revert PledgeCurrencyMismatch(property, stored.currency, currency);
        if (maturity <= block.timestamp) revert MaturityNotInFuture(maturity);

        uint64 sequence = stored.applications + 1;
        stored.applications = sequence;
        pledgeId = _pledgeId(property, sequence);
        // The pledgee is fixed now: a later reassignment of the account does not move the pledge.
        bytes32 institution = institutionOf(msg.sender);
        _storePledge(_pledges[pledgeId], property, institution, amount, maturity, sequence);
        emit PledgeApplied(pledgeId, property, msg.sender, institution, sequence, amount, currency, maturity);
    }

    /// @inheritdoc IPledgeRegistry
    function approvePledge(bytes32 pledgeId) external onlyRole(REGISTRAR_ROLE) {
        (PledgeRecord storage pledge, uint256 head, bytes32 property) = _pending(pledgeId);
        PropertyRecord storage stored = _properties[property];
        uint256 propertyHead = stored.head;
        uint256 amount = _amountOf(pledge, head);
        (uint16 reasonCode, uint256 room) = _check(stored, propertyHead, amount);
        if (reasonCode == REASON_PROPERTY_SEIZED) revert PropertySeized(property, stored.seizures);
        if (reasonCode == REASON_EXCEEDS_HEADROOM) revert PledgeExceedsHeadroom(property, amount, room);
        if (reasonCode == REASON_TOO_MANY_ACTIVE_PLEDGES) revert TooManyActivePledges(property, MAX_ACTIVE_PLEDGES);
        _approve(pledgeId, pledge, head, stored, propertyHead, amount, room);
    }

    /// @inheritdoc IPledgeRegistry
    function decidePledge(bytes32 pledgeId) external onlyRole(REGISTRAR_ROLE) returns (uint16 reasonCode) {
        (PledgeRecord storage pledge, uint256 head, bytes32 property) = _pending(pledgeId);
        PropertyRecord storage stored = _properties[property];
        uint256 propertyHead = stored.head;
        uint256 amount = _amountOf(pledge, head);
        uint256 room;
        (reasonCode, room) = _check(stored, propertyHead, amount);
        if (reasonCode == 0) _approve(pledgeId, pledge, head, stored, propertyHead, amount, room);
        else _reject(pledgeId, pledge, head, property, reasonCode, amount, room);
    }

    /// @inheritdoc IPledgeRegistry
    function rejectPledge(bytes32 pledgeId, uint16 reasonCode) external onlyRole(REGISTRAR_ROLE) {
        (PledgeRecord storage pledge, uint256 head, bytes32 property) = _pending(pledgeId);
        if (reasonCode < MIN_CLERK_REASON) revert ReasonCodeReserved(reasonCode);
        PropertyRecord storage stored = _properties[property];
        uint256 room = _headroom(stored, stored.head);
        _reject(pledgeId, pledge, head, property, reasonCode, _amountOf(pledge, head), room);
    }

    /// @inheritdoc IPledgeRegistry
    function releasePledge(bytes32 pledgeId) external {
        // Two roles qualify: the caller's record, read once, answers for both and for its institution.
        uint256 record = _recordOf(msg.sender);
        bool registrar = _holds(record, REGISTRAR_ROLE);
        if (!registrar && !_holds(record, LENDER_ROLE)) {
            revert AccessControlUnauthorizedAccount(msg.sender, LENDER_ROLE);
        }
        PledgeRecord storage pledge = _pledges[pledgeId];
        uint256 head = pledge.head;
        PledgeStatus status = _pledgeStatusOf(head);
        if (status == PledgeStatus.None) revert PledgeNotFound(pledgeId);
        if (!registrar) {
            bytes32 pledgee = _institutionOf(pledge, head);
            if (_institutionIn(record, msg.sender) != pledgee) {
                revert ReleaseNotAuthorized(pledgeId, msg.sender, pledgee);
            }
        }
        if (status != PledgeStatus.Active) revert PledgeNotActive(pledgeId, status);

        bytes32 property = pledge.property;
        PropertyRecord storage stored = _properties[property];
        uint256 propertyHead = stored.head;
        uint256 active = _activeOf(propertyHead);
        uint256 rank = _removeRank(property, pledgeId, active);
        uint256 amount = _amountOf(pledge, head);
        uint256 secured = _securedOf(stored, propertyHead) - amount;
        unchecked {
            propertyHead = _withActive(propertyHead, active - 1);
        }
        propertyHead = _withSecured(stored, propertyHead, secured);
        stored.head = propertyHead;
        pledge.head = _withPledgeStatus(head, PledgeStatus.Released);
        emit PledgeReleased(pledgeId, property, msg.sender, rank, amount, secured, _headroom(stored, propertyHead));
    }

    /// @inheritdoc IPledgeRegistry
    function seize(bytes32 property, bytes32 caseRef) external onlyRole(ENFORCER_ROLE) {
        (PropertyRecord storage stored, uint256 head) = _existing(property);
        if (caseRef == bytes32(0)) revert MissingCaseRef();
        mapping(bytes32 => bytes32) storage seizures = _seizures[property];
        if (seizures[caseRef] != bytes32(0)) revert SeizureAlreadyImposed(property, caseRef);

        bytes32 court = institutionOf(msg.sender);
        seizures[caseRef] = court;
        uint32 count = stored.seizures + 1;
        stored.seizures = count;
        if (count == 1) stored.head = _withStatus(head, PropertyStatus.Seized);
        emit SeizureImposed(property, caseRef, msg.sender, court, count);
    }

    /// @inheritdoc IPledgeRegistry
    function unseize(bytes32 property, bytes32 caseRef) external {
        // Two roles qualify: the caller's record, read once, answers for both and for its institution.
        uint256 record = _recordOf(msg.sender);
        bool admin = _holds(record, DEFAULT_ADMIN_ROLE);
        if (!admin && !_holds(record, ENFORCER_ROLE)) revert AccessControlUnauthorizedAccount(msg.sender, ENFORCER_ROLE);
        (PropertyRecord storage stored, uint256 head) = _existing(property);
        mapping(bytes32 => bytes32) storage seizures = _seizures[property];
        bytes32 court = seizures[caseRef];
        if (court == bytes32(0)) revert SeizureNotFound(property, caseRef);
        if (!admin && _institutionIn(record, msg.sender) != court) revert SeizureNotLiftable(property, caseRef, court);

        delete seizures[caseRef];
        uint32 count = stored.seizures - 1; // at least this seizure was counted
        stored.seizures = count;
        if (count == 0) stored.head = _withStatus(head, PropertyStatus.Normal);
        emit SeizureLifted(property, caseRef, msg.sender, court, count);
    }

    /// @inheritdoc IPledgeRegistry
    function setDefaultMaxLtv(uint16 maxLtvBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (maxLtvBps == 0 || maxLtvBps > _BPS) revert MaxLtvOutOfRange(maxLtvBps);
        _defaultMaxLtvBps = maxLtvBps;
        emit DefaultMaxLtvSet(maxLtvBps, msg.sender);
    }

    /// @inheritdoc IPledgeRegistry
    function getProperty(bytes32 property) public view returns (Property memory) {
        PropertyRecord storage stored = _properties[property];
        uint256 head = stored.head;
        return Property({
            status: _statusOf(head),
            keyVersion: stored.keyVersion,
            maxLtvBps: uint16(head >> _LTV_SHIFT),
            currency: stored.currency,
            applications: stored.applications,
            appraisedValue: _appraisalOf(stored, head),
            securedAmount: _securedOf(stored, head),
            seizures: stored.seizures
        });
    }

    /// @inheritdoc IPledgeRegistry
    function seizureOf(bytes32 property, bytes32 caseRef) external view returns (bytes32) {
        return _seizures[property][caseRef];
    }

    /// @inheritdoc IPledgeRegistry
    function getPledge(bytes32 pledgeId) public view returns (Pledge memory) {
        PledgeRecord storage pledge = _pledges[pledgeId];
        uint256 head = pledge.head;
        PledgeStatus status = _pledgeStatusOf(head);
        return Pledge({
            status: status,
            reasonCode: uint16(head >> _REASON_SHIFT),
            maturity: pledge.maturity,
            lender: _lenderOf(head),
            property: pledge.property,
            institution: status == PledgeStatus.None ? bytes32(0) : _institutionOf(pledge, head),
            amount: _amountOf(pledge, head)
        });
    }

    /// @inheritdoc IPledgeRegistry
    function rankOf(bytes32 pledgeId) external view returns (uint256 rank) {
        PledgeRecord storage pledge = _pledges[pledgeId];
        if (_pledgeStatusOf(pledge.head) != PledgeStatus.Active) return 0;
        bytes32 property = pledge.property;
        uint256[4] storage ranks = _ranks[property];
        while (_pledgeId(property, _sequenceAt(ranks[rank >> 2], rank)) != pledgeId) ++rank;
        return rank + 1;
    }

    /// @inheritdoc IPledgeRegistry
    function activePledges(bytes32 property) public view returns (bytes32[] memory ids) {
        uint256[4] storage ranks = _ranks[property];
        ids = new bytes32[](_activeOf(_properties[property].head));
        for (uint256 i; i < ids.length; ++i) {
            ids[i] = _pledgeId(property, _sequenceAt(ranks[i >> 2], i));
        }
    }

    /// @inheritdoc IPledgeRegistry
    function headroom(bytes32 property) external view returns (uint256) {
        PropertyRecord storage stored = _properties[property];
        return _headroom(stored, stored.head);
    }

    /// @inheritdoc IPledgeRegistry
    function titleOf(bytes32 property) external view returns (Title memory title) {
        PropertyRecord storage stored = _properties[property];
        bytes32[] memory ids = activePledges(property);
        title.property = getProperty(property);
        title.headroom = _headroom(stored, stored.head);
        title.pledges = new RankedPledge[](ids.length);
        for (uint256 i; i < ids.length; ++i) {
            title.pledges[i] = RankedPledge({pledgeId: ids[i], rank: i + 1, pledge: getPledge(ids[i])});
        }
    }

    /// @inheritdoc IPledgeRegistry
    function defaultMaxLtvBps() external view returns (uint16) {
        return _defaultMaxLtvBps;
    }

    /// @dev The registered property `property` and its head, or a {PropertyNotFound} revert.
    function _existing(bytes32 property) private view returns (PropertyRecord storage stored, uint256 head) {
        stored = _properties[property];
        head = stored.head;
        if (_statusOf(head) == PropertyStatus.None) revert PropertyNotFound(property);
    }

    /// @dev The pending pledge `pledgeId`, its head and its property, or a revert saying why it is
    /// not pending.
    function _pending(bytes32 pledgeId)
        private
        view
        returns (PledgeRecord storage pledge, uint256 head, bytes32 property)
    {
        pledge = _pledges[pledgeId];
        head = pledge.head;
        PledgeStatus status = _pledgeStatusOf(head);
        if (status == PledgeStatus.None) revert PledgeNotFound(pledgeId);
        if (status != PledgeStatus.Pending) revert PledgeNotPending(pledgeId, status);
        property = pledge.property;
    }

    /// @dev The approval rules for a pledge of `amount`, in the order their codes are reported: 0
    /// when all pass. Also returns the headroom they were judged against.
    function _check(PropertyRecord storage stored, uint256 propertyHead, uint256 amount)
        private
        view
        returns (uint16 reasonCode, uint256 room)
    {
        room = _headroom(stored, propertyHead);
        if (_statusOf(propertyHead) == PropertyStatus.Seized) return (REASON_PROPERTY_SEIZED, room);
        if (amount > room) return (REASON_EXCEEDS_HEADROOM, room);
        if (_activeOf(propertyHead) >= MAX_ACTIVE_PLEDGES) return (REASON_TOO_MANY_ACTIVE_PLEDGES, room);
        return (0, room);
    }

    /// @dev Stores the caller's pending application `sequence` on `property`.
    function _storePledge(
        PledgeRecord storage pledge,
        bytes32 property,
        bytes32 institution,
        uint256 amount,
        uint64 maturity,
        uint64 sequence
    ) private {
        uint256 head = uint256(PledgeStatus.Pending) | (uint256(uint160(msg.sender)) << _LENDER_SHIFT)
            | ((sequence < _WIDE_SEQUENCE ? sequence : _WIDE_SEQUENCE) << _SEQUENCE_SHIFT);
        if (institution == bytes32(uint256(uint160(msg.sender)))) head |= _OWN_INSTITUTION;
        else pledge.institution = institution;
        if (amount < _WIDE_PLEDGE) {
            head |= amount << _AMOUNT_SHIFT;
        } else {
            head |= _WIDE_PLEDGE << _AMOUNT_SHIFT;
            pledge.wideAmount = amount;
        }
        pledge.head = head;
        pledge.property = property;
        pledge.maturity = maturity;
        pledge.sequence = sequence;
    }

    /// @dev Activates the pledge, which the rules accepted against the headroom `room`, as the most
    /// junior one. Emits {PledgeApproved}.
    function _approve(
        bytes32 pledgeId,
        PledgeRecord storage pledge,
        uint256 head,
        PropertyRecord storage stored,
        uint256 propertyHead,
        uint256 amount,
        uint256 room
    ) private {
        bytes32 property = pledge.property;
        uint256 active = _activeOf(propertyHead);
        _appendRank(property, active, _sequenceOf(pledge, head));
        uint256 secured = _securedOf(stored, propertyHead) + amount;
        unchecked {
            ++active; // at most MAX_ACTIVE_PLEDGES, checked by the rules
        }
        propertyHead = _withSecured(stored, _withActive(propertyHead, active), secured);
        stored.head = propertyHead;
        pledge.head = _withPledgeStatus(head, PledgeStatus.Active);
        // The rules found the property Normal and amount <= room = cap - secured: what is left is
        // room - amount.
        unchecked {
            room -= amount;
        }
        emit PledgeApproved(pledgeId, property, msg.sender, active, amount, secured, room);
    }

    /// @dev Records the rejection. Emits {PledgeRejected}.
    function _reject(
        bytes32 pledgeId,
        PledgeRecord storage pledge,
        uint256 head,
        bytes32 property,
        uint16 reasonCode,
        uint256 amount,
        uint256 room
    ) private {
        pledge.head = _withPledgeStatus(head, PledgeStatus.Rejected) | (uint256(reasonCode) << _REASON_SHIFT);
        emit PledgeRejected(
            pledgeId, property, _institutionOf(pledge, head), _lenderOf(head), reasonCode, amount, room, msg.sender
        );
    }

    /// @dev Puts the application `sequence` at `index` of the ranks of `property` (its last rank).
    function _appendRank(bytes32 property, uint256 index, uint64 sequence) private {
        _ranks[property][index >> 2] |= uint256(sequence) << ((index & 3) << 6);
    }

    /// @dev Removes the active pledge `pledgeId` from the `count` ranks of `property`, moving its
    /// juniors up; returns the rank it held. The caller knows it is there (an Active pledge is
    /// ranked).
    function _removeRank(bytes32 property, bytes32 pledgeId, uint256 count) private returns (uint256 rank) {
        uint256[4] storage ranks = _ranks[property];
        uint256 index = 0;
        uint256 word = ranks[0];
        while (_pledgeId(property, _sequenceAt(word, index)) != pledgeId) {
            unchecked {
                ++index;
            }
            if (index & 3 == 0) word = ranks[index >> 2];
        }
        // Each word from the pledge's on shifts down one entry and takes the next word's first
        // entry as its last; in the pledge's own word the entries before it stay. Words after the
        // last entry's are not read: entries from `count` on are zero.
        unchecked {
            uint256 last = (count - 1) >> 2;
            uint256 kept = (uint256(1) << ((index & 3) << 6)) - 1;
            for (uint256 k = index >> 2; k <= last; ++k) {
                uint256 next = k < last ? ranks[k + 1] : 0;
                ranks[k] = (word & kept) | (((word >> 64) | (next << 192)) & ~kept);
                kept = 0;
                word = next;
            }
            return index + 1;
        }
    }

    /// @dev The application sequence at `index` of the ranks, in `word` (the word holding it).
    function _sequenceAt(uint256 word, uint256 index) private pure returns (uint64) {
        return uint64(word >> ((index & 3) << 6));
    }

    /// @dev The id of application `sequence` on `property` (see {applyForPledge}).
    function _pledgeId(bytes32 property, uint64 sequence) private pure returns (bytes32) {
        return keccak256(abi.encode(property, sequence));
    }

    /// @dev The pledgee institution of `pledge`, whose head is `head`.
    function _institutionOf(PledgeRecord storage pledge, uint256 head) private view returns (bytes32) {
        return head & _OWN_INSTITUTION != 0 ? bytes32(uint256(uint160(_lenderOf(head)))) : pledge.institution;
    }

    /// @dev The secured amount of `pledge`, whose head is `head`.
    function _amountOf(PledgeRecord storage pledge, uint256 head) private view returns (uint256 amount) {
        amount = head >> _AMOUNT_SHIFT;
        if (amount == _WIDE_PLEDGE) amount = pledge.wideAmount;
    }

    /// @dev The application sequence of `pledge`, whose head is `head`.
    function _sequenceOf(PledgeRecord storage pledge, uint256 head) private view returns (uint64) {
        uint256 sequence = uint24(head >> _SEQUENCE_SHIFT);
        return sequence == _WIDE_SEQUENCE ? pledge.sequence : uint64(sequence);
    }

    function _lenderOf(uint256 head) private pure returns (address) {
        return address(uint160(head >> _LENDER_SHIFT));
    }

    function _pledgeStatusOf(uint256 head) private pure returns (PledgeStatus) {
        return PledgeStatus(uint8(head) & 0x7f);
    }

    /// @dev `head` with its status replaced.
    function _withPledgeStatus(uint256 head, PledgeStatus status) private pure returns (uint256) {
        return (head & ~uint256(0x7f)) | uint256(status);
    }

    function _statusOf(uint256 head) private pure returns (PropertyStatus) {
        return PropertyStatus(uint8(head));
    }

    function _withStatus(uint256 head, PropertyStatus status) private pure returns (uint256) {
        return (head & ~uint256(0xff)) | uint256(status);
    }

    function _activeOf(uint256 head) private pure returns (uint256) {
        return uint8(head >> _ACTIVE_SHIFT);
    }

    function _withActive(uint256 head, uint256 active) private pure returns (uint256) {
        return (head & ~(uint256(0xff) << _ACTIVE_SHIFT)) | (active << _ACTIVE_SHIFT);
    }

    function _appraisalOf(PropertyRecord storage stored, uint256 head) private view returns (uint256 value) {
        value = uint112(head >> _APPRAISAL_SHIFT);
        if (value == _WIDE) value = stored.wideAppraisedValue;
    }

    function _securedOf(PropertyRecord storage stored, uint256 head) private view returns (uint256 value) {
        value = head >> _SECURED_SHIFT;
        if (value == _WIDE) value = stored.wideSecuredAmount;
    }

    /// @dev `head` with the appraisal `value`, stored in its own slot when wide.
    function _withAppraisal(PropertyRecord storage stored, uint256 head, uint256 value) private returns (uint256) {
        if (value >= _WIDE) {
            stored.wideAppraisedValue = value;
            value = _WIDE;
        }
        return (head & ~(_WIDE << _APPRAISAL_SHIFT)) | (value << _APPRAISAL_SHIFT);
    }

    /// @dev `head` with the secured amount `value`, stored in its own slot when wide.
    function _withSecured(PropertyRecord storage stored, uint256 head, uint256 value) private returns (uint256) {
        if (value >= _WIDE) {
            stored.wideSecuredAmount = value;
            value = _WIDE;
        }
        return (head & ~(_WIDE << _SECURED_SHIFT)) | (value << _SECURED_SHIFT);
    }

    /// @dev Appraisal x LTV minus the active secured amounts, floored at 0; 0 unless Normal.
    function _headroom(PropertyRecord storage stored, uint256 head) private view returns (uint256) {
        if (_statusOf(head) != PropertyStatus.Normal) return 0;
        uint256 cap = (_appraisalOf(stored, head) * uint16(head >> _LTV_SHIFT)) / _BPS;
        uint256 secured = _securedOf(stored, head);
        return cap > secured ? cap - secured : 0;
    }
}
