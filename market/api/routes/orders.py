"""Signed orders: place (one or a batch), cancel, read; the public order book.

A placed order is sent exactly as the wallet signed it (EIP-712, on-chain units: W, euro
cents per MWh, unix seconds); everything the platform adds is in wire units (kW, EUR/MWh).
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from market import order_reads, orderbook, orders
from market.api.deps import ParticipantDep, PlatformDep, SessionDep
from market.api.links import ORDER_PLACED, ORDERS_LISTED, ORDERS_PLACED
from market.api.routes.scoping import reader_scope
from market.db.models import MarketOrder, OrderExplanation, OrderStatus
from market.order_reads import OrderFilter
from market.orders import (
    BATCH_LIMIT,
    LATEST_SLOT_START,
    MAX_PRICE_CENTS_PER_MWH,
    MAX_SLOTS,
    SignedOrder,
)
from oracle.payloads import OrderFields
from oracle.types import Direction, Role, Side

router = APIRouter(tags=["orders"])

I63 = 2**63 - 1  # the largest integer every supported database stores
MarketName = Annotated[
    str,
    Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9-]*$", description="A market."),
]
OrderHashPath = Annotated[
    str, Path(pattern=r"^0x[0-9a-f]{64}$", description="The order's EIP-712 hash (lower case).")
]


class SignedOrderFields(OrderFields):
    """The EIP-712 ``Order`` exactly as signed, in on-chain units: the oracle's order schema
    with the platform's tighter bounds; the rules across fields are the platform's checks
    (:mod:`market.orders`), which name the field."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    slot_start: int = Field(
        ge=0, le=LATEST_SLOT_START, description="First slot, unix s, a multiple of 900."
    )
    slot_count: int = Field(ge=1, le=MAX_SLOTS, description="Consecutive 15-minute slots.")
    price_cents_per_mwh: int = Field(
        ge=1, le=MAX_PRICE_CENTS_PER_MWH, description="Limit price, euro cents per MWh."
    )
    nonce: int = Field(ge=0, le=I63, description="Unique per maker.")
    expiry: int = Field(ge=0, le=I63, description="Unix s; at least slot_start.")


class SignedOrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order: SignedOrderFields
    signature: str = Field(
        pattern=r"^0x[0-9a-fA-F]{130}$", description="eth_signTypedData_v4 of the order."
    )

    def signed(self) -> SignedOrder:
        return SignedOrder(self.order.to_order(), self.signature)


class OrderIn(SignedOrderIn):
    market: MarketName


class OrderBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    market: MarketName
    orders: list[SignedOrderIn] = Field(
        min_length=1,
        max_length=BATCH_LIMIT,
        description="Orders of the signed-in maker; all are stored or, if one is refused "
        "(named as orders.<i>.<field>), none.",
    )


class ExplanationOut(BaseModel):
    run_id: int
    reason: str
    text: str
    filled_kw: float = Field(description="Filled in that clearing run, kW.")
    remaining_kw: float = Field(description="Left open after it (closed with the gate), kW.")

    @classmethod
    def of(cls, row: OrderExplanation) -> "ExplanationOut":
        return cls(
            run_id=row.run_id,
            reason=row.reason,
            text=row.text,
            filled_kw=row.filled_w / 1000,
            remaining_kw=row.remaining_w / 1000,
        )


class OrderOut(BaseModel):
    order_hash: str = Field(description="EIP-712 hash: the order's id on and off chain.")
    market: str
    order: SignedOrderFields
    signature: str
    status: OrderStatus
    filled_kw: float = Field(description="Power traded so far, kW.")
    gate_closure: int = Field(description="Unix s; cancellable before it, cleared after it.")
    created_at: datetime
    explanation: ExplanationOut | None = Field(
        default=None, description="What the latest clearing did with the order, and why."
    )

    @classmethod
    def of(cls, row: MarketOrder, explanation: OrderExplanation | None = None) -> "OrderOut":
        return cls(
            order_hash=row.id,
            market=row.market,
            order=SignedOrderFields.from_order(orders.order_of(row)),
            signature=row.signature,
            status=row.status,
            filled_kw=row.filled_w / 1000,
            gate_closure=row.gate_closure,
            created_at=row.created_at,
            explanation=None if explanation is None else ExplanationOut.of(explanation),
        )


class BatchOut(BaseModel):
    market: str
    count: int
    order_hashes: list[str] = Field(description="In the order of the request.")


class DepthLevelOut(BaseModel):
    side: str = Field(description="buy or sell.")
    direction: str = Field(description="up or down.")
    node_id: int
    slot_count: int
    price_eur_per_mwh: float
    open_kw: float = Field(description="Open power at this price, kW.")
    orders: int


class OrderBookOut(BaseModel):
    market: str
    slot_start: int = Field(description="Unix s.")
    gate_closure: int = Field(description="Unix s.")
    levels: list[DepthLevelOut] = Field(description="Bids best first, then asks best first.")


@router.post(
    "/orders",
    status_code=201,
    summary="Place an EIP-712 signed order",
    description="The order is EIP-712 typed data signed with `eth_signTypedData_v4`: its "
    "domain (name, version, chainId, verifyingContract), the `Order` type with each member's "
    "Solidity type, unit and body field, and the primary type are published at "
    "`GET /api/v1/eip712` (schema `Eip712Out`).",
    responses=ORDER_PLACED,
)
def place_order(
    body: OrderIn, participant: ParticipantDep, platform: PlatformDep, session: SessionDep
) -> OrderOut:
    [order_hash] = orders.place_orders(
        session,
        platform,
        maker=participant.address,
        market=body.market,
        orders=[body.signed()],
        batch=False,
    )
    stored = session.get(MarketOrder, order_hash)
    assert stored is not None
    return OrderOut.of(stored)


@router.post(
    "/orders/batch",
    status_code=201,
    summary="Place up to 500 signed orders, all or none",
    responses=ORDERS_PLACED,
)
def place_batch(
    body: OrderBatchIn, participant: ParticipantDep, platform: PlatformDep, session: SessionDep
) -> BatchOut:
    order_hashes = orders.place_orders(
        session,
        platform,
        maker=participant.address,
        market=body.market,
        orders=[entry.signed() for entry in body.orders],
        batch=True,
    )
    return BatchOut(market=body.market, count=len(order_hashes), order_hashes=order_hashes)


@router.delete("/orders/{order_hash}", summary="Cancel your open order before its gate closes")
def cancel(
    order_hash: OrderHashPath,
    participant: ParticipantDep,
    platform: PlatformDep,
    session: SessionDep,
) -> OrderOut:
    participant.require(Role.FSP, Role.DSO, Role.TSO)  # makers of orders, with their role
    order = orders.cancel_order(session, platform, caller=participant.address, order_id=order_hash)
    return OrderOut.of(order)


@router.get(
    "/orders", summary="Your orders (market operator and auditors: all)", responses=ORDERS_LISTED
)
def list_orders(
    participant: ParticipantDep,
    session: SessionDep,
    market: Annotated[str | None, Query(max_length=32)] = None,
    status: OrderStatus | None = None,
    slot_from: Annotated[int | None, Query(ge=0, le=I63, description="Unix s.")] = None,
    slot_to: Annotated[int | None, Query(ge=0, le=I63, description="Unix s, exclusive.")] = None,
    limit: Annotated[int, Query(ge=1, le=order_reads.MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> list[OrderOut]:
    where = OrderFilter(market, status, slot_from, slot_to, limit, offset)
    rows = order_reads.visible_orders(session, reader_scope(participant), where)
    explained = order_reads.latest_explanations(session, [row.id for row in rows])
    return [OrderOut.of(row, explained.get(row.id)) for row in rows]


@router.get("/orders/{order_hash}", summary="One order, with its clearing explanation")
def get_order(
    order_hash: OrderHashPath, participant: ParticipantDep, session: SessionDep
) -> OrderOut:
    row = order_reads.visible_order(session, reader_scope(participant), order_hash)
    return OrderOut.of(row, order_reads.latest_explanations(session, [row.id]).get(row.id))


@router.get("/orderbook", summary="Public depth: open power per price level, no makers named")
def order_book(
    platform: PlatformDep,
    session: SessionDep,
    market: Annotated[str, Query(min_length=1, max_length=32)],
    slot_start: Annotated[
        int, Query(ge=0, le=LATEST_SLOT_START, description="Unix s, a multiple of 900.")
    ],
) -> OrderBookOut:
    gate = platform.markets.get(market).gate_closure(slot_start)
    levels = orderbook.depth(session, market, slot_start)
    return OrderBookOut(
        market=market,
        slot_start=slot_start,
        gate_closure=gate,
        levels=[
            DepthLevelOut(
                side=Side(level.side).name.lower(),
                direction=Direction(level.direction).name.lower(),
                node_id=level.node_id,
                slot_count=level.slot_count,
                price_eur_per_mwh=level.price_cents_per_mwh / 100,
                open_kw=level.open_w / 1000,
                orders=level.orders,
            )
            for level in levels
        ],
    )
