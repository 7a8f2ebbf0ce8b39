"""Metered energy per meter point and slot: submitted by system operators, read by role."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from market import metering
from market.api.deps import ParticipantDep, PlatformDep, SessionDep
from market.api.routes.scoping import reader_scope
from market.db.models import MeterCorrection, MeterReading
from market.errors import MarketValueError
from market.metering import MAX_BATCH, Reading
from oracle.types import Role

router = APIRouter(prefix="/meter-readings", tags=["metering"])

MAX_SLOT_KWH = 1e5  # 400 MW for 15 minutes: above any meter point the market settles
UnixSeconds = Annotated[int, Field(ge=0, le=2**40)]


class ReadingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    meter_point_id: str = Field(min_length=1, max_length=34, description="e.g. a 33-char MaLo.")
    slot_start: int = Field(ge=0, le=2**40, multiple_of=900, description="unix s (UTC).")
    energy_kwh: float = Field(
        ge=-MAX_SLOT_KWH,
        le=MAX_SLOT_KWH,
        allow_inf_nan=False,
        description="Energy in the 15-minute slot, kWh; consumption positive, export negative.",
    )


class ReadingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    readings: list[ReadingIn] = Field(min_length=1, max_length=MAX_BATCH)
    note: str | None = Field(
        default=None,
        min_length=3,
        max_length=1000,
        description="Audit note: why stored readings are corrected (with correct=true only).",
    )


class SubmitOut(BaseModel):
    stored: int = Field(description="New readings.")
    unchanged: int = Field(description="Identical to what was stored (re-submission).")
    corrected: int = Field(description="Stored readings replaced (correct=true).")


class ReadingOut(BaseModel):
    meter_point_id: str
    slot_start: int = Field(description="unix s (UTC)")
    energy_kwh: float
    submitted_by: str

    @classmethod
    def of(cls, row: MeterReading) -> "ReadingOut":
        return cls(
            meter_point_id=row.meter_point_id,
            slot_start=row.slot_start,
            energy_kwh=row.energy_wh / 1000,
            submitted_by=row.submitted_by,
        )


@router.post("", summary="DSO/TSO: submit metered energy of meter points in its licence area")
def submit(
    body: ReadingsIn,
    participant: ParticipantDep,
    platform: PlatformDep,
    session: SessionDep,
    correct: Annotated[
        bool, Query(description="Replace stored values; needs an audit note in the body.")
    ] = False,
) -> SubmitOut:
    submitter = participant.require(Role.DSO, Role.TSO)
    if correct and body.note is None:
        raise MarketValueError("note", "a correction needs an audit note saying why")
    if body.note is not None and not correct:
        raise MarketValueError("note", "a note goes with a correction only (correct=true)")
    readings = [
        Reading(r.meter_point_id, r.slot_start, round(r.energy_kwh * 1000)) for r in body.readings
    ]
    report = metering.submit_readings(
        session, platform.now(), submitter, readings, correction_note=body.note
    )
    return SubmitOut(stored=report.stored, unchanged=report.unchanged, corrected=report.corrected)


@router.get("", summary="Readings of one meter point (owner, its system operator, auditors)")
def list_readings(
    participant: ParticipantDep,
    session: SessionDep,
    meter_point_id: Annotated[str, Query(min_length=1, max_length=34)],
    start: Annotated[int, Query(alias="from", ge=0, le=2**40, description="unix s, inclusive")],
    end: Annotated[int, Query(alias="to", ge=0, le=2**40, description="unix s, exclusive")],
) -> list[ReadingOut]:
    rows = metering.readings_of(session, reader_scope(participant), meter_point_id, start, end)
    return [ReadingOut.of(row) for row in rows]


class CorrectionOut(BaseModel):
    meter_point_id: str
    slot_start: int = Field(description="unix s (UTC)")
    old_kwh: float
    new_kwh: float
    note: str
    corrected_by: str = Field(description="The correcting system operator's id.")
    corrected_at: datetime

    @classmethod
    def of(cls, row: MeterCorrection) -> "CorrectionOut":
        assert row.created_at is not None
        return cls(
            meter_point_id=row.meter_point_id,
            slot_start=row.slot_start,
            old_kwh=row.old_wh / 1000,
            new_kwh=row.new_wh / 1000,
            note=row.note,
            corrected_by=row.corrected_by,
            corrected_at=row.created_at,
        )


@router.get(
    "/corrections",
    summary="The audit trail of one meter point's corrections (owner, its system operator, "
    "auditors)",
)
def list_corrections(
    participant: ParticipantDep,
    session: SessionDep,
    meter_point_id: Annotated[str, Query(min_length=1, max_length=34)],
    start: Annotated[
        int, Query(alias="from", ge=0, le=2**40, description="slot start, unix s, inclusive")
    ] = 0,
    end: Annotated[
        int, Query(alias="to", ge=0, le=2**40, description="slot start, unix s, exclusive")
    ] = 2**40,
) -> list[CorrectionOut]:
    rows = metering.corrections_of(session, reader_scope(participant), meter_point_id, start, end)
    return [CorrectionOut.of(row) for row in rows]
