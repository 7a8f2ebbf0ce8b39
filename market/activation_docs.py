"""The activation document: what an FSP receives, by webhook, websocket or polling.

One JSON shape on every channel, in wire units (kW, EUR/MWh, unix seconds). The row keeps
the schedule in the platform's units (W per slot) as JSON.
"""

import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from market.db.models import Activation, ActivationStatus, MarketTrade
from oracle.types import SLOT_SECONDS, Direction

DirectionName = Literal["up", "down"]


class SlotPower(BaseModel):
    slot_start: int = Field(description="Start of the 15-minute slot, unix seconds (UTC).")
    power_kw: float = Field(description="Flexibility to deliver during the slot, kW.")
    direction: DirectionName = Field(
        description="up: lower consumption or raise generation; down: the opposite."
    )


class ActivationDocument(BaseModel):
    id: int = Field(description="Activation id; poll with ?since=<the last id you saw>.")
    trade_id: int
    chain_trade_id: int | None = Field(description="The trade's id on chain (FlexMarket).")
    asset: str = Field(description="The asset that delivers (its on-chain address).")
    direction: DirectionName
    price_eur_per_mwh: float = Field(description="The trade price, EUR/MWh.")
    status: ActivationStatus
    schedule: list[SlotPower]
    created_at: datetime


def schedule_of(trade: MarketTrade) -> str:
    """The per-slot schedule of a trade as stored: JSON [{slot_start, power_w, direction}]."""
    return json.dumps(
        [
            {
                "slot_start": trade.slot_start + n * SLOT_SECONDS,
                "power_w": trade.power_w,
                "direction": trade.direction,
            }
            for n in range(trade.slot_count)
        ]
    )


def direction_name(direction: int) -> DirectionName:
    return "up" if Direction(direction) == Direction.UP else "down"


def document_of(activation: Activation, trade: MarketTrade) -> ActivationDocument:
    assert activation.id is not None
    return ActivationDocument(
        id=activation.id,
        trade_id=trade.id or 0,
        chain_trade_id=trade.chain_trade_id,
        asset=activation.asset,
        direction=direction_name(activation.direction),
        price_eur_per_mwh=trade.price_cents_per_mwh / 100,
        status=activation.status,
        schedule=[
            SlotPower(
                slot_start=int(slot["slot_start"]),
                power_kw=int(slot["power_w"]) / 1000,
                direction=direction_name(int(slot["direction"])),
            )
            for slot in json.loads(activation.schedule)
        ],
        created_at=activation.created_at,
    )
