"""did:ethr resolution against the DIDRegistry artifact on eth-tester.

Expected documents follow ethr-did-resolver 14.x (its resolve.*.test.ts suites); the
Multikey value is the vector from its resolve.attribute.test.ts.
"""

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from eth_account import Account
from eth_keys.datatypes import PrivateKey
from eth_tester import EthereumTester
from eth_utils.crypto import keccak
from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract
from web3.types import Wei

from contracts import load_artifact
from oracle.errors import ChainMismatchError
from oracle.identity import (
    CredentialRejectedError,
    EthrDid,
    Rejection,
    Signer,
    format_did,
    issue_role_credential,
    parse_did,
    resolve,
    self_controlled_check,
    verify_role_credential,
)
from oracle.identity.resolver import _base58, change_log
from oracle.types import BlockNumber, Role

ZERO = "0x0000000000000000000000000000000000000000"


class Chain:
    """eth-tester with a deployed DIDRegistry and a supply of funded identities."""

    def __init__(self) -> None:
        self.tester = EthereumTester()
        self.w3 = Web3(EthereumTesterProvider(self.tester))
        artifact = load_artifact("DIDRegistry")
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        receipt = self.w3.eth.wait_for_transaction_receipt(
            factory.constructor().transact({"from": self.w3.eth.accounts[0]})
        )
        self.registry = cast(
            Contract, self.w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)
        )
        self.chain_id = self.w3.eth.chain_id
        self.count = 0

    def identity(self, *, sends: bool = True) -> Signer:
        """A fresh key with its DID on this chain; unlocked and funded if it ``sends``."""
        self.count += 1
        key = bytes(Account.create().key)
        signer = Signer(f"id-{self.count}", key, network=self.chain_id)
        if sends:
            self.tester.add_account("0x" + key.hex())
            self.w3.eth.send_transaction(
                {"from": self.w3.eth.accounts[0], "to": signer.address, "value": Wei(10**18)}
            )
        return signer

    def key(self) -> Signer:
        """An identity that never sends a transaction (a delegate, a new owner)."""
        return self.identity(sends=False)

    def send(self, sender: Signer, function: str, *args: Any) -> None:
        getattr(self.registry.functions, function)(*args).transact({"from": sender.address})

    def resolve(self, signer: Signer, now: int | None = None) -> dict[str, Any]:
        return resolve(signer.did, self.registry, self.w3, now=now).to_json()

    def head_time(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])


def b32(text: str) -> bytes:
    return text.encode().ljust(32, b"\0")


@pytest.fixture(scope="module")
def chain() -> Iterator[Chain]:
    yield Chain()


def controller(did: str, chain_id: int, address: str) -> dict[str, str]:
    return {
        "id": f"{did}#controller",
        "type": "EcdsaSecp256k1RecoveryMethod2020",
        "controller": did,
        "blockchainAccountId": f"eip155:{chain_id}:{address}",
    }


def test_fresh_identity_has_only_its_controller(chain: Chain) -> None:
    alice = chain.key()
    assert chain.resolve(alice) == {
        "@context": [
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/suites/secp256k1recovery-2020/v2",
        ],
        "id": alice.did,
        "verificationMethod": [controller(alice.did, chain.chain_id, alice.address)],
        "authentication": [f"{alice.did}#controller"],
        "assertionMethod": [f"{alice.did}#controller"],
    }


def test_a_did_of_another_chain_is_refused(chain: Chain) -> None:
    alice = chain.key()
    with pytest.raises(ChainMismatchError, match="lives on chain 1"):
        resolve(format_did(alice.address), chain.registry, chain.w3)


def test_delegates_become_recovery_methods(chain: Chain) -> None:
    alice, signing, auth = chain.identity(), chain.key(), chain.key()
    chain.send(alice, "addDelegate", alice.address, b32("veriKey"), signing.address, 3600)
    chain.send(alice, "addDelegate", alice.address, b32("sigAuth"), auth.address, 3600)
    chain.send(alice, "addDelegate", alice.address, b32("other"), auth.address, 3600)
    document = chain.resolve(alice)
    did, cid = alice.did, chain.chain_id
    assert document["verificationMethod"] == [
        controller(did, cid, alice.address),
        {
            "id": f"{did}#delegate-1",
            "type": "EcdsaSecp256k1RecoveryMethod2020",
            "controller": did,
            "blockchainAccountId": f"eip155:{cid}:{signing.address}",
        },
        {
            "id": f"{did}#delegate-2",
            "type": "EcdsaSecp256k1RecoveryMethod2020",
            "controller": did,
            "blockchainAccountId": f"eip155:{cid}:{auth.address}",
        },
    ]
    assert document["authentication"] == [f"{did}#controller", f"{did}#delegate-2"]
    assert document["assertionMethod"] == [
        f"{did}#controller",
        f"{did}#delegate-1",
        f"{did}#delegate-2",
    ]


def test_expired_and_revoked_delegates_drop_out(chain: Chain) -> None:
    alice, short, revoked = chain.identity(), chain.key(), chain.key()
    chain.send(alice, "addDelegate", alice.address, b32("veriKey"), short.address, 100)
    added_at = chain.head_time()
    chain.send(alice, "addDelegate", alice.address, b32("veriKey"), revoked.address, 3600)
    chain.send(alice, "revokeDelegate", alice.address, b32("veriKey"), revoked.address)
    later = chain.head_time() + 1
    document = resolve(alice.did, chain.registry, chain.w3, now=later)
    assert [m.id.split("#")[1] for m in document.verification_method] == [
        "controller",
        "delegate-1",
    ]
    assert document.can_assert(short.address)
    assert not document.can_assert(revoked.address)
    expired = resolve(alice.did, chain.registry, chain.w3, now=added_at + 101)
    assert not expired.can_assert(short.address)
    assert [m.id for m in expired.verification_method] == [f"{alice.did}#controller"]


def test_public_key_attributes_by_type(chain: Chain) -> None:
    alice = chain.identity()
    secp = PrivateKey(b"\x07" * 32).public_key
    ed25519 = bytes(range(32))
    x25519 = bytes(range(32, 64))
    multikey = bytes([0xEB, 0x01]) + b"public key material here"
    attributes = [
        ("did/pub/Secp256k1/veriKey/hex", secp.to_compressed_bytes()),
        ("did/pub/Ed25519/veriKey/base58", ed25519),
        ("did/pub/X25519/enc/base64", x25519),
        ("did/pub/Multikey", multikey),
        ("did/pub/ImaginaryKey2023/sigAuth", bytes.fromhex("1234567890")),
        ("did/pub/Imaginary/veriKey/base64", b"\xff\xfe"),
    ]
    for name, value in attributes:
        chain.send(alice, "setAttribute", alice.address, b32(name), value, 3600)
    document = chain.resolve(alice)
    did = alice.did
    raw = secp.to_bytes()

    def b64url(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    assert document["verificationMethod"][1:] == [
        {
            "id": f"{did}#delegate-1",
            "type": "EcdsaSecp256k1VerificationKey2019",
            "controller": did,
            "publicKeyJwk": {
                "kty": "EC",
                "crv": "secp256k1",
                "x": b64url(raw[:32]),
                "y": b64url(raw[32:]),
            },
        },
        {
            "id": f"{did}#delegate-2",
            "type": "Ed25519VerificationKey2020",
            "controller": did,
            "publicKeyMultibase": "z" + _base58(b"\xed\x01" + ed25519),
        },
        {
            "id": f"{did}#delegate-3",
            "type": "X25519KeyAgreementKey2020",
            "controller": did,
            "publicKeyMultibase": "z" + _base58(b"\xec\x01" + x25519),
        },
        {
            "id": f"{did}#delegate-4",
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": "z8CNhpjgEH67cHtG4PWA1dS9udD1Z4pKmUCVA",
        },
        {
            "id": f"{did}#delegate-5",
            "type": "ImaginaryKey2023",
            "controller": did,
            "publicKeyHex": "1234567890",
        },
        {
            "id": f"{did}#delegate-6",
            "type": "Imaginary",
            "controller": did,
            "publicKeyBase64": "//4=",
        },
    ]
    assert document["keyAgreement"] == [f"{did}#delegate-3"]
    assert document["authentication"] == [f"{did}#controller", f"{did}#delegate-5"]
    assert document["assertionMethod"] == [f"{did}#controller"] + [
        f"{did}#delegate-{n}" for n in (1, 2, 4, 5, 6)
    ]
    assert document["@context"][2:] == [
        "https://w3id.org/security/v2",
        "https://w3id.org/security/suites/ed25519-2020/v1",
        "https://w3id.org/security/suites/x25519-2020/v1",
        "https://w3id.org/security/multikey/v1",
        {
            "publicKeyHex": "https://w3id.org/security#publicKeyHex",
            "publicKeyJwk": {"@id": "https://w3id.org/security#publicKeyJwk", "@type": "@json"},
            "publicKeyBase64": "https://w3id.org/security#publicKeyBase64",
        },
    ]


def test_revoked_attributes_drop_out_but_keep_counting(chain: Chain) -> None:
    alice = chain.identity()
    key = PrivateKey(b"\x09" * 32).public_key.to_compressed_bytes()
    name = b32("did/pub/Secp256k1/veriKey/hex")
    chain.send(alice, "setAttribute", alice.address, name, key, 3600)
    chain.send(alice, "revokeAttribute", alice.address, name, key)
    chain.send(
        alice, "setAttribute", alice.address, b32("did/pub/Ed25519/veriKey"), b"\x01" * 32, 3600
    )
    ids = [m["id"] for m in chain.resolve(alice, now=chain.head_time() + 1)["verificationMethod"]]
    assert ids == [f"{alice.did}#controller", f"{alice.did}#delegate-3"]


def test_services(chain: Chain) -> None:
    alice = chain.identity()
    endpoint = {"uri": "https://dso.example/flex", "accept": ["application/json"]}
    chain.send(
        alice,
        "setAttribute",
        alice.address,
        b32("did/svc/FlexService"),
        json.dumps(endpoint).encode(),
        3600,
    )
    chain.send(
        alice,
        "setAttribute",
        alice.address,
        b32("did/svc/HubService"),
        b"https://hub.example",
        3600,
    )
    chain.send(
        alice, "revokeAttribute", alice.address, b32("did/svc/HubService"), b"https://hub.example"
    )
    chain.send(alice, "setAttribute", alice.address, b32("did/svc/Raw"), b"\xff\xfe", 3600)
    document = chain.resolve(alice, now=chain.head_time() + 1)
    assert document["service"] == [
        {"id": f"{alice.did}#service-1", "type": "FlexService", "serviceEndpoint": endpoint}
    ]


def test_events_of_one_block_replay_in_log_order(chain: Chain) -> None:
    """Two changes in one block: the second's previousChange is its own block.

    eth-tester accepts one transaction per sender and block, so the second change is the
    signed variant, relayed by another account.
    """
    alice, first, second = chain.identity(), chain.key(), chain.key()
    chain.send(alice, "addDelegate", alice.address, b32("veriKey"), first.address, 3600)
    relayed = _signed_add_delegate(chain, alice, b32("sigAuth"), first.address, 3600)
    chain.tester.disable_auto_mine_transactions()
    try:
        chain.send(alice, "addDelegate", alice.address, b32("sigAuth"), second.address, 3600)
        relayed.transact({"from": chain.w3.eth.accounts[0], "gas": 300_000})
        chain.tester.mine_blocks()
    finally:
        chain.tester.enable_auto_mine_transactions()
    history = change_log(
        alice.address, chain.registry, chain.w3, BlockNumber(chain.w3.eth.block_number)
    )
    blocks = [event.block_number for event in history]
    assert blocks[0] < blocks[1] == blocks[2]
    document = chain.resolve(alice)
    accounts = [m["blockchainAccountId"].rsplit(":", 1)[1] for m in document["verificationMethod"]]
    assert accounts == [alice.address, first.address, second.address, first.address]
    assert document["authentication"][1:] == [f"{alice.did}#delegate-2", f"{alice.did}#delegate-3"]


def _signed_add_delegate(
    chain: Chain, owner: Signer, kind: bytes, delegate: str, validity: int
) -> Any:
    """addDelegateSigned with the DIDRegistry layout: ERC-1056 plus the chain id."""
    registry = chain.registry
    packed = (
        b"\x19\x00"
        + bytes.fromhex(registry.address[2:])
        + chain.chain_id.to_bytes(32, "big")
        + registry.functions.nonce(owner.address).call().to_bytes(32, "big")
        + bytes.fromhex(owner.address[2:])
        + b"addDelegate"
        + kind
        + bytes.fromhex(delegate[2:])
        + validity.to_bytes(32, "big")
    )
    signature = PrivateKey(owner.private_key).sign_msg_hash(keccak(packed))
    v, r, s = signature.vrs
    return registry.functions.addDelegateSigned(
        owner.address,
        v + 27,
        r.to_bytes(32, "big"),
        s.to_bytes(32, "big"),
        kind,
        delegate,
        validity,
    )


def test_events_after_now_are_left_out(chain: Chain) -> None:
    alice, delegate = chain.identity(), chain.key()
    before = chain.head_time()
    chain.send(alice, "addDelegate", alice.address, b32("veriKey"), delegate.address, 3600)
    document = resolve(alice.did, chain.registry, chain.w3, now=before)
    assert not document.can_assert(delegate.address)
    assert chain.resolve(alice)["verificationMethod"][1]["id"] == f"{alice.did}#delegate-1"


def test_owner_change_moves_the_controller(chain: Chain) -> None:
    alice, bob = chain.identity(), chain.key()
    still_own = self_controlled_check(chain.registry, chain.w3)
    parsed = resolve(alice.did, chain.registry, chain.w3)
    assert parsed.controller == alice.address
    assert still_own(_did_of(alice))
    chain.send(alice, "changeOwner", alice.address, bob.address)
    document = resolve(alice.did, chain.registry, chain.w3)
    assert document.controller == bob.address
    assert document.can_assert(bob.address)
    assert not document.can_assert(alice.address)
    assert document.verification_method[0].to_json() == controller(
        alice.did, chain.chain_id, bob.address
    )
    assert not still_own(_did_of(alice))


def test_deactivated_did_has_no_keys(chain: Chain) -> None:
    alice, delegate = chain.identity(), chain.key()
    chain.send(alice, "addDelegate", alice.address, b32("veriKey"), delegate.address, 3600)
    chain.send(alice, "changeOwner", alice.address, ZERO)
    document = resolve(alice.did, chain.registry, chain.w3)
    assert document.deactivated
    assert document.controller is None
    assert document.to_json()["verificationMethod"] == []
    assert not self_controlled_check(chain.registry, chain.w3)(_did_of(alice))


def test_issuer_whose_did_moved_on_chain_is_refused(chain: Chain) -> None:
    """didkit still accepts the old key offline; the registry check catches the rotation."""
    operator, dso, successor = chain.identity(), chain.key(), chain.key()
    start = datetime.now(UTC) - timedelta(days=1)
    vc = issue_role_credential(
        operator,
        dso.did,
        Role.DSO,
        start,
        start + timedelta(days=30),
        chain.chain_id,
        chain.registry.address,
    )
    options: dict[str, Any] = {
        "trusted_issuers": [operator.did],
        "now": datetime.now(UTC),
        "check_issuer": self_controlled_check(chain.registry, chain.w3),
    }
    assert verify_role_credential(vc, **options).role is Role.DSO
    chain.send(operator, "changeOwner", operator.address, successor.address)
    with pytest.raises(CredentialRejectedError) as caught:
        verify_role_credential(vc, **options)
    assert caught.value.reason is Rejection.ISSUER_NOT_CURRENT


def _did_of(signer: Signer) -> EthrDid:
    return parse_did(signer.did)
