// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Credit-information consent registry
/// @notice Enterprises (data subjects) grant banks access to their credit report by signing EIP-712
/// messages with their own key; anyone may relay them, so the enterprise needs no gas. A registrar
/// binds each enterprise's address to its USCC fingerprint first. The API operator anchors the
/// Merkle roots of its credit-report read log, so nobody can later alter or hide who read what.
/// @dev Typed data, domain {name: "CreditRegistryConsent", version: "1", chainId, verifyingContract}:
///
///     Consent(bytes32 enterprise,bytes32 granteeInstitution,bytes32 scope,uint64 expiry,uint256 nonce)
///     Revocation(bytes32 enterprise,bytes32 granteeInstitution,bytes32 scope,uint256 nonce)
///
/// The grantee is an institution id (see {ConsortiumAccess-institutionOf}), not an account: a bank
/// acts through several accounts, and one consent covers them all. A bank whose account was never
/// assigned an institution is the institution `bytes32(uint256(uint160(account)))`.
///
/// Nonces are unordered (a bitmap per enterprise, as in Permit2): each nonce is used once, by a grant
/// or a revocation, and messages to different grantees can be relayed in any order. Messages about
/// the same (enterprise, grantee, scope) are ordered, though: one is applied only if its nonce is
/// above that of the last one applied, under any binding, so a consent signed before a revocation
/// can never be relayed after it, not even once the enterprise is unbound and bound again (wallets
/// should number messages increasingly, e.g. by a counter or the time in milliseconds; a new key
/// after a rebinding continues above the last nonce applied, which {consentOf} shows). A revocation
/// needs no prior grant: it also cancels signed consents not yet relayed.
interface IConsentRegistry {
    /// @notice What an enterprise signs to grant a bank access to its credit report.
    /// @param enterprise The enterprise's USCC fingerprint, as bound by a registrar.
    /// @param granteeInstitution The bank (institution id) granted access.
    /// @param scope What the access is for (a purpose code, e.g. keccak256("CREDIT_REPORT")).
    /// @param expiry The consent is active while block.timestamp < expiry (unix seconds).
    /// @param nonce Unused number of the enterprise's (see the contract's notes on nonces).
    struct Consent {
        bytes32 enterprise;
        bytes32 granteeInstitution;
        bytes32 scope;
        uint64 expiry;
        uint256 nonce;
    }

    /// @notice What an enterprise signs to withdraw a consent (or to cancel one not yet relayed).
    struct Revocation {
        bytes32 enterprise;
        bytes32 granteeInstitution;
        bytes32 scope;
        uint256 nonce;
    }

    /// @notice The last message applied to an (enterprise, grantee, scope).
    enum ConsentStatus {
        None,
        Granted,
        Revoked
    }

    /// @notice A consent as stored, for (enterprise, granteeInstitution, scope).
    /// @param status Granted or Revoked by the last message applied; None if there was none.
    /// @param epoch Binding epoch the message was signed under; stale once the enterprise is rebound.
    /// @param expiry Expiry of the last grant (kept after a revocation, for the record).
    /// @param nonce Nonce of the last message applied.
    /// @param signer Account bound to the enterprise at `epoch`: who signed.
    struct ConsentRecord {
        ConsentStatus status;
        uint32 epoch;
        uint64 expiry;
        uint256 nonce;
        address signer;
    }

    /// @notice The binding of an enterprise fingerprint to an account.
    /// @param account Bound account (kept after unbinding, for the record).
    /// @param keyVersion Fingerprint key version of the enterprise fingerprint.
    /// @param epoch Count of bindings of this fingerprint so far; consents carry the epoch they were
    /// signed under and are active only while it is current.
    /// @param bound False after {unbindEnterprise}, until the next {bindEnterprise}.
    struct Binding {
        address account;
        uint16 keyVersion;
        uint32 epoch;
        bool bound;
    }

    /// @notice One anchored batch of the API's read log: entries `firstEntry`..`lastEntry` inclusive.
    struct ReadLogBatch {
        bytes32 merkleRoot;
        uint64 firstEntry;
        uint64 lastEntry;
    }

    /// @notice One credit-report read, as the API logs it; its Merkle leaf is
    /// `keccak256(bytes.concat(keccak256(abi.encode(entry))))` (see {hashReadLogEntry}).
    /// @param entryId Position in the log, from 1, without gaps.
    /// @param enterprise Fingerprint of the enterprise whose report was read.
    /// @param readerInstitution Institution of the reader.
    /// @param reader Account the reader authenticated as.
    /// @param scope Scope of the consent relied on (zero for an auditor's read, which needs none).
    /// @param readAt Unix seconds of the read.
    /// @param responseDigest SHA-256 of the report served.
    struct ReadLogEntry {
        uint64 entryId;
        bytes32 enterprise;
        bytes32 readerInstitution;
        address reader;
        bytes32 scope;
        uint64 readAt;
        bytes32 responseDigest;
    }

    /// @notice A binding needs a nonzero account, fingerprint and key version.
    error InvalidEnterpriseBinding(address account, bytes32 enterprise, uint16 keyVersion);
    /// @notice Enterprise `enterprise` is already bound, to `account`; unbind it first.
    error EnterpriseAlreadyBound(bytes32 enterprise, address account);
    /// @notice Account `account` is already bound, to enterprise `enterprise`.
    error AccountAlreadyBound(address account, bytes32 enterprise);
    /// @notice Enterprise `enterprise` is bound to no account.
    error EnterpriseNotBound(bytes32 enterprise);
    /// @notice The signature is not by `account`, the account bound to `enterprise`; `recovered` is
    /// who did sign (zero when `account` is a contract wallet that refused the signature).
    error InvalidEnterpriseSignature(bytes32 enterprise, address account, address recovered);
    /// @notice A consent names a nonzero grantee institution and scope.
    error InvalidConsentTerms(bytes32 granteeInstitution, bytes32 scope);
    /// @notice The consent expires at `expiry`, not after the block's `timestamp`.
    error ConsentAlreadyExpired(uint64 expiry, uint256 timestamp);
    /// @notice Nonce `nonce` of `enterprise` was used already: the message was relayed before.
    error ConsentNonceUsed(bytes32 enterprise, uint256 nonce);
    /// @notice A message with nonce `latestNonce` >= `nonce` was applied to this (enterprise, grantee,
    /// scope), under this binding or an earlier one: this one was signed earlier and is void.
    error ConsentSuperseded(
        bytes32 enterprise, bytes32 granteeInstitution, bytes32 scope, uint256 nonce, uint256 latestNonce
    );
    /// @notice A batch must start at `expectedFirst` (right after the last anchored entry), end at or
    /// after its first entry, and hold at most MAX_READ_LOG_BATCH entries.
    error ReadLogRangeInvalid(uint64 expectedFirst, uint64 first, uint64 last);
    /// @notice A read-log batch needs a nonzero Merkle root.
    error ReadLogRootZero();
    /// @notice No batch `batchIndex`; `batchCount` batches were anchored.
    error ReadLogBatchNotFound(uint256 batchIndex, uint256 batchCount);

    /// @notice A registrar bound `enterprise` (fingerprint under key `keyVersion`) to `account`;
    /// consents signed under earlier epochs are no longer active.
    /// @param enterprise USCC fingerprint.
    /// @param account Account whose signatures now speak for the enterprise.
    /// @param keyVersion Fingerprint key version of `enterprise`.
    /// @param epoch The binding's epoch (1 for the first binding of this fingerprint).
    /// @param registrar Registrar who bound it.
    event EnterpriseBound(
        bytes32 indexed enterprise, address indexed account, uint16 keyVersion, uint32 epoch, address indexed registrar
    );

    /// @notice A registrar unbound `enterprise` from `account` (key loss); its consents are inactive.
    event EnterpriseUnbound(bytes32 indexed enterprise, address indexed account, uint32 epoch, address indexed registrar);

    /// @notice `enterprise` granted `granteeInstitution` access for `scope` until `expiry`.
    /// @param enterprise USCC fingerprint.
    /// @param granteeInstitution The bank granted access.
    /// @param scope Purpose of the access.
    /// @param expiry Active while block.timestamp < expiry.
    /// @param nonce The message's nonce.
    /// @param epoch Binding epoch the signature was checked under.
    /// @param signer Bound account that signed.
    /// @param relayer Account that sent the transaction.
    event ConsentGranted(
        bytes32 indexed enterprise,
        bytes32 indexed granteeInstitution,
        bytes32 indexed scope,
        uint64 expiry,
        uint256 nonce,
        uint32 epoch,
        address signer,
        address relayer
    );

    /// @notice `enterprise` withdrew `granteeInstitution`'s access for `scope`, at once.
    /// @param enterprise USCC fingerprint.
    /// @param granteeInstitution The bank whose access ends.
    /// @param scope Purpose of the access.
    /// @param nonce The message's nonce.
    /// @param epoch Binding epoch the signature was checked under.
    /// @param signer Bound account that signed.
    /// @param relayer Account that sent the transaction.
    event ConsentRevoked(
        bytes32 indexed enterprise,
        bytes32 indexed granteeInstitution,
        bytes32 indexed scope,
        uint256 nonce,
        uint32 epoch,
        address signer,
        address relayer
    );

    /// @notice The operator anchored read-log entries `firstEntry`..`lastEntry` under `merkleRoot`.
    event ReadLogAnchored(
        uint256 indexed batchIndex, bytes32 merkleRoot, uint64 firstEntry, uint64 lastEntry, address indexed operator
    );

    /// @notice Binds `enterprise` (a USCC fingerprint under key `keyVersion`) to `account`, whose
    /// signatures then speak for it. `account` may be a contract wallet (ERC-1271).
    /// @dev Caller needs REGISTRAR_ROLE. One account per fingerprint and one fingerprint per account at
    /// a time. Starts a new epoch: consents signed under an earlier binding stay inactive. To move an
    /// enterprise to a new key, unbind and bind in one {multicall}. Emits an {EnterpriseBound} event.
    function bindEnterprise(address account, bytes32 enterprise, uint16 keyVersion) external;

    /// @notice Unbinds `enterprise` from its account, e.g. when the key is lost; its consents become
    /// inactive at once and stay so (a later binding starts a new epoch).
    /// @dev Caller needs REGISTRAR_ROLE. Emits an {EnterpriseUnbound} event.
    function unbindEnterprise(bytes32 enterprise) external;

    /// @notice Records `consent`, signed by the account bound to `consent.enterprise`. Anyone may
    /// relay it.
    /// @dev Refused when the enterprise is unbound, the signature is not its account's, the terms are
    /// zero, the expiry has passed, the nonce is used, or a later message about the same grantee and
    /// scope was applied. Emits a {ConsentGranted} event.
    function grantConsent(Consent calldata consent, bytes calldata signature) external;

    /// @notice Records `revocation`, signed by the account bound to `revocation.enterprise`; the
    /// consent it names is inactive at once. Anyone may relay it.
    /// @dev Refused on the same grounds as {grantConsent}, bar the expiry. Emits a {ConsentRevoked}
    /// event.
    function revokeConsent(Revocation calldata revocation, bytes calldata signature) external;

    /// @notice Anchors the Merkle root of read-log entries `firstEntry`..`lastEntry` (inclusive),
    /// which must follow the last anchored entry without gap or overlap; entries are numbered from 1,
    /// and a batch holds at most MAX_READ_LOG_BATCH of them, so that numbering never runs out.
    /// @dev Caller needs OPERATOR_ROLE. Emits a {ReadLogAnchored} event.
    /// @return batchIndex The new batch's index (from 0).
    function anchorReadLog(bytes32 merkleRoot, uint64 firstEntry, uint64 lastEntry)
        external
        returns (uint256 batchIndex);

    /// @notice Whether `granteeInstitution` may now read `enterprise`'s credit report for `scope`:
    /// granted, not revoked, not expired, signed under the enterprise's current binding.
    /// @dev "Now" is the timestamp of the block the call runs on. A chain that mines only when a
    /// transaction comes keeps a stale timestamp, so an off-chain reader that must deny access the
    /// moment a consent expires applies this rule to {consentOf} and {bindingOf} with its own clock.
    function isConsentActive(bytes32 enterprise, bytes32 granteeInstitution, bytes32 scope)
        external
        view
        returns (bool);

    /// @notice {isConsentActive} for the institution `account` acts for.
    function isConsentActiveFor(bytes32 enterprise, address account, bytes32 scope) external view returns (bool);

    /// @notice The stored consent of `enterprise` to `granteeInstitution` for `scope` (status None if
    /// no message was applied).
    function consentOf(bytes32 enterprise, bytes32 granteeInstitution, bytes32 scope)
        external
        view
        returns (ConsentRecord memory);

    /// @notice The enterprise fingerprint `account` is bound to, or zero.
    function enterpriseOf(address account) external view returns (bytes32);

    /// @notice The account `enterprise` is bound to, or zero.
    function addressOf(bytes32 enterprise) external view returns (address);

    /// @notice The current (or, once unbound, the last) binding of `enterprise`.
    function bindingOf(bytes32 enterprise) external view returns (Binding memory);

    /// @notice Whether nonce `nonce` of `enterprise` was used.
    function isNonceUsed(bytes32 enterprise, uint256 nonce) external view returns (bool);

    /// @notice The EIP-712 digest the enterprise signs for `consent`.
    function hashConsent(Consent calldata consent) external view returns (bytes32);

    /// @notice The EIP-712 digest the enterprise signs for `revocation`.
    function hashRevocation(Revocation calldata revocation) external view returns (bytes32);

    /// @notice The Merkle leaf of `entry`: `keccak256(bytes.concat(keccak256(abi.encode(entry))))`.
    /// Hashed twice, as OpenZeppelin recommends, so that no inner node (64 bytes) can pass as a leaf.
    function hashReadLogEntry(ReadLogEntry calldata entry) external pure returns (bytes32);

    /// @notice The Merkle root of read-log batch `batchIndex` (from 0).
    function readLogRoot(uint256 batchIndex) external view returns (bytes32);

    /// @notice Read-log batch `batchIndex` (from 0): its root and entry range.
    function readLogBatch(uint256 batchIndex) external view returns (ReadLogBatch memory);

    /// @notice How many read-log batches were anchored.
    function readLogBatchCount() external view returns (uint256);

    /// @notice The entry the next read-log batch must start at.
    function nextReadLogEntry() external view returns (uint64);

    /// @notice Whether `entry` is in batch `batchIndex`: its id within the batch's range, and its leaf
    /// (see {hashReadLogEntry}) under the batch's root by `proof` (OpenZeppelin's {MerkleProof-verify},
    /// pairs hashed in sorted order). What an auditor checks a disclosed log entry with.
    function verifyReadLogEntry(uint256 batchIndex, ReadLogEntry calldata entry, bytes32[] calldata proof)
        external
        view
        returns (bool);

    /// @notice Whether `leaf` is a node of batch `batchIndex`'s tree by `proof`, for entries encoded
    /// otherwise than {ReadLogEntry} (a later format). Proves less than {verifyReadLogEntry}: an inner
    /// node passes too, with the rest of its proof, so the caller must hash the leaf from the entry.
    function verifyReadLogLeaf(uint256 batchIndex, bytes32 leaf, bytes32[] calldata proof)
        external
        view
        returns (bool);
}
