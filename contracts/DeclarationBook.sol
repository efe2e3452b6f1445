// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ConsortiumAccess} from "./ConsortiumAccess.sol";
import {IReceivableLedger} from "./IReceivableLedger.sol";
import {DeclarationBalance, DeclarationBalanceLib} from "./libraries/DeclarationBalanceLib.sol";
import {RateTable, RateTableLib} from "./libraries/RateTableLib.sol";

/// @title DeclarationBook
/// @notice The customs-declaration half of {ReceivableLedger}: which invoice each declaration backs,
/// the verifier's attestations, what each declaration counts for its invoice, the advance-rate
/// policy and the financing balance of every declaration (see {IReceivableLedger} for the rules).
/// @dev Kept apart from the receivables so that each file holds one concept. Amounts are stored as
/// uint96 (up to 7.9e28 minor units, far above any invoice) so that what a drawdown needs of a
/// declaration (counted value, balance, standing) is one slot.
abstract contract DeclarationBook is IReceivableLedger, ConsortiumAccess {
    /// @notice Upper bound on declarations per receivable, so cancellation and drawdowns stay within
    /// a block's gas.
    uint256 public constant MAX_DECLARATIONS = 32;
    /// @notice The largest amount the ledger stores.
    uint256 public constant MAX_AMOUNT = type(uint96).max;
    /// @notice Upper bound on key aliases per registration or attestation: the older key versions
    /// in use at once (see Key rotation in {IReceivableLedger}).
    uint256 public constant MAX_KEY_ALIASES = 4;

    uint256 internal constant _BPS = RateTableLib.BPS;

    /// @dev The policy: one slot, read by every drawdown.
    struct Rates {
        uint16 verifiedBps;
        uint16 unverifiedBps;
    }

    /// @dev Which invoice a declaration backs and where in its list; read by registrations and
    /// attestations, never by drawdowns.
    struct Link {
        bytes32 receivable;
        uint96 declaredValue;
        uint8 index;
    }

    /// @dev `exporter` is never zero in an attestation, so it alone tells whether there is one.
    struct AttestationRecord {
        bytes32 exporter;
        uint96 value;
        uint64 exportDate;
    }

    Rates private _rates;
    mapping(bytes32 declaration => Link) private _links;
    mapping(bytes32 declaration => AttestationRecord) private _attestations;
    /// @dev Fixed-size lists: no length slot to write; the receivable stores the count.
    mapping(bytes32 id => bytes32[MAX_DECLARATIONS]) private _declarationsOf;
    /// @dev A declaration's balance, stored by (receivable, index): the one slot a drawdown or a
    /// repayment reads and writes per declaration. One word packed by hand ({DeclarationBalanceLib})
    /// rather than a struct, so that a drawdown reads it once and writes it once: Solidity copies a
    /// struct field by field, re-reading the slot for each member it assigns.
    mapping(bytes32 id => DeclarationBalance[MAX_DECLARATIONS]) private _balances;
    /// @dev Room for this contract's later state, so that {ReceivableLedger}'s slots stay put.
    uint256[45] private __gap;

    /// @param admin Account granted DEFAULT_ADMIN_ROLE.
    /// @param verifiedBps Initial verified advance rate.
    /// @param unverifiedBps Initial unverified advance rate.
    function __DeclarationBook_init(address admin, uint16 verifiedBps, uint16 unverifiedBps)
        internal
        onlyInitializing
    {
        __ConsortiumAccess_init(admin);
        _setAdvanceRates(verifiedBps, unverifiedBps, admin);
    }

    /// @inheritdoc IReceivableLedger
    function attestDeclaration(
        bytes32 declaration,
        bytes32 exporter,
        uint256 value,
        uint64 exportDate,
        DeclarationAlias[] calldata aliases
    ) external onlyRole(VERIFIER_ROLE) {
        if (declaration == bytes32(0) || exporter == bytes32(0)) revert ZeroFingerprint();
        _checkValue(declaration, value);
        if (exportDate == 0 || exportDate > block.timestamp) revert ExportDateOutOfRange(declaration, exportDate);
        if (aliases.length > MAX_KEY_ALIASES) revert KeyAliasInvalid(0);
        for (uint256 k; k < aliases.length; ++k) {
            if (aliases[k].declaration == bytes32(0) || aliases[k].exporter == bytes32(0)) revert ZeroFingerprint();
        }

        _attestations[declaration] = AttestationRecord(exporter, uint96(value), exportDate);
        emit DeclarationAttested(declaration, exporter, msg.sender, value, exportDate);
        // A declaration registered before a key rotation is linked under an older version: found
        // there, the attested exporter is compared with the invoice's under that same version.
        bytes32 linked = declaration;
        Link memory link = _links[declaration];
        for (uint256 k; link.receivable == bytes32(0) && k < aliases.length; ++k) {
            (linked, exporter) = (aliases[k].declaration, aliases[k].exporter);
            link = _links[linked];
        }
        if (link.receivable != bytes32(0)) {
            (Standing standing, uint96 counted) =
                _count(link.declaredValue, exporter, uint96(value), _exporterOf(link.receivable));
            DeclarationBalance[MAX_DECLARATIONS] storage balances = _balances[link.receivable];
            balances[link.index] = balances[link.index].withCount(counted, standing);
            _recounted(link.receivable);
            emit DeclarationCounted(linked, link.receivable, link.index, standing, counted);
        }
    }

    /// @inheritdoc IReceivableLedger
    function setAdvanceRates(uint16 verifiedBps, uint16 unverifiedBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setAdvanceRates(verifiedBps, unverifiedBps, msg.sender);
    }

    /// @inheritdoc IReceivableLedger
    function getDeclaration(bytes32 declaration) external view returns (DeclarationState memory state) {
        Link memory link = _links[declaration];
        if (link.receivable == bytes32(0)) return state;
        DeclarationBalance balance = _balances[link.receivable][link.index];
        state.receivable = link.receivable;
        state.standing = balance.standing();
        state.declaredValue = link.declaredValue;
        state.countedValue = balance.counted();
        state.limit = balance.limitUnder(_ratesInForce());
        state.outstanding = balance.outstanding();
    }

    /// @inheritdoc IReceivableLedger
    function getAttestation(bytes32 declaration) external view returns (Attestation memory) {
        AttestationRecord memory attestation = _attestations[declaration];
        return Attestation(attestation.exporter, attestation.value, attestation.exportDate);
    }

    /// @inheritdoc IReceivableLedger
    function receivableOfDeclaration(bytes32 declaration) external view returns (bytes32) {
        return _links[declaration].receivable;
    }

    /// @inheritdoc IReceivableLedger
    function advanceRates() external view returns (uint16 verifiedBps, uint16 unverifiedBps) {
        Rates memory rates = _rates;
        return (rates.verifiedBps, rates.unverifiedBps);
    }

    /// @dev The exporter fingerprint of receivable `id`.
    function _exporterOf(bytes32 id) internal view virtual returns (bytes32);

    /// @dev A declaration of receivable `id` counts anew: its cap changed.
    function _recounted(bytes32 id) internal virtual;

    /// @dev The advance rates in force as a table indexed by standing: a drawdown looks a
    /// declaration's rate up with a shift instead of a branch per declaration, and the table also
    /// identifies the policy a receivable's cached cap was computed under.
    function _ratesInForce() internal view returns (RateTable) {
        Rates storage rates = _rates;
        return RateTableLib.fromRates(rates.verifiedBps, rates.unverifiedBps);
    }

    /// @dev Refuses a zero amount and one too large to store.
    function _checkValue(bytes32 document, uint256 value) internal pure {
        if (value == 0) revert ZeroValue(document);
        if (value > MAX_AMOUNT) revert AmountOutOfRange(value, MAX_AMOUNT);
    }

    /// @dev Reverts unless there are 1 to MAX_DECLARATIONS declarations with non-zero fingerprints
    /// and storable values adding up to a storable total.
    function _checkDeclarations(Declaration[] calldata declarations) internal pure {
        uint256 count = declarations.length;
        if (count == 0 || count > MAX_DECLARATIONS) revert DeclarationCountOutOfRange(count, MAX_DECLARATIONS);
        uint256 total;
        for (uint256 i; i < count; ++i) {
            if (declarations[i].fingerprint == bytes32(0)) revert ZeroFingerprint();
            _checkValue(declarations[i].fingerprint, declarations[i].value);
            unchecked {
                total += declarations[i].value; // at most 32 terms below 2**96
            }
        }
        if (total > MAX_AMOUNT) revert AmountOutOfRange(total, MAX_AMOUNT);
    }

    /// @dev Reverts unless `aliases` are at most MAX_KEY_ALIASES, each under a key version other
    /// than `keyVersion` and the earlier aliases', with non-zero fingerprints, one per declaration
    /// of a registration of `count` declarations.
    function _checkAliases(uint16 keyVersion, uint256 count, InvoiceAlias[] calldata aliases) internal pure {
        if (aliases.length > MAX_KEY_ALIASES) revert KeyAliasInvalid(keyVersion);
        for (uint256 k; k < aliases.length; ++k) {
            InvoiceAlias calldata alias_ = aliases[k];
            uint16 version = alias_.keyVersion;
            if (version == keyVersion || alias_.declarations.length != count) revert KeyAliasInvalid(version);
            for (uint256 j; j < k; ++j) {
                if (aliases[j].keyVersion == version) revert KeyAliasInvalid(version);
            }
            if (alias_.id == bytes32(0) || alias_.exporter == bytes32(0)) revert ZeroFingerprint();
            for (uint256 i; i < count; ++i) {
                if (alias_.declarations[i] == bytes32(0)) revert ZeroFingerprint();
            }
        }
    }

    /// @dev The first registration rule a declaration of an invoice of `exporter` breaks, if any,
    /// under the registration's key version or an alias's: the declaration (as fingerprinted where
    /// it was found), the other invoice it backs or the exporter it is attested for, and the
    /// invoice's exporter under that version.
    function _conflictAmong(Declaration[] calldata declarations, bytes32 exporter, InvoiceAlias[] calldata aliases)
        internal
        view
        returns (Refusal, bytes32 declaration, bytes32 conflict, bytes32 invoiceExporter)
    {
        for (uint256 i; i < declarations.length; ++i) {
            declaration = declarations[i].fingerprint;
            conflict = _links[declaration].receivable;
            if (conflict != bytes32(0)) return (Refusal.DeclarationLinkedToOtherInvoice, declaration, conflict, exporter);
            for (uint256 k; k < aliases.length; ++k) {
                bytes32 alias_ = aliases[k].declarations[i];
                conflict = _links[alias_].receivable;
                if (conflict != bytes32(0)) {
                    return (Refusal.DeclarationLinkedToOtherInvoice, alias_, conflict, aliases[k].exporter);
                }
            }
            AttestationRecord storage attestation;
            (declaration, attestation, invoiceExporter) = _attestationOf(i, declaration, exporter, aliases);
            conflict = attestation.exporter;
            if (conflict != bytes32(0) && conflict != invoiceExporter) {
                return (Refusal.DeclarationExporterMismatch, declaration, conflict, invoiceExporter);
            }
        }
        return (Refusal.None, bytes32(0), bytes32(0), bytes32(0));
    }

    /// @dev The attestation in force of declaration `i` of a registration, `declaration` under the
    /// registration's key version: the first found under that version, then under each alias in
    /// turn (an empty record when none). Returns the declaration's fingerprint where it was found
    /// and the invoice's exporter, `exporter` under the registration's version, under that one.
    function _attestationOf(uint256 i, bytes32 declaration, bytes32 exporter, InvoiceAlias[] calldata aliases)
        private
        view
        returns (bytes32 found, AttestationRecord storage attestation, bytes32 invoiceExporter)
    {
        attestation = _attestations[declaration];
        if (attestation.exporter != bytes32(0)) return (declaration, attestation, exporter);
        for (uint256 k; k < aliases.length; ++k) {
            found = aliases[k].declarations[i];
            AttestationRecord storage older = _attestations[found];
            if (older.exporter != bytes32(0)) return (found, older, aliases[k].exporter);
        }
        return (declaration, attestation, exporter);
    }

    /// @dev Links declarations that the rules found free to `id`, in order; returns the sum of
    /// their limits and of their declared values. Emits their {DeclarationLinked} and
    /// {DeclarationCounted} events.
    function _linkAll(
        bytes32 id,
        Declaration[] calldata declarations,
        bytes32 exporter,
        RateTable rates,
        InvoiceAlias[] calldata aliases
    ) internal returns (uint256 limits, uint256 declared) {
        for (uint256 i; i < declarations.length; ++i) {
            bytes32 declaration = declarations[i].fingerprint;
            uint256 value = declarations[i].value;
            (Standing standing, uint96 counted) = _countAt(i, declaration, uint96(value), exporter, aliases);
            // At most 32 terms below 2**96 each: no overflow.
            unchecked {
                limits += _link(declaration, id, i, value, DeclarationBalanceLib.counting(counted, standing), rates);
                declared += value;
            }
            // Here, where the standing and the counted value are at hand, not read back from the balance.
            emit DeclarationCounted(declaration, id, i, standing, counted);
        }
    }

    /// @dev What declaration `i` of a registration (`declaration`, declared worth `value`, for an
    /// invoice of `exporter`) counts for its invoice under the attestation in force.
    function _countAt(
        uint256 i,
        bytes32 declaration,
        uint96 value,
        bytes32 exporter,
        InvoiceAlias[] calldata aliases
    ) private view returns (Standing, uint96) {
        (, AttestationRecord storage attestation, bytes32 invoiceExporter) =
            _attestationOf(i, declaration, exporter, aliases);
        bytes32 attested = attestation.exporter;
        if (attested == bytes32(0)) return (Standing.Unverified, value);
        return _count(value, attested, attestation.value, invoiceExporter);
    }

    /// @dev Links a declaration that the rules found free to `id` at `index`, with its balance
    /// `balance` (counted value and standing, nothing outstanding); returns its limit. Emits
    /// {DeclarationLinked}.
    function _link(
        bytes32 declaration,
        bytes32 id,
        uint256 index,
        uint256 value,
        DeclarationBalance balance,
        RateTable rates
    ) private returns (uint256 limit) {
        // Every declaration was free when checked, so one linked to `id` already came earlier in
        // this very call.
        if (_links[declaration].receivable == id) revert DeclarationDuplicated(declaration);
        _links[declaration] = Link(id, uint96(value), uint8(index));
        _balances[id][index] = balance;
        _declarationsOf[id][index] = declaration;
        emit DeclarationLinked(declaration, id, value);
        return balance.limitUnder(rates);
    }

    /// @dev Frees the first `count` declarations of `id`. Their balances stay behind unread: a
    /// cancelled receivable has no cap, and a new registration of it writes them anew.
    function _unlinkAll(bytes32 id, uint256 count) internal {
        bytes32[MAX_DECLARATIONS] storage list = _declarationsOf[id];
        for (uint256 i; i < count; ++i) {
            delete _links[list[i]];
        }
    }

    /// @dev The sum of the limits of the first `count` declarations of `id`.
    function _limits(bytes32 id, uint256 count, RateTable rates) internal view returns (uint256 total) {
        DeclarationBalance[MAX_DECLARATIONS] storage balances = _balances[id];
        for (uint256 i; i < count;) {
            // At most 32 terms below 2**96 each: no overflow.
            unchecked {
                total += balances[i].limitUnder(rates);
                ++i;
            }
        }
    }

    /// @dev Allocates a drawdown of `amount` to the declarations of `id` in order, each up to its
    /// limit. The caller checked amount <= cap - outstanding, and cap - outstanding <= the sum of
    /// the declarations' rooms (cap <= sum of limits, outstanding = sum of balances, and each room
    /// max(limit - balance, 0) >= limit - balance), so the whole amount finds room. Emits one
    /// {DeclarationFinanced} per declaration allocated to.
    function _fill(bytes32 id, uint256 amount, RateTable rates) internal {
        DeclarationBalance[MAX_DECLARATIONS] storage balances = _balances[id];
        for (uint256 i; amount != 0;) {
            DeclarationBalance balance = balances[i];
            uint256 limit = balance.limitUnder(rates);
            uint256 outstanding = balance.outstanding();
            unchecked {
                if (limit > outstanding) {
                    uint256 take = limit - outstanding < amount ? limit - outstanding : amount;
                    amount -= take;
                    outstanding += take; // <= limit <= counted value < 2**96
                    balances[i] = balance.withOutstanding(outstanding);
                    emit DeclarationFinanced(id, i, take, outstanding);
                }
                ++i;
            }
        }
    }

    /// @dev Releases a repayment of `amount` (at most the receivable's outstanding, the sum of the
    /// balances) from the declarations of `id`, last first. Emits one {DeclarationRepaid} per
    /// declaration released.
    function _release(bytes32 id, uint256 count, uint256 amount) internal {
        DeclarationBalance[MAX_DECLARATIONS] storage balances = _balances[id];
        for (uint256 i = count; i != 0 && amount != 0;) {
            unchecked {
                --i;
                DeclarationBalance balance = balances[i];
                uint256 outstanding = balance.outstanding();
                if (outstanding != 0) {
                    uint256 take = outstanding < amount ? outstanding : amount;
                    amount -= take;
                    outstanding -= take;
                    balances[i] = balance.withOutstanding(outstanding);
                    emit DeclarationRepaid(id, i, take, outstanding);
                }
            }
        }
    }

    /// @dev The first `count` declarations of `id`.
    function _listOf(bytes32 id, uint256 count) internal view returns (bytes32[] memory declarations) {
        bytes32[MAX_DECLARATIONS] storage list = _declarationsOf[id];
        declarations = new bytes32[](count);
        for (uint256 i; i < count; ++i) {
            declarations[i] = list[i];
        }
    }

    /// @dev What a declaration of `declared` value counts for an invoice of `exporter`, attested
    /// for `attested` at `value`: the lower of the two values for the same exporter, nothing for
    /// another.
    function _count(uint96 declared, bytes32 attested, uint96 value, bytes32 exporter)
        private
        pure
        returns (Standing, uint96)
    {
        if (attested != exporter) return (Standing.ExporterMismatch, 0);
        return (Standing.Verified, value < declared ? value : declared);
    }

    function _setAdvanceRates(uint16 verifiedBps, uint16 unverifiedBps, address admin) private {
        if (verifiedBps > _BPS || unverifiedBps > verifiedBps) {
            revert AdvanceRatesOutOfRange(verifiedBps, unverifiedBps);
        }
        _rates = Rates(verifiedBps, unverifiedBps);
        emit AdvanceRatesSet(verifiedBps, unverifiedBps, admin);
    }
}
