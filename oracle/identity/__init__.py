"""Identity for flexledger: keystores, did:ethr DIDs, and role credentials.

* :mod:`~oracle.identity.keystore`: encrypted per-participant keystores and :class:`Signer`.
* :mod:`~oracle.identity.did`: did:ethr syntax (networks by name or hex chain id).
* :mod:`~oracle.identity.resolver`: DID documents from an ERC-1056 registry.
* :mod:`~oracle.identity.credentials`: role credentials issued by the market operator,
  presentations over a challenge, and their verification.
"""

from oracle.identity.credentials import (
    ROLE_CREDENTIAL_TYPE,
    CredentialHash,
    CredentialRejectedError,
    DidCheck,
    Rejection,
    RevocationCheck,
    RoleClaims,
    VerifiedCredential,
    VerifiedPresentation,
    canonical_json,
    credential_hash,
    issue_role_credential,
    issue_role_credential_async,
    present,
    present_async,
    role_credential_template,
    verify_presentation,
    verify_presentation_async,
    verify_role_credential,
    verify_role_credential_async,
)
from oracle.identity.did import (
    NETWORK_CHAIN_IDS,
    DidError,
    EthrDid,
    Network,
    canonical_did,
    format_did,
    parse_did,
    parse_did_url,
    same_did,
)
from oracle.identity.keystore import STRONG_SCRYPT_N, Keystore, Signer
from oracle.identity.resolver import (
    DIDDocument,
    Service,
    VerificationMethod,
    resolve,
    self_controlled_check,
)

__all__ = [
    "NETWORK_CHAIN_IDS",
    "ROLE_CREDENTIAL_TYPE",
    "STRONG_SCRYPT_N",
    "CredentialHash",
    "CredentialRejectedError",
    "DIDDocument",
    "DidCheck",
    "DidError",
    "EthrDid",
    "Keystore",
    "Network",
    "Rejection",
    "RevocationCheck",
    "RoleClaims",
    "Service",
    "Signer",
    "VerificationMethod",
    "VerifiedCredential",
    "VerifiedPresentation",
    "canonical_did",
    "canonical_json",
    "credential_hash",
    "format_did",
    "issue_role_credential",
    "issue_role_credential_async",
    "parse_did",
    "parse_did_url",
    "present",
    "present_async",
    "resolve",
    "role_credential_template",
    "same_did",
    "self_controlled_check",
    "verify_presentation",
    "verify_presentation_async",
    "verify_role_credential",
    "verify_role_credential_async",
]
