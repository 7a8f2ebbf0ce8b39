"""One information object per order: every form of an order converts through ``Order``, and
the wire forms (EIP-712 message, type string, JSON field names) stay exactly as signed."""

from hypothesis import given, settings
from hypothesis import strategies as st
from web3 import Web3

from market.api.routes.orders import SignedOrderFields
from market.clearing import ClearingOrder
from oracle.eip712 import ORDER_FIELD_NAMES, ORDER_FIELDS, Order
from oracle.order_hashing import ORDER_TYPE
from oracle.payloads import OrderFields
from oracle.types import Address, Direction, Side

addresses = st.binary(min_size=20, max_size=20).map(lambda b: Address(Web3.to_checksum_address(b)))
orders = st.builds(
    Order,
    maker=addresses,
    side=st.sampled_from(Side),
    direction=st.sampled_from(Direction),
    node_id=st.integers(1, 2**32 - 1),
    asset=addresses,
    slot_start=st.integers(0, 4_102_444_800 // 900).map(lambda n: n * 900),
    slot_count=st.integers(1, 96),
    power_w=st.integers(1, 2**32 - 1),
    min_power_w=st.integers(0, 2**32 - 1),
    divisible=st.booleans(),
    price_cents_per_mwh=st.integers(1, 1_000_000),
    nonce=st.integers(0, 2**63 - 1),
    expiry=st.integers(0, 2**63 - 1),
)

WALLET_TYPE = (
    "Order(address maker,uint8 side,uint8 direction,uint32 nodeId,address asset,"
    "uint64 slotStart,uint16 slotCount,uint32 powerW,uint32 minPowerW,bool divisible,"
    "uint32 priceCentsPerMWh,uint64 nonce,uint64 expiry)"
)


def test_the_eip712_type_and_the_json_names_are_unchanged() -> None:
    assert ORDER_TYPE == WALLET_TYPE
    snake = [
        "maker",
        "side",
        "direction",
        "node_id",
        "asset",
        "slot_start",
        "slot_count",
        "power_w",
        "min_power_w",
        "divisible",
        "price_cents_per_mwh",
        "nonce",
        "expiry",
    ]
    assert list(ORDER_FIELD_NAMES) == snake
    assert list(OrderFields.model_fields) == snake
    assert list(SignedOrderFields.model_fields) == snake
    assert [f["name"] for f in ORDER_FIELDS][3] == "nodeId"


@settings(max_examples=60, deadline=None)
@given(order=orders)
def test_every_form_converts_back_to_the_same_order(order: Order) -> None:
    message = order.as_message()
    assert list(message) == [f["name"] for f in ORDER_FIELDS]
    assert message["priceCentsPerMWh"] == order.price_cents_per_mwh
    assert type(message["side"]) is int and type(message["direction"]) is int
    assert Order.from_message(message) == order
    assert Order.from_tuple(order.as_tuple()) == order
    assert Order.from_fields(order.fields()) == order
    assert OrderFields.from_order(order).to_order() == order
    assert SignedOrderFields.from_order(order).to_order() == order
    clearing = ClearingOrder.of("o-1", order, asset_node_id=7)
    assert Order.from_attributes(clearing) == order
    assert (clearing.order_id, clearing.asset_node_id) == ("o-1", 7)
