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
        _checkNodeRegistrant(operator);
        if (nodeId == 0 || _nodes[nodeId].depth != 0) revert NodeExists(nodeId);
        uint256 depth = 1;
        if (parentId != 0) {
            uint8 parentDepth = _nodes[parentId].depth;
            if (parentDepth == 0) revert UnknownNode(parentId);
            depth = uint256(parentDepth) + 1;
        }
        if (depth > MAX_DEPTH) revert NodeTooDeep(nodeId, depth);
        _nodes[nodeId] = Node(operator, parentId, uint8(depth));
        emit NodeRegistered(nodeId, parentId, operator, uint8(depth), msg.sender);
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
        if (!_roles.hasRole(msg.sender, _FSP)) revert IRoleRegistry.MissingRole(msg.sender, _FSP);
        if (asset_ == address(0)) revert ZeroAddress(asset_);
        if (_assets[asset_].owner != address(0)) revert AssetExists(asset_);
        if (_nodes[proposedNodeId].depth == 0) revert UnknownNode(proposedNodeId);
        _assets[asset_] = Asset(msg.sender, 0, technology, false, upW, downW, proposedNodeId, meterPointHash);
        emit AssetRegistered(asset_, msg.sender, meterPointHash, upW, downW, technology, proposedNodeId);
    }

    /// @inheritdoc IGridRegistry
    function confirmAssetNode(address asset_, uint32 nodeId) external {
        Node storage node_ = _nodes[nodeId];
        if (node_.depth == 0) revert UnknownNode(nodeId);
        if (node_.operator != msg.sender) revert NotNodeOperator(nodeId, msg.sender);
        Asset storage stored = _liveAsset(asset_);
        stored.confirmedNodeId = nodeId;
        emit AssetNodeConfirmed(asset_, nodeId, msg.sender);
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
     * operator for anyone, a DSO or TSO for itself.
     */
    function _checkNodeRegistrant(address operator) private view {
        if (operator == address(0)) revert ZeroAddress(operator);
        if (_roles.hasRole(msg.sender, _MARKET_OPERATOR)) return;
        if (!_roles.hasRole(msg.sender, _DSO) && !_roles.hasRole(msg.sender, _TSO)) {
            revert NotSystemOperator(msg.sender);
        }
        if (operator != msg.sender) revert OperatorNotCaller(operator, msg.sender);
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
