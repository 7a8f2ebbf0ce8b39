// SPDX-License-Identifier: UNLICENSED
pragma solidity =0.8.28;

import {IRoleRegistry} from "./interfaces/IRoleRegistry.sol";

/**
 * @title RoleRegistry
 * @notice Who may act as market operator, DSO, TSO, FSP, oracle or auditor, backed by the hash of
 * an off-chain verifiable credential, with a validity window and revocation.
 * @dev A grant's window and revoked flag share one storage slot, so {hasRole} is one SLOAD.
 * The deployer is the first market operator (no expiry, credential hash 0). Market operators
 * cannot revoke the last unrevoked market-operator grant; note that letting every market-operator
 * grant expire still locks the registry, so give operator grants no expiry.
 */
contract RoleRegistry is IRoleRegistry {
    /// @notice Role id of the market operator.
    uint8 public constant MARKET_OPERATOR = 1;
    /// @notice Role id of a distribution system operator.
    uint8 public constant DSO = 2;
    /// @notice Role id of a transmission system operator.
    uint8 public constant TSO = 3;
    /// @notice Role id of a flexibility service provider.
    uint8 public constant FSP = 4;
    /// @notice Role id of an oracle.
    uint8 public constant ORACLE = 5;
    /// @notice Role id of an auditor.
    uint8 public constant AUDITOR = 6;

    /**
     * @dev The part of a grant a role check reads: one slot.
     */
    struct Window {
        uint64 validFrom;
        uint64 validUntil;
        bool revoked;
    }

    mapping(address identity => mapping(uint8 role => Window)) private _windows;
    mapping(address identity => mapping(uint8 role => bytes32 credentialHash)) private _credentials;
    uint256 private _marketOperatorCount;

    /**
     * @notice Makes the deployer a market operator from now on, without expiry.
     */
    constructor() {
        uint64 now_ = uint64(block.timestamp);
        _windows[msg.sender][MARKET_OPERATOR] = Window(now_, type(uint64).max, false);
        _marketOperatorCount = 1;
        emit RoleGranted(msg.sender, MARKET_OPERATOR, bytes32(0), now_, type(uint64).max, msg.sender);
    }

    /**
     * @dev Reverts with {MissingRole} unless the caller is a market operator.
     */
    modifier onlyMarketOperator() {
        if (!hasRole(msg.sender, MARKET_OPERATOR)) {
            revert MissingRole(msg.sender, MARKET_OPERATOR);
        }
        _;
    }

    /// @inheritdoc IRoleRegistry
    function grantRole(
        address identity,
        uint8 role,
        bytes32 credentialHash,
        uint64 validFrom,
        uint64 validUntil
    ) external onlyMarketOperator {
        if (identity == address(0)) revert InvalidIdentity(identity);
        _checkRole(role);
        if (validFrom >= validUntil) revert InvalidValidity(validFrom, validUntil);

        Window storage window = _windows[identity][role];
        if (role == MARKET_OPERATOR && (window.validUntil == 0 || window.revoked)) {
            ++_marketOperatorCount;
        }
        _windows[identity][role] = Window(validFrom, validUntil, false);
        _credentials[identity][role] = credentialHash;
        emit RoleGranted(identity, role, credentialHash, validFrom, validUntil, msg.sender);
    }

    /// @inheritdoc IRoleRegistry
    function revokeRole(address identity, uint8 role) external onlyMarketOperator {
        _checkRole(role);
        Window storage window = _windows[identity][role];
        if (window.validUntil == 0 || window.revoked) revert RoleNotGranted(identity, role);
        if (role == MARKET_OPERATOR) {
            if (_marketOperatorCount == 1) revert LastMarketOperator(identity);
            --_marketOperatorCount;
        }
        window.revoked = true;
        emit RoleRevoked(identity, role, _credentials[identity][role], msg.sender);
    }

    /// @inheritdoc IRoleRegistry
    function hasRole(address identity, uint8 role) public view returns (bool) {
        Window memory window = _windows[identity][role];
        return !window.revoked && window.validFrom <= block.timestamp && block.timestamp < window.validUntil;
    }

    /// @inheritdoc IRoleRegistry
    function roleGrant(address identity, uint8 role) external view returns (Grant memory) {
        Window memory window = _windows[identity][role];
        return Grant(_credentials[identity][role], window.validFrom, window.validUntil, window.revoked);
    }

    /// @inheritdoc IRoleRegistry
    function marketOperatorCount() external view returns (uint256) {
        return _marketOperatorCount;
    }

    /**
     * @dev Reverts with {UnknownRole} unless `role` is 1..6.
     */
    function _checkRole(uint8 role) private pure {
        if (role < MARKET_OPERATOR || role > AUDITOR) revert UnknownRole(role);
    }
}
