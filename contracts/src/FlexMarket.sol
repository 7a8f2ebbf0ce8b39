// SPDX-License-Identifier: UNLICENSED
pragma solidity =0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IDIDRegistry} from "./interfaces/IDIDRegistry.sol";
import {IFlexMarket} from "./interfaces/IFlexMarket.sol";
import {IGridRegistry} from "./interfaces/IGridRegistry.sol";
import {IRoleRegistry} from "./interfaces/IRoleRegistry.sol";

/**
 * @title FlexMarket
 * @notice Signed flexibility orders and the trades between them (see {IFlexMarket}).
 * @dev Two ways to publish an order, neither stores a per-order slot:
 * - {placeOrder}: a wallet submits its signed order; only the maker's nonce bit is stored
 *   (Permit2-style bitmap, 256 nonces per word).
 * - {commitOrderBatch}: the platform commits many order hashes as one Merkle root.
 * Everything is verified again at trade time: roles, signature, expiry, cancellation, the order's
 * publication (nonce bit, or committed root and proof), fills, price and grid position.
 * Per-order state (filled power, cancelled flag) is created at first fill or cancellation.
 * A (maker, nonce) backs at most one order hash: the first order filled claims it.
 */
contract FlexMarket is IFlexMarket, EIP712 {
    /// @notice EIP-712 type hash of {IFlexMarket-Order}.
    bytes32 public constant ORDER_TYPEHASH =
        keccak256(
            "Order(address maker,uint8 side,uint8 direction,uint32 nodeId,address asset,uint64 slotStart,"
            "uint16 slotCount,uint32 powerW,uint32 minPowerW,bool divisible,uint32 priceCentsPerMWh,"
            "uint64 nonce,uint64 expiry)"
        );

    /// @notice Length of a delivery slot, seconds.
    uint64 public constant SLOT_SECONDS = 900;
    /// @notice Most order hashes in one {commitOrderBatch}: about 2.2M gas (measured), a quarter of an
    /// 8M-gas Energy Web Chain block.
    uint256 public constant MAX_BATCH_ORDERS = 3000;
    /// @notice Longest Merkle proof accepted (a full batch needs 12).
    uint256 public constant MAX_PROOF_LENGTH = 16;
    /// @notice Most trades in one {recordTrades}.
    uint256 public constant MAX_TRADES_PER_BATCH = 8;
    /// @notice Most keys in one {packedTradeTermsBatch} (FlexSettlement's attestation batch).
    uint256 public constant MAX_TERMS_BATCH = 256;
    /// @notice Most slots one order covers (a day): bounds the per-slot capacity loop of a trade.
    uint256 public constant MAX_SLOT_COUNT = 96;

    uint8 private constant _MARKET_OPERATOR = 1;
    uint8 private constant _DSO = 2;
    uint8 private constant _TSO = 3;
    uint8 private constant _FSP = 4;
    uint8 private constant _ORACLE = 5;
    uint8 private constant _BUY = 0;
    uint8 private constant _SELL = 1;
    uint8 private constant _DOWN = 1;
    uint256 private constant _LANE_BITS = 32;
    uint256 private constant _LANE_MASK = 0xffffffff;

    /**
     * @dev Per-order state, created at first fill or at cancellation.
     */
    struct OrderState {
        uint32 filledW;
        bool cancelled;
    }

    IRoleRegistry private immutable _roles;
    IDIDRegistry private immutable _dids;
    IGridRegistry private immutable _grid;

    mapping(address maker => mapping(uint256 word => uint256 bits)) private _nonceBitmap;
    mapping(address maker => mapping(uint64 nonce => bytes32 orderHash)) private _nonceClaims;
    mapping(bytes32 orderHash => OrderState) private _orders;
    mapping(bytes32 root => uint256 committedAt) private _batches;
    mapping(uint256 tradeId => Trade) private _trades;
    uint256 private _tradeCount;
    /// @dev Power sold per asset, direction and slot, W: eight 32-bit lanes (eight consecutive
    /// slots) per word, keyed by (slotIndex / 8) * 2 + direction, slotIndex = slotStart / 900.
    mapping(address asset => mapping(uint256 key => uint256 lanes)) private _soldW;

    /**
     * @notice Binds the market to its registries.
     * @param roles_ The role registry.
     * @param dids_ The DID registry.
     * @param grid_ The grid registry.
     */
    constructor(IRoleRegistry roles_, IDIDRegistry dids_, IGridRegistry grid_) EIP712("flexledger Market", "1") {
        _roles = roles_;
        _dids = dids_;
        _grid = grid_;
    }

    /// @inheritdoc IFlexMarket
    function placeOrder(Order calldata order, bytes calldata signature) external returns (bytes32 orderHash) {
        orderHash = hashOrder(order);
        _checkShape(orderHash, order);
        if (order.side == _BUY && order.asset != address(0)) revert BuyOrderHasAsset(orderHash, order.asset);
        _checkPlacementSignature(orderHash, order.maker, signature);

        uint256 word = order.nonce >> 8;
        uint256 bit = 1 << (order.nonce & 0xff);
        uint256 bits = _nonceBitmap[order.maker][word];
        if (bits & bit != 0) revert NonceAlreadyUsed(order.maker, order.nonce);
        _nonceBitmap[order.maker][word] = bits | bit;
        // The order and its signature are this transaction's calldata, and every trade's log
        // repeats them in full; the log names the hash only.
        emit OrderPlaced(orderHash, order.maker);
    }

    /// @inheritdoc IFlexMarket
    function commitOrderBatch(bytes32[] calldata orderHashes) external returns (bytes32 root) {
        if (!_roles.hasRole(msg.sender, _MARKET_OPERATOR) && !_roles.hasRole(msg.sender, _ORACLE)) {
            revert NotBatchCommitter(msg.sender);
        }
        uint256 count = orderHashes.length;
        if (count == 0 || count > MAX_BATCH_ORDERS) revert BatchSizeOutOfRange(count, MAX_BATCH_ORDERS);
        root = _merkleRoot(orderHashes);
        uint256 committedAt = _batches[root];
        if (committedAt != 0) revert BatchAlreadyCommitted(root, committedAt);
        _batches[root] = block.timestamp;
        emit OrderBatchCommitted(root, count, msg.sender);
    }

    /// @inheritdoc IFlexMarket
    function cancelOrder(Order calldata order) external {
        bytes32 orderHash = hashOrder(order);
        if (msg.sender != _dids.identityOwner(order.maker)) {
            revert NotOrderOwner(orderHash, order.maker, msg.sender);
        }
        OrderState storage state = _orders[orderHash];
        if (state.cancelled) revert OrderAlreadyCancelled(orderHash);
        state.cancelled = true;
        emit OrderCancelled(orderHash, order.maker);
    }

    /// @inheritdoc IFlexMarket
    function recordTrade(
        SignedOrder calldata buy,
        SignedOrder calldata sell,
        uint32 powerW,
        uint32 priceCentsPerMWh
    ) external returns (uint256 tradeId) {
        _checkMarketOperator();
        return _recordTrade(buy, sell, powerW, priceCentsPerMWh);
    }

    /// @inheritdoc IFlexMarket
    function recordTrades(TradeInput[] calldata trades) external returns (uint256 firstTradeId) {
        _checkMarketOperator();
        uint256 count = trades.length;
        if (count == 0 || count > MAX_TRADES_PER_BATCH) {
            revert BatchSizeOutOfRange(count, MAX_TRADES_PER_BATCH);
        }
        firstTradeId = _tradeCount + 1;
        for (uint256 i = 0; i < count; ++i) {
            TradeInput calldata input = trades[i];
            _recordTrade(input.buy, input.sell, input.powerW, input.priceCentsPerMWh);
        }
    }

    /// @inheritdoc IFlexMarket
    function hashOrder(Order calldata order) public view returns (bytes32) {
        return _hashTypedDataV4(_hashOrderStruct(order));
    }

    /// @inheritdoc IFlexMarket
    function trade(uint256 tradeId) external view returns (Trade memory) {
        Trade memory found = _trades[tradeId];
        if (found.terms.powerW == 0) revert UnknownTrade(tradeId);
        return found;
    }

    /// @inheritdoc IFlexMarket
    function tradeTerms(uint256 tradeId) external view returns (TradeTerms memory) {
        return _trades[tradeId].terms;
    }

    /// @inheritdoc IFlexMarket
    function packedTradeTerms(uint256 tradeId) external view returns (uint256 packed) {
        TradeTerms storage terms = _trades[tradeId].terms;
        assembly ("memory-safe") {
            packed := sload(terms.slot)
        }
    }

    /// @inheritdoc IFlexMarket
    function packedTradeTermsBatch(uint256[] calldata keys) external view returns (uint256[] memory packed) {
        uint256 count = keys.length;
        if (count > MAX_TERMS_BATCH) revert BatchSizeOutOfRange(count, MAX_TERMS_BATCH);
        packed = new uint256[](count);
        for (uint256 i = 0; i < count; ) {
            TradeTerms storage terms = _trades[keys[i] >> 128].terms;
            uint256 word;
            assembly ("memory-safe") {
                word := sload(terms.slot)
            }
            packed[i] = word;
            unchecked {
                ++i;
            }
        }
    }

    /// @inheritdoc IFlexMarket
    function orderFilled(bytes32 orderHash) external view returns (uint32) {
        return _orders[orderHash].filledW;
    }

    /// @inheritdoc IFlexMarket
    function isCancelled(bytes32 orderHash) external view returns (bool) {
        return _orders[orderHash].cancelled;
    }

    /// @inheritdoc IFlexMarket
    function nonceUsed(address maker, uint64 nonce) public view returns (bool) {
        return _nonceBitmap[maker][nonce >> 8] & (1 << (nonce & 0xff)) != 0;
    }

    /// @inheritdoc IFlexMarket
    function nonceClaim(address maker, uint64 nonce) external view returns (bytes32) {
        return _nonceClaims[maker][nonce];
    }

    /// @inheritdoc IFlexMarket
    function soldPowerW(address asset, uint8 direction, uint64 slotStart) external view returns (uint32) {
        uint256 slotIndex = slotStart / SLOT_SECONDS;
        uint256 lanes = _soldW[asset][((slotIndex >> 3) << 1) | (direction & 1)];
        return uint32(lanes >> ((slotIndex & 7) * _LANE_BITS));
    }

    /// @inheritdoc IFlexMarket
    function batchCommittedAt(bytes32 root) external view returns (uint256) {
        return _batches[root];
    }

    /// @inheritdoc IFlexMarket
    function tradeCount() external view returns (uint256) {
        return _tradeCount;
    }

    /// @inheritdoc IFlexMarket
    function roleRegistry() external view returns (IRoleRegistry) {
        return _roles;
    }

    /// @inheritdoc IFlexMarket
    function didRegistry() external view returns (IDIDRegistry) {
        return _dids;
    }

    /// @inheritdoc IFlexMarket
    function gridRegistry() external view returns (IGridRegistry) {
        return _grid;
    }

    /**
     * @dev Verifies both orders and the match, updates both fills, stores the trade and emits
     * {TradeRecorded}.
     */
    function _recordTrade(
        SignedOrder calldata buy,
        SignedOrder calldata sell,
        uint32 powerW,
        uint32 priceCentsPerMWh
    ) private returns (uint256 tradeId) {
        bytes32 buyHash = _verifySignedOrder(buy, _BUY);
        bytes32 sellHash = _verifySignedOrder(sell, _SELL);
        _checkMatch(buy.order, sell.order, priceCentsPerMWh);
        if (powerW == 0) revert ZeroFill(buyHash, sellHash);
        uint32 buyFilledW = _checkFill(buyHash, buy.order, powerW);
        uint32 sellFilledW = _checkFill(sellHash, sell.order, powerW);

        uint256 capacityW = _sellCapacityW(sell.order);

        _fill(buyHash, buy.order, buyFilledW);
        _fill(sellHash, sell.order, sellFilledW);
        _reserveCapacity(sell.order, powerW, capacityW);
        tradeId = ++_tradeCount;
        _trades[tradeId] = Trade(
            TradeTerms(
                buy.order.direction,
                buy.order.slotStart,
                buy.order.slotCount,
                powerW,
                priceCentsPerMWh
            ),
            buy.order.maker,
            sell.order.maker,
            sell.order.asset
        );
        emit TradeRecorded(tradeId, buyHash, sellHash, buy, sell, powerW, priceCentsPerMWh);
    }

    /**
     * @dev Full trade-time verification of one order; returns its hash.
     */
    function _verifySignedOrder(SignedOrder calldata signed, uint8 side) private view returns (bytes32 orderHash) {
        Order calldata order = signed.order;
        orderHash = hashOrder(order);
        if (order.side != side) revert WrongSide(orderHash, order.side, side);
        _checkOrder(orderHash, order);
        _checkSignature(orderHash, order.maker, signed.signature);
        if (_orders[orderHash].cancelled) revert OrderIsCancelled(orderHash);
        _checkPublished(orderHash, signed);
    }

    /**
     * @dev Checks that the order was published: nonce bit set (root 0) or a proof against a
     * committed root.
     */
    function _checkPublished(bytes32 orderHash, SignedOrder calldata signed) private view {
        bytes32 root = signed.root;
        if (root == bytes32(0)) {
            if (!nonceUsed(signed.order.maker, signed.order.nonce)) {
                revert OrderNotPlaced(orderHash, signed.order.maker, signed.order.nonce);
            }
            return;
        }
        // A committed root stores its commit time, never 0; 0 means "not committed".
        // slither-disable-next-line incorrect-equality,timestamp
        if (_batches[root] == 0) revert BatchNotCommitted(root);
        if (signed.proof.length > MAX_PROOF_LENGTH) revert ProofTooLong(signed.proof.length, MAX_PROOF_LENGTH);
        if (!MerkleProof.verifyCalldata(signed.proof, root, orderHash)) revert InvalidProof(orderHash, root);
    }

    /**
     * @dev Checks what the order says on its own and about its maker and asset: shape, expiry,
     * the maker's role and, for a sell, the asset's owner, status and node.
     */
    function _checkOrder(bytes32 orderHash, Order calldata order) private view {
        _checkShape(orderHash, order);
        if (order.side == _BUY) {
            if (order.asset != address(0)) revert BuyOrderHasAsset(orderHash, order.asset);
            if (!_roles.hasRole(order.maker, _DSO) && !_roles.hasRole(order.maker, _TSO)) {
                revert NotSystemOperator(order.maker);
            }
        } else {
            if (!_roles.hasRole(order.maker, _FSP)) revert MissingRole(order.maker, _FSP);
            _checkSellAsset(orderHash, order);
        }
    }

    /**
     * @dev Well-formedness and expiry.
     */
    function _checkShape(bytes32 orderHash, Order calldata order) private view {
        if (order.side > _SELL) revert InvalidSide(orderHash, order.side);
        if (order.direction > 1) revert InvalidDirection(orderHash, order.direction);
        uint32 powerW = order.powerW;
        uint32 minPowerW = order.minPowerW;
        if (powerW == 0) revert ZeroPower(orderHash);
        if (minPowerW > powerW) revert MinPowerAbovePower(orderHash, minPowerW, powerW);
        if (!order.divisible && minPowerW != powerW) revert IndivisibleMinPower(orderHash, minPowerW, powerW);
        if (order.slotCount == 0) revert ZeroSlotCount(orderHash);
        if (order.slotCount > MAX_SLOT_COUNT) revert TooManySlots(orderHash, order.slotCount, MAX_SLOT_COUNT);
        if (order.slotStart % SLOT_SECONDS != 0) revert SlotNotAligned(orderHash, order.slotStart);
        if (order.expiry <= block.timestamp) revert OrderExpired(orderHash, order.expiry, block.timestamp);
    }

    /**
     * @dev A sell order's asset must be the maker's, not retired, and confirmed at the order's node.
     */
    function _checkSellAsset(bytes32 orderHash, Order calldata order) private view {
        (address owner, uint32 confirmedNodeId, bool retired) = _grid.assetPlacement(order.asset);
        if (owner != order.maker) revert AssetNotOwnedByMaker(orderHash, order.asset, owner, order.maker);
        if (retired) revert AssetIsRetired(orderHash, order.asset);
        if (confirmedNodeId != order.nodeId) {
            revert AssetNodeMismatch(orderHash, order.asset, confirmedNodeId, order.nodeId);
        }
    }

    /**
     * @dev Placement publishes an order; it authorises nothing. The signature must recover to
     * the maker itself (no registry read: the common case of an identity that never changed
     * its owner) or to the maker's current identity owner. Roles, the asset and the current
     * owner are checked when the order trades ({_verifySignedOrder}); an order signed by a key
     * the maker has since replaced publishes, but never trades.
     */
    function _checkPlacementSignature(bytes32 orderHash, address maker, bytes calldata signature) private view {
        address signer = _recoverSigner(orderHash, signature);
        if (signer == maker && signer != address(0)) return;
        if (signer == address(0) || signer != _dids.identityOwner(maker)) {
            revert BadSignature(orderHash, maker, signer);
        }
    }

    /**
     * @dev The signature must recover to the maker's current identity owner.
     */
    function _checkSignature(bytes32 orderHash, address maker, bytes calldata signature) private view {
        address signer = _recoverSigner(orderHash, signature);
        if (signer == address(0) || signer != _dids.identityOwner(maker)) {
            revert BadSignature(orderHash, maker, signer);
        }
    }

    /**
     * @dev Buy and sell must cover the same slots and direction, the price must lie between the
     * limits, and the sell's asset must sit at or below the buy's node.
     */
    function _checkMatch(Order calldata buy, Order calldata sell, uint32 priceCentsPerMWh) private view {
        if (buy.slotStart != sell.slotStart || buy.slotCount != sell.slotCount) {
            revert SlotMismatch(buy.slotStart, buy.slotCount, sell.slotStart, sell.slotCount);
        }
        if (buy.direction != sell.direction) revert DirectionMismatch(buy.direction, sell.direction);
        if (priceCentsPerMWh < sell.priceCentsPerMWh || priceCentsPerMWh > buy.priceCentsPerMWh) {
            revert PriceOutOfRange(priceCentsPerMWh, sell.priceCentsPerMWh, buy.priceCentsPerMWh);
        }
        // The sell's node equals its asset's confirmed node (checked in _checkSellAsset).
        if (!_grid.isAtOrBelow(sell.nodeId, buy.nodeId)) {
            revert AssetNotBelowNode(sell.asset, sell.nodeId, buy.nodeId);
        }
    }

    /**
     * @dev Checks a fill of `powerW` against the order and its nonce claim; returns the new filled
     * power.
     */
    function _checkFill(bytes32 orderHash, Order calldata order, uint32 powerW) private view returns (uint32) {
        uint32 filledW = _orders[orderHash].filledW;
        if (filledW == 0) {
            bytes32 claimedBy = _nonceClaims[order.maker][order.nonce];
            if (claimedBy != bytes32(0) && claimedBy != orderHash) {
                revert NonceClaimedByOtherOrder(order.maker, order.nonce, claimedBy);
            }
        }
        // filledW <= order.powerW always holds: every fill is checked against the remainder below.
        uint32 remainingW;
        unchecked {
            remainingW = order.powerW - filledW;
        }
        if (powerW > remainingW) revert FillExceedsRemaining(orderHash, powerW, remainingW);
        if (!order.divisible && powerW != order.powerW) revert IndivisibleFill(orderHash, powerW, order.powerW);
        if (powerW < order.minPowerW && powerW != remainingW) {
            revert FillBelowMinimum(orderHash, powerW, order.minPowerW);
        }
        // powerW <= remainingW = order.powerW - filledW, so the sum is at most order.powerW.
        unchecked {
            return filledW + powerW;
        }
    }

    /**
     * @dev The sell asset's prequalified capacity in the order's direction, W (GridRegistry).
     */
    function _sellCapacityW(Order calldata sell) private view returns (uint256) {
        IGridRegistry.Asset memory registered = _grid.asset(sell.asset);
        return sell.direction == _DOWN ? registered.downW : registered.upW;
    }

    /**
     * @dev Adds `powerW` to the power sold from the sell's asset in each of its slots and
     * direction; reverts with {CapacityExceeded} where the sum would pass `capacityW`. One
     * storage word holds eight consecutive slots, so a trade of n slots touches at most
     * n / 8 + 2 words; n <= MAX_SLOT_COUNT bounds the loop.
     */
    function _reserveCapacity(Order calldata sell, uint32 powerW, uint256 capacityW) private {
        mapping(uint256 key => uint256 lanes) storage sold = _soldW[sell.asset];
        uint256 slot = sell.slotStart / SLOT_SECONDS;
        uint256 end = slot + sell.slotCount;
        uint256 direction = sell.direction;
        while (slot < end) {
            uint256 key = ((slot >> 3) << 1) | direction;
            uint256 wordEnd = ((slot >> 3) + 1) << 3;
            if (wordEnd > end) wordEnd = end;
            uint256 lanes = sold[key];
            for (; slot < wordEnd; ++slot) {
                uint256 shift = (slot & 7) * _LANE_BITS;
                uint256 totalW = ((lanes >> shift) & _LANE_MASK) + powerW;
                if (totalW > capacityW) {
                    // slotStart is a multiple of 900 (checked in _checkShape): the division is exact.
                    // slither-disable-next-line divide-before-multiply
                    revert CapacityExceeded(sell.asset, sell.direction, uint64(slot * SLOT_SECONDS), totalW, capacityW);
                }
                lanes = (lanes & ~(_LANE_MASK << shift)) | (totalW << shift);
            }
            sold[key] = lanes;
        }
    }

    /**
     * @dev Stores the order's new filled power; the first fill claims the maker's nonce.
     */
    function _fill(bytes32 orderHash, Order calldata order, uint32 newFilledW) private {
        OrderState storage state = _orders[orderHash];
        if (state.filledW == 0) {
            _nonceClaims[order.maker][order.nonce] = orderHash;
        }
        state.filledW = newFilledW;
    }

    /**
     * @dev Reverts with {MissingRole} unless the caller is a market operator.
     */
    function _checkMarketOperator() private view {
        if (!_roles.hasRole(msg.sender, _MARKET_OPERATOR)) revert MissingRole(msg.sender, _MARKET_OPERATOR);
    }

    /**
     * @dev EIP-712 hashStruct of an order.
     */
    function _hashOrderStruct(Order calldata order) private pure returns (bytes32) {
        return
            keccak256(
                abi.encode(
                    ORDER_TYPEHASH,
                    order.maker,
                    order.side,
                    order.direction,
                    order.nodeId,
                    order.asset,
                    order.slotStart,
                    order.slotCount,
                    order.powerW,
                    order.minPowerW,
                    order.divisible,
                    order.priceCentsPerMWh,
                    order.nonce,
                    order.expiry
                )
            );
    }

    /**
     * @dev Signer of a 65-byte r‖s‖v signature read from calldata; address(0) if it is malformed,
     * malleable (high s) or does not recover.
     */
    function _recoverSigner(bytes32 digest, bytes calldata signature) private pure returns (address) {
        if (signature.length != 65) return address(0);
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            r := calldataload(signature.offset)
            s := calldataload(add(signature.offset, 0x20))
            v := byte(0, calldataload(add(signature.offset, 0x40)))
        }
        // The third value only details `err`, which is checked; naming it is a compiler warning.
        // slither-disable-next-line unused-return
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecover(digest, v, r, s);
        return err == ECDSA.RecoverError.NoError ? signer : address(0);
    }

    /**
     * @dev Merkle root of `leaves` with sorted-pair keccak256 (as OpenZeppelin MerkleProof) and an
     * odd last node promoted unchanged to the next level. Hashes in place in free memory.
     */
    function _merkleRoot(bytes32[] calldata leaves) private pure returns (bytes32 root) {
        assembly ("memory-safe") {
            let n := leaves.length
            let level := mload(0x40)
            calldatacopy(level, leaves.offset, shl(5, n))
            for {} gt(n, 1) {} {
                let pairs := shr(1, n)
                for { let i := 0 } lt(i, pairs) { i := add(i, 1) } {
                    let left := add(level, shl(6, i))
                    let a := mload(left)
                    let b := mload(add(left, 0x20))
                    if gt(a, b) {
                        mstore(left, b)
                        mstore(add(left, 0x20), a)
                    }
                    mstore(add(level, shl(5, i)), keccak256(left, 0x40))
                }
                if and(n, 1) {
                    mstore(add(level, shl(5, pairs)), mload(add(level, shl(5, sub(n, 1)))))
                }
                n := add(pairs, and(n, 1))
            }
            root := mload(level)
        }
    }
}
