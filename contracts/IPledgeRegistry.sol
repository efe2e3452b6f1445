// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Property pledge (mortgage) registry
/// @notice Properties registered by the registration center, and the pledges banks hold on them: a
/// bank applies, a registrar approves or rejects with a reason code, the pledgee bank (or a registrar)
/// releases, an enforcer seizes and unseizes. Properties are identified only by keyed fingerprints.
///
/// Rank: pledges on a property rank in approval order among the *active* ones; rank 1 is paid first.
/// When a pledge is released, every junior moves up one rank, so the ranks of a property are always
/// 1..n without gaps. (Land registries differ on this; moving up is what SPEC asks and what a bank
/// reading a title expects: a rank number means "n-1 claims come before mine".)
///
/// Recorded refusals: a reverted transaction leaves no log, and most nodes do not even keep it, so a
/// refusal that only reverts is invisible to an auditor replaying the chain. The application itself
/// is therefore a transaction of its own ({applyForPledge}), and its decision is a second one that
/// records the outcome either way: {decidePledge} (for the automated registrar account, "zero human
/// intervention") approves when every rule passes and otherwise *stores* a rejection with a machine
/// reason code and emits {PledgeRejected}, naming the property, the bank and the reason. A clerk
/// rejects by hand with {rejectPledge} (same event, clerk reason codes). {approvePledge} keeps the
/// reverting path for callers who want atomicity, e.g. apply-and-approve inside one multicall.
///
/// Seizures: several courts may seize the same property, each under its own case; the property is
/// Seized while any seizure is in force. A seizure is lifted by the court (institution) that imposed
/// it, or by the consortium admin, never by another court: case references are public.
///
/// Reason codes (constants of PledgeRegistry): 1 the property is seized, 2 the amount exceeds the
/// headroom, 3 the property has the maximum number of active pledges; these are set only by
/// {decidePledge}, after the contract checked the rule. 100 and above are clerk codes, whose meaning
/// the registration center publishes.
interface IPledgeRegistry {
    /// @notice A property's status. `None`: not registered.
    enum PropertyStatus {
        None,
        Normal,
        Seized
    }

    /// @notice A pledge's lifecycle: Pending -> Active -> Released, or Pending -> Rejected.
    enum PledgeStatus {
        None,
        Pending,
        Active,
        Rejected,
        Released
    }

    /// @notice A property as stored.
    /// @param status None when unknown.
    /// @param keyVersion Fingerprint key version of the property's fingerprint.
    /// @param maxLtvBps Maximum loan-to-value, basis points, fixed at registration.
    /// @param currency ISO 4217 code of the appraisal, ASCII; pledges are in the same currency.
    /// @param applications Number of pledge applications made on the property so far.
    /// @param appraisedValue Appraised value in minor units of `currency`.
    /// @param securedAmount Sum of the amounts of the active pledges.
    /// @param seizures Seizures in force (the property is Seized while there are any).
    struct Property {
        PropertyStatus status;
        uint16 keyVersion;
        uint16 maxLtvBps;
        bytes3 currency;
        uint64 applications;
        uint256 appraisedValue;
        uint256 securedAmount;
        uint256 seizures;
    }

    /// @notice A pledge as stored. Its currency is the property's (checked at application).
    /// @param status None when unknown.
    /// @param reasonCode Why it was rejected (see the REASON_* constants), zero otherwise.
    /// @param maturity Maturity of the secured loan, unix seconds.
    /// @param lender Account that applied.
    /// @param property Fingerprint of the pledged property.
    /// @param institution The pledgee bank: the institution `lender` acted for when applying.
    /// @param amount Secured amount, minor units of the property's currency.
    struct Pledge {
        PledgeStatus status;
        uint16 reasonCode;
        uint64 maturity;
        address lender;
        bytes32 property;
        bytes32 institution;
        uint256 amount;
    }

    /// @notice An active pledge with its id and current rank, as listed on a title.
    /// @param pledgeId The pledge's id.
    /// @param rank 1 for the most senior active pledge.
    /// @param pledge The pledge.
    struct RankedPledge {
        bytes32 pledgeId;
        uint256 rank;
        Pledge pledge;
    }

    /// @notice Everything a title verification needs, in one call.
    /// @param property The property (status, seizures in force, appraisal, LTV, secured total).
    /// @param headroom What a new pledge could be approved for now (see {headroom}).
    /// @param pledges The active pledges in rank order.
    struct Title {
        Property property;
        uint256 headroom;
        RankedPledge[] pledges;
    }

    /// @notice The property `property` is already registered.
    error PropertyAlreadyRegistered(bytes32 property);
    /// @notice No property `property` is registered.
    error PropertyNotFound(bytes32 property);
    /// @notice The property is seized (`seizures` seizures in force); it takes no new pledge.
    error PropertySeized(bytes32 property, uint256 seizures);
    /// @notice The property is already seized under case `caseRef`.
    error SeizureAlreadyImposed(bytes32 property, bytes32 caseRef);
    /// @notice No seizure under case `caseRef` is in force on the property.
    error SeizureNotFound(bytes32 property, bytes32 caseRef);
    /// @notice The seizure under `caseRef` was imposed by `court`; only that court or the admin
    /// lifts it.
    error SeizureNotLiftable(bytes32 property, bytes32 caseRef, bytes32 court);
    /// @notice A seizure must name its enforcement case.
    error MissingCaseRef();
    /// @notice Amounts and appraised values must be positive.
    error ZeroAmount();
    /// @notice A loan-to-value is 1..10000 basis points (0 at registration means the default).
    error MaxLtvOutOfRange(uint256 maxLtvBps);
    /// @notice The pledge is in `currency`; the property is appraised in `propertyCurrency`.
    error PledgeCurrencyMismatch(bytes32 property, bytes3 propertyCurrency, bytes3 currency);
    /// @notice The maturity `maturity` is not after the current block's timestamp.
    error MaturityNotInFuture(uint64 maturity);
    /// @notice No pledge `pledgeId` exists.
    error PledgeNotFound(bytes32 pledgeId);
    /// @notice The pledge is `status`, not Pending: it was already decided.
    error PledgeNotPending(bytes32 pledgeId, PledgeStatus status);
    /// @notice The pledge is `status`, not Active: there is nothing to release.
    error PledgeNotActive(bytes32 pledgeId, PledgeStatus status);
    /// @notice Approving `amount` would exceed the property's `headroom` (appraisal x LTV - secured).
    error PledgeExceedsHeadroom(bytes32 property, uint256 amount, uint256 headroom);
    /// @notice The property already has `max` active pledges.
    error TooManyActivePledges(bytes32 property, uint256 max);
    /// @notice `account` is neither a registrar nor an account of the pledgee institution `pledgee`.
    error ReleaseNotAuthorized(bytes32 pledgeId, address account, bytes32 pledgee);
    /// @notice Reason codes below 100 are reserved for rules the contract itself checked.
    error ReasonCodeReserved(uint16 reasonCode);

    /// @notice A registrar registered a property.
    /// @param property Fingerprint of the property (region and title certificate number).
    /// @param registrar Account that registered it.
    /// @param keyVersion Fingerprint key version of `property`.
    /// @param appraisedValue Appraised value in minor units of `currency`.
    /// @param currency ISO 4217 code.
    /// @param maxLtvBps Maximum loan-to-value applied to it (the default when 0 was given).
    event PropertyRegistered(
        bytes32 indexed property,
        address indexed registrar,
        uint16 keyVersion,
        uint256 appraisedValue,
        bytes3 currency,
        uint16 maxLtvBps
    );

    /// @notice A registrar set a new appraisal; existing pledges are untouched.
    /// @param property The property.
    /// @param registrar Account that set it.
    /// @param appraisedValue The new appraised value.
    /// @param headroom The property's headroom under the new appraisal.
    event AppraisalUpdated(
        bytes32 indexed property, address indexed registrar, uint256 appraisedValue, uint256 headroom
    );

    /// @notice A bank applied for a pledge; it is Pending until a registrar decides.
    /// @param pledgeId The pledge's id, keccak256(abi.encode(property, sequence)).
    /// @param property The property.
    /// @param lender Account that applied.
    /// @param institution The institution `lender` acts for: the pledgee bank.
    /// @param sequence The application's number on this property, from 1.
    /// @param amount Amount to secure.
    /// @param currency ISO 4217 code (the property's).
    /// @param maturity Maturity of the secured loan, unix seconds.
    event PledgeApplied(
        bytes32 indexed pledgeId,
        bytes32 indexed property,
        address indexed lender,
        bytes32 institution,
        uint64 sequence,
        uint256 amount,
        bytes3 currency,
        uint64 maturity
    );

    /// @notice A registrar approved a pledge; it is Active at `rank`, the most junior.
    /// @param pledgeId The pledge.
    /// @param property The property.
    /// @param registrar Account that approved it.
    /// @param rank Its rank: the number of active pledges on the property, itself included.
    /// @param amount The secured amount.
    /// @param securedAmount The property's new total of active secured amounts.
    /// @param headroom The property's headroom after the approval.
    event PledgeApproved(
        bytes32 indexed pledgeId,
        bytes32 indexed property,
        address indexed registrar,
        uint256 rank,
        uint256 amount,
        uint256 securedAmount,
        uint256 headroom
    );

    /// @notice A pledge application was refused: by a rule ({decidePledge}) or by a clerk
    /// ({rejectPledge}). This is the on-chain record of the refused attempt.
    /// @param pledgeId The pledge.
    /// @param property The property (the document).
    /// @param institution The bank that applied.
    /// @param lender The account that applied.
    /// @param reasonCode Why (see the REASON_* constants; 100 and above: clerk codes).
    /// @param amount The amount applied for.
    /// @param headroom The property's headroom when it was refused.
    /// @param registrar The account that recorded the refusal.
    event PledgeRejected(
        bytes32 indexed pledgeId,
        bytes32 indexed property,
        bytes32 indexed institution,
        address lender,
        uint16 reasonCode,
        uint256 amount,
        uint256 headroom,
        address registrar
    );

    /// @notice A pledge was released; each active pledge ranked below `rank` moves up one.
    /// @param pledgeId The pledge.
    /// @param property The property.
    /// @param releasedBy The pledgee's account or the registrar that released it.
    /// @param rank The rank the pledge held until now.
    /// @param amount The amount it secured.
    /// @param securedAmount The property's new total of active secured amounts.
    /// @param headroom The property's headroom after the release.
    event PledgeReleased(
        bytes32 indexed pledgeId,
        bytes32 indexed property,
        address indexed releasedBy,
        uint256 rank,
        uint256 amount,
        uint256 securedAmount,
        uint256 headroom
    );

    /// @notice An enforcer seized the property under case `caseRef`.
    /// @param property The property.
    /// @param caseRef Reference of the enforcement case.
    /// @param enforcer Account that seized it.
    /// @param court The institution `enforcer` acts for: the court that may lift the seizure.
    /// @param seizures Seizures now in force on the property, this one included.
    event SeizureImposed(
        bytes32 indexed property, bytes32 indexed caseRef, address indexed enforcer, bytes32 court, uint256 seizures
    );

    /// @notice The seizure under case `caseRef` was lifted; the property is Normal again when no
    /// other seizure is left.
    /// @param property The property.
    /// @param caseRef Reference of the enforcement case.
    /// @param enforcer Account that lifted it: one of the seizing court's, or the admin.
    /// @param court The court that imposed it.
    /// @param seizures Seizures still in force on the property.
    event SeizureLifted(
        bytes32 indexed property, bytes32 indexed caseRef, address indexed enforcer, bytes32 court, uint256 seizures
    );

    /// @notice The admin set the maximum LTV for properties registered from now on without their own.
    /// @param maxLtvBps The new default, basis points.
    /// @param admin Account that set it.
    event DefaultMaxLtvSet(uint16 maxLtvBps, address indexed admin);

    /// @notice Registers property `property` with its appraisal and maximum LTV (0: the default).
    /// @dev Caller needs REGISTRAR_ROLE. Duplicates are refused by fingerprint; finding the same
    /// property under another key version is the off-chain lookup's job (it tries every active
    /// version). Emits a {PropertyRegistered} event.
    /// @param property Fingerprint of the property.
    /// @param keyVersion Fingerprint key version of `property`.
    /// @param appraisedValue Appraised value, minor units of `currency`.
    /// @param currency ISO 4217 code, ASCII.
    /// @param maxLtvBps Maximum loan-to-value in basis points, 0 for the current default.
    function registerProperty(
        bytes32 property,
        uint16 keyVersion,
        uint256 appraisedValue,
        bytes3 currency,
        uint16 maxLtvBps
    ) external;

    /// @notice Sets a new appraised value. Lowering it never touches existing pledges: new approvals
    /// wait until releases bring the secured total under the new cap.
    /// @dev Caller needs REGISTRAR_ROLE. Emits an {AppraisalUpdated} event.
    /// @param property The property.
    /// @param appraisedValue The new appraised value, minor units of the property's currency.
    function updateAppraisal(bytes32 property, uint256 appraisedValue) external;

    /// @notice Applies, for the caller's institution, for a pledge on `property`. The application is
    /// accepted whatever the headroom or seizure: those are checked at the decision, so that a refused
    /// attempt is recorded.
    /// @dev Caller needs LENDER_ROLE. Emits a {PledgeApplied} event.
    /// @param property The property.
    /// @param amount Amount to secure, minor units of `currency`.
    /// @param currency Must be the property's currency.
    /// @param maturity Maturity of the secured loan, unix seconds, in the future.
    /// @return pledgeId keccak256(abi.encode(property, sequence)), sequence counting this property's
    /// applications from 1: unique and reproducible from the {PledgeApplied} event.
    function applyForPledge(bytes32 property, uint256 amount, bytes3 currency, uint64 maturity)
        external
        returns (bytes32 pledgeId);

    /// @notice Approves a pending pledge, or reverts when a rule refuses it (nothing is recorded).
    /// @dev Caller needs REGISTRAR_ROLE. The rules are checked in reason-code order and the first that
    /// fails reverts: {PropertySeized}, {PledgeExceedsHeadroom}, {TooManyActivePledges}. Emits a
    /// {PledgeApproved} event.
    /// @param pledgeId The pending pledge.
    function approvePledge(bytes32 pledgeId) external;

    /// @notice Decides a pending pledge by the rules alone: approves it when every rule passes,
    /// otherwise records its rejection with the machine reason code instead of reverting.
    /// @dev Caller needs REGISTRAR_ROLE (meant for the automated registrar account). Emits a
    /// {PledgeApproved} or a {PledgeRejected} event.
    /// @param pledgeId The pending pledge.
    /// @return reasonCode 0 when approved, else the REASON_* code of the rejection.
    function decidePledge(bytes32 pledgeId) external returns (uint16 reasonCode);

    /// @notice Rejects a pending pledge by hand with a clerk's reason code (100 or above).
    /// @dev Caller needs REGISTRAR_ROLE. Emits a {PledgeRejected} event.
    /// @param pledgeId The pending pledge.
    /// @param reasonCode The clerk's reason code, at least 100.
    function rejectPledge(bytes32 pledgeId, uint16 reasonCode) external;

    /// @notice Releases an active pledge; the juniors move up one rank.
    /// @dev Caller needs REGISTRAR_ROLE, or LENDER_ROLE on an account of the pledgee institution
    /// (any of its accounts, not only the one that applied). Emits a {PledgeReleased} event.
    /// @param pledgeId The active pledge.
    function releasePledge(bytes32 pledgeId) external;

    /// @notice Seizes (freezes) the property under enforcement case `caseRef`, for the caller's
    /// court: it takes no new pledge until every seizure on it is lifted; existing pledges stay.
    /// @dev Caller needs ENFORCER_ROLE. Other courts' seizures may be in force already, each under
    /// its own case. Emits a {SeizureImposed} event.
    /// @param property The property.
    /// @param caseRef Reference of the enforcement case, non-zero, not in force on the property.
    function seize(bytes32 property, bytes32 caseRef) external;

    /// @notice Lifts the seizure imposed under `caseRef`.
    /// @dev Caller needs ENFORCER_ROLE on an account of the court that imposed it, or
    /// DEFAULT_ADMIN_ROLE. Emits a {SeizureLifted} event.
    /// @param property The property.
    /// @param caseRef The case of a seizure in force on the property.
    function unseize(bytes32 property, bytes32 caseRef) external;

    /// @notice Sets the maximum LTV for properties registered from now on without their own.
    /// @dev Caller needs DEFAULT_ADMIN_ROLE. Emits a {DefaultMaxLtvSet} event.
    /// @param maxLtvBps Basis points, 1..10000.
    function setDefaultMaxLtv(uint16 maxLtvBps) external;

    /// @notice The property `property` (status None when unknown).
    /// @param property The property.
    /// @return The stored property.
    function getProperty(bytes32 property) external view returns (Property memory);

    /// @notice The court (institution) whose seizure under `caseRef` is in force on `property`, zero
    /// when none is.
    /// @param property The property.
    /// @param caseRef The enforcement case.
    /// @return court The seizing court.
    function seizureOf(bytes32 property, bytes32 caseRef) external view returns (bytes32 court);

    /// @notice The pledge `pledgeId` (status None when unknown).
    /// @param pledgeId The pledge.
    /// @return The stored pledge.
    function getPledge(bytes32 pledgeId) external view returns (Pledge memory);

    /// @notice The rank of an active pledge, 0 when it is not active.
    /// @param pledgeId The pledge.
    /// @return rank 1 for the most senior.
    function rankOf(bytes32 pledgeId) external view returns (uint256 rank);

    /// @notice The active pledges on `property`, in rank order (index 0 is rank 1).
    /// @param property The property.
    /// @return ids Their ids.
    function activePledges(bytes32 property) external view returns (bytes32[] memory ids);

    /// @notice What a new pledge on `property` could be approved for now: appraised value x max LTV
    /// minus the active secured amounts, floored at 0 (a lowered appraisal can leave it below the
    /// secured total). 0 for an unknown or seized property, since neither takes a pledge; the capacity
    /// of a seized property follows from {getProperty}.
    /// @param property The property.
    /// @return The headroom, minor units of the property's currency.
    function headroom(bytes32 property) external view returns (uint256);

    /// @notice Title verification in one call: the property, its headroom and its active pledges
    /// with rank.
    /// @param property The property.
    /// @return The title (status None and no pledges when unknown).
    function titleOf(bytes32 property) external view returns (Title memory);

    /// @notice The maximum LTV given to properties registered without their own, basis points.
    /// @return The default.
    function defaultMaxLtvBps() external view returns (uint16);
}
