"""What a wallet signs for ``POST /orders``: the EIP-712 domain, types and units (public).

A wallet integrator builds ``eth_signTypedData_v4``'s payload from this answer alone: the
``domain``, ``types`` and ``primaryType`` as returned, plus a ``message`` with one value per
``Order`` member. ``order_fields`` says, per member, its unit and the snake-case name it has in the
body of ``POST /orders`` (the same values, unchanged). Domain and types come from
:func:`oracle.eip712.order_typed_data`, the function the platform verifies signatures with,
so this answer cannot drift from what is checked.
"""

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from market.api.deps import PlatformDep
from oracle.eip712 import ORDER_FIELDS, ZERO_ADDRESS, Order, order_typed_data
from oracle.types import Address, ChainId, Direction, Side

router = APIRouter(tags=["orders"])

EIP712_PATH = "/eip712"

# Order member -> (its name in POST /orders' "order" object, unit, meaning)
ORDER_UNITS: dict[str, tuple[str, str, str]] = {
    "maker": ("maker", "address", "The signing wallet; must be the session's."),
    "side": ("side", "enum", "0 buy (DSO/TSO), 1 sell (FSP)."),
    "direction": ("direction", "enum", "0 up (consumption decreases), 1 down (it increases)."),
    "nodeId": ("node_id", "grid node id", "GridRegistry node; a sell: its asset's node."),
    "asset": ("asset", "address", "A sell's asset; a buy: the zero address."),
    "slotStart": ("slot_start", "unix s (UTC)", "First delivery slot, a multiple of 900."),
    "slotCount": ("slot_count", "15-minute slots", "Consecutive slots from slotStart."),
    "powerW": ("power_w", "W", "Power offered or asked in every slot."),
    "minPowerW": ("min_power_w", "W", "Smallest fill; all-or-nothing: equal to powerW."),
    "divisible": ("divisible", "bool", "false: all-or-nothing."),
    "priceCentsPerMWh": ("price_cents_per_mwh", "euro cents per MWh", "Limit price."),
    "nonce": ("nonce", "integer", "Unique per maker."),
    "expiry": ("expiry", "unix s (UTC)", "The order expires then; at least slotStart."),
}

# An order only to ask order_typed_data for its domain and types (the message is dropped).
_ANY_ORDER = Order(
    maker=ZERO_ADDRESS,
    side=Side.BUY,
    direction=Direction.UP,
    node_id=0,
    asset=ZERO_ADDRESS,
    slot_start=0,
    slot_count=0,
    power_w=0,
    min_power_w=0,
    divisible=True,
    price_cents_per_mwh=0,
    nonce=0,
    expiry=0,
)


class TypedMember(BaseModel):
    name: str
    type: str = Field(description="The Solidity type, as in the EIP-712 type string.")


class OrderMember(TypedMember):
    body_field: str = Field(description="Its name in the `order` object of POST /orders.")
    unit: str
    description: str


class Eip712Domain(BaseModel):
    name: str
    version: str
    chainId: int  # EIP-712's member names
    verifyingContract: str = Field(description="The FlexMarket contract.")


class Eip712Out(BaseModel):
    """Domain, types and primary type of the typed data ``POST /orders`` expects signed."""

    domain: Eip712Domain
    types: dict[str, list[TypedMember]] = Field(
        description="EIP712Domain and Order, member by member in struct order."
    )
    primaryType: str  # EIP-712's member name
    order_fields: list[OrderMember] = Field(
        description="Each Order member's unit and its name in the body of POST /orders."
    )
    signing: str = Field(description="How to sign and send an order.")


def _order_members() -> list[OrderMember]:
    members = []
    for member in ORDER_FIELDS:
        body_field, unit, description = ORDER_UNITS[member["name"]]
        members.append(
            OrderMember(**member, body_field=body_field, unit=unit, description=description)
        )
    return members


def eip712_document(chain_id: int, market_address: Address) -> dict[str, Any]:
    """The typed data without a message, as the platform builds it to verify an order."""
    typed = order_typed_data(_ANY_ORDER, ChainId(chain_id), market_address)
    return {key: value for key, value in typed.items() if key != "message"}


@router.get(
    EIP712_PATH,
    summary="The EIP-712 domain, types and units a wallet signs orders with (public)",
)
def eip712(platform: PlatformDep) -> Eip712Out:
    document = eip712_document(platform.chain_id, platform.oracle.view.market_address)
    return Eip712Out(
        **document,
        order_fields=_order_members(),
        signing="Sign {domain, types, primaryType: 'Order', message} with "
        "eth_signTypedData_v4, the message holding each Order member by its EIP-712 name; "
        "then POST /api/v1/orders {market, order: {<body_field>: value, ...}, signature} with "
        "the same values under their body_field names.",
    )
