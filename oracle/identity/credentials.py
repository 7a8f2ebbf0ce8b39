"""Role credentials: W3C verifiable credentials saying "this DID holds this role here".

The market operator (the trust anchor) issues one credential per role grant; its hash is
anchored in the on-chain RoleRegistry grant, so revoking the grant revokes the credential.
A participant proves its role to the REST API with a presentation over a fresh challenge.

The credential shape (VC data model 1.1)::

    {
      "@context": ["https://www.w3.org/2018/credentials/v1"],
      "id": "urn:uuid:…",
      "type": ["VerifiableCredential", "https://w3id.org/flexledger#RoleCredential"],
      "issuer": "did:ethr:0x12047:0x<market operator>",
      "issuanceDate": "2025-01-01T00:00:00Z",          valid from (inclusive)
      "expirationDate": "2026-01-01T00:00:00Z",        valid until (exclusive)
      "credentialSubject": {
        "id": "did:ethr:0x12047:0x<participant>",
        "https://w3id.org/flexledger#role": "DSO",           a Role name
        "https://w3id.org/flexledger#chainId": 73799,        the deployment's chain
        "https://w3id.org/flexledger#roleRegistry": "0x…"    its RoleRegistry (checksummed)
      },
      "proof": {"type": "EthereumEip712Signature2021", "proofPurpose": "assertionMethod",
                "verificationMethod": "<issuer>#controller", "proofValue": "0x…", …}
    }

Why it looks like this (each point measured with didkit 0.3.3):

* Custom terms are absolute IRIs. The EIP-712 suite signs the JSON itself, so relative
  terms ("role") sign and verify, but credentials/v1 has no ``@vocab``: the moment a JSON-LD
  suite touches the document (the presentation below) didkit fails with "Key expansion
  failed". An inline ``@context`` object cannot be used either: the EIP-712 suite needs
  every array to hold one primitive type ("Array inconsistency … @context").
* Credentials use EthereumEip712Signature2021 (a wallet such as MetaMask can produce it).
  Presentations use EcdsaSecp256k1RecoverySignature2020, because didkit's EIP-712 suite
  refuses ``challenge``/``domain`` ("Untyped properties"), and without them a presentation
  could be replayed. ``verifiableCredential`` is one object: EIP-712 cannot type an array
  of objects.
* didkit resolves did:ethr offline: it only checks that the proof was signed by the
  address in the DID (``#controller``). It does not see on-chain owner changes, and it
  checks neither ``issuanceDate`` nor ``expirationDate``. So the validity window is checked
  here, and on-chain state is asked through injected callbacks: ``check_issuer`` /
  ``check_holder`` (is this DID still controlled by its own key, does it still hold its
  role; see :func:`oracle.identity.resolver.self_controlled_check`) and ``is_revoked``
  (given the credential hash, answered from the RoleRegistry).

The credential hash is keccak256 of the canonical JSON of the whole signed credential,
proof included: keys sorted, no whitespace, UTF-8, no NaN. For the documents issued here
(ASCII keys, strings and integers) this is the RFC 8785 (JCS) serialisation as well.

Every entry point has a blocking form and an ``…_async`` form; the REST API calls the
async ones inside its event loop. Callbacks may be plain functions or coroutines.

Errors::

    CredentialError(IdentityError, ValueError)
    └── CredentialRejectedError   ``reason`` (a :class:`Rejection`) names the failed check
"""

import asyncio
import functools
import hmac
import inspect
import json
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, NewType, ParamSpec, TypeVar

from eth_utils.address import is_address, to_checksum_address
from eth_utils.crypto import keccak

from oracle.errors import CredentialError, OracleValueError
from oracle.identity import _didkit
from oracle.identity.did import DidError, EthrDid, canonical_did, parse_did, parse_did_url
from oracle.identity.keystore import Signer
from oracle.types import Address, ChainId, Role

VC_CONTEXT: Final = "https://www.w3.org/2018/credentials/v1"
VOCABULARY: Final = "https://w3id.org/flexledger#"
ROLE_CREDENTIAL_TYPE: Final = f"{VOCABULARY}RoleCredential"
ROLE_TERM: Final = f"{VOCABULARY}role"
CHAIN_ID_TERM: Final = f"{VOCABULARY}chainId"
REGISTRY_TERM: Final = f"{VOCABULARY}roleRegistry"
CREDENTIAL_PROOF_TYPE: Final = "EthereumEip712Signature2021"
PRESENTATION_PROOF_TYPE: Final = "EcdsaSecp256k1RecoverySignature2020"

CredentialHash = NewType("CredentialHash", bytes)  # 32 bytes, as anchored on chain

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

#: On-chain questions the verifier answers; a coroutine function is awaited.
DidCheck = Callable[[EthrDid], bool | Awaitable[bool]]
RevocationCheck = Callable[[CredentialHash], bool | Awaitable[bool]]


class Rejection(StrEnum):
    """Why a credential or presentation was refused."""

    MALFORMED = "malformed"
    BAD_PROOF = "bad-proof"
    UNTRUSTED_ISSUER = "untrusted-issuer"
    ISSUER_NOT_CURRENT = "issuer-not-current"
    NOT_YET_VALID = "not-yet-valid"
    EXPIRED = "expired"
    WRONG_DEPLOYMENT = "wrong-deployment"
    WRONG_ROLE = "wrong-role"
    WRONG_SUBJECT = "wrong-subject"
    REVOKED = "revoked"
    WRONG_CHALLENGE = "wrong-challenge"
    WRONG_DOMAIN = "wrong-domain"
    HOLDER_NOT_SUBJECT = "holder-not-subject"
    HOLDER_NOT_CURRENT = "holder-not-current"


class CredentialRejectedError(CredentialError):
    """A credential or presentation failed a check; ``reason`` says which."""

    def __init__(self, reason: Rejection, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class RoleClaims:
    """What a role credential says, parsed and typed (not yet verified)."""

    credential_id: str
    issuer: EthrDid
    subject: EthrDid
    role: Role
    chain_id: ChainId
    registry_address: Address
    valid_from: datetime
    valid_until: datetime


@dataclass(frozen=True, slots=True)
class VerifiedCredential(RoleClaims):
    """A role credential that passed every check, with the hash the chain anchors."""

    credential_hash: CredentialHash
    credential: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class VerifiedPresentation:
    """A presentation whose holder proved control of the subject DID for this challenge."""

    holder: EthrDid
    challenge: str
    domain: str
    credential: VerifiedCredential


@dataclass(frozen=True, slots=True)
class _Policy:
    """What the verifier trusts and expects, gathered once per call."""

    trusted_issuers: frozenset[EthrDid]
    now: datetime
    expected_role: Role | None
    expected_subject: EthrDid | None
    expected_chain_id: int | None
    expected_registry: Address | None
    is_revoked: RevocationCheck | None
    check_issuer: DidCheck | None


# --- hashing ---------------------------------------------------------------------------


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """Sorted keys, no whitespace, UTF-8: one byte string per document, for hashing."""
    text = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def credential_hash(vc: Mapping[str, Any]) -> CredentialHash:
    """keccak256 of the canonical JSON of the signed credential: the on-chain anchor."""
    return CredentialHash(keccak(canonical_json(vc)))


# --- issuing ---------------------------------------------------------------------------


def role_credential_template(
    issuer_did: str,
    subject_did: str,
    role: Role,
    valid_from: datetime,
    valid_until: datetime,
    chain_id: int,
    registry_address: str,
    *,
    credential_id: str | None = None,
) -> dict[str, Any]:
    """The unsigned credential; validates the inputs so that only sound claims get signed."""
    subject = _deployment_did("subject_did", subject_did, chain_id)
    issuer = _deployment_did("issuer", issuer_did, chain_id)
    if not isinstance(role, Role):
        raise OracleValueError("role", f"must be a Role, not {role!r}")
    if _utc("valid_until", valid_until) <= _utc("valid_from", valid_from):
        raise OracleValueError("valid_until", "must be later than valid_from")
    return {
        "@context": [VC_CONTEXT],
        "id": credential_id or f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", ROLE_CREDENTIAL_TYPE],
        "issuer": canonical_did(str(issuer)),
        "issuanceDate": _format_time(valid_from),
        "expirationDate": _format_time(valid_until),
        "credentialSubject": {
            "id": canonical_did(str(subject)),
            ROLE_TERM: role.name,
            CHAIN_ID_TERM: chain_id,
            REGISTRY_TERM: _registry("registry_address", registry_address),
        },
    }


async def issue_role_credential_async(
    issuer: Signer,
    subject_did: str,
    role: Role,
    valid_from: datetime,
    valid_until: datetime,
    chain_id: int,
    registry_address: str,
    *,
    credential_id: str | None = None,
) -> dict[str, Any]:
    """Issue a role credential signed by ``issuer`` (the market operator's signer).

    DIDs are written in their canonical spelling (see :func:`canonical_did`), because
    didkit cannot resolve network names such as ``volta``.
    """
    issuer_did = canonical_did(issuer.did)
    template = role_credential_template(
        issuer_did,
        subject_did,
        role,
        valid_from,
        valid_until,
        chain_id,
        registry_address,
        credential_id=credential_id,
    )
    options = {
        "proofPurpose": "assertionMethod",
        "verificationMethod": f"{issuer_did}#controller",
        "type": CREDENTIAL_PROOF_TYPE,
    }
    try:
        return await _didkit.issue_credential(template, options, issuer)
    except _didkit.DidkitRefusal as refusal:
        raise CredentialError(f"didkit refused to sign the credential: {refusal}") from None


# --- verifying credentials -------------------------------------------------------------


async def verify_role_credential_async(
    vc: Mapping[str, Any],
    *,
    trusted_issuers: Iterable[str],
    now: datetime,
    expected_role: Role | None = None,
    expected_subject: str | None = None,
    expected_chain_id: int | None = None,
    expected_registry: str | None = None,
    is_revoked: RevocationCheck | None = None,
    check_issuer: DidCheck | None = None,
) -> VerifiedCredential:
    """Verify a role credential; raise :class:`CredentialRejectedError` naming the failure.

    Checks, in order: shape, trusted issuer, proof (didkit), validity window, deployment,
    expected role and subject, ``check_issuer`` (on-chain control and role of the issuer),
    ``is_revoked`` (given the credential hash).
    """
    policy = _Policy(
        trusted_issuers=frozenset(parse_did(did) for did in trusted_issuers),
        now=_utc("now", now),
        expected_role=expected_role,
        expected_subject=parse_did(expected_subject) if expected_subject else None,
        expected_chain_id=expected_chain_id,
        expected_registry=_registry("expected_registry", expected_registry)
        if expected_registry
        else None,
        is_revoked=is_revoked,
        check_issuer=check_issuer,
    )
    return await _verify_credential(vc, policy)


async def _verify_credential(vc: Mapping[str, Any], policy: _Policy) -> VerifiedCredential:
    claims = _claims_of(vc)
    if claims.issuer not in policy.trusted_issuers:
        raise CredentialRejectedError(
            Rejection.UNTRUSTED_ISSUER, f"{claims.issuer} is not a trusted issuer"
        )
    await _check_credential_proof(vc, claims.issuer)
    _check_window(claims, policy.now)
    _check_expectations(claims, policy)
    if policy.check_issuer and not await _answer(policy.check_issuer, claims.issuer):
        raise CredentialRejectedError(
            Rejection.ISSUER_NOT_CURRENT,
            f"on-chain state no longer lets {claims.issuer} issue with its own key",
        )
    digest = credential_hash(vc)
    if policy.is_revoked and await _answer(policy.is_revoked, digest):
        raise CredentialRejectedError(Rejection.REVOKED, f"credential 0x{digest.hex()} revoked")
    return VerifiedCredential(**_fields(claims), credential_hash=digest, credential=vc)


async def _check_credential_proof(vc: Mapping[str, Any], issuer: EthrDid) -> None:
    """The proof is an EIP-712 assertion by the issuer's own key, and didkit accepts it."""
    proof = _proof_of(vc, CREDENTIAL_PROOF_TYPE, "assertionMethod")
    _check_signed_by(proof, issuer, "issuer")
    errors = await _didkit.verify_credential(vc, {"proofPurpose": "assertionMethod"})
    if errors:
        raise CredentialRejectedError(Rejection.BAD_PROOF, "; ".join(errors))


def _check_window(claims: RoleClaims, now: datetime) -> None:
    if now < claims.valid_from:
        raise CredentialRejectedError(
            Rejection.NOT_YET_VALID, f"valid from {claims.valid_from.isoformat()}, now {now}"
        )
    if now >= claims.valid_until:
        raise CredentialRejectedError(
            Rejection.EXPIRED, f"expired at {claims.valid_until.isoformat()}, now {now}"
        )


def _check_expectations(claims: RoleClaims, policy: _Policy) -> None:
    if policy.expected_chain_id is not None and claims.chain_id != policy.expected_chain_id:
        raise CredentialRejectedError(
            Rejection.WRONG_DEPLOYMENT,
            f"issued for chain {claims.chain_id}, expected {policy.expected_chain_id}",
        )
    if policy.expected_registry and claims.registry_address != policy.expected_registry:
        raise CredentialRejectedError(
            Rejection.WRONG_DEPLOYMENT,
            f"issued for registry {claims.registry_address}, expected {policy.expected_registry}",
        )
    if policy.expected_role is not None and claims.role != policy.expected_role:
        raise CredentialRejectedError(
            Rejection.WRONG_ROLE, f"role {claims.role.name}, expected {policy.expected_role.name}"
        )
    if policy.expected_subject is not None and claims.subject != policy.expected_subject:
        raise CredentialRejectedError(
            Rejection.WRONG_SUBJECT, f"subject {claims.subject}, expected {policy.expected_subject}"
        )


# --- presentations ---------------------------------------------------------------------


async def present_async(
    vc: Mapping[str, Any], holder: Signer, challenge: str, domain: str
) -> dict[str, Any]:
    """Wrap ``vc`` in a presentation the holder signs over the verifier's challenge."""
    claims = _claims_of(vc)
    if claims.subject != parse_did(holder.did):
        raise OracleValueError("holder", f"{holder.did} is not the subject {claims.subject}")
    if not challenge or not domain:
        raise OracleValueError("challenge", "challenge and domain must not be empty")
    holder_did = canonical_did(holder.did)
    presentation = {
        "@context": [VC_CONTEXT],
        "type": ["VerifiablePresentation"],
        "holder": holder_did,
        "verifiableCredential": dict(vc),
    }
    options = {
        "proofPurpose": "authentication",
        "verificationMethod": f"{holder_did}#controller",
        "type": PRESENTATION_PROOF_TYPE,
        "challenge": challenge,
        "domain": domain,
    }
    try:
        return await _didkit.issue_presentation(presentation, options, holder)
    except _didkit.DidkitRefusal as refusal:
        raise CredentialError(f"didkit refused to sign the presentation: {refusal}") from None


async def verify_presentation_async(
    vp: Mapping[str, Any],
    *,
    challenge: str,
    domain: str,
    trusted_issuers: Iterable[str],
    now: datetime,
    expected_role: Role | None = None,
    expected_chain_id: int | None = None,
    expected_registry: str | None = None,
    is_revoked: RevocationCheck | None = None,
    check_issuer: DidCheck | None = None,
    check_holder: DidCheck | None = None,
) -> VerifiedPresentation:
    """Verify that the holder signed this challenge and holds a valid role credential.

    The challenge must be fresh and single-use (the verifier's job); the domain binds the
    proof to this service. The embedded credential gets every check of
    :func:`verify_role_credential_async`, with its subject required to be the holder.
    """
    holder = _holder_of(vp)
    _check_presentation_binding(vp, holder, challenge, domain)
    inner = vp["verifiableCredential"]
    if _claims_of(inner).subject != holder:
        raise CredentialRejectedError(
            Rejection.HOLDER_NOT_SUBJECT, f"holder {holder} is not the credential's subject"
        )
    errors = await _didkit.verify_presentation(
        vp, {"proofPurpose": "authentication", "challenge": challenge, "domain": domain}
    )
    if errors:
        raise CredentialRejectedError(Rejection.BAD_PROOF, "; ".join(errors))
    credential = await verify_role_credential_async(
        inner,
        trusted_issuers=trusted_issuers,
        now=now,
        expected_role=expected_role,
        expected_subject=str(holder),
        expected_chain_id=expected_chain_id,
        expected_registry=expected_registry,
        is_revoked=is_revoked,
        check_issuer=check_issuer,
    )
    if check_holder and not await _answer(check_holder, holder):
        raise CredentialRejectedError(
            Rejection.HOLDER_NOT_CURRENT,
            f"on-chain state no longer lets {holder} sign with its own key",
        )
    return VerifiedPresentation(holder, challenge, domain, credential)


def _holder_of(vp: Mapping[str, Any]) -> EthrDid:
    """The holder DID of a presentation carrying exactly one credential object."""
    if not isinstance(vp, Mapping):
        raise CredentialRejectedError(Rejection.MALFORMED, "a presentation is a JSON object")
    if "VerifiablePresentation" not in _field(vp, "type", list, "presentation"):
        raise CredentialRejectedError(Rejection.MALFORMED, "type lacks VerifiablePresentation")
    _object(vp, "verifiableCredential", "presentation")
    return _did_field(vp, "holder", "presentation")


def _check_presentation_binding(
    vp: Mapping[str, Any], holder: EthrDid, challenge: str, domain: str
) -> None:
    """Right challenge and domain, by the holder's own key: cheap checks before didkit's."""
    proof = _proof_of(vp, PRESENTATION_PROOF_TYPE, "authentication")
    if not _same_text(proof.get("challenge"), challenge):
        raise CredentialRejectedError(Rejection.WRONG_CHALLENGE, "challenge does not match")
    if not _same_text(proof.get("domain"), domain):
        raise CredentialRejectedError(Rejection.WRONG_DOMAIN, f"domain is not {domain!r}")
    _check_signed_by(proof, holder, "holder")


# --- parsing helpers -------------------------------------------------------------------


def _claims_of(vc: Mapping[str, Any]) -> RoleClaims:
    """Parse the role claims; any deviation from the issued shape is MALFORMED."""
    if not isinstance(vc, Mapping):
        raise CredentialRejectedError(Rejection.MALFORMED, "a credential is a JSON object")
    if _field(vc, "@context", list, "credential")[:1] != [VC_CONTEXT]:
        raise CredentialRejectedError(Rejection.MALFORMED, f"@context must start {VC_CONTEXT}")
    types = _field(vc, "type", list, "credential")
    if "VerifiableCredential" not in types or ROLE_CREDENTIAL_TYPE not in types:
        raise CredentialRejectedError(Rejection.MALFORMED, "type is not a role credential")
    subject = _object(vc, "credentialSubject", "credential")
    claims = RoleClaims(
        credential_id=_field(vc, "id", str, "credential"),
        issuer=_did_field(vc, "issuer", "credential"),
        subject=_did_field(subject, "id", "credentialSubject"),
        role=_role_of(subject),
        chain_id=ChainId(_field(subject, CHAIN_ID_TERM, int, "credentialSubject")),
        registry_address=_registry_of(subject),
        valid_from=_time_field(vc, "issuanceDate"),
        valid_until=_time_field(vc, "expirationDate"),
    )
    _check_same_chain(claims)
    return claims


def _check_same_chain(claims: RoleClaims) -> None:
    """Issuer and subject DIDs must live on the chain the credential is for."""
    for label, did in (("issuer", claims.issuer), ("subject", claims.subject)):
        if did.chain_id != claims.chain_id:
            raise CredentialRejectedError(
                Rejection.MALFORMED,
                f"{label} {did} is on chain {did.chain_id}, credential for {claims.chain_id}",
            )


def _field(document: Mapping[str, Any], key: str, kind: type[T], where: str) -> T:
    """``document[key]``, required to be a ``kind`` (bools are not integers here)."""
    value = document.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise CredentialRejectedError(
            Rejection.MALFORMED, f"{where}.{key} must be a {kind.__name__}, got {value!r}"
        )
    return value


def _object(document: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    """``document[key]``, required to be a JSON object."""
    value = document.get(key)
    if not isinstance(value, Mapping):
        raise CredentialRejectedError(
            Rejection.MALFORMED, f"{where}.{key} must be an object, got {value!r}"
        )
    return value


def _did_field(document: Mapping[str, Any], key: str, where: str) -> EthrDid:
    try:
        return parse_did(_field(document, key, str, where))
    except DidError as error:
        raise CredentialRejectedError(Rejection.MALFORMED, f"{where}.{key}: {error}") from None


def _role_of(subject: Mapping[str, Any]) -> Role:
    name = _field(subject, ROLE_TERM, str, "credentialSubject")
    try:
        return Role[name]
    except KeyError:
        raise CredentialRejectedError(Rejection.MALFORMED, f"unknown role {name!r}") from None


def _registry_of(subject: Mapping[str, Any]) -> Address:
    value = _field(subject, REGISTRY_TERM, str, "credentialSubject")
    if not is_address(value):
        raise CredentialRejectedError(Rejection.MALFORMED, f"bad registry address {value!r}")
    return Address(to_checksum_address(value))


def _time_field(vc: Mapping[str, Any], key: str) -> datetime:
    text = _field(vc, key, str, "credential")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CredentialRejectedError(
            Rejection.MALFORMED, f"{key} {text!r} is not ISO 8601"
        ) from None
    if moment.tzinfo is None:
        raise CredentialRejectedError(Rejection.MALFORMED, f"{key} {text!r} has no time zone")
    return moment.astimezone(UTC)


def _proof_of(document: Mapping[str, Any], proof_type: str, purpose: str) -> Mapping[str, Any]:
    """The single proof object, of the one type and purpose accepted here."""
    proof = _object(document, "proof", "document")
    if proof.get("type") != proof_type or proof.get("proofPurpose") != purpose:
        raise CredentialRejectedError(
            Rejection.BAD_PROOF, f"expected a {proof_type} proof for {purpose}"
        )
    return proof


def _check_signed_by(proof: Mapping[str, Any], did: EthrDid, label: str) -> None:
    """The proof's verification method is ``<did>#controller``: the DID's own key."""
    method = proof.get("verificationMethod")
    try:
        signer, fragment = parse_did_url(method) if isinstance(method, str) else (None, "")
    except DidError:
        signer, fragment = None, ""
    if signer != did or fragment != "controller":
        raise CredentialRejectedError(
            Rejection.BAD_PROOF, f"proof is not by the {label}'s #controller key: {method!r}"
        )


# --- small helpers ---------------------------------------------------------------------


def _deployment_did(field: str, did: str, chain_id: int) -> EthrDid:
    """Parse a DID for issuing and require it on the credential's chain."""
    parsed = parse_did(did)
    if parsed.chain_id != chain_id:
        raise OracleValueError(
            field, f"{did} is on chain {parsed.chain_id}, the credential is for chain {chain_id}"
        )
    return parsed


def _registry(field: str, address: str) -> Address:
    if not isinstance(address, str) or not is_address(address):
        raise OracleValueError(field, f"{address!r} is not an address")
    return Address(to_checksum_address(address))


def _utc(field: str, moment: datetime) -> datetime:
    """An aware datetime in UTC; naive ones are refused rather than guessed."""
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise OracleValueError(field, "must be a timezone-aware datetime")
    return moment.astimezone(UTC)


def _format_time(moment: datetime) -> str:
    """XML Schema dateTime in UTC, whole seconds (sub-seconds are dropped)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _same_text(given: object, expected: str) -> bool:
    """Constant-time equality, so a challenge cannot be guessed byte by byte."""
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


def _fields(claims: RoleClaims) -> dict[str, Any]:
    return {name: getattr(claims, name) for name in RoleClaims.__dataclass_fields__}


async def _answer(check: Callable[[T], bool | Awaitable[bool]], argument: T) -> bool:
    """Ask a callback that may be a plain function or a coroutine function."""
    result = check(argument)
    if inspect.isawaitable(result):
        return bool(await result)
    return bool(result)


# --- blocking forms --------------------------------------------------------------------


def _blocking(name: str, function: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, R]:
    """A blocking twin of a coroutine function, for scripts and the CLI."""

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(function(*args, **kwargs))
        raise RuntimeError(f"{name}() blocks; inside an event loop await {function.__name__}()")

    functools.update_wrapper(run, function)
    run.__name__ = run.__qualname__ = name
    return run


issue_role_credential = _blocking("issue_role_credential", issue_role_credential_async)
verify_role_credential = _blocking("verify_role_credential", verify_role_credential_async)
present = _blocking("present", present_async)
verify_presentation = _blocking("verify_presentation", verify_presentation_async)
