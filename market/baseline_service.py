"""Baselines of assets as the platform keeps them, and which baseline settles a trade.

An FSP nominates a baseline for its own asset (one value per slot), or has the platform
compute one from the asset's meter history (X of Y, high X of Y, meter before, meter
before/after; formulas in :mod:`market.baselines.methods`). A nominated baseline's hash
(:func:`market.baselines.baseline_hash` over the FSP's address, the asset id, the method and
the values) is locked on chain by the oracle (``baseline.lock``), and a nomination is refused
once the gate of its first slot has closed: the FSP cannot change its baseline after seeing
the market's result. Nominated periods of one asset never overlap, so one slot has at most
one nominated value.

At settlement (:func:`settlement_baseline`) the nominated baseline counts only if its stored
values still hash to the stored hash and that hash was locked on chain strictly before the
trade's gate closure (``0 < lockedAt < gate closure``, as ``BaselineRegistry.isLockedBefore``
and the market's gates read "before"). Stored values that no longer match the hash are
tampering: the trade is refused, never settled on another baseline. Without a valid
nomination the trade settles on the X-of-Y baseline (5 of the 5 previous working days) from
the asset's meter history, skipping the asset's own activation days.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from market.access import Scope, owned_asset, visible_asset
from market.baseline_rows import decode_values, encode_values, rows_overlapping
from market.baselines import (
    DEFAULT_TZ,
    AccuracyReport,
    BaselineError,
    BaselineMethod,
    baseline_hash,
    compare_methods,
    compute_baseline,
    nominated,
)
from market.baselines.days import local_day, zone
from market.baselines.series import slot_range
from market.db.models import Asset, AssetStatus, Baseline, MarketTrade, Organisation
from market.errors import ConflictError, MarketValueError
from market.metering import consumes_only, meter_series
from market.platform import Platform
from oracle.types import SLOT_SECONDS

DAY_S = 24 * 3600
HISTORY_DAYS = 46  # X of Y looks back at most 45 days (MethodParams.max_lookback_days)
SETTLEMENT_FALLBACK = BaselineMethod.X_OF_Y


class TamperedBaselineError(ConflictError):
    """A stored nominated baseline no longer matches the hash locked on chain."""


@dataclass(frozen=True, slots=True)
class BaselineRequest:
    asset_id: str
    method: BaselineMethod
    period_start: int
    slot_count: int
    values_wh: Sequence[int] | None = None  # nominated only: one value per slot
    market: str = "day-ahead"  # whose gate closure a nomination must beat


def create_baseline(
    session: Session, platform: Platform, fsp: Organisation, request: BaselineRequest
) -> Baseline:
    """Store a nominated (and lock its hash) or a computed baseline of the FSP's own asset."""
    asset = owned_asset(session, fsp, request.asset_id, "asset_id")
    if asset.status == AssetStatus.RETIRED:
        raise ConflictError("asset_id", f"asset {asset.id} is retired")
    _check_unique(session, asset, request)
    if request.method is not BaselineMethod.NOMINATED and request.values_wh is not None:
        raise MarketValueError(
            "values_kwh", "only a nominated baseline takes values; the others use meter history"
        )
    if request.method is BaselineMethod.NOMINATED:
        values = _nominated_values(session, platform, asset, request)
    else:
        values = _computed_values(session, asset, request)
    row = _row(fsp, asset, request, values)
    if request.method is BaselineMethod.NOMINATED:
        _publish_lock(platform, row.baseline_hash)
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def _check_unique(session: Session, asset: Asset, request: BaselineRequest) -> None:
    clash = session.exec(
        select(Baseline)
        .where(Baseline.asset_id == asset.id)
        .where(Baseline.period_start == request.period_start)
        .where(Baseline.method == request.method.value)
    ).first()
    if clash is not None:
        raise ConflictError(
            "period_start",
            f"asset {asset.id} already has a {request.method.value} baseline from "
            f"{request.period_start} (id {clash.id})",
        )


def _nominated_values(
    session: Session, platform: Platform, asset: Asset, request: BaselineRequest
) -> dict[int, int]:
    if request.values_wh is None or len(request.values_wh) != request.slot_count:
        raise MarketValueError(
            "values_kwh", f"a nominated baseline needs exactly {request.slot_count} values"
        )
    gate = platform.markets.get(request.market).gate_closure(request.period_start)
    now = platform.now()
    if now >= gate:
        raise ConflictError(
            "period_start",
            f"the {request.market} gate for this period closed at {gate} (now {now}); "
            "nominate before gate closure, or use a method computed from meter history",
        )
    end = request.period_start + request.slot_count * SLOT_SECONDS
    overlapping = rows_overlapping(
        session, [asset.id], request.period_start, end, BaselineMethod.NOMINATED.value
    )
    if overlapping:
        raise ConflictError(
            "period_start",
            f"nominated baseline {overlapping[0].id} of this asset already covers part of "
            "the period; nominated periods may not overlap",
        )
    values = dict(zip(_slots(request), request.values_wh, strict=True))
    with _as_field("values_kwh"):
        return nominated(values, allow_generation=not consumes_only(asset))


def _computed_values(session: Session, asset: Asset, request: BaselineRequest) -> dict[int, int]:
    slots = _slots(request)
    end = slots[-1] + SLOT_SECONDS
    history = meter_series(
        session, asset.meter_point_id, slots[0] - HISTORY_DAYS * DAY_S, end + DAY_S
    )
    sees_after = request.method is BaselineMethod.METER_BEFORE_AFTER
    # A baseline never sees the readings of its own period.
    visible = {s: e for s, e in history.items() if s < slots[0] or (sees_after and s >= end)}
    with _as_field("period_start"):
        return compute_baseline(
            request.method, visible, slots, exclude_days=activation_days(session, asset.id)
        )


def _slots(request: BaselineRequest) -> list[int]:
    return slot_range(request.period_start, request.slot_count)


def _row(
    fsp: Organisation, asset: Asset, request: BaselineRequest, values: dict[int, int]
) -> Baseline:
    digest = baseline_hash(fsp.address, asset.id, request.method, values)
    return Baseline(
        asset_id=asset.id,
        owner_id=fsp.id,
        method=request.method.value,
        period_start=request.period_start,
        slot_count=request.slot_count,
        values=encode_values(values),
        baseline_hash="0x" + digest.hex(),
    )


def _publish_lock(platform: Platform, hash_hex: str) -> None:
    with platform.chain_lock:
        platform.oracle.publish(
            "baseline.lock",
            {"baseline_hash": hash_hex},
            sender=platform.oracle_address,
            key=f"baseline:{hash_hex}",
        )


@contextmanager
def _as_field(field: str) -> Iterator[None]:
    """Re-raise a baseline method's error as a request error naming ``field``."""
    try:
        yield
    except BaselineError as error:
        message = str(error).removeprefix(f"{error.field}: ")
        raise MarketValueError(field, f"{error.field}: {message}") from error


def baselines_of(session: Session, scope: Scope, asset_id: str) -> list[Baseline]:
    asset = visible_asset(session, scope, asset_id)
    return list(
        session.exec(
            select(Baseline)
            .where(Baseline.asset_id == asset.id)
            .order_by(col(Baseline.period_start), col(Baseline.method))
        ).all()
    )


def accuracy(
    session: Session, scope: Scope, asset_id: str, days: int, now: int
) -> dict[BaselineMethod, AccuracyReport]:
    """Each computable method's errors on the asset's last ``days`` evaluation days."""
    asset = visible_asset(session, scope, asset_id)
    start = now - (days + HISTORY_DAYS + 14) * DAY_S  # weekends and holidays in between
    history = meter_series(session, asset.meter_point_id, start, now)
    exclude = activation_days(session, asset.id)
    with _as_field("days"):
        return compare_methods(history, days, exclude_days=exclude)


def activation_days(session: Session, asset_id: str, tz: str = DEFAULT_TZ) -> set[date]:
    """Local days on which the asset delivered a trade (X of Y never uses them)."""
    zone_info = zone(tz)
    trades = session.exec(
        select(MarketTrade.slot_start, MarketTrade.slot_count).where(MarketTrade.asset == asset_id)
    ).all()
    days: set[date] = set()
    for slot_start, slot_count in trades:
        for slot in slot_range(slot_start, slot_count):
            days.add(local_day(slot, zone_info))
    return days


@dataclass(frozen=True, slots=True)
class SettlementBaseline:
    method: BaselineMethod
    values_wh: dict[int, int]  # slot start -> Wh, for the slots asked


def settlement_baseline(
    session: Session,
    platform: Platform,
    asset: Asset,
    owner: Organisation,
    slots: Sequence[int],
    gate_closure: int,
) -> SettlementBaseline:
    """The baseline that settles ``slots`` of ``asset`` (rule in the module docstring)."""
    locked = verified_nominated(session, platform, asset, owner, slots, gate_closure)
    if locked is not None:
        return SettlementBaseline(BaselineMethod.NOMINATED, locked)
    return SettlementBaseline(SETTLEMENT_FALLBACK, history_baseline(session, asset, slots))


def verified_nominated(
    session: Session,
    platform: Platform,
    asset: Asset,
    owner: Organisation,
    slots: Sequence[int],
    gate_closure: int,
) -> dict[int, int] | None:
    """The nominated values of ``slots`` if one locked nomination covers them all, else None.

    Raises :class:`TamperedBaselineError` when stored values no longer hash to the lock.
    """
    rows = rows_overlapping(
        session, [asset.id], slots[0], slots[-1] + SLOT_SECONDS, BaselineMethod.NOMINATED.value
    )
    values: dict[int, int] = {}
    for row in rows:
        values.update(decode_values(row))
    if not rows or any(slot not in values for slot in slots):
        return None
    for row in rows:
        if not _locked_in_time(platform, row, owner, gate_closure):
            return None
    return {slot: values[slot] for slot in slots}


def _locked_in_time(
    platform: Platform, row: Baseline, owner: Organisation, gate_closure: int
) -> bool:
    digest = baseline_hash(
        owner.address, row.asset_id, BaselineMethod.NOMINATED, decode_values(row)
    )
    recomputed = "0x" + digest.hex()
    if recomputed != row.baseline_hash.lower():
        raise TamperedBaselineError(
            "baseline",
            f"nominated baseline {row.id} (from {row.period_start}) hashes to {recomputed}, "
            f"but {row.baseline_hash} was locked on chain: its stored values were changed "
            "after locking; the trade is not settled until the values are restored",
        )
    with platform.chain_lock:
        locked_at = int(platform.oracle.suite.read("BaselineRegistry", "lockedAt", digest))
    if locked_at == 0 and row.locked:
        raise TamperedBaselineError(
            "baseline",
            f"nominated baseline {row.id} is marked locked, but the chain has no lock of "
            f"{recomputed}: the stored baseline was replaced after locking",
        )
    return 0 < locked_at < gate_closure


def history_baseline(session: Session, asset: Asset, slots: Sequence[int]) -> dict[int, int]:
    """The X-of-Y baseline of ``slots`` from the meter history before them."""
    first = min(slots)
    history = meter_series(session, asset.meter_point_id, first - HISTORY_DAYS * DAY_S, first)
    with _as_field("baseline"):
        return compute_baseline(
            SETTLEMENT_FALLBACK, history, slots, exclude_days=activation_days(session, asset.id)
        )


__all__ = [
    "BaselineRequest",
    "SettlementBaseline",
    "TamperedBaselineError",
    "accuracy",
    "activation_days",
    "baselines_of",
    "create_baseline",
    "history_baseline",
    "settlement_baseline",
]
