// SPDX-License-Identifier: UNLICENSED
pragma solidity =0.8.28;

/**
 * @title IRoleRegistry
 * @notice Role credentials of flexledger identities. Role ids (match oracle.types.Role):
 * MarketOperator=1, DSO=2, TSO=3, FSP=4, Oracle=5, Auditor=6.
 * A role is held while it is granted, not revoked and validFrom <= block.timestamp < validUntil.
 */
interface IRoleRegistry {
    /**
     * @notice A role grant as stored: the credential's hash and its validity window.
     * @param credentialHash Hash of the off-chain verifiable credential (0 for the deployer's grant).
     * @param validFrom First unix second the role is held.
     * @param validUntil First unix second the role is no longer held.
     * @param revoked Whether the grant was revoked.
     */
    struct Grant {
        bytes32 credentialHash;
        uint64 validFrom;
        uint64 validUntil;
        bool revoked;
    }

    /**
     * @notice `role` was granted to `identity` (a re-grant replaces the previous grant).
     * @param identity The identity that now holds the role.
     * @param role The role id.
     * @param credentialHash Hash of the verifiable credential backing the grant.
     * @param validFrom First unix second the role is held.
     * @param validUntil First unix second the role is no longer held.
     * @param grantedBy The market operator that granted it.
     */
    event RoleGranted(
        address indexed identity,
        uint8 indexed role,
        bytes32 credentialHash,
        uint64 validFrom,
        uint64 validUntil,
        address grantedBy
    );

    /**
     * @notice `role` of `identity` was revoked.
     * @param identity The identity.
     * @param role The role id.
     * @param credentialHash Hash of the credential of the revoked grant.
     * @param revokedBy The market operator that revoked it.
     */
    event RoleRevoked(
        address indexed identity,
        uint8 indexed role,
        bytes32 credentialHash,
        address revokedBy
    );

    /**
     * @notice `account` does not hold `role`.
     * @param account The account.
     * @param role The role it needs.
     */
    error MissingRole(address account, uint8 role);

    /**
     * @notice `role` is not one of the six known role ids.
     * @param role The role id given.
     */
    error UnknownRole(uint8 role);

    /**
     * @notice The identity is the zero address.
     * @param identity The identity given.
     */
    error InvalidIdentity(address identity);

    /**
     * @notice The validity window is empty (validFrom >= validUntil).
     * @param validFrom The start given.
     * @param validUntil The end given.
     */
    error InvalidValidity(uint64 validFrom, uint64 validUntil);

    /**
     * @notice There is no unrevoked grant of `role` to `identity` to revoke.
     * @param identity The identity.
     * @param role The role id.
     */
    error RoleNotGranted(address identity, uint8 role);

    /**
     * @notice Revoking `identity` would leave no market operator.
     * @param identity The last market operator.
     */
    error LastMarketOperator(address identity);

    /**
     * @notice Grants `role` to `identity` for [validFrom, validUntil); only a market operator.
     * @param identity The identity.
     * @param role The role id.
     * @param credentialHash Hash of the verifiable credential backing the grant.
     * @param validFrom First unix second the role is held.
     * @param validUntil First unix second the role is no longer held.
     */
    function grantRole(
        address identity,
        uint8 role,
        bytes32 credentialHash,
        uint64 validFrom,
        uint64 validUntil
    ) external;

    /**
     * @notice Revokes `role` of `identity`; only a market operator, never the last one.
     * @param identity The identity.
     * @param role The role id.
     */
    function revokeRole(address identity, uint8 role) external;

    /**
     * @notice Whether `identity` holds `role` now. Costs one storage read.
     * @param identity The identity.
     * @param role The role id.
     * @return True while granted, not revoked and inside its validity window.
     */
    function hasRole(address identity, uint8 role) external view returns (bool);

    /**
     * @notice The stored grant of `role` to `identity` (all zero if never granted).
     * @param identity The identity.
     * @param role The role id.
     * @return The grant.
     */
    function roleGrant(address identity, uint8 role) external view returns (Grant memory);

    /**
     * @notice Number of unrevoked market-operator grants.
     * @return The count.
     */
    function marketOperatorCount() external view returns (uint256);
}
