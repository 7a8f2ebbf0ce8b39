// SPDX-License-Identifier: UNLICENSED
pragma solidity =0.8.28;

/**
 * @title IFlexSettlement
 * @notice Deterministic settlement of recorded trades from oracle attestations of baseline and
 * metered energy, with a dispute window.
 *
 * For a trade of `powerW` over `slotCount` slots of 900 s at `price` (euro cents per MWh):
 * - tradedWh = powerW * slotCount * 900 / 3600 (floor)
 * - deliveredWh = baseline - metered (Up) or metered - baseline (Down), clipped to [0, tradedWh]
 * - paymentCents = price * deliveredWh / 1e6 (floor)
 * - shortfallWh = tradedWh - deliveredWh
 * - penaltyRate = price * penaltyFactorBps / 10000 (floor, cents per MWh)
 * - penaltyCents = penaltyRate * shortfallWh / 1e6 (floor)
 * Timeline: deliveryEnd = slotStart + 900 * slotCount; an attestation is accepted in
 * [deliveryEnd, deliveryEnd + attestationWindow]; disputes before
 * disputeDeadline = deliveryEnd + attestationWindow + disputeWindow; finalisation from then on.
 * A trade's windows are those in force when it was recorded: {setWindows} applies to trades
 * recorded after it ({WindowsChanged} names the first such trade id), never to earlier ones.
 * The penalty factor is read when used; every settlement event carries the factor used.
 */
interface IFlexSettlement {
    /**
     * @notice An oracle's attestation for one trade.
     * @param tradeId The trade id.
     * @param baselineWh Energy the asset would have used without activation, Wh.
     * @param meteredWh Energy metered, Wh.
     */
    struct Attestation {
        uint256 tradeId;
        uint64 baselineWh;
        uint64 meteredWh;
    }

    /**
     * @notice The outcome of the settlement arithmetic.
     * @param tradedWh Energy traded, Wh.
     * @param deliveredWh Energy delivered, clipped to [0, tradedWh], Wh.
     * @param shortfallWh tradedWh - deliveredWh.
     * @param paymentCents Payment to the seller, euro cents.
     * @param penaltyCents Penalty owed by the seller, euro cents.
     */
    struct Settlement {
        uint64 tradedWh;
        uint64 deliveredWh;
        uint64 shortfallWh;
        uint256 paymentCents;
        uint256 penaltyCents;
    }

    /**
     * @notice An oracle attested a trade; carries every input and output of the computation.
     * @param tradeId The trade id.
     * @param oracle The attesting oracle.
     * @param baselineWh Baseline energy, Wh.
     * @param meteredWh Metered energy, Wh.
     * @param tradedWh Traded energy, Wh.
     * @param deliveredWh Delivered energy, Wh.
     * @param shortfallWh Shortfall, Wh.
     * @param paymentCents Payment, euro cents.
     * @param penaltyCents Penalty, euro cents.
     * @param penaltyFactorBps Penalty factor used, basis points of the price.
     * @param disputeDeadline Unix second from which it can be finalised and no longer disputed.
     */
    event SettlementAttested(
        uint256 indexed tradeId,
        address oracle,
        uint64 baselineWh,
        uint64 meteredWh,
        uint64 tradedWh,
        uint64 deliveredWh,
        uint64 shortfallWh,
        uint256 paymentCents,
        uint256 penaltyCents,
        uint16 penaltyFactorBps,
        uint256 disputeDeadline
    );

    /**
     * @notice An oracle attested a batch of trades ({attestBatch}); two words per trade, in
     * the batch's order:
     * - word 2i: tradeId (bits 192-255), baselineWh (128-191), meteredWh (64-127),
     *   deliveredWh (0-63);
     * - word 2i+1: tradedWh (192-255), paymentCents (96-191), penaltyCents (0-95).
     * shortfallWh = tradedWh - deliveredWh; each trade's dispute deadline is its delivery end
     * plus its windows ({windowsOf}). Same numbers as {SettlementAttested}, a fifth of the gas.
     * @param oracle The attesting oracle.
     * @param penaltyFactorBps Penalty factor used, basis points of the price.
     * @param records The packed settlements.
     */
    event SettlementsAttested(address indexed oracle, uint16 penaltyFactorBps, uint256[] records);

    /**
     * @notice A party to the trade disputed its attestation.
     * @param tradeId The trade id.
     * @param disputant The caller (identity owner of buyer or seller).
     * @param reasonHash Hash of the off-chain reason.
     */
    event SettlementDisputed(uint256 indexed tradeId, address disputant, bytes32 reasonHash);

    /**
     * @notice A market operator resolved a dispute with corrected energies; the trade is final.
     * @param tradeId The trade id.
     * @param resolver The market operator.
     * @param baselineWh Baseline energy, Wh.
     * @param meteredWh Metered energy, Wh.
     * @param tradedWh Traded energy, Wh.
     * @param deliveredWh Delivered energy, Wh.
     * @param shortfallWh Shortfall, Wh.
     * @param paymentCents Payment, euro cents.
     * @param penaltyCents Penalty, euro cents.
     * @param penaltyFactorBps Penalty factor used.
     */
    event SettlementResolved(
        uint256 indexed tradeId,
        address resolver,
        uint64 baselineWh,
        uint64 meteredWh,
        uint64 tradedWh,
        uint64 deliveredWh,
        uint64 shortfallWh,
        uint256 paymentCents,
        uint256 penaltyCents,
        uint16 penaltyFactorBps
    );

    /**
     * @notice A settlement became final: after its dispute deadline without dispute, or by
     * resolution. The numbers are those of its SettlementAttested or SettlementResolved event.
     * @param tradeId The trade id.
     * @param finaliser The caller.
     */
    event SettlementFinalised(uint256 indexed tradeId, address finaliser);

    /**
     * @notice The penalty factor changed.
     * @param previousBps The previous factor.
     * @param penaltyFactorBps The new factor.
     * @param changedBy The market operator.
     */
    event PenaltyFactorChanged(uint16 previousBps, uint16 penaltyFactorBps, address changedBy);

    /**
     * @notice The attestation and dispute windows changed, for trades from `fromTradeId` on
     * (the trades recorded after the change); earlier trades keep their windows.
     * @param attestationWindowS New attestation window, s.
     * @param disputeWindowS New dispute window, s.
     * @param fromTradeId First trade id they apply to (0 at deployment: every trade).
     * @param changedBy The market operator.
     */
    event WindowsChanged(uint32 attestationWindowS, uint32 disputeWindowS, uint64 fromTradeId, address changedBy);

    /**
     * @notice `account` does not hold `role`.
     * @param account The account.
     * @param role The role id it needs.
     */
    error MissingRole(address account, uint8 role);

    /**
     * @notice No trade `tradeId` exists in the market.
     * @param tradeId The trade id.
     */
    error UnknownTrade(uint256 tradeId);

    /**
     * @notice The trade was already attested.
     * @param tradeId The trade id.
     */
    error AlreadyAttested(uint256 tradeId);

    /**
     * @notice Delivery has not ended yet.
     * @param tradeId The trade id.
     * @param deliveryEnd When delivery ends.
     * @param timestamp The block time.
     */
    error AttestationTooEarly(uint256 tradeId, uint256 deliveryEnd, uint256 timestamp);

    /**
     * @notice The attestation window has closed.
     * @param tradeId The trade id.
     * @param closedAt Last second an attestation was accepted.
     * @param timestamp The block time.
     */
    error AttestationWindowClosed(uint256 tradeId, uint256 closedAt, uint256 timestamp);

    /**
     * @notice The trade has not been attested.
     * @param tradeId The trade id.
     */
    error NotAttested(uint256 tradeId);

    /**
     * @notice `caller` is the identity owner of neither the buyer nor the seller.
     * @param tradeId The trade id.
     * @param caller The caller.
     */
    error NotTradeParty(uint256 tradeId, address caller);

    /**
     * @notice The dispute deadline has passed.
     * @param tradeId The trade id.
     * @param deadline The deadline.
     * @param timestamp The block time.
     */
    error DisputeWindowClosed(uint256 tradeId, uint256 deadline, uint256 timestamp);

    /**
     * @notice The dispute deadline has not passed yet.
     * @param tradeId The trade id.
     * @param deadline The deadline.
     * @param timestamp The block time.
     */
    error DisputeWindowOpen(uint256 tradeId, uint256 deadline, uint256 timestamp);

    /**
     * @notice The trade's settlement is already disputed.
     * @param tradeId The trade id.
     */
    error AlreadyDisputed(uint256 tradeId);

    /**
     * @notice The trade's settlement is not under dispute.
     * @param tradeId The trade id.
     */
    error NotDisputed(uint256 tradeId);

    /**
     * @notice The trade's settlement is final.
     * @param tradeId The trade id.
     */
    error AlreadyFinalised(uint256 tradeId);

    /**
     * @notice A batch is empty or larger than its cap.
     * @param count The number of items.
     * @param max The cap.
     */
    error BatchSizeOutOfRange(uint256 count, uint256 max);

    /**
     * @notice The penalty factor exceeds MAX_PENALTY_FACTOR_BPS.
     * @param penaltyFactorBps The factor given.
     * @param max The cap.
     */
    error PenaltyFactorTooHigh(uint256 penaltyFactorBps, uint256 max);

    /**
     * @notice A window is zero.
     * @param attestationWindowS The attestation window given.
     * @param disputeWindowS The dispute window given.
     */
    error InvalidWindows(uint32 attestationWindowS, uint32 disputeWindowS);

    /**
     * @notice Attests one trade; oracle only.
     * @param attestation The attestation.
     */
    function attest(Attestation calldata attestation) external;

    /**
     * @notice Attests several trades (at most MAX_BATCH); oracle only. Emits one
     * {SettlementsAttested} for the batch. Each attestation is one word, a third of the
     * calldata of an {Attestation}: tradeId << 128 | baselineWh << 64 | meteredWh.
     * @param attestations The packed attestations.
     */
    function attestBatch(uint256[] calldata attestations) external;

    /**
     * @notice Disputes an attested trade before its deadline; buyer's or seller's identity owner.
     * @param tradeId The trade id.
     * @param reasonHash Hash of the off-chain reason.
     */
    function dispute(uint256 tradeId, bytes32 reasonHash) external;

    /**
     * @notice Resolves a dispute with corrected energies and finalises; market operator only.
     * @param tradeId The trade id.
     * @param baselineWh Corrected baseline, Wh.
     * @param meteredWh Corrected metered energy, Wh.
     */
    function resolveDispute(uint256 tradeId, uint64 baselineWh, uint64 meteredWh) external;

    /**
     * @notice Finalises an attested, undisputed trade after its dispute deadline; anyone.
     * @param tradeId The trade id.
     */
    function finalise(uint256 tradeId) external;

    /**
     * @notice {finalise} for several trades (at most MAX_BATCH); anyone.
     * @param tradeIds The trade ids.
     */
    function finaliseBatch(uint256[] calldata tradeIds) external;

    /**
     * @notice Sets the penalty factor; market operator only.
     * @param penaltyFactorBps The factor, basis points of the trade price.
     */
    function setPenaltyFactor(uint16 penaltyFactorBps) external;

    /**
     * @notice Sets the attestation and dispute windows of the trades recorded from now on;
     * market operator only. Trades already recorded keep their windows.
     * @param attestationWindowS Attestation window, s (> 0).
     * @param disputeWindowS Dispute window, s (> 0).
     */
    function setWindows(uint32 attestationWindowS, uint32 disputeWindowS) external;

    /**
     * @notice The settlement arithmetic for given terms (pure; what attest and resolve use).
     * @param direction 0 up, 1 down.
     * @param slotCount Number of 900 s slots.
     * @param powerW Traded power, W.
     * @param priceCentsPerMWh Trade price.
     * @param baselineWh Baseline, Wh.
     * @param meteredWh Metered, Wh.
     * @param penaltyFactorBps Penalty factor, basis points.
     * @return The settlement.
     */
    function computeSettlement(
        uint8 direction,
        uint16 slotCount,
        uint32 powerW,
        uint32 priceCentsPerMWh,
        uint64 baselineWh,
        uint64 meteredWh,
        uint16 penaltyFactorBps
    ) external pure returns (Settlement memory);

    /**
     * @notice What attesting `tradeId` with these energies would give now.
     * @param tradeId The trade id.
     * @param baselineWh Baseline, Wh.
     * @param meteredWh Metered, Wh.
     * @return The settlement.
     */
    function quoteSettlement(
        uint256 tradeId,
        uint64 baselineWh,
        uint64 meteredWh
    ) external view returns (Settlement memory);

    /**
     * @notice The attestation and dispute windows of trade `tradeId`: those in force when it
     * was recorded (for an id not yet recorded, the current ones).
     * @param tradeId The trade id.
     * @return attestationWindow The attestation window, s.
     * @return disputeWindow The dispute window, s.
     */
    function windowsOf(uint256 tradeId) external view returns (uint32 attestationWindow, uint32 disputeWindow);

    /**
     * @notice The trade's dispute deadline under its windows ({windowsOf}).
     * @param tradeId The trade id.
     * @return Unix seconds.
     */
    function disputeDeadline(uint256 tradeId) external view returns (uint256);

    /**
     * @notice Whether the trade was attested.
     * @param tradeId The trade id.
     * @return True if attested.
     */
    function isAttested(uint256 tradeId) external view returns (bool);

    /**
     * @notice Whether the trade was disputed.
     * @param tradeId The trade id.
     * @return True if disputed.
     */
    function isDisputed(uint256 tradeId) external view returns (bool);

    /**
     * @notice Whether the trade's settlement is final.
     * @param tradeId The trade id.
     * @return True if final.
     */
    function isFinalised(uint256 tradeId) external view returns (bool);

    /**
     * @notice The current penalty factor, basis points of the trade price.
     * @return The factor.
     */
    function penaltyFactorBps() external view returns (uint16);

    /**
     * @notice The current attestation window (for trades recorded from now on), s.
     * @return The window.
     */
    function attestationWindowS() external view returns (uint32);

    /**
     * @notice The current dispute window, s.
     * @return The window.
     */
    function disputeWindowS() external view returns (uint32);
}
