// SPDX-License-Identifier: UNLICENSED
pragma solidity =0.8.28;

/**
 * @title IDIDRegistry
 * @notice The ERC-1056 (EthereumDIDRegistry) interface, so a standard did:ethr resolver resolves
 * identities against flexledger's registry. Function names, argument order and events are those
 * of ERC-1056; the signed variants differ in one point: the signed hash also commits to
 * `block.chainid`, so a signature made for one chain cannot be replayed on another.
 *
 * Signed hash layout (abi.encodePacked), same field order as ERC-1056 with the chain id right
 * after the registry address:
 * `0x19 ‖ 0x00 ‖ registry ‖ chainid ‖ nonce[identityOwner(identity)] ‖ identity ‖ "<function>" ‖ args`.
 */
interface IDIDRegistry {
    /**
     * @notice The owner of `identity` changed to `owner`.
     * @param identity The identity (did:ethr address).
     * @param owner The new owner.
     * @param previousChange Block number of the identity's previous change (0 if none).
     */
    event DIDOwnerChanged(address indexed identity, address owner, uint256 previousChange);

    /**
     * @notice A delegate of `identity` was added (validTo in the future) or revoked (validTo = now).
     * @param identity The identity.
     * @param delegateType The delegate type, e.g. "veriKey" or "sigAuth" as bytes32.
     * @param delegate The delegate address.
     * @param validTo Unix time until which the delegate is valid.
     * @param previousChange Block number of the identity's previous change.
     */
    event DIDDelegateChanged(
        address indexed identity,
        bytes32 delegateType,
        address delegate,
        uint256 validTo,
        uint256 previousChange
    );

    /**
     * @notice An attribute of `identity` was set (validTo in the future) or revoked (validTo = 0).
     * @param identity The identity.
     * @param name The attribute name, e.g. "did/pub/Secp256k1/veriKey/hex" as bytes32.
     * @param value The attribute value.
     * @param validTo Unix time until which the attribute is valid; 0 when revoked.
     * @param previousChange Block number of the identity's previous change.
     */
    event DIDAttributeChanged(
        address indexed identity,
        bytes32 name,
        bytes value,
        uint256 validTo,
        uint256 previousChange
    );

    /**
     * @notice `caller` is not the current owner of `identity`.
     * @param identity The identity acted upon.
     * @param caller The account that tried to act.
     */
    error DIDNotOwner(address identity, address caller);

    /**
     * @notice A signed call's signature did not come from the current owner of `identity`.
     * @param identity The identity acted upon.
     * @param signer The recovered signer; address(0) for a malformed or malleable signature.
     */
    error DIDBadSignature(address identity, address signer);

    /**
     * @notice The current owner of `identity`: the identity itself until ownership is changed.
     * @param identity The identity.
     * @return The owner address.
     */
    function identityOwner(address identity) external view returns (address);

    /**
     * @notice Whether `delegate` is a valid delegate of type `delegateType` for `identity` now.
     * @param identity The identity.
     * @param delegateType The delegate type.
     * @param delegate The delegate address.
     * @return True while the delegation has not expired.
     */
    function validDelegate(
        address identity,
        bytes32 delegateType,
        address delegate
    ) external view returns (bool);

    /**
     * @notice The raw owner entry of `identity` (address(0) until ownership is changed).
     * @param identity The identity.
     * @return The stored owner.
     */
    function owners(address identity) external view returns (address);

    /**
     * @notice Expiry of a delegation, keyed by keccak256(delegateType) as in ERC-1056.
     * @param identity The identity.
     * @param delegateTypeHash keccak256 of the packed delegate type.
     * @param delegate The delegate address.
     * @return Unix time until which the delegation is valid.
     */
    function delegates(
        address identity,
        bytes32 delegateTypeHash,
        address delegate
    ) external view returns (uint256);

    /**
     * @notice Block number of the identity's last change (the resolver walks events back from it).
     * @param identity The identity.
     * @return The block number, 0 if never changed.
     */
    function changed(address identity) external view returns (uint256);

    /**
     * @notice Nonce of `signer` for the signed variants.
     * @param signer An identity owner.
     * @return The number of signed changes that signer has made.
     */
    function nonce(address signer) external view returns (uint256);

    /**
     * @notice Transfers ownership of `identity` to `newOwner`; caller must be the current owner.
     * @param identity The identity.
     * @param newOwner The new owner.
     */
    function changeOwner(address identity, address newOwner) external;

    /**
     * @notice {changeOwner} authorised by the current owner's signature.
     * @param identity The identity.
     * @param sigV Signature v (27 or 28).
     * @param sigR Signature r.
     * @param sigS Signature s (lower half order only).
     * @param newOwner The new owner.
     */
    function changeOwnerSigned(
        address identity,
        uint8 sigV,
        bytes32 sigR,
        bytes32 sigS,
        address newOwner
    ) external;

    /**
     * @notice Adds `delegate` of type `delegateType` for `validity` seconds.
     * @param identity The identity.
     * @param delegateType The delegate type.
     * @param delegate The delegate address.
     * @param validity Seconds from now the delegation is valid for.
     */
    function addDelegate(
        address identity,
        bytes32 delegateType,
        address delegate,
        uint256 validity
    ) external;

    /**
     * @notice {addDelegate} authorised by the current owner's signature.
     * @param identity The identity.
     * @param sigV Signature v.
     * @param sigR Signature r.
     * @param sigS Signature s.
     * @param delegateType The delegate type.
     * @param delegate The delegate address.
     * @param validity Seconds from now the delegation is valid for.
     */
    function addDelegateSigned(
        address identity,
        uint8 sigV,
        bytes32 sigR,
        bytes32 sigS,
        bytes32 delegateType,
        address delegate,
        uint256 validity
    ) external;

    /**
     * @notice Revokes `delegate` of type `delegateType` now.
     * @param identity The identity.
     * @param delegateType The delegate type.
     * @param delegate The delegate address.
     */
    function revokeDelegate(address identity, bytes32 delegateType, address delegate) external;

    /**
     * @notice {revokeDelegate} authorised by the current owner's signature.
     * @param identity The identity.
     * @param sigV Signature v.
     * @param sigR Signature r.
     * @param sigS Signature s.
     * @param delegateType The delegate type.
     * @param delegate The delegate address.
     */
    function revokeDelegateSigned(
        address identity,
        uint8 sigV,
        bytes32 sigR,
        bytes32 sigS,
        bytes32 delegateType,
        address delegate
    ) external;

    /**
     * @notice Publishes attribute `name` = `value` for `validity` seconds (event only).
     * @param identity The identity.
     * @param name The attribute name.
     * @param value The attribute value.
     * @param validity Seconds from now the attribute is valid for.
     */
    function setAttribute(
        address identity,
        bytes32 name,
        bytes calldata value,
        uint256 validity
    ) external;

    /**
     * @notice {setAttribute} authorised by the current owner's signature.
     * @param identity The identity.
     * @param sigV Signature v.
     * @param sigR Signature r.
     * @param sigS Signature s.
     * @param name The attribute name.
     * @param value The attribute value.
     * @param validity Seconds from now the attribute is valid for.
     */
    function setAttributeSigned(
        address identity,
        uint8 sigV,
        bytes32 sigR,
        bytes32 sigS,
        bytes32 name,
        bytes calldata value,
        uint256 validity
    ) external;

    /**
     * @notice Revokes attribute `name` = `value` (event only, validTo 0).
     * @param identity The identity.
     * @param name The attribute name.
     * @param value The attribute value.
     */
    function revokeAttribute(address identity, bytes32 name, bytes calldata value) external;

    /**
     * @notice {revokeAttribute} authorised by the current owner's signature.
     * @param identity The identity.
     * @param sigV Signature v.
     * @param sigR Signature r.
     * @param sigS Signature s.
     * @param name The attribute name.
     * @param value The attribute value.
     */
    function revokeAttributeSigned(
        address identity,
        uint8 sigV,
        bytes32 sigR,
        bytes32 sigS,
        bytes32 name,
        bytes calldata value
    ) external;
}
