// SPDX-License-Identifier: UNLICENSED
pragma solidity =0.8.28;

import {IDIDRegistry} from "./IDIDRegistry.sol";
import {IGridRegistry} from "./IGridRegistry.sol";
import {IRoleRegistry} from "./IRoleRegistry.sol";

/**
 * @title IFlexMarket
 * @notice The flexibility market: EIP-712 signed orders ("flexledger Market", version "1"),
 * placed one by one by a wallet or committed in batches as Merkle roots by the platform, and the
 * trades the market operator records between a buy (system operator) and a sell (FSP) order.
 *
 * Scales: power W (uint32), prices euro cents per MWh (uint32), unix seconds; a slot is 900 s
 * and a slot start is a multiple of 900. Positive power is consumption; direction Up (0) is less
 * consumption / more generation, Down (1) more consumption / less generation. Side 0 buys
 * (DSO or TSO), side 1 sells (FSP, backed by an asset of its own).
 */
interface IFlexMarket {
    /**
     * @notice A market order; its EIP-712 type string is fixed by oracle/eip712.py ORDER_FIELDS.
     * @param maker The identity (did:ethr address) making the order; its identity owner signs.
     * @param side 0 buy, 1 sell.
     * @param direction 0 up, 1 down.
     * @param nodeId Buy: the grid node needing flexibility. Sell: the asset's confirmed node.
     * @param asset Sell: the asset delivering. Buy: address(0).
     * @param slotStart First slot's start, unix seconds, multiple of 900.
     * @param slotCount Number of consecutive 900 s slots (>= 1).
     * @param powerW Power offered or asked for in every slot, W (> 0).
     * @param minPowerW Smallest acceptable fill, W (= powerW when not divisible).
     * @param divisible Whether the order may be filled by several trades.
     * @param priceCentsPerMWh Limit price: buy at most, sell at least.
     * @param nonce Maker's nonce; one (maker, nonce) backs at most one order.
     * @param expiry Unix second from which the order can no longer be placed or traded.
     */
    struct Order {
        address maker;
        uint8 side;
        uint8 direction;
        uint32 nodeId;
        address asset;
        uint64 slotStart;
        uint16 slotCount;
        uint32 powerW;
        uint32 minPowerW;
        bool divisible;
        uint32 priceCentsPerMWh;
        uint64 nonce;
        uint64 expiry;
    }

    /**
     * @notice An order with its signature and where it was published.
     * @param order The order.
     * @param signature 65-byte r‖s‖v EIP-712 signature by the maker's identity owner.
     * @param root 0 if placed with {placeOrder}; otherwise the committed batch root.
     * @param proof Merkle proof of the order hash against `root` (empty when root is 0).
     */
    struct SignedOrder {
        Order order;
        bytes signature;
        bytes32 root;
        bytes32[] proof;
    }

    /**
     * @notice One trade of a {recordTrades} batch.
     * @param buy The buy order.
     * @param sell The sell order.
     * @param powerW Traded power in every slot, W.
     * @param priceCentsPerMWh Trade price.
     */
    struct TradeInput {
        SignedOrder buy;
        SignedOrder sell;
        uint32 powerW;
        uint32 priceCentsPerMWh;
    }

    /**
     * @notice What settlement needs from a trade; one storage slot.
     * @param direction 0 up, 1 down.
     * @param slotStart Delivery start, unix seconds.
     * @param slotCount Number of 900 s slots.
     * @param powerW Traded power, W (0 means no such trade).
     * @param priceCentsPerMWh Trade price.
     */
    struct TradeTerms {
        uint8 direction;
        uint64 slotStart;
        uint16 slotCount;
        uint32 powerW;
        uint32 priceCentsPerMWh;
    }

    /**
     * @notice A recorded trade.
     * @param terms The settlement terms.
     * @param buyer The buy order's maker.
     * @param seller The sell order's maker.
     * @param asset The asset delivering.
     */
    struct Trade {
        TradeTerms terms;
        address buyer;
        address seller;
        address asset;
    }

    /**
     * @notice A wallet placed an order. The order and its signature are the transaction's
     * calldata; every {TradeRecorded} repeats them in full, so the log carries the hash only.
     * @param orderHash The EIP-712 digest (the order's id).
     * @param maker The maker.
     */
    event OrderPlaced(bytes32 indexed orderHash, address indexed maker);

    /**
     * @notice A batch of order hashes was committed as a Merkle root (sorted-pair keccak256,
     * an odd node is promoted unchanged).
     * @param root The Merkle root.
     * @param count Number of order hashes.
     * @param committer The market operator or oracle that committed it.
     */
    event OrderBatchCommitted(bytes32 indexed root, uint256 count, address committer);

    /**
     * @notice An order was cancelled by its maker's identity owner.
     * @param orderHash The order hash.
     * @param maker The maker.
     */
    event OrderCancelled(bytes32 indexed orderHash, address indexed maker);

    /**
     * @notice A trade was recorded; carries everything needed to verify it from logs alone.
     * @param tradeId The trade id (1, 2, ...).
     * @param buyHash The buy order hash.
     * @param sellHash The sell order hash.
     * @param buy The buy order, its signature, root and proof.
     * @param sell The sell order, its signature, root and proof.
     * @param powerW Traded power, W.
     * @param priceCentsPerMWh Trade price.
     */
    event TradeRecorded(
        uint256 indexed tradeId,
        bytes32 indexed buyHash,
        bytes32 indexed sellHash,
        SignedOrder buy,
        SignedOrder sell,
        uint32 powerW,
        uint32 priceCentsPerMWh
    );

    /**
     * @notice `account` does not hold `role`.
     * @param account The account.
     * @param role The role it needs.
     */
    error MissingRole(address account, uint8 role);

    /**
     * @notice `account` is neither a DSO nor a TSO.
     * @param account The account.
     */
    error NotSystemOperator(address account);

    /**
     * @notice `account` is neither a market operator nor an oracle.
     * @param account The account.
     */
    error NotBatchCommitter(address account);

    /**
     * @notice The order asks for zero power.
     * @param orderHash The order hash.
     */
    error ZeroPower(bytes32 orderHash);

    /**
     * @notice The order's minimum fill exceeds its power.
     * @param orderHash The order hash.
     * @param minPowerW The minimum fill.
     * @param powerW The power.
     */
    error MinPowerAbovePower(bytes32 orderHash, uint32 minPowerW, uint32 powerW);

    /**
     * @notice A non-divisible order's minimum fill differs from its power.
     * @param orderHash The order hash.
     * @param minPowerW The minimum fill.
     * @param powerW The power.
     */
    error IndivisibleMinPower(bytes32 orderHash, uint32 minPowerW, uint32 powerW);

    /**
     * @notice The order covers no slot.
     * @param orderHash The order hash.
     */
    error ZeroSlotCount(bytes32 orderHash);

    /**
     * @notice The slot start is not a multiple of 900 s.
     * @param orderHash The order hash.
     * @param slotStart The slot start.
     */
    error SlotNotAligned(bytes32 orderHash, uint64 slotStart);

    /**
     * @notice The side is neither 0 (buy) nor 1 (sell).
     * @param orderHash The order hash.
     * @param side The side.
     */
    error InvalidSide(bytes32 orderHash, uint8 side);

    /**
     * @notice The direction is neither 0 (up) nor 1 (down).
     * @param orderHash The order hash.
     * @param direction The direction.
     */
    error InvalidDirection(bytes32 orderHash, uint8 direction);

    /**
     * @notice A buy order names an asset (buys must use address(0)).
     * @param orderHash The order hash.
     * @param asset The asset named.
     */
    error BuyOrderHasAsset(bytes32 orderHash, address asset);

    /**
     * @notice The order has expired.
     * @param orderHash The order hash.
     * @param expiry Its expiry.
     * @param timestamp The block time.
     */
    error OrderExpired(bytes32 orderHash, uint64 expiry, uint256 timestamp);

    /**
     * @notice A sell order's asset is not owned by its maker (owner is 0 for an unknown asset).
     * @param orderHash The order hash.
     * @param asset The asset.
     * @param owner The asset's owner.
     * @param maker The order's maker.
     */
    error AssetNotOwnedByMaker(bytes32 orderHash, address asset, address owner, address maker);

    /**
     * @notice A sell order's asset is retired.
     * @param orderHash The order hash.
     * @param asset The asset.
     */
    error AssetIsRetired(bytes32 orderHash, address asset);

    /**
     * @notice A sell order's node is not its asset's confirmed node.
     * @param orderHash The order hash.
     * @param asset The asset.
     * @param confirmedNodeId The asset's confirmed node (0 if unconfirmed).
     * @param orderNodeId The order's node.
     */
    error AssetNodeMismatch(bytes32 orderHash, address asset, uint32 confirmedNodeId, uint32 orderNodeId);

    /**
     * @notice The signature is not by the maker's identity owner.
     * @param orderHash The order hash.
     * @param maker The maker.
     * @param signer The recovered signer; address(0) if malformed or malleable.
     */
    error BadSignature(bytes32 orderHash, address maker, address signer);

    /**
     * @notice The maker's nonce was already used on the wallet path.
     * @param maker The maker.
     * @param nonce The nonce.
     */
    error NonceAlreadyUsed(address maker, uint64 nonce);

    /**
     * @notice `caller` is not the identity owner of the order's maker.
     * @param orderHash The order hash.
     * @param maker The maker.
     * @param caller The caller.
     */
    error NotOrderOwner(bytes32 orderHash, address maker, address caller);

    /**
     * @notice The order was already cancelled.
     * @param orderHash The order hash.
     */
    error OrderAlreadyCancelled(bytes32 orderHash);

    /**
     * @notice A batch is empty or larger than its cap.
     * @param count The number of items.
     * @param max The cap.
     */
    error BatchSizeOutOfRange(uint256 count, uint256 max);

    /**
     * @notice The root was already committed.
     * @param root The root.
     * @param committedAt When it was committed.
     */
    error BatchAlreadyCommitted(bytes32 root, uint256 committedAt);

    /**
     * @notice The order is on the wrong side of the trade.
     * @param orderHash The order hash.
     * @param side Its side.
     * @param expected The side it must have.
     */
    error WrongSide(bytes32 orderHash, uint8 side, uint8 expected);

    /**
     * @notice The order is cancelled.
     * @param orderHash The order hash.
     */
    error OrderIsCancelled(bytes32 orderHash);

    /**
     * @notice Root 0 was given but the maker's nonce was never placed with {placeOrder}.
     * @param orderHash The order hash.
     * @param maker The maker.
     * @param nonce The nonce.
     */
    error OrderNotPlaced(bytes32 orderHash, address maker, uint64 nonce);

    /**
     * @notice The root was never committed.
     * @param root The root.
     */
    error BatchNotCommitted(bytes32 root);

    /**
     * @notice A Merkle proof is longer than {MAX_PROOF_LENGTH}.
     * @param length The proof length.
     * @param max The cap.
     */
    error ProofTooLong(uint256 length, uint256 max);

    /**
     * @notice The proof does not lead from the order hash to the root.
     * @param orderHash The order hash.
     * @param root The root.
     */
    error InvalidProof(bytes32 orderHash, bytes32 root);

    /**
     * @notice Buy and sell cover different slots.
     * @param buySlotStart The buy's slot start.
     * @param buySlotCount The buy's slot count.
     * @param sellSlotStart The sell's slot start.
     * @param sellSlotCount The sell's slot count.
     */
    error SlotMismatch(uint64 buySlotStart, uint16 buySlotCount, uint64 sellSlotStart, uint16 sellSlotCount);

    /**
     * @notice Buy and sell are for different directions.
     * @param buyDirection The buy's direction.
     * @param sellDirection The sell's direction.
     */
    error DirectionMismatch(uint8 buyDirection, uint8 sellDirection);

    /**
     * @notice The trade price is outside [sell price, buy price].
     * @param priceCentsPerMWh The trade price.
     * @param sellPriceCentsPerMWh The sell limit.
     * @param buyPriceCentsPerMWh The buy limit.
     */
    error PriceOutOfRange(uint32 priceCentsPerMWh, uint32 sellPriceCentsPerMWh, uint32 buyPriceCentsPerMWh);

    /**
     * @notice A trade of zero power.
     * @param buyHash The buy order hash.
     * @param sellHash The sell order hash.
     */
    error ZeroFill(bytes32 buyHash, bytes32 sellHash);

    /**
     * @notice The fill exceeds what is left of the order.
     * @param orderHash The order hash.
     * @param powerW The fill.
     * @param remainingW What is left.
     */
    error FillExceedsRemaining(bytes32 orderHash, uint32 powerW, uint32 remainingW);

    /**
     * @notice A non-divisible order must be filled whole, in one trade.
     * @param orderHash The order hash.
     * @param powerW The fill.
     * @param orderPowerW The order's power.
     */
    error IndivisibleFill(bytes32 orderHash, uint32 powerW, uint32 orderPowerW);

    /**
     * @notice The fill is below the order's minimum and does not take its whole remainder.
     * @param orderHash The order hash.
     * @param powerW The fill.
     * @param minPowerW The minimum.
     */
    error FillBelowMinimum(bytes32 orderHash, uint32 powerW, uint32 minPowerW);

    /**
     * @notice The sell asset's confirmed node is not at or below the buy's node.
     * @param asset The asset.
     * @param assetNodeId The asset's confirmed node.
     * @param buyNodeId The buy's node.
     */
    error AssetNotBelowNode(address asset, uint32 assetNodeId, uint32 buyNodeId);

    /**
     * @notice The maker's nonce already backs another order that has been filled.
     * @param maker The maker.
     * @param nonce The nonce.
     * @param claimedBy The order hash that claimed it.
     */
    error NonceClaimedByOtherOrder(address maker, uint64 nonce, bytes32 claimedBy);

    /**
     * @notice The order covers more slots than MAX_SLOT_COUNT.
     * @param orderHash The order hash.
     * @param slotCount Its slot count.
     * @param max The cap.
     */
    error TooManySlots(bytes32 orderHash, uint16 slotCount, uint256 max);

    /**
     * @notice The trade would sell more of the asset in one slot and direction than its
     * prequalified capacity (GridRegistry upW or downW), summed over all its trades.
     * @param asset The asset.
     * @param direction 0 up, 1 down.
     * @param slotStart The slot, unix seconds.
     * @param totalW Power sold in that slot with this trade, W.
     * @param capacityW The asset's capacity in that direction, W.
     */
    error CapacityExceeded(address asset, uint8 direction, uint64 slotStart, uint256 totalW, uint256 capacityW);

    /**
     * @notice No trade `tradeId` exists.
     * @param tradeId The trade id.
     */
    error UnknownTrade(uint256 tradeId);

    /**
     * @notice Places a signed order (wallet path): publishes it, authorises nothing. Checks it
     * is well formed and signed by the maker itself or its current DID owner, and uses the
     * maker's nonce once; the maker's role, the sell asset and the current DID owner are checked
     * when the order trades. Stores only the nonce bit and logs only the order hash.
     * @param order The order.
     * @param signature Its EIP-712 signature.
     * @return orderHash The order hash.
     */
    function placeOrder(Order calldata order, bytes calldata signature) external returns (bytes32 orderHash);

    /**
     * @notice Commits order hashes (validated off chain) as one Merkle root; market operator or oracle.
     * @param orderHashes The order hashes, leaves in this order.
     * @return root The Merkle root.
     */
    function commitOrderBatch(bytes32[] calldata orderHashes) external returns (bytes32 root);

    /**
     * @notice Cancels an order; only by the identity owner of its maker.
     * @param order The order.
     */
    function cancelOrder(Order calldata order) external;

    /**
     * @notice Records a trade between a buy and a sell order; market operator only.
     * @param buy The buy order.
     * @param sell The sell order.
     * @param powerW Traded power, W.
     * @param priceCentsPerMWh Trade price.
     * @return tradeId The new trade's id.
     */
    function recordTrade(
        SignedOrder calldata buy,
        SignedOrder calldata sell,
        uint32 powerW,
        uint32 priceCentsPerMWh
    ) external returns (uint256 tradeId);

    /**
     * @notice Records several trades at once (at most MAX_TRADES_PER_BATCH); market operator only.
     * Each trade also adds its power to the sell asset's sold power per slot and direction,
     * which may not pass the asset's prequalified capacity ({CapacityExceeded}).
     * @param trades The trades.
     * @return firstTradeId Id of the first trade recorded; the others follow consecutively.
     */
    function recordTrades(TradeInput[] calldata trades) external returns (uint256 firstTradeId);

    /**
     * @notice The EIP-712 digest of `order` in this market's domain (its order hash).
     * @param order The order.
     * @return The digest.
     */
    function hashOrder(Order calldata order) external view returns (bytes32);

    /**
     * @notice Trade `tradeId`; reverts with {UnknownTrade} if missing.
     * @param tradeId The trade id.
     * @return The trade.
     */
    function trade(uint256 tradeId) external view returns (Trade memory);

    /**
     * @notice The settlement terms of trade `tradeId` (one SLOAD); all zero if missing.
     * @param tradeId The trade id.
     * @return The terms.
     */
    function tradeTerms(uint256 tradeId) external view returns (TradeTerms memory);

    /**
     * @notice The terms' raw storage word, read by settlement without ABI decoding (0 if missing).
     * Layout: bits 0-7 direction, 8-71 slotStart, 72-87 slotCount, 88-119 powerW,
     * 120-151 priceCentsPerMWh.
     * @param tradeId The trade id.
     * @return packed The word.
     */
    function packedTradeTerms(uint256 tradeId) external view returns (uint256 packed);

    /**
     * @notice {packedTradeTerms} of many trades in one call (at most MAX_TERMS_BATCH): the trade
     * id of each key is its bits 128-255, the low bits are ignored, so that FlexSettlement can
     * pass its packed attestations (tradeId << 128 | ...) as they are.
     * @param keys The keys.
     * @return packed The terms words, in the keys' order (0 for an unknown trade).
     */
    function packedTradeTermsBatch(uint256[] calldata keys) external view returns (uint256[] memory packed);

    /**
     * @notice Power filled so far of an order, W.
     * @param orderHash The order hash.
     * @return The filled power.
     */
    function orderFilled(bytes32 orderHash) external view returns (uint32);

    /**
     * @notice Whether an order is cancelled.
     * @param orderHash The order hash.
     * @return True if cancelled.
     */
    function isCancelled(bytes32 orderHash) external view returns (bool);

    /**
     * @notice Whether the maker's nonce was used on the wallet path ({placeOrder}).
     * @param maker The maker.
     * @param nonce The nonce.
     * @return True if used.
     */
    function nonceUsed(address maker, uint64 nonce) external view returns (bool);

    /**
     * @notice The order hash that claimed (maker, nonce) at its first fill; 0 if none.
     * @param maker The maker.
     * @param nonce The nonce.
     * @return The claiming order hash.
     */
    function nonceClaim(address maker, uint64 nonce) external view returns (bytes32);

    /**
     * @notice Power sold from `asset` in the slot starting at `slotStart` in `direction`, summed
     * over all its trades, W; at most the asset's capacity in that direction at each trade.
     * @param asset The asset.
     * @param direction 0 up, 1 down.
     * @param slotStart The slot's start, unix seconds (rounded down to its slot).
     * @return The power sold, W.
     */
    function soldPowerW(address asset, uint8 direction, uint64 slotStart) external view returns (uint32);

    /**
     * @notice When `root` was committed (unix seconds); 0 if never.
     * @param root The root.
     * @return The commit time.
     */
    function batchCommittedAt(bytes32 root) external view returns (uint256);

    /**
     * @notice Number of trades recorded; trade ids are 1..tradeCount.
     * @return The count.
     */
    function tradeCount() external view returns (uint256);

    /**
     * @notice The role registry.
     * @return The registry.
     */
    function roleRegistry() external view returns (IRoleRegistry);

    /**
     * @notice The DID registry that says who signs for a maker.
     * @return The registry.
     */
    function didRegistry() external view returns (IDIDRegistry);

    /**
     * @notice The grid registry of nodes and assets.
     * @return The registry.
     */
    function gridRegistry() external view returns (IGridRegistry);
}
