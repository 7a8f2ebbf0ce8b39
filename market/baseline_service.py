"""Baselines of assets as the platform keeps them, and which baseline settles a trade.

An FSP nominates a baseline for its own asset (one value per slot), or has the platform
compute one from the asset's meter history (X of Y, high X of Y, meter before, meter
before/after; formulas in :mod:`market.baselines.methods`). A nominated baseline's hash
(:func:`market.baselines.baseline_hash` over the FSP's address, the asset id, the method and
the values) is locked on chain by the oracle (``baseline.lock``), and a nomination is refused
once the gate of its first slot has closed: the FSP cannot change its baseline after seeing
the market's result. Nominated periods of one asset never overlap, so one slot has at most
one nominated value.

A nomination is bounded per slot by the asset's prequalified power and its metered peaks,
and flagged for the DSO when it strays far from the X-of-Y baseline of its meter history
(the rule is in :mod:`market.baselines.bounds`). The row and the outbox message that locks
its hash on chain are written in one database transaction (:mod:`market.outbox_rows`): the
chain never holds a lock for a row that does not exist. A concurrent request that stores the
same baseline first makes this one a 409, never a 500. :func:`create_baselines` takes up to
:data:`BATCH_LIMIT` requests at once, all or none, each with the same checks.

At settlement (:func:`settlement_baseline`) the nominated baseline counts only if its stored
values still hash to the stored hash and that hash was locked on chain strictly before the
trade's gate closure (``0 < lockedAt < gate closure``, as ``BaselineRegistry.isLockedBefore``
and the market's gates read "before"). Stored values that no longer match the hash are
tampering: the trade is refused, never settled on another baseline. Without a valid
nomination the trade settles on the X-of-Y baseline (5 of the 5 previous working days) from
the asset's meter history, skipping the asset's own activation days.

A nomination the DSO of the asset's area disputed (:mod:`market.baseline_disputes`) is
not used either: its trades settle on the same X-of-Y baseline, the default method of the
USEF/NODES baseline rules that both parties can recompute from the meter data. When the
history is too short for X of Y, the trades are held (skipped with that reason at every run)
and never settled on the disputed values.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from eth_utils.address import is_hex_address, to_checksum_address
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from market import outbox_rows
from market.access import Scope, owned_asset, visible_asset
from market.baseline_rows import decode_values, encode_values, period_end, rows_overlapping
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
from market.baselines.bounds import check_within, nomination_bounds, outlier_reason
from market.baselines.days import local_day, zone
from market.baselines.series import slot_range
from market.db.models import (
    Asset,
    AssetStatus,
    Baseline,
    MarketTrade,
    MeterReading,
    Organisation,
    Portfolio,
)
from market.errors import ConflictError, FieldError, MarketValueError
from market.metering import consumes_only
from market.platform import Platform
from market.portfolios import energy_series, prequalified_w
from oracle.errors import OracleValueError
from oracle.types import SLOT_SECONDS

DAY_S = 24 * 3600
HISTORY_DAYS = 46  # X of Y looks back at most 45 days (MethodParams.max_lookback_days)
SETTLEMENT_FALLBACK = BaselineMethod.X_OF_Y
NOMINATED = BaselineMethod.NOMINATED.value


class TamperedBaselineError(ConflictError):
    """A stored nominated baseline no longer matches the hash locked on chain."""


class DisputedBaselineError(ConflictError):
    """A disputed nomination's trade cannot settle yet: no X-of-Y baseline replaces it."""


@dataclass(frozen=True, slots=True)
class BaselineRequest:
    asset_id: str
    method: BaselineMethod
    period_start: int
    slot_count: int
    values_wh: Sequence[int] | None = None  # nominated only: one value per slot
    market: str = "day-ahead"  # whose gate closure a nomination must beat


BATCH_LIMIT = 1_000
LOCK_KIND = "baseline.lock"


@dataclass(frozen=True, slots=True)
class _Claim:
    """A period a baseline takes: stored, or earlier in the same request."""

    method: str
    start: int
    end: int
    baseline_id: int | None  # None: an earlier item of this request


@dataclass(slots=True)
class _Context:
    """What the checks of one request read, looked up once: the requests' assets (held
    here, so that the session's identity map answers each lookup), the periods their
    baselines take, and which meter points have any history in the look-back."""

    now: int
    assets: list[Asset]
    claims: dict[str, list[_Claim]]  # asset id -> periods taken
    with_history: set[str]  # meter points with readings in the look-back window
    portfolios: set[str]  # ids of portfolio assets among the requests' (market.portfolios)

    def take(self, asset_id: str, claim: _Claim) -> None:
        self.claims.setdefault(asset_id, []).append(claim)


def create_baseline(
    session: Session, platform: Platform, fsp: Organisation, request: BaselineRequest
) -> Baseline:
    """Store a nominated (and lock its hash) or a computed baseline of the FSP's own asset."""
    return create_baselines(session, platform, fsp, [request], batch=False)[0]


def create_baselines(
    session: Session,
    platform: Platform,
    fsp: Organisation,
    requests: Sequence[BaselineRequest],
    *,
    batch: bool,
) -> list[Baseline]:
    """Check every request, then store all baselines with their lock messages, or none.

    In a batch the first bad request is named ``baselines.<i>.<field>``.
    """
    if len(requests) > BATCH_LIMIT:
        raise MarketValueError(
            "baselines", f"{len(requests)} baselines; send at most {BATCH_LIMIT}"
        )
    outbox_rows.require_shared_database(platform)
    if any(r.method is BaselineMethod.NOMINATED for r in requests):
        outbox_rows.check_sender(platform, LOCK_KIND, platform.oracle_address)
    context = _context(session, platform, requests)
    rows: list[Baseline] = []
    for index, request in enumerate(requests):
        with _prefixed(f"baselines.{index}." if batch else ""):
            row = _checked_row(session, platform, fsp, request, context)
        rows.append(row)
        context.take(row.asset_id, _Claim(row.method, row.period_start, period_end(row), None))
    messages = [_lock_row(platform, row) for row in rows if row.method == NOMINATED]
    _store(session, rows, messages, "baselines.period_start" if batch else "period_start")
    return rows


def _context(session: Session, platform: Platform, requests: Sequence[BaselineRequest]) -> _Context:
    """Three queries for the whole request; ``now`` read once (on a development chain each
    read asks the chain for its latest block)."""
    ids = {to_checksum_address(r.asset_id) for r in requests if is_hex_address(r.asset_id)}
    assets = list(session.exec(select(Asset).where(col(Asset.id).in_(ids))).all())
    start = min((r.period_start for r in requests), default=0)
    end = max((r.period_start + r.slot_count * SLOT_SECONDS for r in requests), default=0)
    claims: dict[str, list[_Claim]] = {}
    for row in rows_overlapping(session, ids, start, end):
        claim = _Claim(row.method, row.period_start, period_end(row), row.id)
        claims.setdefault(row.asset_id, []).append(claim)
    meter_points = {asset.meter_point_id for asset in assets}
    with_history = set(
        session.exec(
            select(MeterReading.meter_point_id)
            .where(col(MeterReading.meter_point_id).in_(meter_points))
            .where(MeterReading.slot_start >= start - HISTORY_DAYS * DAY_S)
            .where(MeterReading.slot_start < end)
            .distinct()
        ).all()
    )
    portfolios = set(
        session.exec(select(Portfolio.asset_id).where(col(Portfolio.asset_id).in_(ids))).all()
    )
    return _Context(platform.now(), assets, claims, with_history, portfolios)


def _checked_row(
    session: Session,
    platform: Platform,
    fsp: Organisation,
    request: BaselineRequest,
    context: _Context,
) -> Baseline:
    asset = owned_asset(session, fsp, request.asset_id, "asset_id")
    if asset.status == AssetStatus.RETIRED:
        raise ConflictError("asset_id", f"asset {asset.id} is retired")
    taken = context.claims.get(asset.id, [])
    _check_unique(asset, request, taken)
    if request.method is not BaselineMethod.NOMINATED and request.values_wh is not None:
        raise MarketValueError(
            "values_kwh", "only a nominated baseline takes values; the others use meter history"
        )
    if request.method is not BaselineMethod.NOMINATED:
        return _row(fsp, asset, request, _computed_values(session, asset, request))
    values = _nominated_values(platform, asset, request, context.now, taken)
    portfolio = asset.id in context.portfolios
    history = (
        _history_before(session, asset, request.period_start)
        if portfolio or asset.meter_point_id in context.with_history
        else {}
    )
    up_w, down_w, only_consumes = (
        prequalified_w(session, asset)
        if portfolio
        else (asset.up_w, asset.down_w, consumes_only(asset))
    )
    bounds = nomination_bounds(up_w, down_w, history, consumes_only=only_consumes)
    try:
        check_within([values[slot] for slot in sorted(values)], bounds, "values_kwh")
    except BaselineError as error:
        raise MarketValueError(error.field, str(error).removeprefix(f"{error.field}: ")) from None
    row = _row(fsp, asset, request, values)
    row.flag_reason = _outlier(session, asset, values, history, bounds.prequalified_wh)
    row.flagged = row.flag_reason is not None
    return row


def _check_unique(asset: Asset, request: BaselineRequest, taken: Sequence[_Claim]) -> None:
    for claim in taken:
        if (claim.start, claim.method) != (request.period_start, request.method.value):
            continue
        if claim.baseline_id is None:
            raise ConflictError(
                "period_start", "an earlier baseline of this request has the same asset and period"
            )
        raise ConflictError(
            "period_start",
            f"asset {asset.id} already has a {request.method.value} baseline from "
            f"{request.period_start} (id {claim.baseline_id})",
        )


def _nominated_values(
    platform: Platform,
    asset: Asset,
    request: BaselineRequest,
    now: int,
    taken: Sequence[_Claim],
) -> dict[int, int]:
    if request.values_wh is None or len(request.values_wh) != request.slot_count:
        raise MarketValueError(
            "values_kwh", f"a nominated baseline needs exactly {request.slot_count} values"
        )
    gate = platform.markets.get(request.market).gate_closure(request.period_start)
    if now >= gate:
        raise ConflictError(
            "period_start",
            f"the {request.market} gate for this period closed at {gate} (now {now}); "
            "nominate before gate closure, or use a method computed from meter history",
        )
    _check_no_overlap(request, taken)
    values = dict(zip(_slots(request), request.values_wh, strict=True))
    with _as_field("values_kwh"):
        return nominated(values, allow_generation=not consumes_only(asset))


def _check_no_overlap(request: BaselineRequest, taken: Sequence[_Claim]) -> None:
    start = request.period_start
    end = start + request.slot_count * SLOT_SECONDS
    for claim in taken:
        if claim.method != NOMINATED or not (claim.start < end and start < claim.end):
            continue
        if claim.baseline_id is None:
            raise ConflictError(
                "period_start",
                "an earlier nomination of this request covers part of the period; "
                "nominated periods may not overlap",
            )
        raise ConflictError(
            "period_start",
            f"nominated baseline {claim.baseline_id} of this asset already covers part of "
            "the period; nominated periods may not overlap",
        )


def _history_before(session: Session, asset: Asset, period_start: int) -> dict[int, int]:
    """The asset's metered energy in the X-of-Y look-back before ``period_start``."""
    return energy_series(session, asset, period_start - HISTORY_DAYS * DAY_S, period_start)


def _outlier(
    session: Session,
    asset: Asset,
    values: dict[int, int],
    history: dict[int, int],
    prequalified_wh: int,
) -> str | None:
    """The flag of a nomination against its X-of-Y reference; None without enough history."""
    if not history:
        return None
    try:
        reference = compute_baseline(
            SETTLEMENT_FALLBACK,
            history,
            sorted(values),
            exclude_days=activation_days(session, asset.id),
        )
    except BaselineError:
        return None
    return outlier_reason(values, reference, prequalified_wh)


def _computed_values(session: Session, asset: Asset, request: BaselineRequest) -> dict[int, int]:
    slots = _slots(request)
    end = slots[-1] + SLOT_SECONDS
    history = energy_series(session, asset, slots[0] - HISTORY_DAYS * DAY_S, end + DAY_S)
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


def lock_key(baseline_hash_hex: str) -> str:
    """The outbox key of the message that locks a nominated baseline's hash on chain."""
    return f"baseline:{baseline_hash_hex}"


def _lock_row(platform: Platform, row: Baseline) -> dict[str, Any]:
    """The lock message: its schema checked here, its sender once per request
    (:func:`create_baselines`). Whether the hash is locked on chain already is not read per
    row (a chain call each: 1,000 nominations took 25 s): the row is new, so only a lock
    made outside the platform could exist, and the dispatcher checks it before sending."""
    with _as_field_of_oracle("values_kwh"):
        payload = platform.oracle.registry.spec(LOCK_KIND).parse(
            {"baseline_hash": row.baseline_hash}
        )
    return outbox_rows.message_row(
        LOCK_KIND, payload, sender=platform.oracle_address, key=lock_key(row.baseline_hash)
    )


def _store(
    session: Session, rows: Sequence[Baseline], messages: Sequence[dict[str, Any]], field: str
) -> None:
    """Rows and lock messages in one transaction; a concurrent twin makes it a 409.

    The rows are detached after the flush, so that their ids and values stay readable
    without a query per row once committed.
    """
    try:
        session.add_all(rows)
        session.flush()
        outbox_rows.insert_rows(session, messages)
        for row in rows:
            session.expunge(row)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ConflictError(
            field,
            "a baseline of this asset, period and method was stored meanwhile by another "
            "request; read it with GET /baselines before nominating again",
        ) from None


@contextmanager
def _prefixed(prefix: str) -> Iterator[None]:
    """Re-raise a field error with ``prefix`` before its field (``baselines.3.``)."""
    if not prefix:
        yield
        return
    try:
        yield
    except FieldError as error:
        raise type(error)(prefix + error.field, error.message) from error


@contextmanager
def _as_field_of_oracle(field: str) -> Iterator[None]:
    """An outbox check's refusal as a request error naming ``field``."""
    try:
        yield
    except OracleValueError as error:
        raise ConflictError(field, str(error)) from error


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
    history = energy_series(session, asset, start, now)
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
    try:
        return SettlementBaseline(SETTLEMENT_FALLBACK, history_baseline(session, asset, slots))
    except MarketValueError as error:
        disputed = _disputed(session, asset, slots)
        if disputed is None:
            raise
        raise DisputedBaselineError(
            "baseline",
            f"nominated baseline {disputed.id} is disputed by the system operator "
            f"({disputed.dispute_reason}) and the X-of-Y baseline that replaces it cannot be "
            f"computed ({error.message}); the trade is held until the meter history allows it",
        ) from error


def _disputed(session: Session, asset: Asset, slots: Sequence[int]) -> Baseline | None:
    """A disputed nomination of the asset covering any of ``slots``, if there is one."""
    rows = rows_overlapping(
        session, [asset.id], slots[0], slots[-1] + SLOT_SECONDS, BaselineMethod.NOMINATED.value
    )
    return next((row for row in rows if row.disputed_at is not None), None)


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
    if any(row.disputed_at is not None for row in rows):
        return None  # disputed by the DSO: settled on X of Y (module docstring)
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
    history = energy_series(session, asset, first - HISTORY_DAYS * DAY_S, first)
    with _as_field("baseline"):
        return compute_baseline(
            SETTLEMENT_FALLBACK, history, slots, exclude_days=activation_days(session, asset.id)
        )


__all__ = [
    "BATCH_LIMIT",
    "BaselineRequest",
    "DisputedBaselineError",
    "SettlementBaseline",
    "TamperedBaselineError",
    "accuracy",
    "activation_days",
    "baselines_of",
    "create_baseline",
    "create_baselines",
    "history_baseline",
    "lock_key",
    "settlement_baseline",
]
