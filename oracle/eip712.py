"""EIP-712 typed data for market orders, exactly as a wallet (MetaMask) signs them.

The same ``Order`` struct, type string and domain are used by FlexMarket.sol; a test
checks that the hash computed here equals the contract's ``hashOrder``.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from oracle.types import Address, ChainId, Direction, Side

DOMAIN_NAME = "flexledger Market"
DOMAIN_VERSION = "1"

ORDER_FIELDS: list[dict[str, str]] = [
    {"name": "maker", "type": "address"},
    {"name": "side", "type": "uint8"},
    {"name": "direction", "type": "uint8"},
    {"name": "nodeId", "type": "uint32"},
    {"name": "asset", "type": "address"},
    {"name": "slotStart", "type": "uint64"},
    {"name": "slotCount", "type": "uint16"},
    {"name": "powerW", "type": "uint32"},
    {"name": "minPowerW", "type": "uint32"},
    {"name": "divisible", "type": "bool"},
    {"name": "priceCentsPerMWh", "type": "uint32"},
    {"name": "nonce", "type": "uint64"},
    {"name": "expiry", "type": "uint64"},
]

ZERO_ADDRESS = Address("0x0000000000000000000000000000000000000000")


@dataclass(frozen=True, slots=True)
class Order:
    """A market order in on-chain units (see oracle.types for the scales): the one
    information object of an order.

    The API schema and the oracle payload (:class:`oracle.payloads.OrderFields`), the table
    row (``market_order``) and the clearing order (:class:`market.clearing.ClearingOrder`, a
    subclass) carry these fields under these names; every conversion goes through the few
    methods here, so no other module copies an order field by field. The field order is
    the EIP-712 struct's (:data:`ORDER_FIELDS`).
    """

    maker: Address
    side: Side
    direction: Direction
    node_id: int
    asset: Address
    slot_start: int
    slot_count: int
    power_w: int
    min_power_w: int
    divisible: bool
    price_cents_per_mwh: int
    nonce: int
    expiry: int

    def fields(self) -> dict[str, Any]:
        """The fields as plain values (enums as ints), by their snake-case names: the form
        of the API's JSON, the oracle payload and the table row."""
        values = {name: getattr(self, name) for name in ORDER_FIELD_NAMES}
        values["side"], values["direction"] = int(self.side), int(self.direction)
        return values

    def field_values(self) -> tuple[Any, ...]:
        """The fields as they are (enums kept), in struct order: to build a subclass."""
        return tuple(getattr(self, name) for name in ORDER_FIELD_NAMES)

    def as_message(self) -> dict[str, Any]:
        """The order as the EIP-712 message (camelCase, as the wallet shows it)."""
        return {_MESSAGE_NAMES[name]: value for name, value in self.fields().items()}

    def as_tuple(self) -> tuple[Any, ...]:
        """The order as the ABI tuple the contract takes."""
        return tuple(self.fields().values())

    def to_dict(self) -> dict[str, Any]:
        """Same as :meth:`fields`."""
        return self.fields()

    @classmethod
    def from_fields(cls, values: Mapping[str, Any]) -> "Order":
        """The order from plain values under the snake-case names (the inverse of
        :meth:`fields`); extra keys are ignored."""
        return cls(*(_COERCE.get(name, int)(values[name]) for name in ORDER_FIELD_NAMES))

    @classmethod
    def from_attributes(cls, source: object) -> "Order":
        """The order from any object with the fields as attributes (a table row, a payload,
        a clearing order)."""
        return cls.from_fields({name: getattr(source, name) for name in ORDER_FIELD_NAMES})

    @classmethod
    def from_message(cls, message: Mapping[str, Any]) -> "Order":
        """The inverse of :meth:`as_message`."""
        return cls.from_fields({name: message[_MESSAGE_NAMES[name]] for name in ORDER_FIELD_NAMES})

    @classmethod
    def from_tuple(cls, values: tuple[Any, ...] | list[Any]) -> "Order":
        return cls.from_fields(dict(zip(ORDER_FIELD_NAMES, values, strict=True)))


ORDER_FIELD_NAMES: tuple[str, ...] = tuple(field.name for field in dataclass_fields(Order))
# snake-case field -> EIP-712 member name; strict: the struct and the dataclass list the same
# fields in the same order (a test also checks each pair).
_MESSAGE_NAMES = dict(zip(ORDER_FIELD_NAMES, (f["name"] for f in ORDER_FIELDS), strict=True))
_COERCE: dict[str, Callable[[Any], Any]] = {
    "maker": Address,
    "side": Side,
    "direction": Direction,
    "asset": Address,
    "divisible": bool,
}  # every other field is a uintN: int


def market_domain(chain_id: ChainId, market_address: Address) -> dict[str, Any]:
    return {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": chain_id,
        "verifyingContract": market_address,
    }


def order_typed_data(order: Order, chain_id: ChainId, market_address: Address) -> dict[str, Any]:
    """The full ``eth_signTypedData_v4`` payload a wallet is asked to sign."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Order": ORDER_FIELDS,
        },
        "primaryType": "Order",
        "domain": market_domain(chain_id, market_address),
        "message": order.as_message(),
    }


def order_digest(order: Order, chain_id: ChainId, market_address: Address) -> bytes:
    """The 32-byte EIP-712 digest that is signed; also the order's on-chain id."""
    signable = encode_typed_data(full_message=order_typed_data(order, chain_id, market_address))
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def sign_order(
    order: Order, private_key: bytes, chain_id: ChainId, market_address: Address
) -> bytes:
    """Sign as MetaMask's ``eth_signTypedData_v4`` would; returns the 65-byte r||s||v."""
    typed = order_typed_data(order, chain_id, market_address)
    signed = Account.sign_typed_data(private_key, full_message=typed)
    return bytes(signed.signature)


def recover_order_signer(
    order: Order, signature: bytes, chain_id: ChainId, market_address: Address
) -> Address:
    typed = order_typed_data(order, chain_id, market_address)
    signable = encode_typed_data(full_message=typed)
    return Address(Account.recover_message(signable, signature=signature))
