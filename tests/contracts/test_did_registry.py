"""DIDRegistry: ERC-1056 behaviour; signed variants bound to this chain and the owner's nonce."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak

from tests.contracts.world import World, events, reverts, send

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
ZERO = "0x0000000000000000000000000000000000000000"
VERI_KEY = b"veriKey".ljust(32, b"\0")
ATTR = b"did/pub/Secp256k1/veriKey/hex".ljust(32, b"\0")


def _addr(address: str) -> bytes:
    return bytes.fromhex(address[2:])


def _u256(value: int) -> bytes:
    return value.to_bytes(32, "big")


def signed_hash(
    world: World, identity: str, fn: str, *parts: bytes, chain_id: int | None = None
) -> bytes:
    """The hash the registry expects for a signed call (see IDIDRegistry)."""
    dids = world.dids.functions
    owner = dids.identityOwner(identity).call()
    nonce = dids.nonce(owner).call()
    chain = world.chain_id if chain_id is None else chain_id
    packed = b"\x19\x00" + _addr(world.dids.address) + _u256(chain) + _u256(nonce)
    return keccak(packed + _addr(identity) + fn.encode() + b"".join(parts))


def vrs(digest: bytes, key: bytes) -> tuple[int, bytes, bytes]:
    sig = Account.unsafe_sign_hash(digest, key)
    return sig.v, sig.r.to_bytes(32, "big"), sig.s.to_bytes(32, "big")


def recovered(digest: bytes, v: int, r: bytes, s: bytes) -> str:
    return Account._recover_hash(
        digest, vrs=(v, int.from_bytes(r, "big"), int.from_bytes(s, "big"))
    )


def test_identity_owns_itself_until_changed(world: World) -> None:
    dids = world.dids.functions
    assert dids.identityOwner(world.fsp.address).call() == world.fsp.address
    assert dids.owners(world.fsp.address).call() == ZERO
    assert dids.changed(world.fsp.address).call() == 0


def test_change_owner_records_block_and_emits(world: World) -> None:
    receipt = send(
        world.dids.functions.changeOwner(world.fsp.address, world.spare.address), world.fsp
    )
    assert events(world.dids, receipt, "DIDOwnerChanged") == [
        {"identity": world.fsp.address, "owner": world.spare.address, "previousChange": 0}
    ]
    dids = world.dids.functions
    assert dids.identityOwner(world.fsp.address).call() == world.spare.address
    assert dids.owners(world.fsp.address).call() == world.spare.address
    assert dids.changed(world.fsp.address).call() == receipt["blockNumber"]
    # the new owner acts; the identity's own key no longer can
    second = send(dids.changeOwner(world.fsp.address, world.fsp2.address), world.spare)
    assert (
        events(world.dids, second, "DIDOwnerChanged")[0]["previousChange"] == receipt["blockNumber"]
    )
    with reverts(world.dids, "DIDNotOwner", world.fsp.address, world.fsp.address):
        send(dids.changeOwner(world.fsp.address, world.fsp.address), world.fsp)


@pytest.mark.parametrize(
    "call",
    [
        lambda d, i: d.changeOwner(i, i),
        lambda d, i: d.addDelegate(i, VERI_KEY, i, 10),
        lambda d, i: d.revokeDelegate(i, VERI_KEY, i),
        lambda d, i: d.setAttribute(i, ATTR, b"\x01", 10),
        lambda d, i: d.revokeAttribute(i, ATTR, b"\x01"),
    ],
    ids=["changeOwner", "addDelegate", "revokeDelegate", "setAttribute", "revokeAttribute"],
)
def test_only_owner_may_change(world: World, call: Any) -> None:
    with reverts(world.dids, "DIDNotOwner", world.fsp.address, world.outsider.address):
        send(call(world.dids.functions, world.fsp.address), world.outsider)


def test_delegates_expire_and_revoke(world: World) -> None:
    dids = world.dids.functions
    identity, delegate = world.fsp.address, world.spare.address
    receipt = send(dids.addDelegate(identity, VERI_KEY, delegate, 3600), world.fsp)
    [event] = events(world.dids, receipt, "DIDDelegateChanged")
    stamp = world.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert event == {
        "identity": identity,
        "delegateType": VERI_KEY,
        "delegate": delegate,
        "validTo": stamp + 3600,
        "previousChange": 0,
    }
    assert dids.delegates(identity, keccak(VERI_KEY), delegate).call() == stamp + 3600
    assert dids.validDelegate(identity, VERI_KEY, delegate).call()
    assert not dids.validDelegate(identity, b"sigAuth".ljust(32, b"\0"), delegate).call()
    revoke = send(dids.revokeDelegate(identity, VERI_KEY, delegate), world.fsp)
    [event] = events(world.dids, revoke, "DIDDelegateChanged")
    assert event["validTo"] == world.w3.eth.get_block(revoke["blockNumber"])["timestamp"]
    assert event["previousChange"] == receipt["blockNumber"]
    assert not dids.validDelegate(identity, VERI_KEY, delegate).call()


def test_delegate_lapses_with_time(world: World) -> None:
    dids = world.dids.functions
    send(dids.addDelegate(world.fsp.address, VERI_KEY, world.spare.address, 100), world.fsp)
    world.travel_to(world.now() + 200)
    world.tester.mine_blocks(1)
    assert not dids.validDelegate(world.fsp.address, VERI_KEY, world.spare.address).call()


def test_attributes_live_in_events(world: World) -> None:
    dids = world.dids.functions
    receipt = send(dids.setAttribute(world.dso.address, ATTR, b"\x02\xab", 86400), world.dso)
    stamp = world.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert events(world.dids, receipt, "DIDAttributeChanged") == [
        {
            "identity": world.dso.address,
            "name": ATTR,
            "value": b"\x02\xab",
            "validTo": stamp + 86400,
            "previousChange": 0,
        }
    ]
    revoke = send(dids.revokeAttribute(world.dso.address, ATTR, b"\x02\xab"), world.dso)
    assert events(world.dids, revoke, "DIDAttributeChanged")[0]["validTo"] == 0
    assert dids.changed(world.dso.address).call() == revoke["blockNumber"]


def _signed_calls(world: World) -> list[tuple[str, tuple[bytes, ...], Any]]:
    """(function name, packed args, builder(v, r, s)) for every signed variant."""
    d = world.dids.functions
    i, new, delegate = world.fsp.address, world.spare.address, world.fsp2.address
    return [
        ("changeOwner", (_addr(new),), lambda v, r, s: d.changeOwnerSigned(i, v, r, s, new)),
        (
            "addDelegate",
            (VERI_KEY, _addr(delegate), _u256(600)),
            lambda v, r, s: d.addDelegateSigned(i, v, r, s, VERI_KEY, delegate, 600),
        ),
        (
            "revokeDelegate",
            (VERI_KEY, _addr(delegate)),
            lambda v, r, s: d.revokeDelegateSigned(i, v, r, s, VERI_KEY, delegate),
        ),
        (
            "setAttribute",
            (ATTR, b"\x07\x08", _u256(600)),
            lambda v, r, s: d.setAttributeSigned(i, v, r, s, ATTR, b"\x07\x08", 600),
        ),
        (
            "revokeAttribute",
            (ATTR, b"\x07\x08"),
            lambda v, r, s: d.revokeAttributeSigned(i, v, r, s, ATTR, b"\x07\x08"),
        ),
    ]


@pytest.mark.parametrize(
    "index",
    range(5),
    ids=lambda n: [
        "changeOwner",
        "addDelegate",
        "revokeDelegate",
        "setAttribute",
        "revokeAttribute",
    ][n],
)
def test_signed_variant_valid_here_once(world: World, index: int) -> None:
    name, parts, build = _signed_calls(world)[index]
    identity = world.fsp.address
    digest = signed_hash(world, identity, name, *parts)
    v, r, s = vrs(digest, world.fsp.key)
    receipt = send(build(v, r, s), world.outsider)  # anyone may relay a signed change
    assert receipt["logs"], "a signed change emits its event"
    assert world.dids.functions.nonce(world.fsp.address).call() == 1
    assert world.dids.functions.changed(identity).call() == receipt["blockNumber"]
    # replaying the same signature: the nonce moved on, so it recovers to someone else
    replay_digest = signed_hash(world, identity, name, *parts)
    with reverts(world.dids, "DIDBadSignature", identity, recovered(replay_digest, v, r, s)):
        send(build(v, r, s), world.outsider)


@pytest.mark.parametrize("index", range(5))
def test_signature_for_another_chain_is_rejected(world: World, index: int) -> None:
    name, parts, build = _signed_calls(world)[index]
    identity = world.fsp.address
    mainnet = signed_hash(world, identity, name, *parts, chain_id=1)
    v, r, s = vrs(mainnet, world.fsp.key)
    here = signed_hash(world, identity, name, *parts)
    with reverts(world.dids, "DIDBadSignature", identity, recovered(here, v, r, s)):
        send(build(v, r, s), world.outsider)


def test_signature_by_someone_else_is_rejected(world: World) -> None:
    name, parts, build = _signed_calls(world)[0]
    v, r, s = vrs(signed_hash(world, world.fsp.address, name, *parts), world.outsider.key)
    with reverts(world.dids, "DIDBadSignature", world.fsp.address, world.outsider.address):
        send(build(v, r, s), world.outsider)


def test_malleable_signature_is_rejected(world: World) -> None:
    name, parts, build = _signed_calls(world)[0]
    v, r, s = vrs(signed_hash(world, world.fsp.address, name, *parts), world.fsp.key)
    high_s = (SECP256K1_N - int.from_bytes(s, "big")).to_bytes(32, "big")
    flipped_v = 55 - v  # 27 <-> 28: the same signer on plain ecrecover
    with reverts(world.dids, "DIDBadSignature", world.fsp.address, ZERO):
        send(build(flipped_v, r, high_s), world.outsider)


def test_signed_change_by_new_owner_uses_owner_nonce(world: World) -> None:
    dids = world.dids.functions
    send(dids.changeOwner(world.fsp.address, world.spare.address), world.fsp)
    new = world.fsp2.address
    digest = signed_hash(world, world.fsp.address, "changeOwner", _addr(new))
    v, r, s = vrs(digest, world.spare.key)
    send(dids.changeOwnerSigned(world.fsp.address, v, r, s, new), world.outsider)
    assert dids.nonce(world.spare.address).call() == 1
    assert dids.nonce(world.fsp.address).call() == 0
    assert dids.identityOwner(world.fsp.address).call() == new
