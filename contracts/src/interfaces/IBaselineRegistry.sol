// SPDX-License-Identifier: UNLICENSED
pragma solidity =0.8.28;

/**
 * @title IBaselineRegistry
 * @notice Locks the hashes of nominated baselines on chain before gate closure, so that at
 * settlement anyone can check that the baseline used was fixed before the market closed.
 *
 * A baseline hash is a keccak256 over the canonical encoding of an FSP's nominated profile (per
 * asset or portfolio, per 900 s slot), computed off chain by the platform; this registry never
 * sees the profile. Each hash is locked once, by an oracle, at the block's time; the lock is
 * never changed or removed.
 */
interface IBaselineRegistry {
    /**
     * @notice An oracle locked a baseline hash.
     * @param baselineHash The hash of the nominated baseline.
     * @param oracle The oracle that locked it.
     * @param lockedAt The block time of the lock, unix seconds.
     */
    event BaselineLocked(bytes32 indexed baselineHash, address indexed oracle, uint64 lockedAt);

    /**
     * @notice `account` does not hold `role`.
     * @param account The account.
     * @param role The role id it needs.
     */
    error MissingRole(address account, uint8 role);

    /**
     * @notice A baseline hash is zero (no hash was computed).
     * @param index Its position in the batch (0 for {lockBaseline}).
     */
    error ZeroBaselineHash(uint256 index);

    /**
     * @notice The baseline hash is already locked; a lock is never moved.
     * @param baselineHash The hash.
     * @param lockedAt When it was locked, unix seconds.
     */
    error BaselineAlreadyLocked(bytes32 baselineHash, uint64 lockedAt);

    /**
     * @notice A batch is empty or larger than its cap.
     * @param count The number of items.
     * @param max The cap.
     */
    error BatchSizeOutOfRange(uint256 count, uint256 max);

    /**
     * @notice Locks one baseline hash at the block's time; oracle only.
     * @param baselineHash The hash of the nominated baseline (not zero, not locked yet).
     */
    function lockBaseline(bytes32 baselineHash) external;

    /**
     * @notice Locks several baseline hashes (1 to MAX_BATCH) at the block's time; oracle only.
     * A zero or already locked hash, or one that appears twice, reverts the whole batch.
     * @param baselineHashes The hashes.
     */
    function lockBaselines(bytes32[] calldata baselineHashes) external;

    /**
     * @notice When `baselineHash` was locked.
     * @param baselineHash The hash.
     * @return Unix seconds of the lock, 0 if it is not locked.
     */
    function lockedAt(bytes32 baselineHash) external view returns (uint64);

    /**
     * @notice Whether `baselineHash` was locked strictly before `deadline` (e.g. gate closure,
     * the first second at which the market no longer accepts changes).
     * @param baselineHash The hash.
     * @param deadline Unix seconds.
     * @return True if locked and its lock time is earlier than `deadline`.
     */
    function isLockedBefore(bytes32 baselineHash, uint64 deadline) external view returns (bool);
}
