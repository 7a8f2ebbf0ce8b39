"""Trades: the ones you are a side of (market operator and auditors: all)."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from market import trade_reads
from market.activation_docs import DirectionName, direction_name
from market.api.deps import ParticipantDep, SessionDep
from market.api.routes.scoping import reader_scope
from market.db.models import MarketTrade, TradeStatus
from market.trade_reads import TradeFilter

router = APIRouter(prefix="/trades", tags=["trades"])


class TradeOut(BaseModel):
    id: int
    run_id: int
    chain_trade_id: int | None = Field(description="FlexMarket's trade id once recorded.")
    status: TradeStatus
    buy_order_hash: str
    sell_order_hash: str
    buyer_id: str = Field(description="The buying system operator's organisation.")
    seller_id: str = Field(description="The selling FSP's organisation.")
    asset: str
    node_id: int = Field(description="Where the flexibility is delivered: the asset's node.")
    direction: DirectionName
    slot_start: int = Field(description="Unix s.")
    slot_count: int
    power_kw: float
    price_eur_per_mwh: float
    created_at: datetime

    @classmethod
    def of(cls, trade: MarketTrade) -> "TradeOut":
        assert trade.id is not None
        return cls(
            id=trade.id,
            run_id=trade.run_id,
            chain_trade_id=trade.chain_trade_id,
            status=trade.status,
            buy_order_hash=trade.buy_order_id,
            sell_order_hash=trade.sell_order_id,
            buyer_id=trade.buyer_id,
            seller_id=trade.seller_id,
            asset=trade.asset,
            node_id=trade.node_id,
            direction=direction_name(trade.direction),
            slot_start=trade.slot_start,
            slot_count=trade.slot_count,
            power_kw=trade.power_w / 1000,
            price_eur_per_mwh=trade.price_cents_per_mwh / 100,
            created_at=trade.created_at,
        )


@router.get("", summary="Trades you are a side of (market operator and auditors: all)")
def list_trades(
    participant: ParticipantDep,
    session: SessionDep,
    run_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    status: TradeStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=trade_reads.MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> list[TradeOut]:
    where = TradeFilter(run_id, status, limit, offset)
    return [
        TradeOut.of(t)
        for t in trade_reads.visible_trades(session, reader_scope(participant), where)
    ]


@router.get("/{trade_id}", summary="One trade")
def get_trade(
    trade_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    participant: ParticipantDep,
    session: SessionDep,
) -> TradeOut:
    return TradeOut.of(trade_reads.visible_trade(session, reader_scope(participant), trade_id))
