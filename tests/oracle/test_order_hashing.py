"""The fast order hasher and signer recovery agree with the wallet-exact EIP-712 path."""

from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st
from web3 import Web3

from oracle.eip712 import Order, order_digest, sign_order
from oracle.order_hashing import domain_separator, order_hash, recover_signer
from oracle.types import Address, ChainId, Direction, Side

addresses = st.binary(min_size=20, max_size=20).map(lambda b: Address(Web3.to_checksum_address(b)))
orders = st.builds(
    Order,
    maker=addresses,
    side=st.sampled_from(Side),
    direction=st.sampled_from(Direction),
    node_id=st.integers(0, 2**32 - 1),
    asset=addresses,
    slot_start=st.integers(0, 2**64 - 1),
    slot_count=st.integers(0, 2**16 - 1),
    power_w=st.integers(0, 2**32 - 1),
    min_power_w=st.integers(0, 2**32 - 1),
    divisible=st.booleans(),
    price_cents_per_mwh=st.integers(0, 2**32 - 1),
    nonce=st.integers(0, 2**64 - 1),
    expiry=st.integers(0, 2**64 - 1),
)
KEY = bytes.fromhex("59" * 32)


@settings(max_examples=60, deadline=None)
@given(order=orders, chain_id=st.integers(1, 2**32), market=addresses)
def test_fast_hash_equals_the_wallet_digest(order: Order, chain_id: int, market: Address) -> None:
    expected = order_digest(order, ChainId(chain_id), market)
    assert order_hash(order.as_message(), domain_separator(chain_id, market)) == expected


@settings(max_examples=20, deadline=None)
@given(order=orders)
def test_recovery_finds_the_wallet_signer(order: Order) -> None:
    market = Address("0x" + "12" * 20)
    signature = sign_order(order, KEY, ChainId(1337), market)
    digest = order_digest(order, ChainId(1337), market)
    assert recover_signer(digest, signature) == Account.from_key(KEY).address


def test_malleable_and_malformed_signatures_recover_nobody() -> None:
    order = Order(
        Address("0x" + "11" * 20),
        Side.BUY,
        Direction.UP,
        1,
        Address("0x" + "00" * 20),
        900,
        1,
        1,
        1,
        False,
        1,
        1,
        1,
    )
    market = Address("0x" + "12" * 20)
    signature = sign_order(order, KEY, ChainId(1337), market)
    digest = order_digest(order, ChainId(1337), market)
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    s = int.from_bytes(signature[32:64], "big")
    flipped = signature[:32] + (n - s).to_bytes(32, "big") + bytes([55 - signature[64]])
    assert recover_signer(digest, flipped) is None
    assert recover_signer(digest, signature[:64]) is None
    assert recover_signer(digest, signature[:64] + b"\x01") is None
