"""The message kinds of the flexledger contracts, as outbox specs.

Each payload is in on-chain units (W, Wh, euro cents per MWh, unix seconds); the market's
API converts kW, kWh and EUR/MWh at its edge. Grid analytics, HEMS and protocol gateways
add their own kinds by registering more specs on the registry; nothing here changes.
"""

from typing import Annotated, Any, Self

from pydantic import Field, field_validator, model_validator

from oracle.eip712 import ZERO_ADDRESS, Order
from oracle.errors import OracleValueError
from oracle.messages import (
    AddressHex,
    Bytes32Hex,
    ChainView,
    MessageRegistry,
    MessageSpec,
    Payload,
    PositiveUInt32,
    UInt16,
    UInt32,
    UInt64,
)
from oracle.order_hashing import domain_separator, order_hash, recover_signer
from oracle.settlement_math import pack_attestation
from oracle.types import SLOT_SECONDS, Address, Role, Side

UInt8 = Annotated[int, Field(ge=0, le=255)]
SignatureHex = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{130}$")]
RoleId = Annotated[int, Field(ge=1, le=len(Role))]
MAX_PROOF_LENGTH = 16
ORDER_BATCH_LIMIT = 1000
TRADE_BATCH_LIMIT = 8  # FlexMarket.MAX_TRADES_PER_BATCH: 8 trades ≈ 2M gas of an 8M block
ATTESTATION_BATCH_LIMIT = 200
# BaselineRegistry.MAX_BATCH is 256 (6.4M gas); 200 locks use 5.0M, so the estimate plus
# the dispatcher's 25 % headroom stays well inside an 8M block.
BASELINE_BATCH_LIMIT = 200
ZERO_HASH = "0x" + "00" * 32


def _bytes32(value: str) -> bytes:
    return bytes.fromhex(value[2:])


class RoleGrant(Payload):
    identity: AddressHex
    role: RoleId
    credential_hash: Bytes32Hex
    valid_from: UInt64
    valid_until: UInt64

    @model_validator(mode="after")
    def _window(self) -> "RoleGrant":
        if self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self

    def call_args(self) -> tuple[Any, ...]:
        return (
            Address(self.identity),
            self.role,
            _bytes32(self.credential_hash),
            self.valid_from,
            self.valid_until,
        )


class RoleRevocation(Payload):
    identity: AddressHex
    role: RoleId

    def call_args(self) -> tuple[Any, ...]:
        return (Address(self.identity), self.role)


class NodeRegistration(Payload):
    node_id: PositiveUInt32
    parent_id: UInt32
    operator: AddressHex

    def call_args(self) -> tuple[Any, ...]:
        return (self.node_id, self.parent_id, Address(self.operator))


class AssetRegistration(Payload):
    asset: AddressHex
    meter_point_hash: Bytes32Hex
    up_w: UInt32
    down_w: UInt32
    technology: UInt8
    proposed_node_id: UInt32

    def call_args(self) -> tuple[Any, ...]:
        return (
            Address(self.asset),
            _bytes32(self.meter_point_hash),
            self.up_w,
            self.down_w,
            self.technology,
            self.proposed_node_id,
        )


class AssetNodeConfirmation(Payload):
    asset: AddressHex
    node_id: PositiveUInt32

    def call_args(self) -> tuple[Any, ...]:
        return (Address(self.asset), self.node_id)


class OrderFields(Payload):
    """The :class:`~oracle.eip712.Order` as a schema: its fields, names and on-chain bounds.

    The oracle's payloads embed it; the API's order schema subclasses it (tighter bounds).
    Cross-field rules are :func:`check_order_shape`, applied by the payloads that carry an
    order, so a subclass can name the failing field in its own way.
    """

    maker: AddressHex = Field(description="The signing wallet (the maker's DID).")
    side: Annotated[int, Field(ge=0, le=1, description="0 buy (DSO/TSO), 1 sell (FSP).")]
    direction: Annotated[int, Field(ge=0, le=1, description="0 up (less consumption), 1 down.")]
    node_id: PositiveUInt32 = Field(description="The grid node; a sell: its asset's node.")
    asset: AddressHex = Field(description="A sell's asset; a buy: the zero address.")
    slot_start: UInt64 = Field(description="First slot, unix s, a multiple of 900.")
    slot_count: Annotated[int, Field(ge=1, le=2**16 - 1)] = Field(
        description="Consecutive 15-minute slots."
    )
    power_w: PositiveUInt32 = Field(description="Power, W.")
    min_power_w: UInt32 = Field(description="Smallest fill, W; all-or-nothing: equal to power_w.")
    divisible: bool = Field(description="false: all-or-nothing.")
    price_cents_per_mwh: UInt32 = Field(description="Limit price, euro cents per MWh.")
    nonce: UInt64 = Field(description="Unique per maker.")
    expiry: UInt64 = Field(description="Unix s; at least slot_start.")

    def to_order(self) -> Order:
        return Order.from_attributes(self)

    @classmethod
    def from_order(cls, order: Order) -> Self:
        return cls.model_validate(order.fields())


def check_order_shape(order: OrderFields) -> None:
    """The contract's ``_checkShape`` rules that span fields; raises ``ValueError``."""
    if order.slot_start % SLOT_SECONDS:
        raise ValueError(f"order.slot_start must be a multiple of {SLOT_SECONDS} s")
    if order.min_power_w > order.power_w:
        raise ValueError("order.min_power_w must not exceed power_w")
    if not order.divisible and order.min_power_w != order.power_w:
        raise ValueError("order.min_power_w: an all-or-nothing order needs min_power_w == power_w")
    is_buy = order.side == Side.BUY
    if is_buy == (order.asset.lower() != ZERO_ADDRESS):
        raise ValueError("order.asset: a buy order has no asset; a sell order names its asset")


def check_order_signature(view: ChainView, order: Order, signature: str, field: str) -> bytes:
    """The order's digest, after checking it is signed by its maker's DID owner."""
    separator = domain_separator(view.chain_id, view.market_address)
    digest = order_hash(order.as_message(), separator)
    signer = recover_signer(digest, bytes.fromhex(signature[2:]))
    owner = view.identity_owner(order.maker)
    if signer is None or signer.lower() != owner.lower():
        raise OracleValueError(
            field, f"signed by {signer}, but the DID owner of {order.maker} is {owner}"
        )
    return digest


def check_maker_role(view: ChainView, order: Order, field: str) -> None:
    roles = (Role.DSO, Role.TSO) if order.side == Side.BUY else (Role.FSP,)
    if not any(view.has_role(order.maker, role) for role in roles):
        names = "/".join(role.name for role in roles)
        raise OracleValueError(field, f"maker {order.maker} holds none of the roles {names}")


class SignedOrderPayload(Payload):
    """A wallet-signed order (EIP-712), relayed or committed by the oracle."""

    order: OrderFields
    signature: SignatureHex

    @model_validator(mode="after")
    def _shape(self) -> Self:
        check_order_shape(self.order)
        return self

    def check_on_chain(self, view: ChainView, sender: Address) -> None:
        order = self.order.to_order()
        check_order_signature(view, order, self.signature, "signature")
        check_maker_role(view, order, "order.maker")

    def call_args(self) -> tuple[Any, ...]:
        return (self.order.to_order().as_tuple(), bytes.fromhex(self.signature[2:]))


class OrderCommitment(SignedOrderPayload):
    """A signed order committed by hash in a Merkle batch (the cheap path)."""

    order_hash: Bytes32Hex

    def check_on_chain(self, view: ChainView, sender: Address) -> None:
        order = self.order.to_order()
        digest = check_order_signature(view, order, self.signature, "signature")
        if digest != _bytes32(self.order_hash):
            raise OracleValueError("order_hash", "does not match the order's EIP-712 digest")
        check_maker_role(view, order, "order.maker")

    def call_args(self) -> tuple[Any, ...]:
        return ([_bytes32(self.order_hash)],)

    def batch_item(self) -> Any:
        return _bytes32(self.order_hash)


class TradeSide(Payload):
    order: OrderFields
    signature: SignatureHex
    root: Bytes32Hex
    proof: Annotated[list[Bytes32Hex], Field(max_length=MAX_PROOF_LENGTH)]

    @model_validator(mode="after")
    def _shape(self) -> Self:
        check_order_shape(self.order)
        return self

    def as_struct(self) -> tuple[Any, ...]:
        return (
            self.order.to_order().as_tuple(),
            bytes.fromhex(self.signature[2:]),
            _bytes32(self.root),
            [_bytes32(p) for p in self.proof],
        )


class TradeRecord(Payload):
    buy: TradeSide
    sell: TradeSide
    power_w: PositiveUInt32
    price_cents_per_mwh: UInt32

    @model_validator(mode="after")
    def _matchable(self) -> "TradeRecord":
        buy, sell = self.buy.order, self.sell.order
        if buy.side != Side.BUY or sell.side != Side.SELL:
            raise ValueError("buy must be a buy order and sell a sell order")
        if not sell.price_cents_per_mwh <= self.price_cents_per_mwh <= buy.price_cents_per_mwh:
            raise ValueError("price_cents_per_mwh must lie between the sell and buy prices")
        if (buy.slot_start, buy.slot_count, buy.direction) != (
            sell.slot_start,
            sell.slot_count,
            sell.direction,
        ):
            raise ValueError("buy and sell must cover the same slots in the same direction")
        return self

    def check_on_chain(self, view: ChainView, sender: Address) -> None:
        for name, side in (("buy", self.buy), ("sell", self.sell)):
            order = side.order.to_order()
            check_order_signature(view, order, side.signature, f"{name}.signature")
            check_maker_role(view, order, f"{name}.order.maker")

    def call_args(self) -> tuple[Any, ...]:
        return (self.buy.as_struct(), self.sell.as_struct(), self.power_w, self.price_cents_per_mwh)

    def batch_item(self) -> Any:
        return self.call_args()


class Attestation(Payload):
    trade_id: PositiveUInt32
    baseline_wh: UInt64
    metered_wh: UInt64

    def call_args(self) -> tuple[Any, ...]:
        return ((self.trade_id, self.baseline_wh, self.metered_wh),)

    def batch_item(self) -> Any:
        # attestBatch takes one word per attestation (a third of the calldata of the tuple)
        return pack_attestation(self.trade_id, self.baseline_wh, self.metered_wh)


class DisputeResolution(Payload):
    trade_id: PositiveUInt32
    baseline_wh: UInt64
    metered_wh: UInt64

    def call_args(self) -> tuple[Any, ...]:
        return (self.trade_id, self.baseline_wh, self.metered_wh)


class Finalisation(Payload):
    trade_id: PositiveUInt32

    def call_args(self) -> tuple[Any, ...]:
        return (self.trade_id,)

    def batch_item(self) -> Any:
        return self.trade_id


class BaselineLock(Payload):
    """Locks the hash of a nominated baseline on chain, before gate closure."""

    baseline_hash: Bytes32Hex

    @field_validator("baseline_hash")
    @classmethod
    def _nonzero_lowercase(cls, value: str) -> str:
        # Lower case, so one hash has one canonical payload (and one content hash).
        if value.lower() == ZERO_HASH:
            raise ValueError("the zero hash is no baseline hash; hash the nominated profile")
        return value.lower()

    def check_on_chain(self, view: ChainView, sender: Address) -> None:
        locked_at = view.baseline_locked_at(_bytes32(self.baseline_hash))
        if locked_at:
            raise OracleValueError(
                "baseline_hash",
                f"already locked on chain at unix time {locked_at}; a lock is never moved, "
                "so nominate a changed baseline under its own hash",
            )

    def call_args(self) -> tuple[Any, ...]:
        return (_bytes32(self.baseline_hash),)

    def batch_item(self) -> Any:
        return _bytes32(self.baseline_hash)


OPERATOR = frozenset({Role.MARKET_OPERATOR})
SYSTEM_OPERATORS = frozenset({Role.DSO, Role.TSO, Role.MARKET_OPERATOR})

BUILTIN_SPECS: tuple[MessageSpec, ...] = (
    MessageSpec("role.grant", RoleGrant, "RoleRegistry", "grantRole", OPERATOR),
    MessageSpec("role.revoke", RoleRevocation, "RoleRegistry", "revokeRole", OPERATOR),
    MessageSpec("grid.node", NodeRegistration, "GridRegistry", "registerNode", SYSTEM_OPERATORS),
    MessageSpec(
        "grid.asset", AssetRegistration, "GridRegistry", "registerAsset", frozenset({Role.FSP})
    ),
    MessageSpec(
        "grid.asset_node",
        AssetNodeConfirmation,
        "GridRegistry",
        "confirmAssetNode",
        frozenset({Role.DSO, Role.TSO}),
    ),
    MessageSpec("market.order.place", SignedOrderPayload, "FlexMarket", "placeOrder", frozenset()),
    MessageSpec(
        "market.order.commit",
        OrderCommitment,
        "FlexMarket",
        "commitOrderBatch",
        frozenset({Role.MARKET_OPERATOR, Role.ORACLE}),
        batch_function="commitOrderBatch",
        max_batch=ORDER_BATCH_LIMIT,
    ),
    MessageSpec(
        "market.trade",
        TradeRecord,
        "FlexMarket",
        "recordTrade",
        OPERATOR,
        batch_function="recordTrades",
        max_batch=TRADE_BATCH_LIMIT,
    ),
    MessageSpec(
        "settlement.attest",
        Attestation,
        "FlexSettlement",
        "attest",
        frozenset({Role.ORACLE}),
        batch_function="attestBatch",
        max_batch=ATTESTATION_BATCH_LIMIT,
    ),
    MessageSpec(
        "baseline.lock",
        BaselineLock,
        "BaselineRegistry",
        "lockBaseline",
        frozenset({Role.ORACLE}),
        batch_function="lockBaselines",
        max_batch=BASELINE_BATCH_LIMIT,
    ),
    MessageSpec(
        "settlement.resolve", DisputeResolution, "FlexSettlement", "resolveDispute", OPERATOR
    ),
    MessageSpec(
        "settlement.finalise",
        Finalisation,
        "FlexSettlement",
        "finalise",
        frozenset(),
        batch_function="finaliseBatch",
        max_batch=ATTESTATION_BATCH_LIMIT,
    ),
)


def builtin_registry() -> MessageRegistry:
    """A registry with the flexledger contracts' kinds; publishers may add their own."""
    return MessageRegistry(BUILTIN_SPECS)


__all__ = [
    "BUILTIN_SPECS",
    "AssetNodeConfirmation",
    "AssetRegistration",
    "Attestation",
    "BaselineLock",
    "DisputeResolution",
    "Finalisation",
    "NodeRegistration",
    "OrderCommitment",
    "OrderFields",
    "RoleGrant",
    "RoleRevocation",
    "SignedOrderPayload",
    "TradeRecord",
    "TradeSide",
    "UInt16",
    "builtin_registry",
]
