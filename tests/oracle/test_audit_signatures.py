"""The auditor's cached signature recovery agrees with eth-account and OpenZeppelin ECDSA."""

import os

import pytest
from eth_account import Account

from oracle.audit.signatures import recover_signer_lower
from oracle.order_hashing import recover_signer

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@pytest.mark.parametrize("seed", range(20))
def test_recovers_the_signer_in_lower_case(seed: int) -> None:
    account = Account.from_key((seed + 1).to_bytes(32, "big"))
    digest = os.urandom(32)
    signature = bytes(Account.unsafe_sign_hash(digest, account.key).signature)
    assert recover_signer_lower(digest, signature) == account.address.lower()
    assert recover_signer(digest, signature) == account.address


def test_refuses_what_openzeppelin_refuses() -> None:
    account = Account.from_key(b"\x07" * 32)
    digest = b"\x42" * 32
    good = bytes(Account.unsafe_sign_hash(digest, account.key).signature)
    r, s, v = good[:32], int.from_bytes(good[32:64], "big"), good[64]
    malleable = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
    for bad in (good[:64], good + b"\x00", malleable, good[:64] + b"\x01", bytes(65)):
        assert recover_signer_lower(digest, bad) is None
        assert recover_signer(digest, bad) is None
    assert recover_signer_lower(digest[:31], good) is None


def test_a_repeated_signature_is_recovered_once() -> None:
    recover_signer_lower.cache_clear()
    account = Account.from_key(b"\x09" * 32)
    digest = b"\x11" * 32
    signature = bytes(Account.unsafe_sign_hash(digest, account.key).signature)
    for _ in range(5):
        assert recover_signer_lower(digest, signature) == account.address.lower()
    info = recover_signer_lower.cache_info()
    assert (info.misses, info.hits) == (1, 4)
