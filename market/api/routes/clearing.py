"""Clearing runs: the market operator clears a delivery period; everyone reads the runs."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from market import auction, trade_reads
from market.api.deps import ParticipantDep, PlatformDep, SessionDep
from market.api.links import CLEARING_RUN
from market.api.routes.orders import ExplanationOut
from market.api.routes.scoping import reader_scope
from market.api.routes.trades import TradeOut
from market.clearing import PricingRule
from market.db.models import ClearingRun, OrderExplanation
from market.orders import LATEST_SLOT_START
from market.trade_reads import TradeFilter

router = APIRouter(tags=["clearing"])

RunIdPath = Annotated[int, Path(ge=1, le=2**63 - 1)]


class ClearingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period_start: int = Field(
        strict=True, ge=0, le=LATEST_SLOT_START, description="Unix s, a multiple of 900."
    )
    period_end: int = Field(
        strict=True, ge=0, le=LATEST_SLOT_START, description="Unix s, exclusive, ditto."
    )
    pricing: PricingRule | None = Field(
        default=None, description="pay_as_bid or pay_as_clear; default: the platform's rule."
    )


class RunOut(BaseModel):
    id: int
    market: str
    period_start: int = Field(description="Unix s.")
    period_end: int = Field(description="Unix s, exclusive.")
    pricing: str
    order_count: int = Field(description="Orders the run considered.")
    trade_count: int
    created_at: datetime

    @classmethod
    def of(cls, run: ClearingRun) -> "RunOut":
        assert run.id is not None
        return cls(
            id=run.id,
            market=run.market,
            period_start=run.period_start,
            period_end=run.period_end,
            pricing=run.pricing,
            order_count=run.orders,
            trade_count=run.trades,
            created_at=run.created_at,
        )


class OrderExplanationOut(ExplanationOut):
    order_hash: str

    @classmethod
    def of_row(cls, row: OrderExplanation) -> "OrderExplanationOut":
        return cls(order_hash=row.order_id, **ExplanationOut.of(row).model_dump())


class RunDetailOut(RunOut):
    trades: list[TradeOut] = Field(description="The trades you may read.")
    explanations: list[OrderExplanationOut] = Field(
        description="Market operator and auditors: every order's; others: their own orders'."
    )


@router.post(
    "/markets/{market}/clearing",
    status_code=201,
    summary="Market operator: clear a delivery period after its gate; trades go on chain",
    responses=CLEARING_RUN,
)
def run_clearing(
    market: Annotated[str, Path(min_length=1, max_length=32)],
    body: ClearingIn,
    participant: ParticipantDep,
    platform: PlatformDep,
    session: SessionDep,
) -> RunOut:
    participant.require_operator()
    run = auction.run_clearing(
        session,
        platform,
        market=market,
        period_start=body.period_start,
        period_end=body.period_end,
        pricing=body.pricing,
    )
    return RunOut.of(run)


@router.get("/clearing/runs", summary="Clearing runs, newest first")
def list_runs(
    participant: ParticipantDep,
    session: SessionDep,
    market: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=trade_reads.MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> list[RunOut]:
    reader_scope(participant)  # signed-in market participants only
    return [RunOut.of(run) for run in trade_reads.clearing_runs(session, market, limit, offset)]


@router.get("/clearing/runs/{run_id}", summary="A run with its trades and explanations")
def get_run(run_id: RunIdPath, participant: ParticipantDep, session: SessionDep) -> RunDetailOut:
    scope = reader_scope(participant)
    run = trade_reads.clearing_run(session, run_id)
    trades = trade_reads.visible_trades(
        session, scope, TradeFilter(run_id=run_id, limit=trade_reads.MAX_PAGE)
    )
    explanations = trade_reads.visible_explanations(session, scope, run_id)
    return RunDetailOut(
        **RunOut.of(run).model_dump(),
        trades=[TradeOut.of(trade) for trade in trades],
        explanations=[OrderExplanationOut.of_row(row) for row in explanations],
    )
