"""Metered energy per meter point and 15-minute slot, as system operators submit it.

Only a DSO or TSO submits readings, and only for meter points of assets whose node lies in
its licence area (:mod:`market.access`). Energy is integer Wh, consumption positive.

A batch is checked whole before anything is written; the first bad reading is named by its
index (``readings.3.energy_kwh``) and nothing of the batch is stored. Checks:

* the slot has ended (``slot_start + 900 <= now``) and appears once in the batch;
* the meter point belongs to a registered asset in the submitter's licence area;
* plausibility against the baseline: a reading is refused when it is negative (export) at an
  asset whose technology only consumes (:data:`CONSUMPTION_ONLY`), or when a baseline covers
  the slot and ``|E| > PLAUSIBILITY_FACTOR * (|B| + P * 900 s)`` with ``B`` that baseline
  (the nominated one if there is one), ``P`` the larger prequalified power (up or down):
  more than three times what the asset would use plus all its flexibility;
* re-submitting a stored value is a no-op; a different value for a stored slot is a conflict
  (409) unless the batch is an explicit correction with an audit note, and a slot already
  attested on chain is never corrected here (409: the attested numbers are the chain's, the
  trade's parties dispute them on chain; a platform-side correction would make the database
  and the chain disagree).

Every correction is kept in :class:`~market.db.models.MeterCorrection` (meter point, slot,
old and new Wh, note, who, when), in the same transaction as the corrected reading; the
asset's system operator, its owner and auditors read it (:func:`corrections_of`). A portfolio
asset's meter point (:mod:`market.portfolios`) is virtual: readings for it are refused. Two
requests storing the same new reading at once: the second gets a 409 naming the reading,
never a 500 (the unique constraint decides; nothing of its batch is stored).
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from market.access import Scope, asset_node, licence_area, may_see_asset
from market.assets import Technology
from market.baseline_rows import decode_values, rows_overlapping
from market.baselines import BaselineMethod
from market.db.models import (
    Asset,
    MarketTrade,
    MeterCorrection,
    MeterReading,
    Organisation,
    Portfolio,
    SettlementRecord,
    utc_now,
)
from market.errors import ConflictError, MarketValueError, NotFoundError
from oracle.types import SLOT_SECONDS

MAX_BATCH = 10_000
PLAUSIBILITY_FACTOR = 3
# Technologies that never export: a negative reading at their meter point is an error.
CONSUMPTION_ONLY = frozenset({Technology.HEAT_PUMP.value, Technology.EV_CHARGER.value})
MAX_READ_RANGE_S = 93 * 24 * 3600  # one query returns at most a quarter of a year
MAX_CORRECTIONS_LISTED = 10_000

audit_log = logging.getLogger("market.metering.audit")


@dataclass(frozen=True, slots=True)
class Reading:
    meter_point_id: str
    slot_start: int
    energy_wh: int


@dataclass
class SubmitReport:
    stored: int = 0
    unchanged: int = 0
    corrected: int = 0


def submit_readings(
    session: Session,
    now: int,
    submitter: Organisation,
    readings: Sequence[Reading],
    *,
    correction_note: str | None = None,
) -> SubmitReport:
    """Check the whole batch, then store it; ``correction_note`` makes it a correction."""
    _check_batch(readings, now)
    assets = _assets_of(session, readings)
    _check_licence_area(session, submitter, readings, assets)
    _check_not_virtual(session, readings, assets)
    _check_plausible(session, readings, assets)
    existing = _stored(session, readings)
    report = _plan(readings, existing, correcting=correction_note is not None)
    if correction_note is not None:
        _check_not_attested(session, readings, assets, existing)
    try:
        _write(session, submitter, readings, existing, correction_note)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise _concurrent_conflict(session, readings, existing) from None
    return report


def _concurrent_conflict(
    session: Session, readings: Sequence[Reading], existing: dict[tuple[str, int], MeterReading]
) -> ConflictError:
    """The 409 for a batch whose new readings another request stored meanwhile."""
    now_stored = _stored(session, readings)
    for index, reading in enumerate(readings):
        key = (reading.meter_point_id, reading.slot_start)
        if key in now_stored and key not in existing:
            return ConflictError(
                f"readings.{index}.slot_start",
                "this meter point and slot were stored meanwhile by another request; nothing "
                "of this batch was stored, send it again (identical values count as unchanged)",
            )
    return ConflictError("readings", "another request stored readings of this batch meanwhile")


def _check_batch(readings: Sequence[Reading], now: int) -> None:
    if len(readings) > MAX_BATCH:
        raise MarketValueError("readings", f"{len(readings)} readings; send at most {MAX_BATCH}")
    seen: dict[tuple[str, int], int] = {}
    for index, reading in enumerate(readings):
        if reading.slot_start % SLOT_SECONDS:
            raise MarketValueError(
                f"readings.{index}.slot_start", f"{reading.slot_start} is not a multiple of 900 s"
            )
        if reading.slot_start + SLOT_SECONDS > now:
            raise MarketValueError(
                f"readings.{index}.slot_start",
                f"the slot ends at {reading.slot_start + SLOT_SECONDS}, after now ({now}); "
                "submit a slot once it has been metered",
            )
        key = (reading.meter_point_id, reading.slot_start)
        if key in seen:
            raise MarketValueError(
                f"readings.{index}", f"repeats readings.{seen[key]} (same meter point and slot)"
            )
        seen[key] = index


def _assets_of(session: Session, readings: Sequence[Reading]) -> dict[str, Asset]:
    """The asset of every meter point in the batch; an unknown one is named by index."""
    meter_points = {reading.meter_point_id for reading in readings}
    found = session.exec(select(Asset).where(col(Asset.meter_point_id).in_(meter_points))).all()
    assets = {asset.meter_point_id: asset for asset in found}
    for index, reading in enumerate(readings):
        if reading.meter_point_id not in assets:
            raise _unknown_meter_point(index, reading)
    return assets


def _unknown_meter_point(index: int, reading: Reading) -> NotFoundError:
    """One answer for a meter point nobody registered and one outside the submitter's area,
    so that a submission never tells which asset (or node) a meter point belongs to."""
    return NotFoundError(
        f"readings.{index}.meter_point_id",
        f"no meter point {reading.meter_point_id!r} in your licence area",
    )


def _check_licence_area(
    session: Session, submitter: Organisation, readings: Sequence[Reading], assets: dict[str, Asset]
) -> None:
    area = licence_area(session, submitter)
    for index, reading in enumerate(readings):
        if asset_node(assets[reading.meter_point_id]) not in area:
            raise _unknown_meter_point(index, reading)


def _check_not_virtual(
    session: Session, readings: Sequence[Reading], assets: dict[str, Asset]
) -> None:
    """A portfolio asset's meter point meters nothing: its members are metered instead."""
    virtual = set(
        session.exec(
            select(Portfolio.asset_id).where(
                col(Portfolio.asset_id).in_({asset.id for asset in assets.values()})
            )
        ).all()
    )
    for index, reading in enumerate(readings):
        if assets[reading.meter_point_id].id in virtual:
            raise MarketValueError(
                f"readings.{index}.meter_point_id",
                "this is a portfolio's meter point, which meters nothing; submit the readings "
                "of its members (the portfolio's energy is their sum)",
            )


def _check_plausible(
    session: Session, readings: Sequence[Reading], assets: dict[str, Asset]
) -> None:
    baselines = _baseline_index(session, readings, assets)
    for index, reading in enumerate(readings):
        asset = assets[reading.meter_point_id]
        problem = _implausibility(
            asset, reading.energy_wh, baselines.get((asset.id, reading.slot_start))
        )
        if problem is not None:
            raise MarketValueError(f"readings.{index}.energy_kwh", problem)


def _implausibility(asset: Asset, energy_wh: int, baseline_wh: int | None) -> str | None:
    """Why ``energy_wh`` cannot have been metered at ``asset``; None when plausible."""
    if energy_wh < 0 and consumes_only(asset):
        return (
            f"{energy_wh / 1000} kWh is an export, but asset {asset.id} ({asset.technology}) "
            "only consumes; consumption is positive"
        )
    if baseline_wh is None:
        return None
    prequalified_wh = max(asset.up_w, asset.down_w) * SLOT_SECONDS // 3600
    limit_wh = PLAUSIBILITY_FACTOR * (abs(baseline_wh) + prequalified_wh)
    if abs(energy_wh) > limit_wh:
        return (
            f"|{energy_wh / 1000}| kWh exceeds {PLAUSIBILITY_FACTOR} x (baseline "
            f"{baseline_wh / 1000} kWh + prequalified {prequalified_wh / 1000} kWh per slot); "
            "check the unit (kWh per 15-minute slot) and the meter point"
        )
    return None


def consumes_only(asset: Asset) -> bool:
    """Whether the asset's technology never exports (see :data:`CONSUMPTION_ONLY`)."""
    return asset.technology in CONSUMPTION_ONLY


def _baseline_index(
    session: Session, readings: Sequence[Reading], assets: dict[str, Asset]
) -> dict[tuple[str, int], int]:
    """(asset, slot) -> baseline Wh for the batch's slots; a nominated baseline wins."""
    if not readings:
        return {}
    start = min(reading.slot_start for reading in readings)
    end = max(reading.slot_start for reading in readings) + SLOT_SECONDS
    rows = rows_overlapping(session, {asset.id for asset in assets.values()}, start, end)
    # Nominated rows last, so that their values overwrite computed ones.
    rows.sort(key=lambda row: row.method == BaselineMethod.NOMINATED)
    index: dict[tuple[str, int], int] = {}
    for row in rows:
        for slot, energy_wh in decode_values(row).items():
            index[(row.asset_id, slot)] = energy_wh
    return index


def _stored(session: Session, readings: Sequence[Reading]) -> dict[tuple[str, int], MeterReading]:
    if not readings:
        return {}
    meter_points = {reading.meter_point_id for reading in readings}
    start = min(reading.slot_start for reading in readings)
    end = max(reading.slot_start for reading in readings)
    rows = session.exec(
        select(MeterReading)
        .where(col(MeterReading.meter_point_id).in_(meter_points))
        .where(MeterReading.slot_start >= start)
        .where(MeterReading.slot_start <= end)
    ).all()
    return {(row.meter_point_id, row.slot_start): row for row in rows}


def _plan(
    readings: Sequence[Reading],
    existing: dict[tuple[str, int], MeterReading],
    *,
    correcting: bool,
) -> SubmitReport:
    report = SubmitReport()
    for index, reading in enumerate(readings):
        stored = existing.get((reading.meter_point_id, reading.slot_start))
        if stored is None:
            report.stored += 1
        elif stored.energy_wh == reading.energy_wh:
            report.unchanged += 1
        elif correcting:
            report.corrected += 1
        else:
            raise ConflictError(
                f"readings.{index}.energy_kwh",
                f"{stored.energy_wh / 1000} kWh is already stored for this meter point and slot; "
                "to change it send a correction (correct=true) with an audit note",
            )
    return report


def _check_not_attested(
    session: Session,
    readings: Sequence[Reading],
    assets: dict[str, Asset],
    existing: dict[tuple[str, int], MeterReading],
) -> None:
    changed = [
        (index, reading)
        for index, reading in enumerate(readings)
        if (stored := existing.get((reading.meter_point_id, reading.slot_start))) is not None
        and stored.energy_wh != reading.energy_wh
    ]
    attested = _attested_slots(session, {assets[r.meter_point_id].id for _, r in changed})
    for index, reading in changed:
        trade = attested.get((assets[reading.meter_point_id].id, reading.slot_start))
        if trade is not None:
            raise ConflictError(
                f"readings.{index}.energy_kwh",
                f"the slot is already attested on chain for trade {trade}; "
                "a party of the trade disputes it on chain instead",
            )


def _attested_slots(session: Session, asset_ids: set[str]) -> dict[tuple[str, int], int]:
    """(asset, slot) -> chain trade id, for every slot of the assets' attested trades."""
    if not asset_ids:
        return {}
    rows = session.exec(
        select(MarketTrade, SettlementRecord)
        .where(col(MarketTrade.asset).in_(asset_ids))
        .where(SettlementRecord.trade_id == MarketTrade.id)
    ).all()
    slots: dict[tuple[str, int], int] = {}
    for trade, record in rows:
        for k in range(trade.slot_count):
            slots[(trade.asset, trade.slot_start + k * SLOT_SECONDS)] = record.chain_trade_id
    return slots


def _write(
    session: Session,
    submitter: Organisation,
    readings: Sequence[Reading],
    existing: dict[tuple[str, int], MeterReading],
    correction_note: str | None,
) -> None:
    created_at = utc_now()
    new_rows = []
    for reading in readings:
        stored = existing.get((reading.meter_point_id, reading.slot_start))
        if stored is None:
            new_rows.append(
                {
                    "meter_point_id": reading.meter_point_id,
                    "slot_start": reading.slot_start,
                    "energy_wh": reading.energy_wh,
                    "submitted_by": submitter.id,
                    "created_at": created_at,
                }
            )
        elif stored.energy_wh != reading.energy_wh:
            _log_correction(submitter, stored, reading.energy_wh, correction_note or "")
            session.add(
                MeterCorrection(
                    meter_point_id=stored.meter_point_id,
                    slot_start=stored.slot_start,
                    old_wh=stored.energy_wh,
                    new_wh=reading.energy_wh,
                    note=correction_note or "",
                    corrected_by=submitter.id,
                    created_at=created_at,
                )
            )
            stored.energy_wh = reading.energy_wh
            stored.submitted_by = submitter.id
            session.add(stored)
    if new_rows:
        # One executemany: a 10,000-reading batch would take seconds as ORM objects.
        session.execute(insert(MeterReading), new_rows)


def _log_correction(
    submitter: Organisation, stored: MeterReading, energy_wh: int, note: str
) -> None:
    audit_log.info(
        "meter reading corrected",
        extra={
            "meter_point_id": stored.meter_point_id,
            "slot_start": stored.slot_start,
            "old_wh": stored.energy_wh,
            "new_wh": energy_wh,
            "by": submitter.id,
            "note": note,
        },
    )


def readings_of(
    session: Session, scope: Scope, meter_point_id: str, start: int, end: int
) -> list[MeterReading]:
    """The readings of one meter point in ``[start, end)``, if ``scope`` may see its asset."""
    if end <= start:
        raise MarketValueError("to", f"{end} must be after from ({start})")
    if end - start > MAX_READ_RANGE_S:
        raise MarketValueError("to", f"the range may span at most {MAX_READ_RANGE_S} s")
    _visible_meter_point(session, scope, meter_point_id)
    return list(
        session.exec(
            select(MeterReading)
            .where(MeterReading.meter_point_id == meter_point_id)
            .where(MeterReading.slot_start >= start)
            .where(MeterReading.slot_start < end)
            .order_by(col(MeterReading.slot_start))
        ).all()
    )


def corrections_of(
    session: Session, scope: Scope, meter_point_id: str, start: int, end: int
) -> list[MeterCorrection]:
    """Corrections of one meter point's slots in ``[start, end)``, oldest first, if ``scope``
    may see its asset (its system operator, its owner, auditors and the market operator)."""
    if end <= start:
        raise MarketValueError("to", f"{end} must be after from ({start})")
    _visible_meter_point(session, scope, meter_point_id)
    return list(
        session.exec(
            select(MeterCorrection)
            .where(MeterCorrection.meter_point_id == meter_point_id)
            .where(MeterCorrection.slot_start >= start)
            .where(MeterCorrection.slot_start < end)
            .order_by(col(MeterCorrection.id))
            .limit(MAX_CORRECTIONS_LISTED)
        ).all()
    )


def _visible_meter_point(session: Session, scope: Scope, meter_point_id: str) -> Asset:
    """The meter point's asset if ``scope`` may see it; otherwise the same 404 as for a meter
    point nobody registered (never the asset's id, owner or node)."""
    asset = session.exec(select(Asset).where(Asset.meter_point_id == meter_point_id)).first()
    if asset is None or not may_see_asset(session, scope, asset):
        raise NotFoundError("meter_point_id", f"no meter point {meter_point_id!r} you may see")
    return asset


def meter_series(session: Session, meter_point_id: str, start: int, end: int) -> dict[int, int]:
    """``{slot start: Wh}`` of one meter point in ``[start, end)`` (no access check)."""
    rows = session.exec(
        select(MeterReading.slot_start, MeterReading.energy_wh)
        .where(MeterReading.meter_point_id == meter_point_id)
        .where(MeterReading.slot_start >= start)
        .where(MeterReading.slot_start < end)
    ).all()
    return {slot: energy_wh for slot, energy_wh in rows}
