// SPDX-License-Identifier: UNLICENSED
pragma solidity =0.8.28;

import {IBaselineRegistry} from "./interfaces/IBaselineRegistry.sol";
import {IRoleRegistry} from "./interfaces/IRoleRegistry.sol";

/**
 * @title BaselineRegistry
 * @notice Lock times of nominated baseline hashes (see {IBaselineRegistry}).
 * @dev One slot per hash, holding its lock time; 0 means not locked, which no real block time
 * is. A batch is all or nothing: one bad hash reverts it, and the oracle's outbox isolates the
 * offending message by pre-flighting each alone.
 */
contract BaselineRegistry is IBaselineRegistry {
    /// @notice Most hashes in one {lockBaselines} call (6.4M gas, under an 8M block).
    uint256 public constant MAX_BATCH = 256;

    uint8 private constant _ORACLE = 5;

    IRoleRegistry private immutable _roles;

    mapping(bytes32 baselineHash => uint64 lockedAt) private _lockedAt;

    /**
     * @notice Binds the registry to the role registry.
     * @param roles_ The role registry.
     */
    constructor(IRoleRegistry roles_) {
        _roles = roles_;
    }

    /// @inheritdoc IBaselineRegistry
    function lockBaseline(bytes32 baselineHash) external {
        _checkOracle();
        _lock(baselineHash, 0, uint64(block.timestamp));
    }

    /// @inheritdoc IBaselineRegistry
    function lockBaselines(bytes32[] calldata baselineHashes) external {
        _checkOracle();
        uint256 count = baselineHashes.length;
        if (count == 0 || count > MAX_BATCH) revert BatchSizeOutOfRange(count, MAX_BATCH);
        uint64 now_ = uint64(block.timestamp);
        for (uint256 i = 0; i < count; ++i) {
            _lock(baselineHashes[i], i, now_);
        }
    }

    /// @inheritdoc IBaselineRegistry
    function lockedAt(bytes32 baselineHash) external view returns (uint64) {
        return _lockedAt[baselineHash];
    }

    /// @inheritdoc IBaselineRegistry
    function isLockedBefore(bytes32 baselineHash, uint64 deadline) external view returns (bool) {
        uint64 at = _lockedAt[baselineHash];
        return at != 0 && at < deadline;
    }

    /**
     * @notice The role registry this registry checks roles against.
     * @return The role registry.
     */
    function roleRegistry() external view returns (IRoleRegistry) {
        return _roles;
    }

    /**
     * @dev Locks one hash at `now_`; `index` is its position in the batch, for the error.
     */
    function _lock(bytes32 baselineHash, uint256 index, uint64 now_) private {
        if (baselineHash == bytes32(0)) revert ZeroBaselineHash(index);
        uint64 previous = _lockedAt[baselineHash];
        if (previous != 0) revert BaselineAlreadyLocked(baselineHash, previous);
        _lockedAt[baselineHash] = now_;
        emit BaselineLocked(baselineHash, msg.sender, now_);
    }

    /**
     * @dev Reverts with {MissingRole} unless the caller is an oracle.
     */
    function _checkOracle() private view {
        if (!_roles.hasRole(msg.sender, _ORACLE)) revert MissingRole(msg.sender, _ORACLE);
    }
}
