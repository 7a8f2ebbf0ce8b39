"""Settlement statements per participant: one line per settled trade, totals, JSON or CSV.

A line is one trade's settlement on chain: the trade covers one slot or a block of
consecutive slots (``slot_start``, ``slot_count``) and is settled once for all of them, so its
numbers are exactly the ones ``SettlementAttested`` (or ``SettlementResolved``) carries.
Units are the API's: kW, kWh, EUR/MWh, EUR. Money is converted from integer cents once, so
the totals (summed in cents) equal the sum of the lines to the cent. ``net`` is payment
minus penalty: what the buyer owes the seller (negative: the seller owes the buyer).

Who sees which lines: an FSP the trades it sold, a DSO or TSO the trades it bought, the
market operator and auditors every trade (optionally one participant's).
"""

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from market.access import Scope
from market.db.models import MarketTrade, SettlementRecord, SettlementStatus
from market.errors import ForbiddenError, MarketValueError
from oracle.outbox.models import MessageStatus, OutboxMessage, OutboxTransaction
from oracle.types import Direction

MAX_STATEMENT_RANGE_S = 366 * 24 * 3600
REJECTED = "rejected"  # the chain refused the attestation for good (see the outbox)


@dataclass(frozen=True, slots=True)
class StatementLine:
    chain_trade_id: int
    role: str  # the reader's side of the trade: seller, buyer, or observer
    asset: str
    node_id: int
    direction: str
    slot_start: str  # ISO 8601 UTC
    slot_count: int
    power_kw: float
    price_eur_per_mwh: float
    traded_kwh: float | None
    baseline_kwh: float
    metered_kwh: float
    delivered_kwh: float | None
    payment_eur: str | None  # decimal strings, exact to the cent
    penalty_eur: str | None
    net_eur: str | None
    status: str
    tx_hash: str | None


@dataclass(frozen=True, slots=True)
class Totals:
    lines: int
    settled_lines: int  # lines with their numbers on chain
    traded_kwh: float
    delivered_kwh: float
    payment_eur: str
    penalty_eur: str
    net_eur: str


@dataclass(frozen=True, slots=True)
class Statement:
    organisation_id: str | None
    period_from: int
    period_to: int
    lines: list[StatementLine]
    totals: Totals


def settlement_lines(
    session: Session,
    scope: Scope,
    *,
    start: int | None = None,
    end: int | None = None,
    status: SettlementStatus | None = None,
    organisation_id: str | None = None,
) -> list[StatementLine]:
    """The settlements ``scope`` may see, by trade start in ``[start, end)``, oldest first."""
    rows = _rows(session, _viewer(scope, organisation_id), start, end, status)
    return [line for _, line in rows]


def statement(
    session: Session, scope: Scope, start: int, end: int, organisation_id: str | None = None
) -> Statement:
    if end <= start:
        raise MarketValueError("to", f"{end} must be after from ({start})")
    if end - start > MAX_STATEMENT_RANGE_S:
        raise MarketValueError("to", f"a statement spans at most {MAX_STATEMENT_RANGE_S} s")
    viewer = _viewer(scope, organisation_id)
    rows = _rows(session, viewer, start, end, None)
    lines = [line for _, line in rows]
    return Statement(viewer, start, end, lines, _totals([record for record, _ in rows]))


def _rows(
    session: Session,
    viewer: str | None,
    start: int | None,
    end: int | None,
    status: SettlementStatus | None,
) -> list[tuple[SettlementRecord, StatementLine]]:
    found = [(record, trade) for record, trade in session.exec(_query(viewer, start, end, status))]
    sent = _transactions(session, [record.outbox_key for record, _ in found])
    return [
        (record, _line(record, trade, viewer, sent.get(record.outbox_key)))
        for record, trade in found
    ]


def statement_csv(statement_: Statement) -> str:
    """The lines as CSV with a header row, then one ``total`` row."""
    buffer = io.StringIO()
    names = [f.name for f in fields(StatementLine)]
    writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for line in statement_.lines:
        writer.writerow({k: "" if v is None else v for k, v in asdict(line).items()})
    totals = statement_.totals
    writer.writerow(
        {
            "chain_trade_id": "total",
            "traded_kwh": totals.traded_kwh,
            "delivered_kwh": totals.delivered_kwh,
            "payment_eur": totals.payment_eur,
            "penalty_eur": totals.penalty_eur,
            "net_eur": totals.net_eur,
        }
    )
    return buffer.getvalue()


def _viewer(scope: Scope, organisation_id: str | None) -> str | None:
    """Whose statement: the reader's own organisation, or anyone's for those who see all."""
    if scope.sees_all:
        return organisation_id
    if scope.organisation is None:
        raise ForbiddenError("authorization", "register an organisation to see settlements")
    if organisation_id not in (None, scope.organisation.id):
        raise ForbiddenError("organisation", "you may only see your own settlements")
    return scope.organisation.id


def _query(
    viewer: str | None, start: int | None, end: int | None, status: SettlementStatus | None
) -> Select[SettlementRecord, MarketTrade]:
    query = (
        select(SettlementRecord, MarketTrade)
        .where(SettlementRecord.trade_id == MarketTrade.id)
        .order_by(col(MarketTrade.slot_start), col(SettlementRecord.chain_trade_id))
    )
    if viewer is not None:
        query = query.where(
            or_(col(MarketTrade.seller_id) == viewer, col(MarketTrade.buyer_id) == viewer)
        )
    if start is not None:
        query = query.where(MarketTrade.slot_start >= start)
    if end is not None:
        query = query.where(MarketTrade.slot_start < end)
    if status is not None:
        query = query.where(SettlementRecord.status == status)
    return query


def _transactions(session: Session, keys: Sequence[str]) -> dict[str, tuple[str, str | None]]:
    """outbox key -> (message status, tx hash of the transaction that carried it)."""
    if not keys:
        return {}
    messages = session.exec(
        select(OutboxMessage).where(col(OutboxMessage.key).in_(list(keys)))
    ).all()
    transaction_ids = {m.transaction_id for m in messages if m.transaction_id is not None}
    hashes = dict(
        session.exec(
            select(OutboxTransaction.id, OutboxTransaction.tx_hash).where(
                col(OutboxTransaction.id).in_(transaction_ids)
            )
        ).all()
    )
    return {m.key: (m.status, hashes.get(m.transaction_id)) for m in messages}


def _line(
    record: SettlementRecord,
    trade: MarketTrade,
    viewer: str | None,
    sent: tuple[str, str | None] | None,
) -> StatementLine:
    message_status, tx_hash = sent if sent is not None else (None, None)
    return StatementLine(
        chain_trade_id=record.chain_trade_id,
        role=_role(trade, viewer),
        asset=trade.asset,
        node_id=trade.node_id,
        direction=Direction(trade.direction).name.lower(),
        slot_start=_iso(trade.slot_start),
        slot_count=trade.slot_count,
        power_kw=trade.power_w / 1000,
        price_eur_per_mwh=trade.price_cents_per_mwh / 100,
        traded_kwh=_kwh(record.traded_wh),
        baseline_kwh=record.baseline_wh / 1000,
        metered_kwh=record.metered_wh / 1000,
        delivered_kwh=_kwh(record.delivered_wh),
        payment_eur=_eur(record.payment_cents),
        penalty_eur=_eur(record.penalty_cents),
        net_eur=_eur(_net_cents(record)),
        status=_status(record, message_status),
        tx_hash=tx_hash,
    )


def _role(trade: MarketTrade, viewer: str | None) -> str:
    if viewer == trade.seller_id:
        return "seller"
    if viewer == trade.buyer_id:
        return "buyer"
    return "observer"


def _status(record: SettlementRecord, message_status: str | None) -> str:
    if record.status == SettlementStatus.ATTESTING and message_status == MessageStatus.REJECTED:
        return REJECTED
    return record.status.value


def _net_cents(record: SettlementRecord) -> int | None:
    if record.payment_cents is None or record.penalty_cents is None:
        return None
    return record.payment_cents - record.penalty_cents


def _totals(records: Sequence[SettlementRecord]) -> Totals:
    """Sums in Wh and cents over the lines whose numbers are on chain, converted once."""
    settled = [r for r in records if r.payment_cents is not None and r.penalty_cents is not None]
    payment = sum(r.payment_cents or 0 for r in settled)
    penalty = sum(r.penalty_cents or 0 for r in settled)
    return Totals(
        lines=len(records),
        settled_lines=len(settled),
        traded_kwh=sum(r.traded_wh or 0 for r in settled) / 1000,
        delivered_kwh=sum(r.delivered_wh or 0 for r in settled) / 1000,
        payment_eur=_money(payment),
        penalty_eur=_money(penalty),
        net_eur=_money(payment - penalty),
    )


def _kwh(energy_wh: int | None) -> float | None:
    return None if energy_wh is None else energy_wh / 1000


def _eur(cents: int | None) -> str | None:
    return None if cents is None else _money(cents)


def _money(cents: int) -> str:
    """Integer cents as an exact decimal string of euros, e.g. -1234 -> "-12.34"."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _iso(slot_start: int) -> str:
    return datetime.fromtimestamp(slot_start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = [
    "Statement",
    "StatementLine",
    "Totals",
    "settlement_lines",
    "statement",
    "statement_csv",
]
