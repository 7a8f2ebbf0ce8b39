// SPDX-License-Identifier: UNLICENSED
pragma solidity =0.8.28;

/**
 * @title IGridRegistry
 * @notice The grid node tree published by system operators and the flexible assets of FSPs,
 * each mapped by a system operator to the node it is connected at.
 * Scales: power in W (uint32). Node id 0 is not a node: as a parent it means "root".
 */
interface IGridRegistry {
    /**
     * @notice A grid node.
     * @param operator The system operator (DSO/TSO identity) that operates the node.
     * @param parentId The parent node, 0 for a root.
     * @param depth 1 for a root, parent's depth + 1 below it.
     */
    struct Node {
        address operator;
        uint32 parentId;
        uint8 depth;
    }

    /**
     * @notice A flexible asset.
     * @param owner The FSP identity that registered it.
     * @param confirmedNodeId The node a node operator confirmed it at, 0 until confirmed.
     * @param technology Technology code (off-chain vocabulary, e.g. battery, heat pump, EV).
     * @param retired Whether the owner retired it.
     * @param upW Prequalified up capacity (less consumption / more generation), W.
     * @param downW Prequalified down capacity (more consumption / less generation), W.
     * @param proposedNodeId The node the FSP proposed.
     * @param meterPointHash Hash of the meter point id (the id itself stays off chain).
     */
    struct Asset {
        address owner;
        uint32 confirmedNodeId;
        uint8 technology;
        bool retired;
        uint32 upW;
        uint32 downW;
        uint32 proposedNodeId;
        bytes32 meterPointHash;
    }

    /**
     * @notice One asset of a {registerAssets} batch; fields as in {registerAsset}.
     * @param asset The asset's address.
     * @param meterPointHash Hash of the meter point id.
     * @param upW Up capacity, W.
     * @param downW Down capacity, W.
     * @param technology Technology code.
     * @param proposedNodeId The node the FSP proposes (must exist).
     */
    struct AssetInput {
        address asset;
        bytes32 meterPointHash;
        uint32 upW;
        uint32 downW;
        uint8 technology;
        uint32 proposedNodeId;
    }

    /**
     * @notice Node `nodeId` was registered.
     * @param nodeId The node id.
     * @param parentId The parent (0 = root).
     * @param operator The node's operator.
     * @param depth Its depth (root = 1).
     * @param registeredBy The caller.
     */
    event NodeRegistered(
        uint32 indexed nodeId,
        uint32 indexed parentId,
        address operator,
        uint8 depth,
        address registeredBy
    );

    /**
     * @notice Asset `asset` was registered by its owner.
     * @param asset The asset's address (its on-chain id).
     * @param owner The FSP that owns it.
     * @param meterPointHash Hash of the meter point id.
     * @param upW Up capacity, W.
     * @param downW Down capacity, W.
     * @param technology Technology code.
     * @param proposedNodeId The node proposed by the FSP.
     */
    event AssetRegistered(
        address indexed asset,
        address indexed owner,
        bytes32 meterPointHash,
        uint32 upW,
        uint32 downW,
        uint8 technology,
        uint32 proposedNodeId
    );

    /**
     * @notice The operator of `nodeId` confirmed that `asset` is connected at it.
     * @param asset The asset.
     * @param nodeId The confirmed node.
     * @param confirmedBy The node operator.
     */
    event AssetNodeConfirmed(address indexed asset, uint32 indexed nodeId, address confirmedBy);

    /**
     * @notice The owner changed the capacities of `asset`.
     * @param asset The asset.
     * @param upW New up capacity, W.
     * @param downW New down capacity, W.
     */
    event AssetCapacityUpdated(address indexed asset, uint32 upW, uint32 downW);

    /**
     * @notice The owner retired `asset`; it can no longer back sell orders.
     * @param asset The asset.
     * @param owner The owner.
     */
    event AssetRetired(address indexed asset, address owner);

    /**
     * @notice No node `nodeId` is registered.
     * @param nodeId The node id.
     */
    error UnknownNode(uint32 nodeId);

    /**
     * @notice Node `nodeId` is already registered (or is the reserved id 0).
     * @param nodeId The node id.
     */
    error NodeExists(uint32 nodeId);

    /**
     * @notice Registering `nodeId` would put it at `depth`, past MAX_DEPTH.
     * @param nodeId The node id.
     * @param depth The depth it would have.
     */
    error NodeTooDeep(uint32 nodeId, uint256 depth);

    /**
     * @notice `caller` is not the operator of `nodeId`.
     * @param nodeId The node id.
     * @param caller The caller.
     */
    error NotNodeOperator(uint32 nodeId, address caller);

    /**
     * @notice A system operator may only register nodes it operates itself.
     * @param operator The operator given.
     * @param caller The caller.
     */
    error OperatorNotCaller(address operator, address caller);

    /**
     * @notice `account` is neither a DSO nor a TSO (nor a market operator where that also fits).
     * @param account The account.
     */
    error NotSystemOperator(address account);

    /**
     * @notice `asset` is already registered.
     * @param asset The asset.
     */
    error AssetExists(address asset);

    /**
     * @notice No asset `asset` is registered.
     * @param asset The asset.
     */
    error UnknownAsset(address asset);

    /**
     * @notice `caller` does not own `asset`.
     * @param asset The asset.
     * @param caller The caller.
     */
    error NotAssetOwner(address asset, address caller);

    /**
     * @notice `asset` is retired.
     * @param asset The asset.
     */
    error AssetIsRetired(address asset);

    /**
     * @notice A system operator may hang nodes only under a parent it operates itself.
     * @param parentId The parent given.
     * @param parentOperator The parent's operator.
     * @param caller The caller.
     */
    error ParentNotOperated(uint32 parentId, address parentOperator, address caller);

    /**
     * @notice `asset` sits at `nodeId` (its confirmed node, or its proposed node while
     * unconfirmed), which is not at or below any node `caller` operates.
     * @param asset The asset.
     * @param nodeId The asset's current node.
     * @param caller The caller.
     */
    error AssetOutsideArea(address asset, uint32 nodeId, address caller);

    /**
     * @notice The owner tried to raise a capacity; only lowering is allowed (raising needs a
     * new prequalification: retire the asset and register it again).
     * @param asset The asset.
     * @param upW Up capacity asked for, W.
     * @param downW Down capacity asked for, W.
     * @param currentUpW Up capacity now, W.
     * @param currentDownW Down capacity now, W.
     */
    error CapacityRaised(
        address asset,
        uint32 upW,
        uint32 downW,
        uint32 currentUpW,
        uint32 currentDownW
    );

    /**
     * @notice The arrays of a batch differ in length.
     * @param length The first array's length.
     * @param otherLength The second array's length.
     */
    error BatchLengthMismatch(uint256 length, uint256 otherLength);

    /**
     * @notice A batch must have between 1 and `max` items.
     * @param size The items given.
     * @param max The most one call takes.
     */
    error BatchSizeOutOfRange(uint256 size, uint256 max);

    /**
     * @notice The zero address was given where an account is needed.
     * @param account The address given.
     */
    error ZeroAddress(address account);

    /**
     * @notice Registers node `nodeId` under `parentId` (0 = root) operated by `operator`.
     * A DSO/TSO registers nodes it operates, as roots or under a parent it operates
     * ({ParentNotOperated} otherwise); a market operator may register any node under any
     * parent (it connects the trees of different operators).
     * @param nodeId The node id (not 0).
     * @param parentId The parent node, 0 for a root.
     * @param operator The node's operator.
     */
    function registerNode(uint32 nodeId, uint32 parentId, address operator) external;

    /**
     * @notice {registerNode} for up to MAX_NODE_BATCH nodes of one operator, in order (a
     * parent may come earlier in the same batch); one {NodeRegistered} per node; all or none.
     * @param nodeIds The node ids.
     * @param parentIds Their parents (0 = root), same length.
     * @param operator The nodes' operator.
     */
    function registerNodes(
        uint32[] calldata nodeIds,
        uint32[] calldata parentIds,
        address operator
    ) external;

    /**
     * @notice Registers `asset`, owned by the calling FSP.
     * @param asset The asset's address.
     * @param meterPointHash Hash of the meter point id.
     * @param upW Up capacity, W.
     * @param downW Down capacity, W.
     * @param technology Technology code.
     * @param proposedNodeId The node the FSP proposes (must exist).
     */
    function registerAsset(
        address asset,
        bytes32 meterPointHash,
        uint32 upW,
        uint32 downW,
        uint8 technology,
        uint32 proposedNodeId
    ) external;

    /**
     * @notice {registerAsset} for up to MAX_ASSET_BATCH assets; one {AssetRegistered} each;
     * all or none.
     * @param assets The assets.
     */
    function registerAssets(AssetInput[] calldata assets) external;

    /**
     * @notice Confirms that `asset` is connected at `nodeId`. Only the node's operator, and
     * only for an asset whose current node (confirmed, or proposed while unconfirmed) lies at
     * or below a node the caller operates ({AssetOutsideArea} otherwise).
     * @param asset The asset.
     * @param nodeId The node.
     */
    function confirmAssetNode(address asset, uint32 nodeId) external;

    /**
     * @notice {confirmAssetNode} for up to MAX_CONFIRM_BATCH assets; one
     * {AssetNodeConfirmed} each; all or none.
     * @param assets The assets.
     * @param nodeIds The node of each, same length.
     */
    function confirmAssetNodes(address[] calldata assets, uint32[] calldata nodeIds) external;

    /**
     * @notice Retires `asset`; only its owner.
     * @param asset The asset.
     */
    function retireAsset(address asset) external;

    /**
     * @notice Lowers the capacities of `asset`; only its owner; nothing else changes.
     * Raising either reverts with {CapacityRaised}: a higher capacity needs a new
     * prequalification (retire the asset and register it again).
     * @param asset The asset.
     * @param upW Up capacity, W.
     * @param downW Down capacity, W.
     */
    function updateAssetCapacity(address asset, uint32 upW, uint32 downW) external;

    /**
     * @notice Node `nodeId`; reverts with {UnknownNode} if missing.
     * @param nodeId The node id.
     * @return The node.
     */
    function node(uint32 nodeId) external view returns (Node memory);

    /**
     * @notice Asset `asset`; reverts with {UnknownAsset} if missing.
     * @param asset The asset.
     * @return The asset.
     */
    function asset(address asset) external view returns (Asset memory);

    /**
     * @notice What a sell order needs from an asset, in one storage read; zeros if unknown.
     * @param asset The asset.
     * @return owner The owner (address(0) if unknown).
     * @return confirmedNodeId The confirmed node (0 if unconfirmed).
     * @return retired Whether it is retired.
     */
    function assetPlacement(
        address asset
    ) external view returns (address owner, uint32 confirmedNodeId, bool retired);

    /**
     * @notice Whether `nodeId` is `ancestorId` or lies below it. False if either is unknown.
     * @param nodeId The node.
     * @param ancestorId The candidate ancestor.
     * @return True if `ancestorId` is on the path from `nodeId` to its root.
     */
    function isAtOrBelow(uint32 nodeId, uint32 ancestorId) external view returns (bool);
}
