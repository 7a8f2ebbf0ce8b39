"""EIP-712 typed data for market orders, exactly as a wallet (MetaMask) signs them.

The same ``Order`` struct, type string and domain are used by FlexMarket.sol; a test
checks that the hash computed here equals the contract's ``hashOrder``.
"""

from dataclasses import asdict, dataclass
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
    """A market order in on-chain units (see oracle.types for the scales)."""

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

    def as_message(self) -> dict[str, Any]:
        """The order as the EIP-712 message (camelCase, as the wallet shows it)."""
        return {
            "maker": self.maker,
            "side": int(self.side),
            "direction": int(self.direction),
            "nodeId": self.node_id,
            "asset": self.asset,
            "slotStart": self.slot_start,
            "slotCount": self.slot_count,
            "powerW": self.power_w,
            "minPowerW": self.min_power_w,
            "divisible": self.divisible,
            "priceCentsPerMWh": self.price_cents_per_mwh,
            "nonce": self.nonce,
            "expiry": self.expiry,
        }

    def as_tuple(self) -> tuple[Any, ...]:
        """The order as the ABI tuple the contract takes."""
        return tuple(self.as_message().values())

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> "Order":
        return cls(
            maker=Address(message["maker"]),
            side=Side(message["side"]),
            direction=Direction(message["direction"]),
            node_id=int(message["nodeId"]),
            asset=Address(message["asset"]),
            slot_start=int(message["slotStart"]),
            slot_count=int(message["slotCount"]),
            power_w=int(message["powerW"]),
            min_power_w=int(message["minPowerW"]),
            divisible=bool(message["divisible"]),
            price_cents_per_mwh=int(message["priceCentsPerMWh"]),
            nonce=int(message["nonce"]),
            expiry=int(message["expiry"]),
        )

    @classmethod
    def from_tuple(cls, values: tuple[Any, ...] | list[Any]) -> "Order":
        return cls.from_message(dict(zip([f["name"] for f in ORDER_FIELDS], values, strict=True)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
