// SPDX-License-Identifier: UNLICENSED
pragma solidity =0.8.28;

import {IGridRegistry} from "./interfaces/IGridRegistry.sol";
import {IRoleRegistry} from "./interfaces/IRoleRegistry.sol";

/**
 * @title GridRegistry
 * @notice Grid nodes (a forest of trees, depth capped at {MAX_DEPTH}) and flexible assets.
 * @dev A node is one slot; an asset's owner, confirmed node, technology and retired flag share one
 * slot, so {assetPlacement} is one SLOAD. Nodes are never removed, so walking up is bounded by
 * the depth recorded at registration.
 */
contract GridRegistry is IGridRegistry {
    /// @notice Deepest a node may sit (a root has depth 1); bounds {isAtOrBelow}.
    uint8 public constant MAX_DEPTH = 32;
    /// @notice Most nodes one {registerNodes} call takes (~27k gas each, measured).
    uint256 public constant MAX_NODE_BATCH = 100;
    /// @notice Most assets one {registerAssets} call takes (~75k gas each: three new slots).
    uint256 public constant MAX_ASSET_BATCH = 50;
    /// @notice Most mappings one {confirmAssetNodes} call takes (~12k gas each).
    uint256 public constant MAX_CONFIRM_BATCH = 200;

    uint8 private constant _MARKET_OPERATOR = 1;
    uint8 private constant _DSO = 2;
    uint8 private constant _TSO = 3;
    uint8 private constant _FSP = 4;

    IRoleRegistry private immutable _roles;

    mapping(uint32 nodeId => Node) private _nodes;
    mapping(address asset => Asset) private _assets;

    /**
     * @notice Binds the registry to the role registry.
     * @param roles_ The role registry.
     */
    constructor(IRoleRegistry roles_) {
        _roles = roles_;
    }

    /**
     * @notice The role registry this registry checks roles against.
     * @return The role registry.
     */
    function roleRegistry() external view returns (IRoleRegistry) {
        return _roles;
    }

    /// @inheritdoc IGridRegistry
    function registerNode(uint32 nodeId, uint32 parentId, address operator) external {
        bool marketOperator = _checkNodeRegistrant(operator);
        _registerNode(nodeId, parentId, operator, marketOperator);
    }

    /// @inheritdoc IGridRegistry
    function registerNodes(
        uint32[] calldata nodeIds,
        uint32[] calldata parentIds,
        address operator
    ) external {
        _checkBatch(nodeIds.length, parentIds.length, MAX_NODE_BATCH);
        bool marketOperator = _checkNodeRegistrant(operator);
        // Bounded: at most MAX_NODE_BATCH items; parents may come earlier in the same batch.
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            _registerNode(nodeIds[i], parentIds[i], operator, marketOperator);
        }
    }

    /// @inheritdoc IGridRegistry
    function registerAsset(
        address asset_,
        bytes32 meterPointHash,
        uint32 upW,
        uint32 downW,
        uint8 technology,
        uint32 proposedNodeId
    ) external {
        _checkFsp();
        _registerAsset(AssetInput(asset_, meterPointHash, upW, downW, technology, proposedNodeId));
    }

    /// @inheritdoc IGridRegistry
    function registerAssets(AssetInput[] calldata assets) external {
        _checkBatch(assets.length, assets.length, MAX_ASSET_BATCH);
        _checkFsp();
        // Bounded: at most MAX_ASSET_BATCH items.
        for (uint256 i = 0; i < assets.length; ++i) {
            _registerAsset(assets[i]);
        }
    }

    /// @inheritdoc IGridRegistry
    function confirmAssetNode(address asset_, uint32 nodeId) external {
        _confirmAssetNode(asset_, nodeId);
    }

    /// @inheritdoc IGridRegistry
    function confirmAssetNodes(address[] calldata assets, uint32[] calldata nodeIds) external {
        _checkBatch(assets.length, nodeIds.length, MAX_CONFIRM_BATCH);
        // Bounded: at most MAX_CONFIRM_BATCH items, each walking at most MAX_DEPTH levels.
        for (uint256 i = 0; i < assets.length; ++i) {
            _confirmAssetNode(assets[i], nodeIds[i]);
        }
    }

    /// @inheritdoc IGridRegistry
    function retireAsset(address asset_) external {
        Asset storage stored = _ownedLiveAsset(asset_);
        stored.retired = true;
        emit AssetRetired(asset_, msg.sender);
    }

    /// @inheritdoc IGridRegistry
    function updateAssetCapacity(address asset_, uint32 upW, uint32 downW) external {
        Asset storage stored = _ownedLiveAsset(asset_);
        // Raising a capacity needs a new prequalification, which the owner cannot give itself.
        if (upW > stored.upW || downW > stored.downW) {
            revert CapacityRaised(asset_, upW, downW, stored.upW, stored.downW);
        }
        stored.upW = upW;
        stored.downW = downW;
        emit AssetCapacityUpdated(asset_, upW, downW);
    }

    /// @inheritdoc IGridRegistry
    function node(uint32 nodeId) external view returns (Node memory) {
        Node memory found = _nodes[nodeId];
        if (found.depth == 0) revert UnknownNode(nodeId);
        return found;
    }

    /// @inheritdoc IGridRegistry
    function asset(address asset_) external view returns (Asset memory) {
        Asset memory found = _assets[asset_];
        if (found.owner == address(0)) revert UnknownAsset(asset_);
        return found;
    }

    /// @inheritdoc IGridRegistry
    function assetPlacement(
        address asset_
    ) external view returns (address owner, uint32 confirmedNodeId, bool retired) {
        Asset storage stored = _assets[asset_];
        return (stored.owner, stored.confirmedNodeId, stored.retired);
    }

    /// @inheritdoc IGridRegistry
    function isAtOrBelow(uint32 nodeId, uint32 ancestorId) external view returns (bool) {
        if (ancestorId == 0) return false;
        uint32 current = nodeId;
        // Bounded: depth strictly decreases from at most MAX_DEPTH at every step up.
        for (uint256 step = 0; step < MAX_DEPTH; ++step) {
            if (current == 0) return false;
            if (current == ancestorId) return _nodes[current].depth != 0;
            current = _nodes[current].parentId;
        }
        return false;
    }

    /**
     * @dev Reverts unless the caller may register a node operated by `operator`: a market
     * operator for anyone, a DSO or TSO for itself. Returns whether the caller is a market
     * operator (exempt from the parent check of {_registerNode}).
     */
    function _checkNodeRegistrant(address operator) private view returns (bool marketOperator) {
        if (operator == address(0)) revert ZeroAddress(operator);
        if (_roles.hasRole(msg.sender, _MARKET_OPERATOR)) return true;
        if (!_roles.hasRole(msg.sender, _DSO) && !_roles.hasRole(msg.sender, _TSO)) {
            revert NotSystemOperator(msg.sender);
        }
        if (operator != msg.sender) revert OperatorNotCaller(operator, msg.sender);
        return false;
    }

    /**
     * @dev Stores one node. A system operator hangs nodes only under a parent it operates
     * itself (or as a root); the market operator connects trees of different operators.
     */
    function _registerNode(
        uint32 nodeId,
        uint32 parentId,
        address operator,
        bool marketOperator
    ) private {
        if (nodeId == 0 || _nodes[nodeId].depth != 0) revert NodeExists(nodeId);
        uint256 depth = 1;
        if (parentId != 0) {
            Node storage parent = _nodes[parentId];
            uint8 parentDepth = parent.depth;
            if (parentDepth == 0) revert UnknownNode(parentId);
            if (!marketOperator && parent.operator != msg.sender) {
                revert ParentNotOperated(parentId, parent.operator, msg.sender);
            }
            depth = uint256(parentDepth) + 1;
        }
        if (depth > MAX_DEPTH) revert NodeTooDeep(nodeId, depth);
        _nodes[nodeId] = Node(operator, parentId, uint8(depth));
        emit NodeRegistered(nodeId, parentId, operator, uint8(depth), msg.sender);
    }

    /**
     * @dev Stores one asset of the caller (whose FSP role was checked).
     */
    function _registerAsset(AssetInput memory input) private {
        address asset_ = input.asset;
        if (asset_ == address(0)) revert ZeroAddress(asset_);
        if (_assets[asset_].owner != address(0)) revert AssetExists(asset_);
        if (_nodes[input.proposedNodeId].depth == 0) revert UnknownNode(input.proposedNodeId);
        _assets[asset_] = Asset(
            msg.sender,
            0,
            input.technology,
            false,
            input.upW,
            input.downW,
            input.proposedNodeId,
            input.meterPointHash
        );
        emit AssetRegistered(
            asset_,
            msg.sender,
            input.meterPointHash,
            input.upW,
            input.downW,
            input.technology,
            input.proposedNodeId
        );
    }

    /**
     * @dev Maps `asset_` to `nodeId`: the caller must operate `nodeId`, and the asset's current
     * node (its confirmed node, or its proposed node while unconfirmed) must lie in the caller's
     * area, i.e. at or below a node the caller operates. So no operator can take over an
     * asset that another operator's grid holds.
     */
    function _confirmAssetNode(address asset_, uint32 nodeId) private {
        Node storage node_ = _nodes[nodeId];
        if (node_.depth == 0) revert UnknownNode(nodeId);
        if (node_.operator != msg.sender) revert NotNodeOperator(nodeId, msg.sender);
        Asset storage stored = _liveAsset(asset_);
        uint32 current = stored.confirmedNodeId;
        if (current == 0) current = stored.proposedNodeId;
        if (current != nodeId && !_inAreaOf(current, msg.sender)) {
            revert AssetOutsideArea(asset_, current, msg.sender);
        }
        stored.confirmedNodeId = nodeId;
        emit AssetNodeConfirmed(asset_, nodeId, msg.sender);
    }

    /**
     * @dev Whether `nodeId` or one of its ancestors is operated by `account`.
     */
    function _inAreaOf(uint32 nodeId, address account) private view returns (bool) {
        uint32 current = nodeId;
        // Bounded: a node sits at most MAX_DEPTH levels deep.
        for (uint256 step = 0; step < MAX_DEPTH; ++step) {
            if (current == 0) return false;
            Node storage found = _nodes[current];
            if (found.operator == account) return true;
            current = found.parentId;
        }
        return false;
    }

    /**
     * @dev Reverts unless the caller holds the FSP role.
     */
    function _checkFsp() private view {
        if (!_roles.hasRole(msg.sender, _FSP)) revert IRoleRegistry.MissingRole(msg.sender, _FSP);
    }

    /**
     * @dev Reverts unless a batch has between 1 and `max` items and its arrays match.
     */
    function _checkBatch(uint256 size, uint256 otherSize, uint256 max) private pure {
        if (size != otherSize) revert BatchLengthMismatch(size, otherSize);
        if (size == 0 || size > max) revert BatchSizeOutOfRange(size, max);
    }

    /**
     * @dev The stored asset; reverts if unknown or retired.
     */
    function _liveAsset(address asset_) private view returns (Asset storage stored) {
        stored = _assets[asset_];
        if (stored.owner == address(0)) revert UnknownAsset(asset_);
        if (stored.retired) revert AssetIsRetired(asset_);
    }

    /**
     * @dev The stored asset; reverts if unknown, retired or not owned by the caller.
     */
    function _ownedLiveAsset(address asset_) private view returns (Asset storage stored) {
        stored = _assets[asset_];
        if (stored.owner == address(0)) revert UnknownAsset(asset_);
        if (stored.owner != msg.sender) revert NotAssetOwner(asset_, msg.sender);
        if (stored.retired) revert AssetIsRetired(asset_);
    }
}
