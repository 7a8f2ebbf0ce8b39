"""Settlement on chain: attest each delivered trade's baseline and metered energy, finalise it
once its dispute window has passed.

**The rule** (``FlexSettlement._compute``; :mod:`oracle.settlement_math` is the same in
Python). Integers in on-chain units; every division rounds down::

    traded_wh     = power_w * slot_count * 900 / 3600
    change_wh     = baseline_wh - metered_wh        direction up (consumption fell)
                  = metered_wh - baseline_wh        direction down (consumption rose)
    delivered_wh  = min(max(change_wh, 0), traded_wh)       over-delivery is not paid
    payment_cents = price_cents_per_mwh * delivered_wh / 10^6
    shortfall_wh  = traded_wh - delivered_wh
    penalty_cents = (price_cents_per_mwh * penalty_factor_bps / 10^4) * shortfall_wh / 10^6
    net_cents     = payment_cents - penalty_cents   what the buyer owes the seller

USEF worked-example shape: baseline 10 MW, 2 MW ordered for an hour at 200 EUR/MWh, nothing
delivered (metered = baseline): traded 2 MWh, delivered 0, payment 0, shortfall 2 MWh,
penalty 1.5 x 200 EUR/MWh x 2 MWh = 600 EUR with the default 15,000 bps.

**What is attested per trade** (:func:`settle_delivered`). A trade is due once it is recorded
on chain, its delivery has ended (``slot_start + slot_count * 900 <= now``) and every one of
its slots has a meter reading. ``baseline_wh`` is the sum of the asset's baseline over the
trade's slots (the locked nomination, else X of Y; see :mod:`market.baseline_service`;
a nomination the DSO disputed is replaced by X of Y); ``metered_wh`` the sum of its meter
readings over the same slots (for a portfolio asset, its members' readings summed; a
portfolio trade and a trade of one of its members in the same slots are refused, see
:mod:`market.portfolios`).

**Several trades of one asset in one slot.** The asset has one meter and one baseline, so
each slot's baseline and metered energy are split between the trades active in that slot
pro rata by traded power (largest-remainder rounding, ties to the older trade, so the parts
add up to the asset's Wh exactly). Each trade's delivered energy is then its power's share
of what the asset delivered. Trades in opposite directions in one slot are refused (one
meter cannot say which of them delivered), and so is a trade sharing a slot with a trade
not yet recorded on chain (its share would change).

The contract takes unsigned Wh. For a trade whose baseline or metered total is negative (a
battery exporting over the trade), both are attested relative to the trade's export reference
``max(0, -min(baseline_wh, metered_wh))``, added to both: their difference, and with it the
delivered energy, payment and penalty, is unchanged, and the auditor recomputes the same.
Refused and waiting trades are listed in the run's report with their reason.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from sqlmodel import Session, col, select

from market.baseline_service import settlement_baseline
from market.baselines import BaselineMethod
from market.baselines.series import iso, slot_range
from market.db.models import (
    Asset,
    MarketOrder,
    MarketTrade,
    Organisation,
    SettlementRecord,
    SettlementStatus,
    TradeStatus,
)
from market.errors import ConflictError, MarketError
from market.platform import Platform
from market.portfolios import double_counted, energy_series
from oracle.errors import OracleValueError
from oracle.types import SLOT_SECONDS


class SettlementRefusedError(ConflictError):
    """A delivered trade cannot be attested (yet); the message says why."""


@dataclass(frozen=True, slots=True)
class Attested:
    trade_id: int
    chain_trade_id: int
    baseline_method: BaselineMethod
    baseline_wh: int
    metered_wh: int
    shared_with: tuple[int, ...] = ()  # chain ids of trades sharing the asset's slots


@dataclass(frozen=True, slots=True)
class Skipped:
    trade_id: int
    chain_trade_id: int | None
    reason: str


@dataclass
class SettlementRun:
    attested: list[Attested] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def settle_delivered(
    session: Session, platform: Platform, *, ended_by: int | None = None
) -> SettlementRun:
    """Publish ``settlement.attest`` for every due trade; store its record (ATTESTING).

    ``ended_by`` (unix s) limits the run to trades delivered by then: the scheduler passes
    now minus the metering delay, so that late meter readings still count.
    The numbers arrive with ``SettlementAttested`` once the platform pumps the outbox.
    """
    now = platform.now() if ended_by is None else min(platform.now(), ended_by)
    run = SettlementRun()
    for trade in _delivered_unsettled(session, now):
        try:
            attested = _attestation(session, platform, trade)
            _publish_attestation(session, platform, attested)
        except (MarketError, OracleValueError) as refusal:
            run.skipped.append(Skipped(_id(trade), trade.chain_trade_id, _reason(refusal)))
            continue
        run.attested.append(attested)
    return run


def _delivered_unsettled(session: Session, now: int) -> list[MarketTrade]:
    settled = select(SettlementRecord.trade_id)
    trades = session.exec(
        select(MarketTrade)
        .where(MarketTrade.status == TradeStatus.RECORDED)
        .where(col(MarketTrade.chain_trade_id).is_not(None))
        .where(MarketTrade.slot_start + SLOT_SECONDS <= now)
        .where(col(MarketTrade.id).not_in(settled))
        .order_by(col(MarketTrade.chain_trade_id))
    ).all()
    return [trade for trade in trades if _delivery_end(trade) <= now]


def _attestation(session: Session, platform: Platform, trade: MarketTrade) -> Attested:
    asset = _asset(session, trade)
    twice = double_counted(session, trade)
    if twice is not None:
        raise SettlementRefusedError("asset", twice)
    slots = slot_range(trade.slot_start, trade.slot_count)
    metered = _metered(session, asset, slots)
    owner = _organisation(session, asset.owner_id)
    baseline = settlement_baseline(
        session, platform, asset, owner, slots, _gate_closure(session, trade)
    )
    concurrent = _concurrent(session, trade)
    baseline_wh = _share(trade, concurrent, baseline.values_wh)
    metered_wh = _share(trade, concurrent, metered)
    baseline_wh, metered_wh = _unsigned(baseline_wh, metered_wh)
    return Attested(
        trade_id=_id(trade),
        chain_trade_id=_chain_id(trade),
        baseline_method=baseline.method,
        baseline_wh=baseline_wh,
        metered_wh=metered_wh,
        shared_with=tuple(sorted(_chain_id(t) for t in concurrent if t.id != trade.id)),
    )


def _asset(session: Session, trade: MarketTrade) -> Asset:
    asset = session.get(Asset, trade.asset)
    if asset is None:
        raise SettlementRefusedError("asset", f"asset {trade.asset} of the trade is not registered")
    return asset


def _organisation(session: Session, organisation_id: str) -> Organisation:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise SettlementRefusedError("asset", f"the asset's owner {organisation_id} is unknown")
    return organisation


def _gate_closure(session: Session, trade: MarketTrade) -> int:
    """The gate closure the FSP's offer traded under (its sell order's)."""
    order = session.get(MarketOrder, trade.sell_order_id)
    if order is None:
        raise SettlementRefusedError("sell_order_id", f"no sell order {trade.sell_order_id}")
    return order.gate_closure


def _metered(session: Session, asset: Asset, slots: Sequence[int]) -> dict[int, int]:
    # A portfolio's energy is its members' sum, in slots where each has a reading.
    metered = energy_series(session, asset, slots[0], slots[-1] + SLOT_SECONDS)
    missing = [slot for slot in slots if slot not in metered]
    if missing:
        raise SettlementRefusedError(
            "meter_readings",
            f"waiting for meter readings of {asset.meter_point_id}: {len(missing)} of "
            f"{len(slots)} slots missing, first {iso(missing[0])}",
        )
    return metered


def _concurrent(session: Session, trade: MarketTrade) -> list[MarketTrade]:
    """The asset's trades that share at least one slot with ``trade`` (itself included)."""
    end = _delivery_end(trade)
    others = session.exec(
        select(MarketTrade)
        .where(MarketTrade.asset == trade.asset)
        .where(MarketTrade.slot_start < end)
        .order_by(col(MarketTrade.id))
    ).all()
    sharing = [t for t in others if _delivery_end(t) > trade.slot_start]
    for other in sharing:
        if other.direction != trade.direction:
            raise SettlementRefusedError(
                "direction",
                f"the asset also delivers trade {other.chain_trade_id} in the opposite "
                "direction in the same slots; one meter cannot apportion them",
            )
        if other.chain_trade_id is None:
            raise SettlementRefusedError(
                "trades",
                f"trade {other.id} shares the asset's slots but is not recorded on chain yet",
            )
    return sharing


def _share(trade: MarketTrade, concurrent: Sequence[MarketTrade], per_slot: dict[int, int]) -> int:
    """This trade's part of the asset's ``per_slot`` Wh over its slots (pro rata by power)."""
    total = 0
    for slot in slot_range(trade.slot_start, trade.slot_count):
        active = {_id(t): t.power_w for t in concurrent if _covers(t, slot)}
        total += split_pro_rata(per_slot[slot], active)[_id(trade)]
    return total


def split_pro_rata(value: int, weights: dict[int, int]) -> dict[int, int]:
    """``value`` split into integers proportional to ``weights`` that add up to ``value``.

    Each key gets ``floor(value * w / W)``; the remainder goes one unit at a time to the
    largest fractional parts, ties to the smaller key.
    """
    whole = sum(weights.values())
    exact = {key: Fraction(value * weight, whole) for key, weight in weights.items()}
    parts = {key: share.numerator // share.denominator for key, share in exact.items()}
    leftover = value - sum(parts.values())
    ranked = sorted(weights, key=lambda key: (-(exact[key] - parts[key]), key))
    for key in ranked[:leftover]:
        parts[key] += 1
    return parts


def _unsigned(baseline_wh: int, metered_wh: int) -> tuple[int, int]:
    """Both energies shifted by the trade's export reference, so neither is negative.

    FlexSettlement attests unsigned Wh, while a battery's meter runs backwards when it
    exports. Adding the same reference ``max(0, -min(baseline, metered))`` to both keeps
    ``baseline - metered``, and so delivered energy, payment and penalty, exactly as they are.
    """
    reference = max(0, -min(baseline_wh, metered_wh))
    return baseline_wh + reference, metered_wh + reference


def _publish_attestation(session: Session, platform: Platform, attested: Attested) -> None:
    key = f"attest:{attested.chain_trade_id}"
    with platform.chain_lock:
        platform.oracle.publish(
            "settlement.attest",
            {
                "trade_id": attested.chain_trade_id,
                "baseline_wh": attested.baseline_wh,
                "metered_wh": attested.metered_wh,
            },
            sender=platform.oracle_address,
            key=key,
        )
    session.add(
        SettlementRecord(
            trade_id=attested.trade_id,
            chain_trade_id=attested.chain_trade_id,
            baseline_wh=attested.baseline_wh,
            metered_wh=attested.metered_wh,
            baseline_method=str(attested.baseline_method),
            outbox_key=key,
        )
    )
    session.commit()


@dataclass(frozen=True, slots=True)
class Finalising:
    chain_trade_id: int
    dispute_deadline: int


@dataclass
class FinaliseRun:
    finalising: list[Finalising] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def finalise_due(session: Session, platform: Platform) -> FinaliseRun:
    """Publish ``settlement.finalise`` for attested settlements whose dispute window passed.

    The deadline is the contract's: delivery end + attestation window + dispute window, with
    the windows fixed for the trade when it was recorded (``windowsOf``), so an operator's
    later change of the windows moves no deadline. A disputed settlement waits for the market
    operator's resolution (``settlement.resolve``) instead.
    """
    now = platform.now()
    run = FinaliseRun()
    for record, trade in _attested(session):
        deadline = _delivery_end(trade) + _windows_s(platform, record.chain_trade_id)
        skip = _finalise_blocker(platform, record.chain_trade_id, deadline, now)
        if skip is not None:
            run.skipped.append(Skipped(_id(trade), record.chain_trade_id, skip))
            continue
        _publish_finalisation(platform, record.chain_trade_id)
        run.finalising.append(Finalising(record.chain_trade_id, deadline))
    return run


def _windows_s(platform: Platform, chain_trade_id: int) -> int:
    """The trade's attestation plus dispute window, as the chain fixed them at recording."""
    with platform.chain_lock:
        windows = platform.oracle.suite.read("FlexSettlement", "windowsOf", chain_trade_id)
    attestation, dispute = (int(value) for value in windows)
    return attestation + dispute


def _attested(session: Session) -> list[tuple[SettlementRecord, MarketTrade]]:
    rows = session.exec(
        select(SettlementRecord, MarketTrade)
        .where(SettlementRecord.status == SettlementStatus.ATTESTED)
        .where(SettlementRecord.trade_id == MarketTrade.id)
        .order_by(col(SettlementRecord.chain_trade_id))
    ).all()
    return [(record, trade) for record, trade in rows]


def _finalise_blocker(
    platform: Platform, chain_trade_id: int, deadline: int, now: int
) -> str | None:
    if now < deadline:
        return f"dispute window open until {deadline} (now {now})"
    with platform.chain_lock:
        disputed = bool(platform.oracle.suite.read("FlexSettlement", "isDisputed", chain_trade_id))
    if disputed:
        return "disputed on chain; the market operator resolves it (settlement.resolve)"
    return None


def _publish_finalisation(platform: Platform, chain_trade_id: int) -> None:
    with platform.chain_lock:
        platform.oracle.publish(
            "settlement.finalise",
            {"trade_id": chain_trade_id},
            sender=platform.operator_address,
            key=f"finalise:{chain_trade_id}",
        )


def _delivery_end(trade: MarketTrade) -> int:
    return trade.slot_start + trade.slot_count * SLOT_SECONDS


def _covers(trade: MarketTrade, slot: int) -> bool:
    return trade.slot_start <= slot < _delivery_end(trade)


def _id(trade: MarketTrade) -> int:
    assert trade.id is not None  # rows read from the database have their id
    return trade.id


def _chain_id(trade: MarketTrade) -> int:
    if trade.chain_trade_id is None:
        raise SettlementRefusedError("trade", f"trade {trade.id} is not recorded on chain yet")
    return trade.chain_trade_id


def _reason(refusal: MarketError | OracleValueError) -> str:
    message = getattr(refusal, "message", None)
    return message if isinstance(message, str) else str(refusal)
