// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {MulticallUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/MulticallUpgradeable.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712Upgradeable} from "@openzeppelin/contracts-upgradeable/utils/cryptography/EIP712Upgradeable.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ConsortiumAccess} from "./ConsortiumAccess.sol";
import {IConsentRegistry} from "./IConsentRegistry.sol";
import {NonceBitmap, NonceBitmapLib} from "./libraries/NonceBitmapLib.sol";

/// @title ConsentRegistry
/// @notice Enterprise bindings, signed credit-report consents and the anchored read log (see
/// {IConsentRegistry} for the typed data and the nonce rules).
/// @dev Key loss: consents are stored with the binding epoch they were signed under, and a consent is
/// active only while that epoch is the enterprise's current, bound one. Unbinding deactivates them at
/// once; rebinding (to any account, even the same) starts a new epoch, so the old key's consents never
/// come back. Nonces are not reset by a rebinding: a message relayed once stays used for good, and one
/// superseded or revoked under an earlier binding stays void under the next.
///
/// Signatures: an account without code signs with ECDSA ({ECDSA-recover}: malformed and malleable
/// signatures revert with ECDSA's own errors); an account with code is asked through ERC-1271, so an
/// enterprise may hold its key in a contract wallet. OpenZeppelin's SignatureChecker does the same
/// but does not compile for shanghai (its Bytes library uses mcopy), hence the few lines below. They
/// try ECDSA first, as SignatureChecker did before OpenZeppelin 5.1, so that the usual signature
/// costs no look-up of the account's code (see {_checkSignature}).
contract ConsentRegistry is IConsentRegistry, ConsortiumAccess, EIP712Upgradeable, MulticallUpgradeable {
    /// @notice EIP-712 type hash of {IConsentRegistry-Consent}.
    bytes32 public constant CONSENT_TYPEHASH = keccak256(
        "Consent(bytes32 enterprise,bytes32 granteeInstitution,bytes32 scope,uint64 expiry,uint256 nonce)"
    );
    /// @notice EIP-712 type hash of {IConsentRegistry-Revocation}.
    bytes32 public constant REVOCATION_TYPEHASH =
        keccak256("Revocation(bytes32 enterprise,bytes32 granteeInstitution,bytes32 scope,uint256 nonce)");
    /// @notice Most entries one read-log batch may cover. Entry numbers are uint64: bounding each
    /// batch keeps a mistaken or hostile anchor from using them up (2**64 / 2**32 batches).
    uint64 public constant MAX_READ_LOG_BATCH = 2 ** 32;

    /// @dev A consent as stored; the signer is `_accountAt[enterprise][epoch]`.
    struct StoredConsent {
        ConsentStatus status;
        uint32 epoch;
        uint64 expiry;
        uint256 nonce;
    }

    mapping(bytes32 enterprise => Binding) private _bindings;
    mapping(bytes32 enterprise => mapping(uint32 epoch => address)) private _accountAt;
    mapping(address account => bytes32 enterprise) private _enterpriseOf;
    /// @dev Used nonces, 256 to a bitmap (see {NonceBitmapLib}).
    mapping(bytes32 enterprise => mapping(uint256 word => NonceBitmap bits)) private _usedNonces;
    mapping(bytes32 enterprise => mapping(bytes32 grantee => mapping(bytes32 scope => StoredConsent))) private
        _consents;
    ReadLogBatch[] private _readLog;
    uint64 private _anchoredThrough;

    /// @dev The signing domain's name and version are constants of the code (as EIP712's
    /// immutables were before the proxy): a signature check hashes them instead of reading them
    /// from storage (two cold reads). A version that changes them is a new domain on purpose.
    string private constant _DOMAIN_NAME = "CreditRegistryConsent";
    string private constant _DOMAIN_VERSION = "1";

    /// @notice Sets up a proxy of the registry (called once, by the proxy's constructor). The
    /// signing domain names the proxy, whose address never changes across upgrades.
    /// @param admin Account granted DEFAULT_ADMIN_ROLE.
    function initialize(address admin) public initializer {
        __ConsortiumAccess_init(admin);
        __EIP712_init(_DOMAIN_NAME, _DOMAIN_VERSION);
        __Multicall_init();
    }

    /// @dev See {_DOMAIN_NAME}.
    function _EIP712Name() internal pure override returns (string memory) {
        return _DOMAIN_NAME;
    }

    /// @dev See {_DOMAIN_NAME}.
    function _EIP712Version() internal pure override returns (string memory) {
        return _DOMAIN_VERSION;
    }

    /// @inheritdoc IConsentRegistry
    function bindEnterprise(address account, bytes32 enterprise, uint16 keyVersion)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        if (account == address(0) || enterprise == bytes32(0) || keyVersion == 0) {
            revert InvalidEnterpriseBinding(account, enterprise, keyVersion);
        }
        Binding storage binding = _bindings[enterprise];
        if (binding.bound) revert EnterpriseAlreadyBound(enterprise, binding.account);
        bytes32 held = _enterpriseOf[account];
        if (held != bytes32(0)) revert AccountAlreadyBound(account, held);

        uint32 epoch = binding.epoch + 1;
        _bindings[enterprise] = Binding({account: account, keyVersion: keyVersion, epoch: epoch, bound: true});
        _accountAt[enterprise][epoch] = account;
        _enterpriseOf[account] = enterprise;
        emit EnterpriseBound(enterprise, account, keyVersion, epoch, msg.sender);
    }

    /// @inheritdoc IConsentRegistry
    function unbindEnterprise(bytes32 enterprise) external onlyRole(REGISTRAR_ROLE) {
        Binding storage binding = _bound(enterprise);
        address account = binding.account;
        binding.bound = false;
        delete _enterpriseOf[account];
        emit EnterpriseUnbound(enterprise, account, binding.epoch, msg.sender);
    }

    /// @inheritdoc IConsentRegistry
    function grantConsent(Consent calldata consent, bytes calldata signature) external {
        bytes32 enterprise = consent.enterprise;
        if (consent.granteeInstitution == bytes32(0) || consent.scope == bytes32(0)) {
            revert InvalidConsentTerms(consent.granteeInstitution, consent.scope);
        }
        if (consent.expiry <= block.timestamp) revert ConsentAlreadyExpired(consent.expiry, block.timestamp);
        Binding storage binding = _bound(enterprise);
        _checkSignature(enterprise, binding.account, _hashTypedDataV4(_consentStructHash(consent)), signature);
        StoredConsent storage stored = _consents[enterprise][consent.granteeInstitution][consent.scope];
        uint32 epoch = binding.epoch;
        _useNonce(enterprise, consent.granteeInstitution, consent.scope, consent.nonce, stored);

        stored.status = ConsentStatus.Granted;
        stored.epoch = epoch;
        stored.expiry = consent.expiry;
        stored.nonce = consent.nonce;
        emit ConsentGranted(
            enterprise,
            consent.granteeInstitution,
            consent.scope,
            consent.expiry,
            consent.nonce,
            epoch,
            binding.account,
            msg.sender
        );
    }

    /// @inheritdoc IConsentRegistry
    function revokeConsent(Revocation calldata revocation, bytes calldata signature) external {
        bytes32 enterprise = revocation.enterprise;
        if (revocation.granteeInstitution == bytes32(0) || revocation.scope == bytes32(0)) {
            revert InvalidConsentTerms(revocation.granteeInstitution, revocation.scope);
        }
        Binding storage binding = _bound(enterprise);
        _checkSignature(enterprise, binding.account, _hashTypedDataV4(_revocationStructHash(revocation)), signature);
        StoredConsent storage stored = _consents[enterprise][revocation.granteeInstitution][revocation.scope];
        uint32 epoch = binding.epoch;
        _useNonce(enterprise, revocation.granteeInstitution, revocation.scope, revocation.nonce, stored);

        // The expiry of the revoked grant stays, for the record; the status alone makes it inactive.
        stored.status = ConsentStatus.Revoked;
        stored.epoch = epoch;
        stored.nonce = revocation.nonce;
        emit ConsentRevoked(
            enterprise,
            revocation.granteeInstitution,
            revocation.scope,
            revocation.nonce,
            epoch,
            binding.account,
            msg.sender
        );
    }

    /// @inheritdoc IConsentRegistry
    function anchorReadLog(bytes32 merkleRoot, uint64 firstEntry, uint64 lastEntry)
        external
        onlyRole(OPERATOR_ROLE)
        returns (uint256 batchIndex)
    {
        if (merkleRoot == bytes32(0)) revert ReadLogRootZero();
        uint64 expectedFirst = _anchoredThrough + 1;
        if (firstEntry != expectedFirst || lastEntry < firstEntry || lastEntry - firstEntry >= MAX_READ_LOG_BATCH) {
            revert ReadLogRangeInvalid(expectedFirst, firstEntry, lastEntry);
        }

        batchIndex = _readLog.length;
        _readLog.push(ReadLogBatch({merkleRoot: merkleRoot, firstEntry: firstEntry, lastEntry: lastEntry}));
        _anchoredThrough = lastEntry;
        emit ReadLogAnchored(batchIndex, merkleRoot, firstEntry, lastEntry, msg.sender);
    }

    /// @inheritdoc IConsentRegistry
    function isConsentActive(bytes32 enterprise, bytes32 granteeInstitution, bytes32 scope)
        public
        view
        returns (bool)
    {
        Binding storage binding = _bindings[enterprise];
        StoredConsent storage stored = _consents[enterprise][granteeInstitution][scope];
        return binding.bound && stored.status == ConsentStatus.Granted && stored.epoch == binding.epoch
            && stored.expiry > block.timestamp;
    }

    /// @inheritdoc IConsentRegistry
    function isConsentActiveFor(bytes32 enterprise, address account, bytes32 scope) external view returns (bool) {
        return isConsentActive(enterprise, institutionOf(account), scope);
    }

    /// @inheritdoc IConsentRegistry
    function consentOf(bytes32 enterprise, bytes32 granteeInstitution, bytes32 scope)
        external
        view
        returns (ConsentRecord memory)
    {
        StoredConsent storage stored = _consents[enterprise][granteeInstitution][scope];
        return ConsentRecord({
            status: stored.status,
            epoch: stored.epoch,
            expiry: stored.expiry,
            nonce: stored.nonce,
            signer: _accountAt[enterprise][stored.epoch]
        });
    }

    /// @inheritdoc IConsentRegistry
    function enterpriseOf(address account) external view returns (bytes32) {
        return _enterpriseOf[account];
    }

    /// @inheritdoc IConsentRegistry
    function addressOf(bytes32 enterprise) external view returns (address) {
        Binding storage binding = _bindings[enterprise];
        return binding.bound ? binding.account : address(0);
    }

    /// @inheritdoc IConsentRegistry
    function bindingOf(bytes32 enterprise) external view returns (Binding memory) {
        return _bindings[enterprise];
    }

    /// @inheritdoc IConsentRegistry
    function isNonceUsed(bytes32 enterprise, uint256 nonce) external view returns (bool) {
        return _usedNonces[enterprise][NonceBitmapLib.wordOf(nonce)].isUsed(nonce);
    }

    /// @inheritdoc IConsentRegistry
    function hashConsent(Consent calldata consent) external view returns (bytes32) {
        return _hashTypedDataV4(_consentStructHash(consent));
    }

    /// @inheritdoc IConsentRegistry
    function hashRevocation(Revocation calldata revocation) external view returns (bytes32) {
        return _hashTypedDataV4(_revocationStructHash(revocation));
    }

    /// @inheritdoc IConsentRegistry
    function hashReadLogEntry(ReadLogEntry calldata entry) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(entry))));
    }

    /// @inheritdoc IConsentRegistry
    function readLogRoot(uint256 batchIndex) external view returns (bytes32) {
        return _batch(batchIndex).merkleRoot;
    }

    /// @inheritdoc IConsentRegistry
    function readLogBatch(uint256 batchIndex) external view returns (ReadLogBatch memory) {
        return _batch(batchIndex);
    }

    /// @inheritdoc IConsentRegistry
    function readLogBatchCount() external view returns (uint256) {
        return _readLog.length;
    }

    /// @inheritdoc IConsentRegistry
    function nextReadLogEntry() external view returns (uint64) {
        return _anchoredThrough + 1;
    }

    /// @inheritdoc IConsentRegistry
    function verifyReadLogEntry(uint256 batchIndex, ReadLogEntry calldata entry, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        ReadLogBatch storage batch = _batch(batchIndex);
        if (entry.entryId < batch.firstEntry || entry.entryId > batch.lastEntry) return false;
        return MerkleProof.verifyCalldata(proof, batch.merkleRoot, hashReadLogEntry(entry));
    }

    /// @inheritdoc IConsentRegistry
    function verifyReadLogLeaf(uint256 batchIndex, bytes32 leaf, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        return MerkleProof.verifyCalldata(proof, _batch(batchIndex).merkleRoot, leaf);
    }

    /// @dev The binding of `enterprise`, which must be bound.
    function _bound(bytes32 enterprise) private view returns (Binding storage binding) {
        binding = _bindings[enterprise];
        if (!binding.bound) revert EnterpriseNotBound(enterprise);
    }

    function _batch(uint256 batchIndex) private view returns (ReadLogBatch storage) {
        if (batchIndex >= _readLog.length) revert ReadLogBatchNotFound(batchIndex, _readLog.length);
        return _readLog[batchIndex];
    }

    /// @dev Reverts unless `signature` over `digest` is `account`'s (ECDSA, or ERC-1271 for a contract).
    /// A valid ECDSA signature by `account` itself is accepted before its code is looked at: the
    /// look-up is a cold account access (2,600 gas) that the usual signer, an account without code,
    /// does not need, and on shanghai no account with code has a key to make such a signature.
    /// (OpenZeppelin 5.1 put the code check first for chains where one can: EIP-7377, never
    /// adopted, and EIP-7702, under which the key of a delegated account keeps full control of it.)
    /// Any other signature is judged as before: an account without code reverts with ECDSA's error
    /// or with the signer it recovered, one with code is asked through ERC-1271.
    function _checkSignature(bytes32 enterprise, address account, bytes32 digest, bytes calldata signature)
        private
        view
    {
        // The error's argument is not needed: ECDSA.recover below raises the error itself.
        // slither-disable-next-line unused-return
        (address signer, ECDSA.RecoverError error,) = ECDSA.tryRecover(digest, signature);
        if (error == ECDSA.RecoverError.NoError && signer == account) return;
        if (account.code.length == 0) {
            revert InvalidEnterpriseSignature(enterprise, account, ECDSA.recover(digest, signature));
        }
        if (!_isValidContractSignature(account, digest, signature)) {
            revert InvalidEnterpriseSignature(enterprise, account, address(0));
        }
    }

    /// @dev OpenZeppelin's SignatureChecker.isValidERC1271SignatureNow, which cannot be imported here.
    function _isValidContractSignature(address wallet, bytes32 digest, bytes calldata signature)
        private
        view
        returns (bool)
    {
        (bool success, bytes memory result) =
            wallet.staticcall(abi.encodeCall(IERC1271.isValidSignature, (digest, signature)));
        return success && result.length >= 32
            && abi.decode(result, (bytes32)) == bytes32(IERC1271.isValidSignature.selector);
    }

    /// @dev Marks `nonce` used, refusing a used one and one not above the last message applied to the
    /// same (enterprise, grantee, scope), whatever the epoch: a rebinding to the same account must
    /// not revive a consent signed before a revocation.
    function _useNonce(bytes32 enterprise, bytes32 grantee, bytes32 scope, uint256 nonce, StoredConsent storage stored)
        private
    {
        uint256 word = NonceBitmapLib.wordOf(nonce);
        NonceBitmap bits = _usedNonces[enterprise][word];
        if (bits.isUsed(nonce)) revert ConsentNonceUsed(enterprise, nonce);
        if (stored.status != ConsentStatus.None && nonce <= stored.nonce) {
            revert ConsentSuperseded(enterprise, grantee, scope, nonce, stored.nonce);
        }
        _usedNonces[enterprise][word] = bits.withUsed(nonce);
    }

    function _consentStructHash(Consent calldata consent) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                CONSENT_TYPEHASH,
                consent.enterprise,
                consent.granteeInstitution,
                consent.scope,
                consent.expiry,
                consent.nonce
            )
        );
    }

    function _revocationStructHash(Revocation calldata revocation) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                REVOCATION_TYPEHASH,
                revocation.enterprise,
                revocation.granteeInstitution,
                revocation.scope,
                revocation.nonce
            )
        );
    }
}
