"""The market operator's jobs on their own: clear at gate closure, settle, finalise.

``flexledger serve`` runs :class:`SchedulerThread`, which calls :meth:`Scheduler.run_due`
every ``interval_s``. Each round, on the platform's clock:

1. **Clear** every period whose gate has closed and whose delivery has not started, while
   it still holds open orders. A period is what one gate closes: a local delivery day for a
   ``day_ahead`` market (all its slots share the 12:00 D-1 gate), one slot for a
   ``lead_time`` market. The run is :func:`market.auction.run_clearing`, the same call as the
   operator's ``POST /markets/{market}/clearing``. Before it, the scheduler adds a
   :class:`~market.db.models.SchedulerJob` row keyed (``clear``, market, period start) to the
   session the run commits, so the claim and the run are stored together or not at all: a
   second round, a restart or a second worker finds the row (or fails on its primary key)
   and never clears the period again. An operator who cleared the period by hand first left
   no open orders in it, so the scheduler has nothing to do there.
2. **Settle** once the metering deadline of a trade has passed: delivery end plus
   ``metering_delay_s`` (``FLEXLEDGER_METERING_DELAY_S``), the time the system operator has to
   submit (and correct) meter readings. :func:`market.settlement.settle_delivered` attests
   each trade at most once (its settlement record and outbox key); a trade still missing
   readings is skipped and tried again next round, until the chain's attestation window ends.
3. **Finalise** attested settlements whose dispute window has passed
   (:func:`market.settlement.finalise_due`; the outbox key makes a repeat a no-op).

Every step runs under the platform's chain lock (the clearing takes it), so the scheduler
and a manual call in the same process never interleave.
"""

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from market import auction, settlement
from market.db.models import (
    MarketOrder,
    MarketTrade,
    OrderStatus,
    SchedulerJob,
    SettlementRecord,
    SettlementStatus,
    TradeStatus,
)
from market.errors import MarketError, NotFoundError
from market.gates import GateRule, MarketSpec
from market.platform import Platform
from oracle.errors import OracleError
from oracle.types import SLOT_SECONDS

log = logging.getLogger("flexledger.scheduler")

CLEAR_JOB = "clear"
MAX_TOLD = 10_000


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    metering_delay_s: int = 24 * 3600  # readings for day D are due by D+1
    interval_s: float = 15.0


@dataclass(frozen=True, slots=True)
class DuePeriod:
    """The delivery period one gate closes; ``start`` is the job's key."""

    market: str
    start: int  # unix s, inclusive
    end: int  # unix s, exclusive


@dataclass
class RoundReport:
    cleared: list[int] = field(default_factory=list)  # clearing run ids
    failed: list[str] = field(default_factory=list)  # why a due job did not run
    attested: int = 0
    finalising: int = 0


class Scheduler:
    """One round of due jobs per :meth:`run_due`; see the module docstring."""

    def __init__(self, platform: Platform, config: SchedulerConfig = SchedulerConfig()) -> None:
        self._platform = platform
        self._config = config
        self._told: set[tuple[int | None, str]] = set()  # waits already logged, once each

    def run_due(self) -> RoundReport:
        report = RoundReport()
        now = self._platform.now()
        for period in self.due_periods(now):
            self._clear(period, now, report)
        self._settle(now, report)
        self._finalise(report)
        return report

    def due_periods(self, now: int) -> list[DuePeriod]:
        """Periods with open orders whose gate has closed and whose delivery is ahead."""
        with Session(self._platform.engine) as session:
            rows = session.exec(
                select(MarketOrder.market, MarketOrder.slot_start)
                .distinct()
                .where(MarketOrder.status == OrderStatus.OPEN)
                .where(MarketOrder.gate_closure <= now)
                .where(MarketOrder.slot_start > now)
            ).all()
            periods = {self._period_of(market, slot) for market, slot in rows}
            done = _claimed(session, periods)
        return sorted(periods - done, key=lambda p: (p.start, p.market))

    def _period_of(self, market: str, slot_start: int) -> DuePeriod:
        try:
            spec = self._platform.markets.get(market)
        except NotFoundError:
            return DuePeriod(market, slot_start, slot_start + SLOT_SECONDS)
        start, end = gate_period(spec, slot_start)
        return DuePeriod(market, start, end)

    def _clear(self, period: DuePeriod, now: int, report: RoundReport) -> None:
        """Claim and clear in one transaction; the not yet delivered part if delivery began."""
        first_open_slot = (now // SLOT_SECONDS + 1) * SLOT_SECONDS
        with self._platform.chain_lock, Session(self._platform.engine) as session:
            if session.get(SchedulerJob, (CLEAR_JOB, period.market, period.start)) is not None:
                return  # another worker cleared it since due_periods read
            job = SchedulerJob(
                job=CLEAR_JOB,
                market=period.market,
                period_start=period.start,
                period_end=period.end,
            )
            session.add(job)
            try:
                # The claim is inserted with the run (its explicit flush), not by the run's
                # first query: writers elsewhere must not wait while the engine clears.
                with session.no_autoflush:
                    run = auction.run_clearing(
                        session,
                        self._platform,
                        market=period.market,
                        period_start=max(period.start, first_open_slot),
                        period_end=period.end,
                    )
            except IntegrityError:  # another worker's claim won: its run stands
                session.rollback()
                return
            except (MarketError, OracleError) as error:  # tried again next round
                session.rollback()
                report.failed.append(f"clear {period.market} {period.start}: {error}")
                log.warning("scheduled clearing of %s failed: %s", period, error)
                return
            run_id, trades = run.id, run.trades
            job.run_id = run_id
            session.add(job)
            session.commit()
        assert run_id is not None
        report.cleared.append(run_id)
        log.info("cleared %s: run %s, %s trades", period, run_id, trades)

    def _settle(self, now: int, report: RoundReport) -> None:
        metered_by = now - self._config.metering_delay_s
        with Session(self._platform.engine) as session:
            if not _metering_due(session, metered_by):
                return
            try:
                run = settlement.settle_delivered(session, self._platform, ended_by=metered_by)
            except IntegrityError:  # the operator's manual run attested a trade meanwhile
                session.rollback()
                log.info("settlement ran concurrently; the rest waits for the next round")
                return
        report.attested += len(run.attested)
        for skipped in run.skipped:
            told = (skipped.chain_trade_id, skipped.reason)
            if told not in self._told:  # a trade waiting for readings waits every round
                if len(self._told) >= MAX_TOLD:
                    self._told.clear()  # bounded: at worst a wait is logged again
                self._told.add(told)
                log.info("settlement of trade %s waits: %s", *told)

    def _finalise(self, report: RoundReport) -> None:
        with Session(self._platform.engine) as session:
            attested = session.exec(
                select(SettlementRecord.trade_id).where(
                    SettlementRecord.status == SettlementStatus.ATTESTED
                )
            ).first()
            if attested is None:
                return
            run = settlement.finalise_due(session, self._platform)
        report.finalising += len(run.finalising)


def gate_period(spec: MarketSpec, slot_start: int) -> tuple[int, int]:
    """``[start, end)`` of the slots whose gate closes with ``slot_start``'s."""
    if spec.rule is GateRule.LEAD_TIME:
        return slot_start, slot_start + SLOT_SECONDS
    zone = ZoneInfo(spec.timezone)
    day = datetime.fromtimestamp(slot_start, UTC).astimezone(zone).date()
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return int(start.timestamp()), int(end.timestamp())


def _claimed(session: Session, periods: Iterable[DuePeriod]) -> set[DuePeriod]:
    wanted = {(p.market, p.start): p for p in periods}
    if not wanted:
        return set()
    starts = sorted({start for _, start in wanted})
    rows = session.exec(
        select(SchedulerJob.market, SchedulerJob.period_start)
        .where(SchedulerJob.job == CLEAR_JOB)
        .where(col(SchedulerJob.period_start).in_(starts))
    ).all()
    return {wanted[(m, s)] for m, s in rows if (m, s) in wanted}


def _metering_due(session: Session, metered_by: int) -> bool:
    """Whether a recorded trade delivered by ``metered_by`` has no settlement yet."""
    settled = exists().where(col(SettlementRecord.trade_id) == col(MarketTrade.id))
    found = session.exec(
        select(MarketTrade.id)
        .where(MarketTrade.status == TradeStatus.RECORDED)
        .where(col(MarketTrade.chain_trade_id).is_not(None))
        .where(MarketTrade.slot_start + MarketTrade.slot_count * SLOT_SECONDS <= metered_by)
        .where(~settled)
        .limit(1)
    ).first()
    return found is not None


class SchedulerThread:
    """Runs :meth:`Scheduler.run_due` every ``interval_s`` on a daemon thread until stopped."""

    def __init__(self, scheduler: Scheduler, interval_s: float) -> None:
        self._scheduler = scheduler
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flexledger-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._scheduler.run_due()
            except Exception:  # a bad round must not end the scheduler; the next one retries
                log.exception("scheduler round failed")
            self._stop.wait(self._interval_s)
