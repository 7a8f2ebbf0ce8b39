"""The wallet client signs exactly as MetaMask would, and its signatures verify."""

from datetime import UTC, datetime, timedelta

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys.datatypes import PrivateKey
from eth_utils.crypto import keccak

from market.auth import MemoryNonceStore, SiweError, SiweMessage, verify_sign_in
from market.wallet import Wallet
from oracle.eip712 import Order, recover_order_signer, sign_order
from oracle.types import Address, ChainId, Direction, Side

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
VOLTA = 73799
NOW = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
MARKET = Address("0x" + "12" * 20)


def eip191_signature(text: str, key: bytes) -> str:
    """personal_sign written out: keccak of the prefixed UTF-8 bytes, signed, v = 27 + parity."""
    data = text.encode("utf-8")
    digest = keccak(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)
    signature = PrivateKey(key).sign_msg_hash(digest)
    r, s = int(signature.r).to_bytes(32, "big"), int(signature.s).to_bytes(32, "big")
    return "0x" + (r + s + bytes([27 + int(signature.v)])).hex()


def test_address_did_and_repr() -> None:
    wallet = Wallet(KEY, VOLTA)
    address = Account.from_key(KEY).address
    assert wallet.address == address
    assert wallet.chain_id == VOLTA
    assert wallet.did == f"did:ethr:0x12047:{address}"
    assert Wallet("0x" + KEY.hex(), 31337).did == f"did:ethr:0x7a69:{address}"
    assert KEY.hex() not in repr(wallet) and address in repr(wallet)


@pytest.mark.parametrize("chain_id", [0, -1, True, "1"])
def test_a_bad_chain_id_is_refused(chain_id: object) -> None:
    with pytest.raises(ValueError, match="chain_id"):
        Wallet(KEY, chain_id)  # type: ignore[arg-type]


def test_personal_sign_matches_the_eth_account_documentation_vector() -> None:
    key = bytes.fromhex("b25c7db31feed9122727bf0939dc769a96564b2de4c4726d035b36ecf1e5b364")
    assert Wallet(key, 1).personal_sign("I♥SF") == (
        "0xe6ca9bba58c88611fad66a6ce8f996908195593807c4b38bd528d2cff09d4eb3"
        "3e5bfbbf4d3e39b1a2fd816a7680c19ebebaf3a141b239934ad43cb33fcec8ce1c"
    )


def test_sign_in_message_is_the_eip4361_text_with_its_personal_sign_signature() -> None:
    wallet = Wallet(KEY, VOLTA)
    text, signature = wallet.sign_in_message(
        "flex.example.org",
        "https://flex.example.org/login",
        "abcdEFGH1234",
        "Sign in to flexledger.",
        NOW,
        timedelta(minutes=10),
    )
    assert text == (
        "flex.example.org wants you to sign in with your Ethereum account:\n"
        f"{wallet.address}\n"
        "\n"
        "Sign in to flexledger.\n"
        "\n"
        "URI: https://flex.example.org/login\n"
        "Version: 1\n"
        "Chain ID: 73799\n"
        "Nonce: abcdEFGH1234\n"
        "Issued At: 2024-05-01T12:00:00.123Z\n"
        "Expiration Time: 2024-05-01T12:10:00.123Z"
    )
    assert signature == eip191_signature(text, KEY)
    assert Account.recover_message(encode_defunct(text=text), signature=signature) == wallet.address


def test_the_sign_in_verifies_for_the_relying_party() -> None:
    wallet = Wallet(KEY, VOLTA)
    store = MemoryNonceStore(clock=lambda: NOW)
    text, signature = wallet.sign_in_message(
        "flex.example.org", "https://flex.example.org/login", store.issue(), now=NOW
    )
    verified = verify_sign_in(
        text,
        signature,
        expected_domain="flex.example.org",
        expected_chain_id=VOLTA,
        nonce_store=store,
        now=NOW + timedelta(seconds=5),
    )
    assert (verified.address, verified.chain_id) == (wallet.address, VOLTA)
    assert verified.expires_at == datetime(2024, 5, 1, 12, 10, 0, 123000, tzinfo=UTC)


def test_sign_in_without_ttl_or_now() -> None:
    wallet = Wallet(KEY, VOLTA)
    before = datetime.now(UTC)
    text, _ = wallet.sign_in_message("a.example", "https://a.example/", "12345678", ttl=None)
    message = SiweMessage.parse(text)
    assert message.expiration_time is None and message.statement is None
    assert before - timedelta(milliseconds=1) <= message.issued_at_utc <= datetime.now(UTC)


def test_sign_in_with_an_invalid_field_names_it() -> None:
    with pytest.raises(SiweError) as caught:
        Wallet(KEY, VOLTA).sign_in_message("a.example", "https://a.example/", "short", now=NOW)
    assert caught.value.field == "nonce"


def test_sign_order_is_oracle_eip712_sign_order_and_recovers_to_the_wallet() -> None:
    wallet = Wallet(KEY, VOLTA)
    order = Order(
        maker=wallet.address,
        side=Side.SELL,
        direction=Direction.UP,
        node_id=7,
        asset=Address("0x" + "34" * 20),
        slot_start=1_714_564_800,
        slot_count=4,
        power_w=25_000,
        min_power_w=5_000,
        divisible=True,
        price_cents_per_mwh=12_500,
        nonce=1,
        expiry=1_714_568_400,
    )
    signature = wallet.sign_order(order, MARKET)
    assert signature == sign_order(order, KEY, ChainId(VOLTA), MARKET)
    assert recover_order_signer(order, signature, ChainId(VOLTA), MARKET) == wallet.address
    assert Wallet(KEY, 1).sign_order(order, MARKET) != signature  # the chain is in the domain


def test_created_wallets_have_distinct_keys() -> None:
    assert Wallet.create(VOLTA).address != Wallet.create(VOLTA).address
