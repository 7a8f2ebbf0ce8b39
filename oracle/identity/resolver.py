"""Resolve a did:ethr against an ERC-1056 registry, as ethr-did-resolver 14.x does.

The registry keeps only owners, delegate expiries and the block of each identity's last
change; keys and services live in events. Resolution walks that per-identity linked
list backwards: ``changed(identity)`` names the block of the newest change, every event
carries ``previousChange``, and the walk ends at 0. Events are then replayed oldest first
(block, then log index):

* ``DIDOwnerChanged`` sets the controller; the zero address deactivates the DID.
* ``DIDDelegateChanged`` with ``veriKey`` or ``sigAuth`` adds a delegate key
  (``EcdsaSecp256k1RecoveryMethod2020``, ``blockchainAccountId eip155:<chain>:<addr>``)
  while ``validTo >= now``; an expired or revoked one removes it again. ``sigAuth`` also
  authenticates.
* ``DIDAttributeChanged`` named ``did/pub/<algorithm>/<purpose>/<encoding>`` adds a key,
  ``did/svc/<type>`` a service endpoint; ``validTo < now`` removes it.

Ids are numbered as ethr-did-resolver numbers them (``#delegate-N`` counts every delegate
and ``did/pub`` event, live or not; ``#service-N`` every ``did/svc`` event), so documents
resolved here and in JavaScript are identical. Resolution at "latest" only (no
``versionId``/``versionTime``).

One deliberate difference: ``now`` defaults to the timestamp of the latest block, not the
wall clock. The registry itself judges delegates by block time (``validDelegate``), and a
chain's clock can run ahead of the wall clock (eth-tester adds a second per block), which
would make ethr-did-resolver skip the newest events as "future" ones.

The events are decoded from the standard ERC-1056 ABI defined here, not from the
contract object's ABI, so any ERC-1056 registry works. The chain must be the DID's chain.
"""

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from eth_abi.abi import decode as abi_decode
from eth_keys.datatypes import PublicKey
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract

from oracle.errors import ChainMismatchError, IdentityError
from oracle.identity.did import EthrDid, parse_did
from oracle.types import Address, BlockNumber

ZERO_ADDRESS: Final = "0x0000000000000000000000000000000000000000"
RECOVERY_METHOD: Final = "EcdsaSecp256k1RecoveryMethod2020"
SECP256K1_KEY: Final = "EcdsaSecp256k1VerificationKey2019"
ED25519_KEY: Final = "Ed25519VerificationKey2020"
X25519_KEY: Final = "X25519KeyAgreementKey2020"
MULTIKEY: Final = "Multikey"

OWNER_CHANGED: Final = keccak(text="DIDOwnerChanged(address,address,uint256)")
DELEGATE_CHANGED: Final = keccak(text="DIDDelegateChanged(address,bytes32,address,uint256,uint256)")
ATTRIBUTE_CHANGED: Final = keccak(text="DIDAttributeChanged(address,bytes32,bytes,uint256,uint256)")

_ALGORITHM_TYPES: Final = {
    "Secp256k1": SECP256K1_KEY,
    "Ed25519": ED25519_KEY,
    "X25519": X25519_KEY,
    "Multikey": MULTIKEY,
}
_MULTICODEC: Final = {ED25519_KEY: b"\xed\x01", X25519_KEY: b"\xec\x01"}
_ATTRIBUTE_NAME = re.compile(r"did/(pub|svc)/(\w+)(/(\w+))?(/(\w+))?", re.ASCII)
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


# --- decoded events --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Event:
    block_number: int
    block_timestamp: int
    log_index: int


@dataclass(frozen=True, slots=True)
class OwnerChanged(_Event):
    owner: str  # lower-case, as ethr-did-resolver keeps it


@dataclass(frozen=True, slots=True)
class DelegateChanged(_Event):
    delegate_type: str
    delegate: str  # lower-case
    valid_to: int


@dataclass(frozen=True, slots=True)
class AttributeChanged(_Event):
    name: str
    value: bytes
    valid_to: int


RegistryEvent = OwnerChanged | DelegateChanged | AttributeChanged


# --- the document ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerificationMethod:
    """One key of a DID document; ``material`` holds the key property (JWK, hex, …)."""

    id: str
    type: str
    controller: str
    material: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "controller": self.controller, **self.material}


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    type: str
    service_endpoint: Any

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "serviceEndpoint": self.service_endpoint}


@dataclass(frozen=True, slots=True)
class DIDDocument:
    """A resolved did:ethr document plus the resolution metadata that matters here."""

    id: str
    verification_method: tuple[VerificationMethod, ...]
    authentication: tuple[str, ...]
    assertion_method: tuple[str, ...]
    key_agreement: tuple[str, ...] = ()
    service: tuple[Service, ...] = ()
    deactivated: bool = False
    version_id: BlockNumber | None = None

    @property
    def controller(self) -> Address | None:
        """The current owner (the ``#controller`` account); None when deactivated."""
        for method in self.verification_method:
            if method.id.endswith("#controller"):
                return _account_of(method)
        return None

    def can_assert(self, address: str) -> bool:
        """Whether ``address`` may sign assertions (credentials) for this DID now."""
        wanted = Address(to_checksum_address(address))
        methods = {method.id: method for method in self.verification_method}
        return any(
            _account_of(methods[ref]) == wanted for ref in self.assertion_method if ref in methods
        )

    def to_json(self) -> dict[str, Any]:
        """The document as ethr-did-resolver returns it for ``application/did+ld+json``."""
        document: dict[str, Any] = {
            "@context": _ld_context(self.verification_method),
            "id": self.id,
            "verificationMethod": [method.to_json() for method in self.verification_method],
            "authentication": list(self.authentication),
            "assertionMethod": list(self.assertion_method),
        }
        if self.service:
            document["service"] = [service.to_json() for service in self.service]
        if self.key_agreement:
            document["keyAgreement"] = list(self.key_agreement)
        return document


# --- resolution ------------------------------------------------------------------------


def resolve(did: str, registry: Contract, w3: Web3, *, now: int | None = None) -> DIDDocument:
    """The DID document of ``did`` from ``registry`` at the latest block.

    ``now`` (unix seconds; default: the latest block's timestamp) decides which delegates
    and attributes are still valid; events in blocks after ``now`` are left out.
    """
    parsed = parse_did(did)
    chain_id = w3.eth.chain_id
    if parsed.chain_id != chain_id:
        raise ChainMismatchError(f"{did} lives on chain {parsed.chain_id}, connected to {chain_id}")
    head_block = w3.eth.get_block("latest")
    head = BlockNumber(int(head_block["number"]))
    history = change_log(parsed.address, registry, w3, head)
    moment = int(head_block["timestamp"]) if now is None else now
    builder = _DocumentBuilder(did, parsed.address, chain_id, moment)
    document = builder.replay(history)
    _check_owner(document, registry, parsed, head, builder.skipped)
    return document


def self_controlled_check(registry: Contract, w3: Web3) -> Callable[[EthrDid], bool]:
    """A ``check_issuer``/``check_holder`` callback: is the DID still its own controller?

    didkit checks signatures against the DID's own address only; this asks the registry
    whether that address still owns the DID (not transferred, not deactivated).
    """

    def check(did: EthrDid) -> bool:
        document = resolve(str(did), registry, w3)
        return not document.deactivated and document.controller == did.address

    return check


def change_log(
    address: Address, registry: Contract, w3: Web3, head: BlockNumber
) -> list[RegistryEvent]:
    """Every registry event of ``address``, oldest first, by walking ``previousChange``."""
    history: list[RegistryEvent] = []
    block = int(registry.functions.changed(address).call(block_identifier=head))
    topic = "0x" + bytes(12).hex() + address[2:].lower()
    while block:
        logs = w3.eth.get_logs(
            {
                "address": registry.address,
                "topics": [None, topic],
                "fromBlock": block,
                "toBlock": block,
            }
        )
        if not logs:
            raise IdentityError(f"previousChange points to block {block} but it has no logs")
        timestamp = int(w3.eth.get_block(block)["timestamp"])
        events, block = _decode_block(logs, block, timestamp)
        history[:0] = events
    return history


def _decode_block(logs: list[Any], block: int, timestamp: int) -> tuple[list[RegistryEvent], int]:
    """The block's events by log index, and the earliest earlier ``previousChange``."""
    events: list[RegistryEvent] = []
    previous = 0
    for log in sorted(logs, key=lambda entry: int(entry["logIndex"])):
        decoded = _decode_log(log, block, timestamp)
        if decoded is None:
            continue
        event, pointer = decoded
        if 0 < pointer < block and (previous == 0 or pointer < previous):
            previous = pointer
        if event is not None:
            events.append(event)
    return events, previous


def _decode_log(log: Any, block: int, timestamp: int) -> tuple[RegistryEvent | None, int] | None:
    """(event or None if its bytes32 is not UTF-8, previousChange); None if not ERC-1056."""
    topic0 = bytes(log["topics"][0])
    data = bytes(log["data"])
    where = (block, timestamp, int(log["logIndex"]))
    if topic0 == OWNER_CHANGED:
        owner, pointer = abi_decode(["address", "uint256"], data)
        return OwnerChanged(*where, owner=owner.lower()), int(pointer)
    if topic0 == DELEGATE_CHANGED:
        kind, delegate, valid_to, pointer = abi_decode(
            ["bytes32", "address", "uint256", "uint256"], data
        )
        name = _bytes32_text(kind)
        delegation = (
            None if name is None else DelegateChanged(*where, name, delegate.lower(), valid_to)
        )
        return delegation, int(pointer)
    if topic0 == ATTRIBUTE_CHANGED:
        raw_name, value, valid_to, pointer = abi_decode(
            ["bytes32", "bytes", "uint256", "uint256"], data
        )
        name = _bytes32_text(raw_name)
        attribute = None if name is None else AttributeChanged(*where, name, bytes(value), valid_to)
        return attribute, int(pointer)
    return None


def _bytes32_text(raw: bytes) -> str | None:
    """A bytes32 name as UTF-8 with trailing NULs cut; None if it is not UTF-8."""
    try:
        return raw.decode("utf-8").rstrip("\x00")
    except UnicodeDecodeError:
        return None


def _check_owner(
    document: DIDDocument, registry: Contract, did: EthrDid, head: int, skipped: bool
) -> None:
    """The replayed owner must be ``identityOwner``; catches a registry that skips events.

    Not checked when events newer than ``now`` were left out on purpose, nor for a
    deactivated DID (ERC-1056 then reports the identity itself as owner, and replay stops).
    """
    if skipped or document.deactivated:
        return
    owner = Address(
        to_checksum_address(
            registry.functions.identityOwner(did.address).call(block_identifier=head)
        )
    )
    replayed = document.controller
    if replayed != owner:
        raise IdentityError(
            f"registry history of {did} ends with owner {replayed}, identityOwner is {owner}"
        )


# --- replaying events ------------------------------------------------------------------


class _DocumentBuilder:
    """Replays registry events into a document, mirroring ethr-did-resolver's wrapDidDocument."""

    def __init__(self, did: str, address: Address, chain_id: int, now: int) -> None:
        self.did = did
        self.chain_id = chain_id
        self.now = now
        self.controller: str = address
        self.deactivated = False
        self.skipped = False
        self.version_id = 0
        self.delegate_count = 0
        self.service_count = 0
        self.keys: dict[str, VerificationMethod] = {}
        self.auth: dict[str, str] = {}
        self.signing: dict[str, str] = {}
        self.agreement: dict[str, str] = {}
        self.services: dict[str, Service] = {}

    def replay(self, history: list[RegistryEvent]) -> DIDDocument:
        for event in history:
            if event.block_timestamp > self.now:
                self.skipped = True
                continue
            self.version_id = max(self.version_id, event.block_number)
            if not self._apply(event):
                break
        return self._document()

    def _apply(self, event: RegistryEvent) -> bool:
        """Apply one event; False once the DID is deactivated (nothing after counts)."""
        if isinstance(event, OwnerChanged):
            self.controller = event.owner
            self.deactivated = event.owner == ZERO_ADDRESS
            return not self.deactivated
        if isinstance(event, DelegateChanged):
            self._delegate(event)
        else:
            self._attribute(event)
        return True

    def _delegate(self, event: DelegateChanged) -> None:
        index = f"DIDDelegateChanged-{event.delegate_type}-{event.delegate}"
        self.delegate_count += 1
        if event.valid_to < self.now:
            for table in (self.auth, self.signing, self.keys):
                table.pop(index, None)
            return
        if event.delegate_type not in ("sigAuth", "veriKey"):
            return
        key_id = f"{self.did}#delegate-{self.delegate_count}"
        if event.delegate_type == "sigAuth":
            self.auth[index] = key_id
        account = f"eip155:{self.chain_id}:{to_checksum_address(event.delegate)}"
        self.keys[index] = VerificationMethod(
            key_id, RECOVERY_METHOD, self.did, {"blockchainAccountId": account}
        )
        self.signing[index] = key_id

    def _attribute(self, event: AttributeChanged) -> None:
        index = f"DIDAttributeChanged-{event.name}-0x{event.value.hex()}"
        if event.name.startswith("did/pub/"):
            self.delegate_count += 1
        elif event.name.startswith("did/svc/"):
            self.service_count += 1
        match = _ATTRIBUTE_NAME.fullmatch(event.name)
        if match is None:
            return
        if match[1] == "pub":
            self._public_key(event, index, match)
        else:
            self._service(event, index, match[2])

    def _public_key(self, event: AttributeChanged, index: str, match: re.Match[str]) -> None:
        if event.valid_to < self.now:
            for table in (self.keys, self.auth, self.signing, self.agreement):
                table.pop(index, None)
            return
        key_type = _ALGORITHM_TYPES.get(match[2], match[2])
        material = _key_material(key_type, match[6], event.value)
        if material is None:
            return  # an unreadable secp256k1 key is skipped, as in ethr-did-resolver
        key_id = f"{self.did}#delegate-{self.delegate_count}"
        self.keys[index] = VerificationMethod(key_id, key_type, self.did, material)
        purpose = match[4]
        if purpose == "sigAuth":
            self.auth[index] = key_id
            self.signing[index] = key_id
        elif purpose == "enc":
            self.agreement[index] = key_id
        else:
            self.signing[index] = key_id

    def _service(self, event: AttributeChanged, index: str, service_type: str) -> None:
        try:
            text = event.value.decode("utf-8")
        except UnicodeDecodeError:
            return  # not a DID service: ignored, as in ethr-did-resolver
        if event.valid_to < self.now:
            self.services.pop(index, None)
            return
        try:
            endpoint: Any = json.loads(text)
        except ValueError:
            endpoint = text
        service_id = f"{self.did}#service-{self.service_count}"
        self.services[index] = Service(service_id, service_type, endpoint)

    def _document(self) -> DIDDocument:
        version = BlockNumber(self.version_id) if self.version_id else None
        if self.deactivated:
            return DIDDocument(self.did, (), (), (), deactivated=True, version_id=version)
        controller_id = f"{self.did}#controller"
        account = f"eip155:{self.chain_id}:{to_checksum_address(self.controller)}"
        controller = VerificationMethod(
            controller_id, RECOVERY_METHOD, self.did, {"blockchainAccountId": account}
        )
        return DIDDocument(
            id=self.did,
            verification_method=(controller, *self.keys.values()),
            authentication=(controller_id, *self.auth.values()),
            assertion_method=(controller_id, *self.signing.values()),
            key_agreement=tuple(self.agreement.values()),
            service=tuple(self.services.values()),
            version_id=version,
        )


# --- key encodings ---------------------------------------------------------------------


def _key_material(key_type: str, encoding: str | None, value: bytes) -> dict[str, Any] | None:
    """The key property for a ``did/pub`` attribute, by type first and hint second."""
    if key_type == SECP256K1_KEY:
        jwk = _secp256k1_jwk(value)
        return None if jwk is None else {"publicKeyJwk": jwk}
    if key_type in _MULTICODEC:
        return {"publicKeyMultibase": "z" + _base58(_MULTICODEC[key_type] + value)}
    if key_type == MULTIKEY:
        return {"publicKeyMultibase": "z" + _base58(value)}
    if encoding in (None, "hex"):
        return {"publicKeyHex": value.hex()}
    if encoding == "base64":
        return {"publicKeyBase64": _standard_base64(value)}
    if encoding == "base58":
        return {"publicKeyBase58": _base58(value)}
    return {"value": value.hex()}


def _secp256k1_jwk(value: bytes) -> dict[str, str] | None:
    """A public JWK from a 33-byte compressed, 64-byte raw or 65-byte uncompressed key."""
    try:
        if len(value) == 33:
            public = PublicKey.from_compressed_bytes(value).to_bytes()
        elif len(value) == 65 and value[0] == 4:
            public = PublicKey(value[1:]).to_bytes()
        elif len(value) == 64:
            public = PublicKey(value).to_bytes()
        else:
            return None
    except Exception:  # eth-keys raises several types for points off the curve
        return None
    return {"kty": "EC", "crv": "secp256k1", "x": _b64url(public[:32]), "y": _b64url(public[32:])}


def _base58(raw: bytes) -> str:
    """Bitcoin base58 (base58btc), leading zero bytes as '1'."""
    number = int.from_bytes(raw, "big")
    digits = ""
    while number:
        number, remainder = divmod(number, 58)
        digits = _BASE58[remainder] + digits
    zeros = len(raw) - len(raw.lstrip(b"\x00"))
    return "1" * zeros + digits


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _standard_base64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _account_of(method: VerificationMethod) -> Address | None:
    """The address of a ``blockchainAccountId`` (``eip155:<chain>:<address>``), if any."""
    account = method.material.get("blockchainAccountId")
    if not isinstance(account, str):
        return None
    return Address(to_checksum_address(account.rsplit(":", 1)[-1]))


# --- JSON-LD context, as ethr-did-resolver's buildLdContext ------------------------------

_SUITE_CONTEXTS: Final = {
    ED25519_KEY: "https://w3id.org/security/suites/ed25519-2020/v1",
    X25519_KEY: "https://w3id.org/security/suites/x25519-2020/v1",
    MULTIKEY: "https://w3id.org/security/multikey/v1",
}


def _ld_context(methods: tuple[VerificationMethod, ...]) -> list[Any]:
    """The @context for exactly the key types and properties present."""
    types = {method.type for method in methods}
    properties = {name for method in methods for name in method.material}
    contexts: list[Any] = [
        "https://www.w3.org/ns/did/v1",
        "https://w3id.org/security/suites/secp256k1recovery-2020/v2",
    ]
    security_v2 = SECP256K1_KEY in types or "publicKeyBase58" in properties
    if security_v2:
        contexts.append("https://w3id.org/security/v2")
    contexts.extend(url for key_type, url in _SUITE_CONTEXTS.items() if key_type in types)
    inline = _inline_terms(properties, security_v2)
    if inline:
        contexts.append(inline)
    return contexts


def _inline_terms(properties: set[str], security_v2: bool) -> dict[str, Any]:
    terms: dict[str, Any] = {}
    if "publicKeyHex" in properties:
        terms["publicKeyHex"] = "https://w3id.org/security#publicKeyHex"
    if "publicKeyJwk" in properties:
        terms["publicKeyJwk"] = {"@id": "https://w3id.org/security#publicKeyJwk", "@type": "@json"}
    if "publicKeyBase58" in properties and not security_v2:
        terms["publicKeyBase58"] = "https://w3id.org/security#publicKeyBase58"
    if "publicKeyBase64" in properties:
        terms["publicKeyBase64"] = "https://w3id.org/security#publicKeyBase64"
    return terms
