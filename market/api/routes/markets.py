"""The markets the platform runs and their gate closure rules (public)."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from market.api.deps import PlatformDep
from market.gates import GateRule, MarketSpec
from market.orders import LATEST_SLOT_START, now_of

router = APIRouter(prefix="/markets", tags=["markets"])


class GateOut(BaseModel):
    slot_start: int = Field(description="Unix s.")
    gate_closure: int = Field(description="Unix s: orders for the slot close then.")
    gate_closure_utc: datetime
    open: bool = Field(description="Whether orders for the slot are accepted now.")


class MarketOut(BaseModel):
    name: str
    rule: GateRule
    description: str
    timezone: str = Field(description="The zone a day-ahead gate time is announced in.")
    gate_time: str | None = Field(description="day_ahead: local gate time, HH:MM.")
    days_before: int | None = Field(description="day_ahead: the gate is this many days before.")
    lead_s: int | None = Field(description="lead_time: the gate is this many seconds before.")
    gate: GateOut | None = Field(description="The gate of the slot asked for, if any.")

    @classmethod
    def of(cls, spec: MarketSpec, gate: GateOut | None) -> "MarketOut":
        day_ahead = spec.rule is GateRule.DAY_AHEAD
        return cls(
            name=spec.name,
            rule=spec.rule,
            description=spec.description,
            timezone=spec.timezone,
            gate_time=spec.gate_time.strftime("%H:%M") if day_ahead else None,
            days_before=spec.days_before if day_ahead else None,
            lead_s=None if day_ahead else spec.lead_s,
            gate=gate,
        )


def _gate(spec: MarketSpec, slot_start: int, now: int) -> GateOut:
    closure = spec.gate_closure(slot_start)
    return GateOut(
        slot_start=slot_start,
        gate_closure=closure,
        gate_closure_utc=datetime.fromtimestamp(closure, UTC),
        open=now < closure,
    )


@router.get("", summary="The markets and their gate rules; with slot_start, each one's gate")
def list_markets(
    platform: PlatformDep,
    slot_start: Annotated[
        int | None, Query(ge=0, le=LATEST_SLOT_START, description="Unix s, a multiple of 900.")
    ] = None,
) -> list[MarketOut]:
    now = now_of(platform)
    return [
        MarketOut.of(spec, None if slot_start is None else _gate(spec, slot_start, now))
        for spec in platform.markets.all()
    ]
