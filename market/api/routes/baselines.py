"""Baselines: nominated by the FSP (hash locked on chain) or computed from meter history."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from market import baseline_disputes, baseline_service
from market.api.deps import ParticipantDep, PlatformDep, SessionDep
from market.api.routes.scoping import reader_scope
from market.baseline_rows import MAX_PERIOD_SLOTS, decode_values
from market.baseline_service import BATCH_LIMIT, BaselineRequest
from market.baselines import AccuracyReport, BaselineMethod
from market.db.models import Baseline
from market.errors import MarketValueError
from market.orders import LATEST_SLOT_START
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
        ge=0,
        le=LATEST_SLOT_START,  # dates past it do not fit the datetimes of messages and gates
        multiple_of=900,
        description="First slot start, unix s (UTC).",
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

    def request(self) -> BaselineRequest:
        values = None if self.values_kwh is None else [round(v * 1000) for v in self.values_kwh]
        return BaselineRequest(
            asset_id=self.asset_id,
            method=self.method,
            period_start=self.period_start,
            slot_count=self.slot_count,
            values_wh=values,
            market=self.market,
        )


class BaselineBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    baselines: list[BaselineIn] = Field(
        min_length=1,
        max_length=BATCH_LIMIT,
        description="Each checked as POST /baselines checks it; all are stored or none.",
    )


class DisputeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=3, max_length=1000, description="Why the nomination is implausible."
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
    flagged: bool = Field(description="Far from the X-of-Y baseline of the meter history.")
    flag_reason: str | None
    disputed: bool = Field(description="Disputed by the DSO: settlement uses X of Y instead.")
    dispute_reason: str | None
    disputed_by: str | None = Field(description="The disputing system operator's id.")

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
            flagged=row.flagged,
            flag_reason=row.flag_reason,
            disputed=row.disputed_at is not None,
            dispute_reason=row.dispute_reason,
            disputed_by=row.disputed_by,
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
    return BaselineOut.of(baseline_service.create_baseline(session, platform, fsp, body.request()))


@router.post(
    "/batch",
    status_code=201,
    summary=f"FSP: up to {BATCH_LIMIT} baselines of its assets in one request, all or none",
)
def create_baselines(
    body: BaselineBatchIn, participant: ParticipantDep, platform: PlatformDep, session: SessionDep
) -> list[BaselineOut]:
    fsp = participant.require(Role.FSP)
    requests = [item.request() for item in body.baselines]
    rows = baseline_service.create_baselines(session, platform, fsp, requests, batch=True)
    return [BaselineOut.of(row) for row in rows]


@router.get(
    "",
    summary="Baselines of one asset, or the flagged ones you may see (owner, its system "
    "operator, auditors)",
)
def list_baselines(
    participant: ParticipantDep,
    session: SessionDep,
    asset: Annotated[
        str | None, Query(pattern=ASSET_ID, description="The asset's address.")
    ] = None,
    flagged: Annotated[
        bool | None, Query(description="Only flagged (true) or unflagged (false) baselines.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=baseline_disputes.MAX_LISTED)] = 100,
) -> list[BaselineOut]:
    scope = reader_scope(participant)
    if asset is None:
        if flagged is not True:
            raise MarketValueError("asset", "name an asset, or ask for flagged=true")
        rows = baseline_disputes.flagged_baselines(session, scope, limit)
    else:
        rows = baseline_service.baselines_of(session, scope, asset)
        if flagged is not None:
            rows = [row for row in rows if row.flagged is flagged]
    return [BaselineOut.of(row) for row in rows]


@router.post(
    "/{baseline_id}/dispute",
    summary="DSO/TSO of the asset's area: dispute a nomination before its trades are attested",
)
def dispute_baseline(
    body: DisputeIn,
    participant: ParticipantDep,
    session: SessionDep,
    baseline_id: Annotated[int, Path(ge=1, le=2**62)],
) -> BaselineOut:
    operator = participant.require(Role.DSO, Role.TSO)
    row = baseline_disputes.dispute_baseline(session, operator, baseline_id, body.reason)
    return BaselineOut.of(row)


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
