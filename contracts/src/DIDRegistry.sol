// SPDX-License-Identifier: UNLICENSED
pragma solidity =0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IDIDRegistry} from "./interfaces/IDIDRegistry.sol";

/**
 * @title DIDRegistry
 * @notice ERC-1056 identity registry for did:ethr identities of flexledger participants.
 * @dev Behaves as the reference EthereumDIDRegistry except that the signed variants commit to
 * `block.chainid` (see {IDIDRegistry}) and reject malleable signatures (OpenZeppelin ECDSA).
 * Attributes live in events only, as in ERC-1056.
 */
contract DIDRegistry is IDIDRegistry {
    mapping(address identity => address owner) private _owners;
    mapping(address identity => mapping(bytes32 typeHash => mapping(address delegate => uint256 validTo)))
        private _delegates;
    mapping(address identity => uint256 blockNumber) private _changed;
    mapping(address signer => uint256 count) private _nonces;

    /**
     * @dev Reverts with {DIDNotOwner} unless `actor` owns `identity`.
     */
    modifier onlyOwner(address identity, address actor) {
        _checkOwner(identity, actor);
        _;
    }

    /// @inheritdoc IDIDRegistry
    function identityOwner(address identity) public view returns (address) {
        address owner = _owners[identity];
        return owner == address(0) ? identity : owner;
    }

    /// @inheritdoc IDIDRegistry
    function validDelegate(
        address identity,
        bytes32 delegateType,
        address delegate
    ) external view returns (bool) {
        return _delegates[identity][keccak256(abi.encodePacked(delegateType))][delegate] > block.timestamp;
    }

    /// @inheritdoc IDIDRegistry
    function owners(address identity) external view returns (address) {
        return _owners[identity];
    }

    /// @inheritdoc IDIDRegistry
    function delegates(
        address identity,
        bytes32 delegateTypeHash,
        address delegate
    ) external view returns (uint256) {
        return _delegates[identity][delegateTypeHash][delegate];
    }

    /// @inheritdoc IDIDRegistry
    function changed(address identity) external view returns (uint256) {
        return _changed[identity];
    }

    /// @inheritdoc IDIDRegistry
    function nonce(address signer) external view returns (uint256) {
        return _nonces[signer];
    }

    /// @inheritdoc IDIDRegistry
    function changeOwner(address identity, address newOwner) external onlyOwner(identity, msg.sender) {
        _changeOwner(identity, newOwner);
    }

    /// @inheritdoc IDIDRegistry
    function changeOwnerSigned(
        address identity,
        uint8 sigV,
        bytes32 sigR,
        bytes32 sigS,
        address newOwner
    ) external {
        bytes32 hash = keccak256(
            abi.encodePacked(_signedPrefix(identity), identity, "changeOwner", newOwner)
        );
        _useSignature(identity, sigV, sigR, sigS, hash);
        _changeOwner(identity, newOwner);
    }

    /// @inheritdoc IDIDRegistry
    function addDelegate(
        address identity,
        bytes32 delegateType,
        address delegate,
        uint256 validity
    ) external onlyOwner(identity, msg.sender) {
        _addDelegate(identity, delegateType, delegate, validity);
    }

    /// @inheritdoc IDIDRegistry
    function addDelegateSigned(
        address identity,
        uint8 sigV,
        bytes32 sigR,
        bytes32 sigS,
        bytes32 delegateType,
        address delegate,
        uint256 validity
    ) external {
        bytes32 hash = keccak256(
            abi.encodePacked(
                _signedPrefix(identity),
                identity,
                "addDelegate",
                delegateType,
                delegate,
                validity
            )
        );
        _useSignature(identity, sigV, sigR, sigS, hash);
        _addDelegate(identity, delegateType, delegate, validity);
    }

    /// @inheritdoc IDIDRegistry
    function revokeDelegate(
        address identity,
        bytes32 delegateType,
        address delegate
    ) external onlyOwner(identity, msg.sender) {
        _revokeDelegate(identity, delegateType, delegate);
    }

    /// @inheritdoc IDIDRegistry
    function revokeDelegateSigned(
        address identity,
        uint8 sigV,
        bytes32 sigR,
        bytes32 sigS,
        bytes32 delegateType,
        address delegate
    ) external {
        bytes32 hash = keccak256(
            abi.encodePacked(_signedPrefix(identity), identity, "revokeDelegate", delegateType, delegate)
        );
        _useSignature(identity, sigV, sigR, sigS, hash);
        _revokeDelegate(identity, delegateType, delegate);
    }

    /// @inheritdoc IDIDRegistry
    function setAttribute(
        address identity,
        bytes32 name,
        bytes calldata value,
        uint256 validity
    ) external onlyOwner(identity, msg.sender) {
        _setAttribute(identity, name, value, validity);
    }

    /// @inheritdoc IDIDRegistry
    function setAttributeSigned(
        address identity,
        uint8 sigV,
        bytes32 sigR,
        bytes32 sigS,
        bytes32 name,
        bytes calldata value,
        uint256 validity
    ) external {
        bytes32 hash = keccak256(
            abi.encodePacked(_signedPrefix(identity), identity, "setAttribute", name, value, validity)
        );
        _useSignature(identity, sigV, sigR, sigS, hash);
        _setAttribute(identity, name, value, validity);
    }

    /// @inheritdoc IDIDRegistry
    function revokeAttribute(
        address identity,
        bytes32 name,
        bytes calldata value
    ) external onlyOwner(identity, msg.sender) {
        _revokeAttribute(identity, name, value);
    }

    /// @inheritdoc IDIDRegistry
    function revokeAttributeSigned(
        address identity,
        uint8 sigV,
        bytes32 sigR,
        bytes32 sigS,
        bytes32 name,
        bytes calldata value
    ) external {
        bytes32 hash = keccak256(
            abi.encodePacked(_signedPrefix(identity), identity, "revokeAttribute", name, value)
        );
        _useSignature(identity, sigV, sigR, sigS, hash);
        _revokeAttribute(identity, name, value);
    }

    /**
     * @dev Sets the owner and the change block, then emits {DIDOwnerChanged}.
     */
    function _changeOwner(address identity, address newOwner) private {
        uint256 previousChange = _touch(identity);
        _owners[identity] = newOwner;
        emit DIDOwnerChanged(identity, newOwner, previousChange);
    }

    /**
     * @dev Stores the delegation's expiry, then emits {DIDDelegateChanged}.
     */
    function _addDelegate(
        address identity,
        bytes32 delegateType,
        address delegate,
        uint256 validity
    ) private {
        uint256 validTo = block.timestamp + validity;
        uint256 previousChange = _touch(identity);
        _delegates[identity][keccak256(abi.encodePacked(delegateType))][delegate] = validTo;
        emit DIDDelegateChanged(identity, delegateType, delegate, validTo, previousChange);
    }

    /**
     * @dev Expires the delegation now, then emits {DIDDelegateChanged}.
     */
    function _revokeDelegate(address identity, bytes32 delegateType, address delegate) private {
        uint256 previousChange = _touch(identity);
        _delegates[identity][keccak256(abi.encodePacked(delegateType))][delegate] = block.timestamp;
        emit DIDDelegateChanged(identity, delegateType, delegate, block.timestamp, previousChange);
    }

    /**
     * @dev Records the change block, then emits {DIDAttributeChanged} with the expiry.
     */
    function _setAttribute(
        address identity,
        bytes32 name,
        bytes calldata value,
        uint256 validity
    ) private {
        uint256 previousChange = _touch(identity);
        emit DIDAttributeChanged(identity, name, value, block.timestamp + validity, previousChange);
    }

    /**
     * @dev Records the change block, then emits {DIDAttributeChanged} with validTo 0.
     */
    function _revokeAttribute(address identity, bytes32 name, bytes calldata value) private {
        uint256 previousChange = _touch(identity);
        emit DIDAttributeChanged(identity, name, value, 0, previousChange);
    }

    /**
     * @dev Sets the identity's change block to this block; returns the previous one.
     */
    function _touch(address identity) private returns (uint256 previousChange) {
        previousChange = _changed[identity];
        _changed[identity] = block.number;
    }

    /**
     * @dev Verifies that the current owner of `identity` signed `hash` and consumes its nonce.
     */
    function _useSignature(
        address identity,
        uint8 sigV,
        bytes32 sigR,
        bytes32 sigS,
        bytes32 hash
    ) private {
        address owner = identityOwner(identity);
        // The third value only details `err`, which is checked; naming it is a compiler warning.
        // slither-disable-next-line unused-return
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecover(hash, sigV, sigR, sigS);
        if (err != ECDSA.RecoverError.NoError || signer != owner) {
            revert DIDBadSignature(identity, signer);
        }
        ++_nonces[owner];
    }

    /**
     * @dev The common head of every signed hash: 0x19 0x00, this registry, the chain id and the
     * nonce of the identity's current owner.
     */
    function _signedPrefix(address identity) private view returns (bytes memory) {
        return
            abi.encodePacked(
                bytes1(0x19),
                bytes1(0),
                address(this),
                block.chainid,
                _nonces[identityOwner(identity)]
            );
    }

    /**
     * @dev Reverts with {DIDNotOwner} unless `actor` is the current owner of `identity`.
     */
    function _checkOwner(address identity, address actor) private view {
        if (actor != identityOwner(identity)) {
            revert DIDNotOwner(identity, actor);
        }
    }
}
