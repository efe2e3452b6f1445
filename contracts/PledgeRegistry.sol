// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {MulticallUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/MulticallUpgradeable.sol";
import {ConsortiumAccess} from "./ConsortiumAccess.sol";
import {IPledgeRegistry} from "./IPledgeRegistry.sol";
import {AccessRecord} from "./libraries/AccessRecordLib.sol";
import {PledgeHead, PledgeHeadLib} from "./libraries/PledgeHeadLib.sol";
import {PropertyHead, PropertyHeadLib} from "./libraries/PropertyHeadLib.sol";
import {RankWord, RankWordLib} from "./libraries/RankWordLib.sol";

/// @title PledgeRegistry
/// @notice Properties and the pledges on them, with SPEC's rules enforced on chain: no approval on a
/// seized property or beyond appraised value x LTV; ranks in approval order, juniors moving up on
/// release; refused decisions recorded as events (see {IPledgeRegistry}).
contract PledgeRegistry is IPledgeRegistry, ConsortiumAccess, MulticallUpgradeable {
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

    /// @dev A property. `head` is what a decision, a release, an appraisal or a seizure reads and
    /// writes of it, in one word packed by hand ({PropertyHeadLib}): a cold read costs 2,100 gas,
    /// the floor of an operation counts only what it writes, and Solidity would copy a struct
    /// member by member. An amount too large for its field in the head (`PropertyHeadLib.WIDE`
    /// there) keeps its exact value in a `wide*` slot.
    struct PropertyRecord {
        PropertyHead head;
        uint16 keyVersion;
        bytes3 currency;
        uint64 applications;
        uint32 seizures;
        uint256 wideAppraisedValue;
        uint256 wideSecuredAmount;
    }

    /// @dev A pledge. `head` is what a decision or a release reads of it besides its property, in
    /// one word ({PledgeHeadLib}). The institution is stored only when it is not the lender's own;
    /// an amount too large for the head's field in `wideAmount`; the sequence, which an approval
    /// ranks by, in full in `sequence` and in the head too unless too large for its field.
    struct PledgeRecord {
        PledgeHead head;
        bytes32 property;
        uint64 maturity;
        uint64 sequence;
        bytes32 institution;
        uint256 wideAmount;
    }

    uint16 private _defaultMaxLtvBps;
    mapping(bytes32 property => PropertyRecord) private _properties;
    mapping(bytes32 pledgeId => PledgeRecord) private _pledges;
    /// @dev The active pledges of a property in rank order, by application sequence, four to a
    /// word ({RankWordLib}): a release rewrites the word(s) of its juniors, not one slot per junior.
    // Written through a storage reference to the property's words (in {_appendRank} and
    // {_removeRank}), which slither's uninitialized-state detector does not follow.
    // slither-disable-next-line uninitialized-state
    mapping(bytes32 property => RankWord[4]) private _ranks;
    /// @dev The seizures in force: the court (institution) that imposed each, by case.
    mapping(bytes32 property => mapping(bytes32 caseRef => bytes32 court)) private _seizures;

    /// @notice Sets up a proxy of the registry (called once, by the proxy's constructor).
    /// @param admin Account granted DEFAULT_ADMIN_ROLE.
    function initialize(address admin) public initializer {
        __ConsortiumAccess_init(admin);
        __Multicall_init();
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
        if (stored.head.status() != PropertyStatus.None) revert PropertyAlreadyRegistered(property);
        if (appraisedValue == 0) revert ZeroAmount();
        if (maxLtvBps > _BPS) revert MaxLtvOutOfRange(maxLtvBps);

        // The default is copied in, so a later policy change never moves an existing property's cap.
        uint16 ltvBps = maxLtvBps == 0 ? _defaultMaxLtvBps : maxLtvBps;
        stored.head = _withAppraisal(stored, PropertyHeadLib.registered(ltvBps), appraisedValue);
        stored.keyVersion = keyVersion;
        stored.currency = currency;
        emit PropertyRegistered(property, msg.sender, keyVersion, appraisedValue, currency, ltvBps);
    }

    /// @inheritdoc IPledgeRegistry
    function updateAppraisal(bytes32 property, uint256 appraisedValue) external onlyRole(REGISTRAR_ROLE) {
        (PropertyRecord storage stored, PropertyHead head) = _existing(property);
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
        (PledgeRecord storage pledge, PledgeHead head, bytes32 property) = _pending(pledgeId);
        PropertyRecord storage stored = _properties[property];
        PropertyHead propertyHead = stored.head;
        uint256 amount = _amountOf(pledge, head);
        (uint16 reasonCode, uint256 room) = _check(stored, propertyHead, amount);
        if (reasonCode == REASON_PROPERTY_SEIZED) revert PropertySeized(property, stored.seizures);
        if (reasonCode == REASON_EXCEEDS_HEADROOM) revert PledgeExceedsHeadroom(property, amount, room);
        if (reasonCode == REASON_TOO_MANY_ACTIVE_PLEDGES) revert TooManyActivePledges(property, MAX_ACTIVE_PLEDGES);
        _approve(pledgeId, pledge, head, stored, propertyHead, amount, room);
    }

    /// @inheritdoc IPledgeRegistry
    function decidePledge(bytes32 pledgeId) external onlyRole(REGISTRAR_ROLE) returns (uint16 reasonCode) {
        (PledgeRecord storage pledge, PledgeHead head, bytes32 property) = _pending(pledgeId);
        PropertyRecord storage stored = _properties[property];
        PropertyHead propertyHead = stored.head;
        uint256 amount = _amountOf(pledge, head);
        uint256 room;
        (reasonCode, room) = _check(stored, propertyHead, amount);
        if (reasonCode == 0) _approve(pledgeId, pledge, head, stored, propertyHead, amount, room);
        else _reject(pledgeId, pledge, head, property, reasonCode, amount, room);
    }

    /// @inheritdoc IPledgeRegistry
    function rejectPledge(bytes32 pledgeId, uint16 reasonCode) external onlyRole(REGISTRAR_ROLE) {
        (PledgeRecord storage pledge, PledgeHead head, bytes32 property) = _pending(pledgeId);
        if (reasonCode < MIN_CLERK_REASON) revert ReasonCodeReserved(reasonCode);
        PropertyRecord storage stored = _properties[property];
        uint256 room = _headroom(stored, stored.head);
        _reject(pledgeId, pledge, head, property, reasonCode, _amountOf(pledge, head), room);
    }

    /// @inheritdoc IPledgeRegistry
    function releasePledge(bytes32 pledgeId) external {
        // Two roles qualify: the caller's record, read once, answers for both and for its institution.
        AccessRecord record = _recordOf(msg.sender);
        bool registrar = _holds(record, REGISTRAR_ROLE);
        if (!registrar && !_holds(record, LENDER_ROLE)) {
            revert AccessControlUnauthorizedAccount(msg.sender, LENDER_ROLE);
        }
        PledgeRecord storage pledge = _pledges[pledgeId];
        PledgeHead head = pledge.head;
        PledgeStatus status = head.status();
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
        PropertyHead propertyHead = stored.head;
        uint256 active = propertyHead.active();
        uint256 rank = _removeRank(property, pledgeId, active);
        uint256 amount = _amountOf(pledge, head);
        uint256 secured = _securedOf(stored, propertyHead) - amount;
        unchecked {
            propertyHead = propertyHead.withActive(active - 1);
        }
        propertyHead = _withSecured(stored, propertyHead, secured);
        stored.head = propertyHead;
        pledge.head = head.withStatus(PledgeStatus.Released);
        emit PledgeReleased(pledgeId, property, msg.sender, rank, amount, secured, _headroom(stored, propertyHead));
    }

    /// @inheritdoc IPledgeRegistry
    function seize(bytes32 property, bytes32 caseRef) external onlyRole(ENFORCER_ROLE) {
        (PropertyRecord storage stored, PropertyHead head) = _existing(property);
        if (caseRef == bytes32(0)) revert MissingCaseRef();
        mapping(bytes32 => bytes32) storage seizures = _seizures[property];
        if (seizures[caseRef] != bytes32(0)) revert SeizureAlreadyImposed(property, caseRef);

        bytes32 court = institutionOf(msg.sender);
        seizures[caseRef] = court;
        uint32 count = stored.seizures + 1;
        stored.seizures = count;
        if (count == 1) stored.head = head.withStatus(PropertyStatus.Seized);
        emit SeizureImposed(property, caseRef, msg.sender, court, count);
    }

    /// @inheritdoc IPledgeRegistry
    function unseize(bytes32 property, bytes32 caseRef) external {
        // Two roles qualify: the caller's record, read once, answers for both and for its institution.
        AccessRecord record = _recordOf(msg.sender);
        bool admin = _holds(record, DEFAULT_ADMIN_ROLE);
        if (!admin && !_holds(record, ENFORCER_ROLE)) revert AccessControlUnauthorizedAccount(msg.sender, ENFORCER_ROLE);
        (PropertyRecord storage stored, PropertyHead head) = _existing(property);
        mapping(bytes32 => bytes32) storage seizures = _seizures[property];
        bytes32 court = seizures[caseRef];
        if (court == bytes32(0)) revert SeizureNotFound(property, caseRef);
        if (!admin && _institutionIn(record, msg.sender) != court) revert SeizureNotLiftable(property, caseRef, court);

        delete seizures[caseRef];
        uint32 count = stored.seizures - 1; // at least this seizure was counted
        stored.seizures = count;
        if (count == 0) stored.head = head.withStatus(PropertyStatus.Normal);
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
        PropertyHead head = stored.head;
        return Property({
            status: head.status(),
            keyVersion: stored.keyVersion,
            maxLtvBps: head.maxLtvBps(),
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
        PledgeHead head = pledge.head;
        PledgeStatus status = head.status();
        return Pledge({
            status: status,
            reasonCode: head.reasonCode(),
            maturity: pledge.maturity,
            lender: head.lender(),
            property: pledge.property,
            institution: status == PledgeStatus.None ? bytes32(0) : _institutionOf(pledge, head),
            amount: _amountOf(pledge, head)
        });
    }

    /// @inheritdoc IPledgeRegistry
    function rankOf(bytes32 pledgeId) external view returns (uint256 rank) {
        PledgeRecord storage pledge = _pledges[pledgeId];
        if (pledge.head.status() != PledgeStatus.Active) return 0;
        bytes32 property = pledge.property;
        RankWord[4] storage ranks = _ranks[property];
        while (_pledgeId(property, ranks[RankWordLib.wordOf(rank)].sequenceAt(rank)) != pledgeId) ++rank;
        return rank + 1;
    }

    /// @inheritdoc IPledgeRegistry
    function activePledges(bytes32 property) public view returns (bytes32[] memory ids) {
        RankWord[4] storage ranks = _ranks[property];
        ids = new bytes32[](_properties[property].head.active());
        for (uint256 i; i < ids.length; ++i) {
            ids[i] = _pledgeId(property, ranks[RankWordLib.wordOf(i)].sequenceAt(i));
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
    function _existing(bytes32 property) private view returns (PropertyRecord storage stored, PropertyHead head) {
        stored = _properties[property];
        head = stored.head;
        if (head.status() == PropertyStatus.None) revert PropertyNotFound(property);
    }

    /// @dev The pending pledge `pledgeId`, its head and its property, or a revert saying why it is
    /// not pending.
    function _pending(bytes32 pledgeId)
        private
        view
        returns (PledgeRecord storage pledge, PledgeHead head, bytes32 property)
    {
        pledge = _pledges[pledgeId];
        head = pledge.head;
        PledgeStatus status = head.status();
        if (status == PledgeStatus.None) revert PledgeNotFound(pledgeId);
        if (status != PledgeStatus.Pending) revert PledgeNotPending(pledgeId, status);
        property = pledge.property;
    }

    /// @dev The approval rules for a pledge of `amount`, in the order their codes are reported: 0
    /// when all pass. Also returns the headroom they were judged against.
    function _check(PropertyRecord storage stored, PropertyHead propertyHead, uint256 amount)
        private
        view
        returns (uint16 reasonCode, uint256 room)
    {
        room = _headroom(stored, propertyHead);
        if (propertyHead.status() == PropertyStatus.Seized) return (REASON_PROPERTY_SEIZED, room);
        if (amount > room) return (REASON_EXCEEDS_HEADROOM, room);
        if (propertyHead.active() >= MAX_ACTIVE_PLEDGES) return (REASON_TOO_MANY_ACTIVE_PLEDGES, room);
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
        PledgeHead head = PledgeHeadLib.pending(msg.sender, sequence, amount);
        if (institution == bytes32(uint256(uint160(msg.sender)))) head = head.withOwnInstitution();
        else pledge.institution = institution;
        if (amount >= PledgeHeadLib.WIDE_AMOUNT) pledge.wideAmount = amount;
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
        PledgeHead head,
        PropertyRecord storage stored,
        PropertyHead propertyHead,
        uint256 amount,
        uint256 room
    ) private {
        bytes32 property = pledge.property;
        uint256 active = propertyHead.active();
        _appendRank(property, active, _sequenceOf(pledge, head));
        uint256 secured = _securedOf(stored, propertyHead) + amount;
        unchecked {
            ++active; // at most MAX_ACTIVE_PLEDGES, checked by the rules
        }
        propertyHead = _withSecured(stored, propertyHead.withActive(active), secured);
        stored.head = propertyHead;
        pledge.head = head.withStatus(PledgeStatus.Active);
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
        PledgeHead head,
        bytes32 property,
        uint16 reasonCode,
        uint256 amount,
        uint256 room
    ) private {
        pledge.head = head.rejected(reasonCode);
        emit PledgeRejected(
            pledgeId, property, _institutionOf(pledge, head), head.lender(), reasonCode, amount, room, msg.sender
        );
    }

    /// @dev Puts the application `sequence` at `index` of the ranks of `property` (its last rank).
    function _appendRank(bytes32 property, uint256 index, uint64 sequence) private {
        RankWord[4] storage ranks = _ranks[property];
        uint256 word = RankWordLib.wordOf(index);
        ranks[word] = ranks[word].withEntry(index, sequence);
    }

    /// @dev Removes the active pledge `pledgeId` from the `count` ranks of `property`, moving its
    /// juniors up; returns the rank it held. The caller knows it is there (an Active pledge is
    /// ranked).
    function _removeRank(bytes32 property, bytes32 pledgeId, uint256 count) private returns (uint256 rank) {
        RankWord[4] storage ranks = _ranks[property];
        uint256 index = 0;
        RankWord word = ranks[0];
        while (_pledgeId(property, word.sequenceAt(index)) != pledgeId) {
            unchecked {
                ++index;
            }
            if (RankWordLib.startsWord(index)) word = ranks[RankWordLib.wordOf(index)];
        }
        // Each word from the pledge's on moves down one entry and takes the next word's first
        // entry as its last; in the pledge's own word the entries before it stay. Words after the
        // last entry's are not read: entries from `count` on are zero.
        unchecked {
            uint256 last = RankWordLib.wordOf(count - 1);
            uint256 from = index;
            for (uint256 k = RankWordLib.wordOf(index); k <= last; ++k) {
                RankWord next = k < last ? ranks[k + 1] : RankWord.wrap(0);
                ranks[k] = word.movedDownFrom(from, next);
                from = 0;
                word = next;
            }
            return index + 1;
        }
    }

    /// @dev The id of application `sequence` on `property` (see {applyForPledge}).
    function _pledgeId(bytes32 property, uint64 sequence) private pure returns (bytes32) {
        return keccak256(abi.encode(property, sequence));
    }

    /// @dev The pledgee institution of `pledge`, whose head is `head`.
    function _institutionOf(PledgeRecord storage pledge, PledgeHead head) private view returns (bytes32) {
        return head.isOwnInstitution() ? bytes32(uint256(uint160(head.lender()))) : pledge.institution;
    }

    /// @dev The secured amount of `pledge`, whose head is `head`.
    function _amountOf(PledgeRecord storage pledge, PledgeHead head) private view returns (uint256 amount) {
        amount = head.amount();
        if (amount == PledgeHeadLib.WIDE_AMOUNT) amount = pledge.wideAmount;
    }

    /// @dev The application sequence of `pledge`, whose head is `head`.
    function _sequenceOf(PledgeRecord storage pledge, PledgeHead head) private view returns (uint64) {
        uint256 sequence = head.sequence();
        return sequence == PledgeHeadLib.WIDE_SEQUENCE ? pledge.sequence : uint64(sequence);
    }

    function _appraisalOf(PropertyRecord storage stored, PropertyHead head) private view returns (uint256 value) {
        value = head.appraisal();
        if (value == PropertyHeadLib.WIDE) value = stored.wideAppraisedValue;
    }

    function _securedOf(PropertyRecord storage stored, PropertyHead head) private view returns (uint256 value) {
        value = head.secured();
        if (value == PropertyHeadLib.WIDE) value = stored.wideSecuredAmount;
    }

    /// @dev `head` with the appraisal `value`, stored in its own slot when wide.
    function _withAppraisal(PropertyRecord storage stored, PropertyHead head, uint256 value)
        private
        returns (PropertyHead)
    {
        if (value >= PropertyHeadLib.WIDE) {
            stored.wideAppraisedValue = value;
            value = PropertyHeadLib.WIDE;
        }
        return head.withAppraisal(value);
    }

    /// @dev `head` with the secured amount `value`, stored in its own slot when wide.
    function _withSecured(PropertyRecord storage stored, PropertyHead head, uint256 value)
        private
        returns (PropertyHead)
    {
        if (value >= PropertyHeadLib.WIDE) {
            stored.wideSecuredAmount = value;
            value = PropertyHeadLib.WIDE;
        }
        return head.withSecured(value);
    }

    /// @dev Appraisal x LTV minus the active secured amounts, floored at 0; 0 unless Normal.
    function _headroom(PropertyRecord storage stored, PropertyHead head) private view returns (uint256) {
        if (head.status() != PropertyStatus.Normal) return 0;
        uint256 cap = (_appraisalOf(stored, head) * head.maxLtvBps()) / _BPS;
        uint256 secured = _securedOf(stored, head);
        return cap > secured ? cap - secured : 0;
    }
}
