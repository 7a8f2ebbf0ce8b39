"""Baselines: nominated by the FSP (hash locked on chain) or computed from meter history."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from market import baseline_service
from market.api.deps import ParticipantDep, PlatformDep, SessionDep
from market.api.routes.scoping import reader_scope
from market.baseline_rows import MAX_PERIOD_SLOTS, decode_values
from market.baseline_service import BaselineRequest
from market.baselines import AccuracyReport, BaselineMethod
from market.db.models import Baseline
from oracle.types import Role

router = APIRouter(prefix="/baselines", tags=["baselines"])

ASSET_ID = r"^0x[0-9a-fA-F]{40}$"
MAX_SLOT_KWH = 1e6  # 4 GW for 15 minutes: far above any asset, below int64 Wh

EnergyKwh = Annotated[float, Field(ge=-MAX_SLOT_KWH, le=MAX_SLOT_KWH, allow_inf_nan=False)]


class BaselineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    asset_id: str = Field(pattern=ASSET_ID, description="The asset's on-chain address.")
    method: BaselineMethod = Field(
        description="nominated: values_kwh from the FSP; the others are computed from the "
        "asset's meter history."
    )
    period_start: int = Field(
        ge=0, le=2**40, multiple_of=900, description="First slot start, unix s (UTC)."
    )
    slot_count: int = Field(ge=1, le=MAX_PERIOD_SLOTS, description="15-minute slots.")
    values_kwh: list[EnergyKwh] | None = Field(
        default=None,
        max_length=MAX_PERIOD_SLOTS,
        description="nominated only: kWh per slot (consumption positive), one per slot.",
    )
    market: str = Field(
        default="day-ahead",
        min_length=1,
        max_length=32,
        description="The market whose gate closure a nomination must beat.",
    )


class BaselineOut(BaseModel):
    id: int
    asset_id: str
    owner_id: str
    method: str
    period_start: int = Field(description="unix s (UTC)")
    slot_count: int
    values_kwh: list[float] = Field(description="kWh per slot, consumption positive")
    baseline_hash: str
    locked: bool = Field(description="The hash is locked on chain (nominated only).")
    created_at: datetime

    @classmethod
    def of(cls, row: Baseline) -> "BaselineOut":
        values = decode_values(row)
        assert row.id is not None
        return cls(
            id=row.id,
            asset_id=row.asset_id,
            owner_id=row.owner_id,
            method=row.method,
            period_start=row.period_start,
            slot_count=row.slot_count,
            values_kwh=[values[slot] / 1000 for slot in sorted(values)],
            baseline_hash=row.baseline_hash,
            locked=row.locked,
            created_at=row.created_at,
        )


class AccuracyOut(BaseModel):
    method: BaselineMethod
    days: int
    slots: int
    mae_kwh: float = Field(description="Mean absolute error per slot, kWh.")
    bias_kwh: float = Field(description="Mean of baseline - actual per slot, kWh (+: too high).")
    rmse_kwh: float
    nmae_pct: float | None

    @classmethod
    def of(cls, report: AccuracyReport) -> "AccuracyOut":
        return cls(
            method=report.method,
            days=report.days,
            slots=report.slots,
            mae_kwh=report.mae_wh / 1000,
            bias_kwh=report.bias_wh / 1000,
            rmse_kwh=report.rmse_wh / 1000,
            nmae_pct=report.nmae_pct,
        )


@router.post("", status_code=201, summary="FSP: nominate or compute a baseline of its asset")
def create_baseline(
    body: BaselineIn, participant: ParticipantDep, platform: PlatformDep, session: SessionDep
) -> BaselineOut:
    fsp = participant.require(Role.FSP)
    request = BaselineRequest(
        asset_id=body.asset_id,
        method=body.method,
        period_start=body.period_start,
        slot_count=body.slot_count,
        values_wh=None if body.values_kwh is None else [round(v * 1000) for v in body.values_kwh],
        market=body.market,
    )
    return BaselineOut.of(baseline_service.create_baseline(session, platform, fsp, request))


@router.get("", summary="Baselines of one asset (owner, its system operator, auditors)")
def list_baselines(
    participant: ParticipantDep,
    session: SessionDep,
    asset: Annotated[str, Query(pattern=ASSET_ID, description="The asset's address.")],
) -> list[BaselineOut]:
    rows = baseline_service.baselines_of(session, reader_scope(participant), asset)
    return [BaselineOut.of(row) for row in rows]


@router.get("/accuracy", summary="Each computable method's MAE and bias on the asset's history")
def accuracy(
    participant: ParticipantDep,
    platform: PlatformDep,
    session: SessionDep,
    asset: Annotated[str, Query(pattern=ASSET_ID, description="The asset's address.")],
    days: Annotated[int, Query(ge=1, le=60, description="Evaluation days, newest first.")] = 10,
) -> list[AccuracyOut]:
    reports = baseline_service.accuracy(
        session, reader_scope(participant), asset, days, platform.now()
    )
    return [AccuracyOut.of(report) for report in reports.values()]
