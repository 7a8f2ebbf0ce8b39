// SPDX-License-Identifier: UNLICENSED
pragma solidity =0.8.28;

import {IDIDRegistry} from "./interfaces/IDIDRegistry.sol";
import {IFlexMarket} from "./interfaces/IFlexMarket.sol";
import {IFlexSettlement} from "./interfaces/IFlexSettlement.sol";
import {IRoleRegistry} from "./interfaces/IRoleRegistry.sol";

/**
 * @title FlexSettlement
 * @notice Settles the market's trades from oracle attestations (arithmetic in {IFlexSettlement}).
 * @dev Nothing per trade is stored but three bits (attested, disputed, finalised), 256 trades per
 * word; the numbers live in the events. Attesting reads only the trade's packed terms slot from
 * the market.
 */
contract FlexSettlement is IFlexSettlement {
    /// @notice Most attestations or finalisations in one batch call.
    uint256 public constant MAX_BATCH = 256;
    /// @notice Highest penalty factor, basis points (5x the trade price).
    uint256 public constant MAX_PENALTY_FACTOR_BPS = 50_000;

    uint8 private constant _MARKET_OPERATOR = 1;
    uint8 private constant _ORACLE = 5;
    uint8 private constant _DOWN = 1;
    uint64 private constant _SLOT_SECONDS = 900;
    uint256 private constant _SLOTS_PER_HOUR = 4;
    uint256 private constant _WH_PER_MWH = 1e6;
    uint256 private constant _BPS = 10_000;

    /**
     * @dev Settable parameters; one slot. The windows apply to trades from `windowsFromTradeId`
     * on; earlier trades keep the windows in force when they were recorded ({_windowHistory}).
     */
    struct Config {
        uint16 penaltyFactorBps;
        uint32 attestationWindowS;
        uint32 disputeWindowS;
        uint64 windowsFromTradeId;
        uint32 windowHistoryLength;
    }

    /**
     * @dev Windows that applied to trades from `fromTradeId` until the next entry; one slot.
     */
    struct WindowSet {
        uint64 fromTradeId;
        uint32 attestationWindowS;
        uint32 disputeWindowS;
    }

    IRoleRegistry private immutable _roles;
    IFlexMarket private immutable _market;
    IDIDRegistry private immutable _dids;

    Config private _config;
    mapping(uint256 index => WindowSet) private _windowHistory;
    mapping(uint256 word => uint256 bits) private _attested;
    mapping(uint256 word => uint256 bits) private _disputed;
    mapping(uint256 word => uint256 bits) private _finalised;

    /**
     * @notice Binds settlement to the market and sets its parameters.
     * @param roles_ The role registry.
     * @param market_ The market whose trades are settled (also gives the DID registry).
     * @param penaltyFactorBps_ Penalty factor, basis points of the trade price.
     * @param disputeWindowS_ Dispute window, s.
     * @param attestationWindowS_ Attestation window, s.
     */
    constructor(
        IRoleRegistry roles_,
        IFlexMarket market_,
        uint16 penaltyFactorBps_,
        uint32 disputeWindowS_,
        uint32 attestationWindowS_
    ) {
        _roles = roles_;
        _market = market_;
        _dids = market_.didRegistry();
        _checkPenaltyFactor(penaltyFactorBps_);
        _checkWindows(attestationWindowS_, disputeWindowS_);
        _config = Config(penaltyFactorBps_, attestationWindowS_, disputeWindowS_, 0, 0);
        emit PenaltyFactorChanged(0, penaltyFactorBps_, msg.sender);
        emit WindowsChanged(attestationWindowS_, disputeWindowS_, 0, msg.sender);
    }

    /// @inheritdoc IFlexSettlement
    function attest(Attestation calldata attestation) external {
        _checkRole(_ORACLE);
        Config memory config = _config;
        uint256 packed = _packedTerms(attestation.tradeId);
        uint256 deadline = _markAttested(attestation.tradeId, packed, config);
        _emitAttested(attestation, packed, config.penaltyFactorBps, deadline);
    }

    /// @inheritdoc IFlexSettlement
    function attestBatch(uint256[] calldata attestations) external {
        _checkRole(_ORACLE);
        uint256 count = attestations.length;
        _checkBatchSize(count);
        Config memory config = _config;
        // One call for the whole batch: the market reads each trade's terms word.
        uint256[] memory terms = _market.packedTradeTermsBatch(attestations);
        uint16 factorBps = config.penaltyFactorBps;
        // The log's ABI data is built in place: (penaltyFactorBps, offset 0x40, length, records),
        // so the records are never copied.
        uint256 data;
        uint256 cursor;
        assembly ("memory-safe") {
            data := mload(0x40)
            mstore(data, factorBps)
            mstore(add(data, 0x20), 0x40)
            mstore(add(data, 0x40), shl(1, count))
            cursor := add(data, 0x60)
            mstore(0x40, add(cursor, shl(6, count)))
        }
        // The attested bits are kept in memory while consecutive trades share a word, and the
        // word is written once per run: ids in order touch each word once.
        uint256 wordIndex = type(uint256).max;
        uint256 bits;
        for (uint256 i = 0; i < count; ) {
            uint256 attestation;
            uint256 packed;
            // i < count = attestations.length = terms.length: both reads are in bounds.
            assembly ("memory-safe") {
                attestation := calldataload(add(attestations.offset, shl(5, i)))
                packed := mload(add(terms, shl(5, add(i, 1))))
            }
            (uint256 word, uint256 mask) = _position(attestation >> 128);
            if (word != wordIndex) {
                if (wordIndex != type(uint256).max) _attested[wordIndex] = bits;
                wordIndex = word;
                bits = _attested[word];
            }
            _checkAttestation(attestation >> 128, packed, bits, mask, config);
            bits |= mask;
            (uint256 first, uint256 second) = _record(attestation, packed, factorBps);
            // The data holds 2 * count record words from cursor's start; i < count <= MAX_BATCH.
            assembly ("memory-safe") {
                mstore(cursor, first)
                mstore(add(cursor, 0x20), second)
                cursor := add(cursor, 0x40)
            }
            unchecked {
                ++i;
            }
        }
        _attested[wordIndex] = bits;
        bytes32 topic = SettlementsAttested.selector;
        assembly ("memory-safe") {
            // SettlementsAttested(msg.sender indexed, factorBps, records)
            log2(data, add(0x60, shl(6, count)), topic, caller())
        }
    }

    /// @inheritdoc IFlexSettlement
    function dispute(uint256 tradeId, bytes32 reasonHash) external {
        (uint256 word, uint256 mask) = _position(tradeId);
        if (_attested[word] & mask == 0) revert NotAttested(tradeId);
        if (_disputed[word] & mask != 0) revert AlreadyDisputed(tradeId);
        uint256 deadline = _deadline(tradeId, _terms(tradeId), _config);
        if (block.timestamp >= deadline) revert DisputeWindowClosed(tradeId, deadline, block.timestamp);
        IFlexMarket.Trade memory traded = _market.trade(tradeId);
        if (msg.sender != _dids.identityOwner(traded.buyer) && msg.sender != _dids.identityOwner(traded.seller)) {
            revert NotTradeParty(tradeId, msg.sender);
        }
        _disputed[word] |= mask;
        emit SettlementDisputed(tradeId, msg.sender, reasonHash);
    }

    /// @inheritdoc IFlexSettlement
    function resolveDispute(uint256 tradeId, uint64 baselineWh, uint64 meteredWh) external {
        _checkRole(_MARKET_OPERATOR);
        (uint256 word, uint256 mask) = _position(tradeId);
        if (_disputed[word] & mask == 0) revert NotDisputed(tradeId);
        if (_finalised[word] & mask != 0) revert AlreadyFinalised(tradeId);
        uint16 factorBps = _config.penaltyFactorBps;
        Settlement memory result = _settle(_terms(tradeId), baselineWh, meteredWh, factorBps);
        _finalised[word] |= mask;
        emit SettlementResolved(
            tradeId,
            msg.sender,
            baselineWh,
            meteredWh,
            result.tradedWh,
            result.deliveredWh,
            result.shortfallWh,
            result.paymentCents,
            result.penaltyCents,
            factorBps
        );
        emit SettlementFinalised(tradeId, msg.sender);
    }

    /// @inheritdoc IFlexSettlement
    function finalise(uint256 tradeId) external {
        _finalise(tradeId, _config);
    }

    /// @inheritdoc IFlexSettlement
    function finaliseBatch(uint256[] calldata tradeIds) external {
        uint256 count = tradeIds.length;
        _checkBatchSize(count);
        Config memory config = _config;
        for (uint256 i = 0; i < count; ++i) {
            _finalise(tradeIds[i], config);
        }
    }

    /// @inheritdoc IFlexSettlement
    function setPenaltyFactor(uint16 penaltyFactorBps_) external {
        _checkRole(_MARKET_OPERATOR);
        _checkPenaltyFactor(penaltyFactorBps_);
        uint16 previousBps = _config.penaltyFactorBps;
        _config.penaltyFactorBps = penaltyFactorBps_;
        emit PenaltyFactorChanged(previousBps, penaltyFactorBps_, msg.sender);
    }

    /// @inheritdoc IFlexSettlement
    function setWindows(uint32 attestationWindowS_, uint32 disputeWindowS_) external {
        _checkRole(_MARKET_OPERATOR);
        _checkWindows(attestationWindowS_, disputeWindowS_);
        // Trade ids are consecutive: the new windows apply to the trades recorded from now on.
        uint64 fromTradeId = uint64(_market.tradeCount() + 1);
        Config memory config = _config;
        if (config.windowsFromTradeId != fromTradeId) {
            _windowHistory[config.windowHistoryLength] = WindowSet(
                config.windowsFromTradeId,
                config.attestationWindowS,
                config.disputeWindowS
            );
            ++config.windowHistoryLength;
            config.windowsFromTradeId = fromTradeId;
        }
        config.attestationWindowS = attestationWindowS_;
        config.disputeWindowS = disputeWindowS_;
        _config = config;
        emit WindowsChanged(attestationWindowS_, disputeWindowS_, fromTradeId, msg.sender);
    }

    /// @inheritdoc IFlexSettlement
    function computeSettlement(
        uint8 direction,
        uint16 slotCount,
        uint32 powerW,
        uint32 priceCentsPerMWh,
        uint64 baselineWh,
        uint64 meteredWh,
        uint16 penaltyFactorBps_
    ) external pure returns (Settlement memory) {
        IFlexMarket.TradeTerms memory terms = IFlexMarket.TradeTerms(
            direction,
            0,
            slotCount,
            powerW,
            priceCentsPerMWh
        );
        return _settle(terms, baselineWh, meteredWh, penaltyFactorBps_);
    }

    /// @inheritdoc IFlexSettlement
    function quoteSettlement(
        uint256 tradeId,
        uint64 baselineWh,
        uint64 meteredWh
    ) external view returns (Settlement memory) {
        return _settle(_existingTerms(tradeId), baselineWh, meteredWh, _config.penaltyFactorBps);
    }

    /// @inheritdoc IFlexSettlement
    function disputeDeadline(uint256 tradeId) external view returns (uint256) {
        return _deadline(tradeId, _existingTerms(tradeId), _config);
    }

    /// @inheritdoc IFlexSettlement
    function windowsOf(uint256 tradeId) external view returns (uint32 attestationWindowS_, uint32 disputeWindowS_) {
        return _windowsOf(tradeId, _config);
    }

    /// @inheritdoc IFlexSettlement
    function isAttested(uint256 tradeId) external view returns (bool) {
        (uint256 word, uint256 mask) = _position(tradeId);
        return _attested[word] & mask != 0;
    }

    /// @inheritdoc IFlexSettlement
    function isDisputed(uint256 tradeId) external view returns (bool) {
        (uint256 word, uint256 mask) = _position(tradeId);
        return _disputed[word] & mask != 0;
    }

    /// @inheritdoc IFlexSettlement
    function isFinalised(uint256 tradeId) external view returns (bool) {
        (uint256 word, uint256 mask) = _position(tradeId);
        return _finalised[word] & mask != 0;
    }

    /// @inheritdoc IFlexSettlement
    function penaltyFactorBps() external view returns (uint16) {
        return _config.penaltyFactorBps;
    }

    /// @inheritdoc IFlexSettlement
    function attestationWindowS() external view returns (uint32) {
        return _config.attestationWindowS;
    }

    /// @inheritdoc IFlexSettlement
    function disputeWindowS() external view returns (uint32) {
        return _config.disputeWindowS;
    }

    /**
     * @notice The market whose trades are settled.
     * @return The market.
     */
    function market() external view returns (IFlexMarket) {
        return _market;
    }

    /**
     * @dev Checks timing and uniqueness of an attestation of the trade whose packed terms word is
     * `packed`, and sets the attested bit; returns the trade's dispute deadline. Works on the packed terms word and stack values only: this
     * is the per-trade hot path.
     */
    function _markAttested(
        uint256 tradeId,
        uint256 packed,
        Config memory config
    ) private returns (uint256 deadline) {
        (uint256 word, uint256 mask) = _position(tradeId);
        uint256 bits = _attested[word];
        deadline = _checkAttestation(tradeId, packed, bits, mask, config);
        _attested[word] = bits | mask;
    }

    /**
     * @dev Reverts unless the trade exists, its bit in `bits` (its attested word) is clear and
     * now lies in its attestation window; returns its dispute deadline.
     */
    function _checkAttestation(
        uint256 tradeId,
        uint256 packed,
        uint256 bits,
        uint256 mask,
        Config memory config
    ) private view returns (uint256 deadline) {
        if (uint32(packed >> 88) == 0) revert UnknownTrade(tradeId);
        if (bits & mask != 0) revert AlreadyAttested(tradeId);
        (uint32 attestationWindow, uint32 disputeWindow) = _windowsOf(tradeId, config);
        uint256 deliveryEnd;
        uint256 closesAt;
        // Sums of a uint64, a uint16 times 900 and two uint32: far below 2^256.
        unchecked {
            deliveryEnd = uint256(uint64(packed >> 8)) + uint256(uint16(packed >> 72)) * _SLOT_SECONDS;
            closesAt = deliveryEnd + attestationWindow;
            deadline = closesAt + disputeWindow;
        }
        if (block.timestamp < deliveryEnd) revert AttestationTooEarly(tradeId, deliveryEnd, block.timestamp);
        if (block.timestamp > closesAt) revert AttestationWindowClosed(tradeId, closesAt, block.timestamp);
    }

    /**
     * @dev {IFlexMarket-packedTradeTerms} by a bare staticcall into scratch memory: the market
     * is the immutable one bound at construction, so no code-size check or ABI decoder is needed.
     */
    function _packedTerms(uint256 tradeId) private view returns (uint256 packed) {
        address market_ = address(_market);
        bytes4 selector = IFlexMarket.packedTradeTerms.selector;
        assembly ("memory-safe") {
            mstore(0x00, selector)
            mstore(0x04, tradeId)
            if iszero(staticcall(gas(), market_, 0x00, 0x24, 0x00, 0x20)) {
                returndatacopy(0x00, 0x00, returndatasize())
                revert(0x00, returndatasize())
            }
            if lt(returndatasize(), 0x20) {
                revert(0x00, 0x00)
            }
            packed := mload(0x00)
        }
    }

    /**
     * @dev One trade's two words of {SettlementsAttested} (layout in {IFlexSettlement}) from its
     * packed attestation (tradeId << 128 | baselineWh << 64 | meteredWh). The trade exists, so
     * its id is below 2^64 and the first word is the attestation shifted by 64 bits; the amounts
     * fit their fields by their bounds (tradedWh < 2^46, paymentCents < 2^76, penaltyCents < 2^80).
     */
    function _record(
        uint256 attestation,
        uint256 packed,
        uint16 factorBps
    ) private pure returns (uint256 first, uint256 second) {
        (uint64 tradedWh, uint64 deliveredWh, , uint256 paymentCents, uint256 penaltyCents) = _compute(
            uint8(packed),
            uint16(packed >> 72),
            uint32(packed >> 88),
            uint32(packed >> 120),
            uint64(attestation >> 64),
            uint64(attestation),
            factorBps
        );
        first = (attestation << 64) | deliveredWh;
        second = (uint256(tradedWh) << 192) | (paymentCents << 96) | penaltyCents;
    }

    /**
     * @dev Computes and emits {SettlementAttested} (split out to keep the stack shallow).
     */
    function _emitAttested(
        Attestation calldata attestation,
        uint256 packed,
        uint16 factorBps,
        uint256 deadline
    ) private {
        (uint64 tradedWh, uint64 deliveredWh, uint64 shortfallWh, uint256 paymentCents, uint256 penaltyCents) = _compute(
            uint8(packed),
            uint16(packed >> 72),
            uint32(packed >> 88),
            uint32(packed >> 120),
            attestation.baselineWh,
            attestation.meteredWh,
            factorBps
        );
        emit SettlementAttested(
            attestation.tradeId,
            msg.sender,
            attestation.baselineWh,
            attestation.meteredWh,
            tradedWh,
            deliveredWh,
            shortfallWh,
            paymentCents,
            penaltyCents,
            factorBps,
            deadline
        );
    }

    /**
     * @dev Finalises an attested, undisputed, unfinalised trade whose deadline has passed.
     */
    function _finalise(uint256 tradeId, Config memory config) private {
        (uint256 word, uint256 mask) = _position(tradeId);
        if (_attested[word] & mask == 0) revert NotAttested(tradeId);
        if (_disputed[word] & mask != 0) revert AlreadyDisputed(tradeId);
        uint256 bits = _finalised[word];
        if (bits & mask != 0) revert AlreadyFinalised(tradeId);
        uint256 deadline = _deadline(tradeId, _terms(tradeId), config);
        if (block.timestamp < deadline) revert DisputeWindowOpen(tradeId, deadline, block.timestamp);
        _finalised[word] = bits | mask;
        emit SettlementFinalised(tradeId, msg.sender);
    }

    /**
     * @dev The trade's terms; reverts with {UnknownTrade} if it does not exist.
     */
    function _existingTerms(uint256 tradeId) private view returns (IFlexMarket.TradeTerms memory terms) {
        terms = _terms(tradeId);
        if (terms.powerW == 0) revert UnknownTrade(tradeId);
    }

    /**
     * @dev The trade's terms from the market's packed word (see {IFlexMarket-packedTradeTerms}).
     */
    function _terms(uint256 tradeId) private view returns (IFlexMarket.TradeTerms memory) {
        uint256 packed = _market.packedTradeTerms(tradeId);
        return
            IFlexMarket.TradeTerms(
                uint8(packed),
                uint64(packed >> 8),
                uint16(packed >> 72),
                uint32(packed >> 88),
                uint32(packed >> 120)
            );
    }

    /**
     * @dev Reverts with {MissingRole} unless the caller holds `role`.
     */
    function _checkRole(uint8 role) private view {
        if (!_roles.hasRole(msg.sender, role)) revert MissingRole(msg.sender, role);
    }

    /**
     * @dev The settlement arithmetic for a trade's terms, as a struct.
     */
    function _settle(
        IFlexMarket.TradeTerms memory terms,
        uint64 baselineWh,
        uint64 meteredWh,
        uint16 factorBps
    ) private pure returns (Settlement memory result) {
        (result.tradedWh, result.deliveredWh, result.shortfallWh, result.paymentCents, result.penaltyCents) = _compute(
            terms.direction,
            terms.slotCount,
            terms.powerW,
            terms.priceCentsPerMWh,
            baselineWh,
            meteredWh,
            factorBps
        );
    }

    /**
     * @dev The settlement arithmetic; see {IFlexSettlement}.
     */
    function _compute(
        uint8 direction,
        uint16 slotCount,
        uint32 powerW,
        uint32 priceCentsPerMWh,
        uint64 baselineWh,
        uint64 meteredWh,
        uint16 factorBps
    )
        private
        pure
        returns (uint64 tradedWh, uint64 deliveredWh, uint64 shortfallWh, uint256 paymentCents, uint256 penaltyCents)
    {
        // powerW < 2^32 and slotCount < 2^16, so the product fits in 48 bits: no overflow.
        unchecked {
            tradedWh = uint64((uint256(powerW) * slotCount) / _SLOTS_PER_HOUR);
        }
        uint64 changeWh;
        if (direction == _DOWN) {
            changeWh = meteredWh > baselineWh ? meteredWh - baselineWh : 0;
        } else {
            changeWh = baselineWh > meteredWh ? baselineWh - meteredWh : 0;
        }
        deliveredWh = changeWh < tradedWh ? changeWh : tradedWh;
        // deliveredWh <= tradedWh by the clip above.
        unchecked {
            shortfallWh = tradedWh - deliveredWh;
        }
        // Products of a uint32 and a uint64 (times a uint16): below 2^112, no overflow.
        unchecked {
            paymentCents = (uint256(priceCentsPerMWh) * deliveredWh) / _WH_PER_MWH;
            // The penalty rate is published in the price's own unit (cents/MWh, rounded down)
            // and then applied to the shortfall; the rounding of the rate is part of the rule.
            // slither-disable-next-line divide-before-multiply
            penaltyCents = (((uint256(priceCentsPerMWh) * factorBps) / _BPS) * shortfallWh) / _WH_PER_MWH;
        }
    }

    /**
     * @dev Unix second delivery ends: slotStart + 900 * slotCount.
     */
    function _deliveryEnd(IFlexMarket.TradeTerms memory terms) private pure returns (uint256) {
        return uint256(terms.slotStart) + uint256(terms.slotCount) * _SLOT_SECONDS;
    }

    /**
     * @dev The dispute deadline: delivery end + the trade's attestation and dispute windows.
     */
    function _deadline(
        uint256 tradeId,
        IFlexMarket.TradeTerms memory terms,
        Config memory config
    ) private view returns (uint256) {
        (uint32 attestationWindow, uint32 disputeWindow) = _windowsOf(tradeId, config);
        return _deliveryEnd(terms) + attestationWindow + disputeWindow;
    }

    /**
     * @dev The windows of trade `tradeId`: the current ones from `windowsFromTradeId` on (no
     * storage read), else the last history entry starting at or before it (binary search: at
     * most 32 reads, the history holding fewer than 2^32 entries; entry 0 starts at trade 0).
     */
    function _windowsOf(
        uint256 tradeId,
        Config memory config
    ) private view returns (uint32 attestationWindowS_, uint32 disputeWindowS_) {
        if (tradeId >= config.windowsFromTradeId) return (config.attestationWindowS, config.disputeWindowS);
        uint256 low = 0;
        uint256 high = config.windowHistoryLength;
        while (high - low > 1) {
            uint256 middle = (low + high) >> 1;
            if (_windowHistory[middle].fromTradeId <= tradeId) {
                low = middle;
            } else {
                high = middle;
            }
        }
        WindowSet memory windows = _windowHistory[low];
        return (windows.attestationWindowS, windows.disputeWindowS);
    }

    /**
     * @dev Word index and bit mask of a trade in the bitmaps.
     */
    function _position(uint256 tradeId) private pure returns (uint256 word, uint256 mask) {
        return (tradeId >> 8, 1 << (tradeId & 0xff));
    }

    /**
     * @dev Reverts unless a batch has 1..MAX_BATCH items.
     */
    function _checkBatchSize(uint256 count) private pure {
        if (count == 0 || count > MAX_BATCH) revert BatchSizeOutOfRange(count, MAX_BATCH);
    }

    /**
     * @dev Reverts if the factor exceeds the cap.
     */
    function _checkPenaltyFactor(uint16 factorBps) private pure {
        if (factorBps > MAX_PENALTY_FACTOR_BPS) revert PenaltyFactorTooHigh(factorBps, MAX_PENALTY_FACTOR_BPS);
    }

    /**
     * @dev Reverts if either window is zero.
     */
    function _checkWindows(uint32 attestationWindowS_, uint32 disputeWindowS_) private pure {
        if (attestationWindowS_ == 0 || disputeWindowS_ == 0) {
            revert InvalidWindows(attestationWindowS_, disputeWindowS_);
        }
    }
}
