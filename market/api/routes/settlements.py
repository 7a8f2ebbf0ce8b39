"""Settlement on chain (market operator jobs) and settlement statements (JSON or CSV)."""

from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from market import settlement, statements
from market.api.deps import ParticipantDep, PlatformDep, SessionDep
from market.api.routes.scoping import reader_scope
from market.db.models import SettlementStatus

router = APIRouter(prefix="/settlements", tags=["settlements"])

UnixFrom = Annotated[int, Query(alias="from", ge=0, le=2**40, description="unix s, inclusive")]
UnixTo = Annotated[int, Query(alias="to", ge=0, le=2**40, description="unix s, exclusive")]
OrganisationFilter = Annotated[
    str | None,
    Query(
        alias="organisation",
        max_length=36,
        description="Operator and auditors: one participant's settlements.",
    ),
]


class AttestedOut(BaseModel):
    trade_id: int = Field(description="The chain's trade id.")
    baseline_method: str
    baseline_kwh: float
    metered_kwh: float
    shared_with: list[int] = Field(description="Chain ids of trades sharing the asset's slots.")


class SkippedOut(BaseModel):
    trade_id: int | None = Field(description="The chain's trade id.")
    reason: str


class RunOut(BaseModel):
    attested: list[AttestedOut]
    skipped: list[SkippedOut]


class FinalisingOut(BaseModel):
    trade_id: int
    dispute_deadline: int = Field(description="unix s")


class FinaliseOut(BaseModel):
    finalising: list[FinalisingOut]
    skipped: list[SkippedOut]


class LineOut(BaseModel):
    chain_trade_id: int
    role: str = Field(description="The reader's side: seller, buyer or observer.")
    asset: str
    node_id: int
    direction: str
    slot_start: str = Field(description="ISO 8601 UTC")
    slot_count: int
    power_kw: float
    price_eur_per_mwh: float
    traded_kwh: float | None
    baseline_kwh: float
    metered_kwh: float
    delivered_kwh: float | None
    payment_eur: str | None = Field(description="Exact decimal, EUR.")
    penalty_eur: str | None
    net_eur: str | None = Field(description="payment - penalty: what the buyer owes the seller.")
    status: str
    tx_hash: str | None = Field(description="The attestation's transaction, once sent.")


class TotalsOut(BaseModel):
    lines: int
    settled_lines: int
    traded_kwh: float
    delivered_kwh: float
    payment_eur: str
    penalty_eur: str
    net_eur: str


class StatementOut(BaseModel):
    organisation_id: str | None
    period_from: int
    period_to: int
    lines: list[LineOut]
    totals: TotalsOut


def _skipped(items: list[settlement.Skipped]) -> list[SkippedOut]:
    return [SkippedOut(trade_id=s.chain_trade_id, reason=s.reason) for s in items]


@router.post("/run", summary="Market operator: attest every delivered, metered trade on chain")
def run(participant: ParticipantDep, platform: PlatformDep, session: SessionDep) -> RunOut:
    participant.require_operator()
    report = settlement.settle_delivered(session, platform)
    attested = [
        AttestedOut(
            trade_id=a.chain_trade_id,
            baseline_method=a.baseline_method.value,
            baseline_kwh=a.baseline_wh / 1000,
            metered_kwh=a.metered_wh / 1000,
            shared_with=list(a.shared_with),
        )
        for a in report.attested
    ]
    return RunOut(attested=attested, skipped=_skipped(report.skipped))


@router.post("/finalise", summary="Market operator: finalise settlements past their dispute window")
def finalise(
    participant: ParticipantDep, platform: PlatformDep, session: SessionDep
) -> FinaliseOut:
    participant.require_operator()
    report = settlement.finalise_due(session, platform)
    return FinaliseOut(
        finalising=[
            FinalisingOut(trade_id=f.chain_trade_id, dispute_deadline=f.dispute_deadline)
            for f in report.finalising
        ],
        skipped=_skipped(report.skipped),
    )


@router.get("", summary="Settlements: FSPs as seller, DSO/TSO as buyer, operator and auditors all")
def list_settlements(
    participant: ParticipantDep,
    session: SessionDep,
    status: SettlementStatus | None = None,
    start: Annotated[
        int | None, Query(alias="from", ge=0, le=2**40, description="unix s, inclusive")
    ] = None,
    end: Annotated[
        int | None, Query(alias="to", ge=0, le=2**40, description="unix s, exclusive")
    ] = None,
    organisation: OrganisationFilter = None,
) -> list[LineOut]:
    lines = statements.settlement_lines(
        session,
        reader_scope(participant),
        start=start,
        end=end,
        status=status,
        organisation_id=organisation,
    )
    return [LineOut(**asdict(line)) for line in lines]


@router.get(
    "/statement",
    summary="A participant's settlement statement for a period, JSON or CSV",
    response_model=StatementOut,
    responses={200: {"content": {"text/csv": {}}}},
)
def statement(
    participant: ParticipantDep,
    session: SessionDep,
    start: UnixFrom,
    end: UnixTo,
    output: Annotated[
        Literal["json", "csv"], Query(alias="format", description="json or csv")
    ] = "json",
    organisation: OrganisationFilter = None,
) -> StatementOut | Response:
    found = statements.statement(session, reader_scope(participant), start, end, organisation)
    if output == "csv":
        return Response(statements.statement_csv(found), media_type="text/csv")
    return StatementOut.model_validate(asdict(found))
