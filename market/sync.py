"""Applies the chain's events, as the oracle indexed them, to the platform's tables.

The chain is the source of truth for what is registered, traded and settled; the platform's
rows say "pending" until the event that confirms them has been indexed. Events are applied
in index order from a cursor, each handler idempotent, so a restart applies nothing twice.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from market import registry_sync
from market.db.models import (
    Baseline,
    ChainFlag,
    MarketOrder,
    MarketTrade,
    OrderStatus,
    Organisation,
    OrganisationStatus,
    SettlementRecord,
    SettlementStatus,
    SyncCursor,
    TradeStatus,
)
from oracle.indexer.models import IndexedEvent
from oracle.service import OracleService
from oracle.settlement_math import attested_settlements

CURSOR = "events"
BATCH = 2000

Handler = Callable[[Session, dict[str, Any]], None]


@dataclass
class SyncReport:
    applied: int = 0
    by_event: dict[str, int] = field(default_factory=dict)
    flagged: int = 0  # registry events that disagree with the platform (market_chain_flag)


class EventSync:
    def __init__(self, engine: Engine, oracle: OracleService) -> None:
        self.engine = engine
        self.chain_id = oracle.suite.chain_id
        self.handlers: dict[str, Handler] = {
            "RoleGranted": _role_granted,
            "RoleRevoked": _role_revoked,
            "OrderCancelled": _order_cancelled,
            "TradeRecorded": _trade_recorded,
            "SettlementAttested": _settled,
            "SettlementsAttested": _settled_batch,
            "SettlementResolved": _settled,
            "SettlementFinalised": _finalised,
            "BaselineLocked": _baseline_locked,
        }

    def run_once(self) -> SyncReport:
        report = SyncReport()
        while True:
            applied = self._apply_batch(report)
            if applied < BATCH:
                return report

    def _apply_batch(self, report: SyncReport) -> int:
        with Session(self.engine) as session:
            cursor = session.get(SyncCursor, CURSOR) or SyncCursor(name=CURSOR)
            events = session.exec(
                select(IndexedEvent)
                .where(IndexedEvent.chain_id == self.chain_id)
                .where(col(IndexedEvent.id) > cursor.last_event_id)
                .order_by(col(IndexedEvent.id))
                .limit(BATCH)
            ).all()
            for event in events:
                self._apply(session, event, report)
                assert event.id is not None
                cursor.last_event_id = event.id
            session.add(cursor)
            session.commit()  # the rows and the cursor move together
            return len(events)

    def _apply(self, session: Session, event: IndexedEvent, report: SyncReport) -> None:
        """Apply one event; a registry event that disagrees with the platform is flagged
        instead (:mod:`market.registry_sync`)."""
        args = json.loads(event.args)
        checked = registry_sync.CHECKED.get(event.event)
        if checked is not None:
            reason = checked(session, args)
            if reason is not None:
                session.add(_flag(event, reason))
                report.flagged += 1
                return
        else:
            handler = self.handlers.get(event.event)
            if handler is None:
                return
            handler(session, args)
        report.applied += 1
        report.by_event[event.event] = report.by_event.get(event.event, 0) + 1


def _flag(event: IndexedEvent, reason: str) -> ChainFlag:
    assert event.id is not None
    return ChainFlag(
        event_id=event.id,
        event=event.event,
        args=event.args,
        tx_hash=event.tx_hash,
        block_number=event.block_number,
        reason=reason[:500],
    )


def _role_granted(session: Session, args: dict[str, Any]) -> None:
    organisation = session.exec(
        select(Organisation).where(Organisation.address == args["identity"])
    ).first()
    if organisation is not None and organisation.status == OrganisationStatus.APPROVED:
        organisation.status = OrganisationStatus.ACTIVE
        session.add(organisation)


def _role_revoked(session: Session, args: dict[str, Any]) -> None:
    """The organisation's role is gone on chain: it is revoked here too, whatever it was."""
    organisation = session.exec(
        select(Organisation).where(Organisation.address == args["identity"])
    ).first()
    if organisation is not None and organisation.status != OrganisationStatus.REVOKED:
        organisation.status = OrganisationStatus.REVOKED
        session.add(organisation)


def _order_cancelled(session: Session, args: dict[str, Any]) -> None:
    order = session.get(MarketOrder, args["orderHash"])
    if order is not None:
        order.status = OrderStatus.CANCELLED
        session.add(order)


def _trade_recorded(session: Session, args: dict[str, Any]) -> None:
    trade = session.exec(
        select(MarketTrade)
        .where(MarketTrade.buy_order_id == args["buyHash"])
        .where(MarketTrade.sell_order_id == args["sellHash"])
        .where(MarketTrade.power_w == int(args["powerW"]))
        .where(col(MarketTrade.chain_trade_id).is_(None))
        .order_by(col(MarketTrade.id))
    ).first()
    if trade is not None:
        trade.chain_trade_id = int(args["tradeId"])
        trade.status = TradeStatus.RECORDED
        session.add(trade)


def _settled_batch(session: Session, args: dict[str, Any]) -> None:
    """``attestBatch`` logs one packed event for the whole batch: apply each settlement."""
    for settlement in attested_settlements("SettlementsAttested", args):
        _settled(session, settlement)


def _settled(session: Session, args: dict[str, Any]) -> None:
    record = session.exec(
        select(SettlementRecord).where(SettlementRecord.chain_trade_id == int(args["tradeId"]))
    ).first()
    if record is None:
        return
    record.baseline_wh = int(args["baselineWh"])
    record.metered_wh = int(args["meteredWh"])
    record.traded_wh = int(args["tradedWh"])
    record.delivered_wh = int(args["deliveredWh"])
    record.payment_cents = int(args["paymentCents"])
    record.penalty_cents = int(args["penaltyCents"])
    if record.status != SettlementStatus.FINALISED:
        record.status = SettlementStatus.ATTESTED
    session.add(record)
    trade = session.get(MarketTrade, record.trade_id)
    if trade is not None and trade.status == TradeStatus.RECORDED:
        trade.status = TradeStatus.SETTLED
        session.add(trade)


def _finalised(session: Session, args: dict[str, Any]) -> None:
    record = session.exec(
        select(SettlementRecord).where(SettlementRecord.chain_trade_id == int(args["tradeId"]))
    ).first()
    if record is None:
        return
    record.status = SettlementStatus.FINALISED
    session.add(record)
    trade = session.get(MarketTrade, record.trade_id)
    if trade is not None:
        trade.status = TradeStatus.FINALISED
        session.add(trade)


def _baseline_locked(session: Session, args: dict[str, Any]) -> None:
    for baseline in session.exec(
        select(Baseline).where(Baseline.baseline_hash == args["baselineHash"])
    ).all():
        baseline.locked = True
        session.add(baseline)
