"""Clearing one market period: the gate-closed book in, trades recorded on chain out.

The market operator clears ``[period_start, period_end)`` of one market once the gate of its
last slot has closed and before its first slot is delivered (the contract records a trade
only while both orders are unexpired, and every order expires at or after its slot start).
The job:

1. settles the outbox, so every order commitment is confirmed (or refused) on chain;
2. loads the open orders of the market whose first slot lies in the period; an order whose
   commitment the chain refused, or a sell whose asset is no longer mapped at the order's
   node, is closed with its own explanation, since the contract would refuse its trade;
3. runs :func:`market.clearing.clear` on the rest over the on-chain grid nodes;
4. stores the run, one explanation per order, the trades and the orders' new fills, and one
   ``market.trade`` outbox message per trade (both sides with their Merkle proofs), all in
   one database transaction;
5. settles again: ``TradeRecorded`` gives each trade its chain id (:mod:`market.sync`).

After a run every order it considered is final: ``filled`` when its whole power traded,
``partially_filled`` when some did (the rest closed with the gate), ``closed`` when none did.
The engine is deterministic and reads nothing but the orders, the grid and the rule, so
:mod:`market.reclear` repeats a run from chain data alone.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import Session, col, select

from market import outbox_rows
from market.clearing import ClearingOrder, ClearingResult, GridTopology, PricingRule, Trade, clear
from market.db.models import (
    Asset,
    AssetStatus,
    ClearingRun,
    GridNode,
    MarketOrder,
    MarketTrade,
    OrderExplanation,
    OrderStatus,
    utc_now,
)
from market.errors import ConflictError, MarketValueError
from market.gates import MarketSpec
from market.orders import commit_key, iso, now_of, order_of
from market.platform import Platform
from oracle.messages import Payload
from oracle.outbox.models import MessageStatus, OutboxMessage
from oracle.types import SLOT_SECONDS, Direction, Side

TRADE_KIND = "market.trade"
MAX_PERIOD_SLOTS = 7 * 96  # one week
CHUNK = 500  # ids per IN (...) query, well under every database's parameter limit
COMMITMENT_REJECTED = "commitment_rejected"
ASSET_NOT_MAPPED = "asset_not_mapped"


@dataclass(frozen=True, slots=True)
class Period:
    market: MarketSpec
    start: int  # unix s, inclusive
    end: int  # unix s, exclusive


@dataclass
class _Book:
    """The period's orders split into what the engine clears and what is closed before."""

    rows: dict[str, MarketOrder] = field(default_factory=dict)
    clearing: list[ClearingOrder] = field(default_factory=list)
    closed: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (reason, text)


def run_clearing(
    session: Session,
    platform: Platform,
    *,
    market: str,
    period_start: int,
    period_end: int,
    pricing: PricingRule | None = None,
) -> ClearingRun:
    """Clears the period (see the module docstring); returns the stored run.

    Holds the platform's chain lock throughout, so two runs in this process never read the
    same open orders.
    """
    period = checked_period(platform, market, period_start, period_end)
    outbox_rows.require_shared_database(platform)
    rule = PricingRule(pricing or platform.pricing)
    with platform.chain_lock:
        platform.settle()
        book = _book(session, _open_orders(session, period))
        result = clear(book.clearing, topology(session), rule, now_s=now_of(platform))
        payloads = [_trade_payload(platform, book.rows, trade) for trade in result.trades]
        run = _store(session, platform, period, rule, book, result, payloads)
        platform.settle()
    return run


def checked_period(platform: Platform, market: str, start: int, end: int) -> Period:
    spec = platform.markets.get(market)
    for name, value in (("period_start", start), ("period_end", end)):
        if value % SLOT_SECONDS:
            raise MarketValueError(name, f"must be a multiple of {SLOT_SECONDS} s")
    if not 0 < end - start <= MAX_PERIOD_SLOTS * SLOT_SECONDS:
        raise MarketValueError("period_end", f"must be 1 to {MAX_PERIOD_SLOTS} slots after start")
    now = now_of(platform)
    if now >= start:
        raise ConflictError(
            "period_start", f"delivery starts at {iso(start)}; trades are recorded before it"
        )
    last_gate = spec.gate_closure(end - SLOT_SECONDS)
    if now < last_gate:
        raise ConflictError(
            "period_end", f"the gate of the period's last slot closes at {iso(last_gate)}"
        )
    return Period(spec, start, end)


def topology(session: Session) -> GridTopology:
    """The grid nodes registered on chain, each under its parent (a root has none)."""
    nodes = session.exec(select(GridNode).where(col(GridNode.on_chain).is_(True))).all()
    known = {node.node_id for node in nodes}
    return GridTopology({n.node_id: n.parent_id if n.parent_id in known else None for n in nodes})


# -- the book ----------------------------------------------------------------------------------


def _open_orders(session: Session, period: Period) -> list[MarketOrder]:
    query = (
        select(MarketOrder)
        .where(MarketOrder.market == period.market.name)
        .where(MarketOrder.status == OrderStatus.OPEN)
        .where(MarketOrder.slot_start >= period.start)
        .where(MarketOrder.slot_start < period.end)
        .order_by(col(MarketOrder.id))
    )
    return list(session.exec(query).all())


def _book(session: Session, orders: Sequence[MarketOrder]) -> _Book:
    book = _Book()
    commitments = _commitments(session, [order.id for order in orders])
    assets = _assets(session, {order.asset for order in orders if order.side == Side.SELL})
    for order in orders:
        status, error = commitments.get(order.id, (MessageStatus.PENDING, None))
        if status == MessageStatus.PENDING or status == MessageStatus.IN_FLIGHT:
            continue  # not on chain yet: stays open for a later run
        book.rows[order.id] = order
        if status == MessageStatus.REJECTED:
            text = f"closed: the chain refused the order's commitment ({error})"
            book.closed[order.id] = (COMMITMENT_REJECTED, text)
        elif order.side == Side.SELL and not _mapped_at(assets.get(order.asset), order.node_id):
            text = f"closed: asset {order.asset} is not mapped to node {order.node_id} any more"
            book.closed[order.id] = (ASSET_NOT_MAPPED, text)
        else:
            book.clearing.append(_clearing_order(order, assets.get(order.asset)))
    return book


def _clearing_order(order: MarketOrder, asset: Asset | None) -> ClearingOrder:
    """The engine's view: a sell stands at its (mapped) asset's node, with the asset's
    prequalified power in the order's direction as the cap on all its sells per slot."""
    if order.side != Side.SELL or asset is None:
        return ClearingOrder.of(order.id, order_of(order))
    capacity_w = asset.up_w if order.direction == Direction.UP else asset.down_w
    return ClearingOrder.of(order.id, order_of(order), order.node_id, capacity_w)


def _commitments(
    session: Session, order_ids: Sequence[str]
) -> dict[str, tuple[MessageStatus, str | None]]:
    found: dict[str, tuple[MessageStatus, str | None]] = {}
    for chunk in _chunks([commit_key(order_id) for order_id in order_ids]):
        query = select(OutboxMessage.key, OutboxMessage.status, OutboxMessage.last_error).where(
            col(OutboxMessage.key).in_(chunk)
        )
        for key, status, error in session.exec(query).all():
            found[key.removeprefix("order:")] = (MessageStatus(status), error)
    return found


def _assets(session: Session, asset_ids: set[str]) -> dict[str, Asset]:
    found: dict[str, Asset] = {}
    for chunk in _chunks(sorted(asset_ids)):
        found.update(
            {a.id: a for a in session.exec(select(Asset).where(col(Asset.id).in_(chunk))).all()}
        )
    return found


def _mapped_at(asset: Asset | None, node_id: int) -> bool:
    return asset is not None and asset.status == AssetStatus.MAPPED and asset.node_id == node_id


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    return (values[at : at + CHUNK] for at in range(0, len(values), CHUNK))


# -- trades on chain ---------------------------------------------------------------------------


def _trade_payload(platform: Platform, rows: dict[str, MarketOrder], trade: Trade) -> Payload:
    payload = {
        "buy": _trade_side(platform, rows[trade.buy_id]),
        "sell": _trade_side(platform, rows[trade.sell_id]),
        "power_w": trade.power_w,
        "price_cents_per_mwh": trade.price_cents_per_mwh,
    }
    return outbox_rows.checked(platform, TRADE_KIND, payload, platform.operator_address)


def _trade_side(platform: Platform, row: MarketOrder) -> dict[str, Any]:
    """The order, its signature and where its commitment sits (batch root, Merkle proof)."""
    commitment = platform.oracle.commitment_of(commit_key(row.id))
    return {
        "order": order_of(row).fields(),
        "signature": row.signature,
        "root": "0x" + commitment.root.hex(),
        "proof": ["0x" + step.hex() for step in commitment.proof],
    }


# -- storing the run ---------------------------------------------------------------------------


def _store(
    session: Session,
    platform: Platform,
    period: Period,
    rule: PricingRule,
    book: _Book,
    result: ClearingResult,
    payloads: Sequence[Payload],
) -> ClearingRun:
    explained = {
        order_id: (e.reason.value, e.text, e.filled_w, e.remaining_w)
        for order_id, e in result.explanations.items()
    }
    for order_id, (reason, text) in book.closed.items():
        open_w = book.rows[order_id].power_w - book.rows[order_id].filled_w
        explained[order_id] = (reason, text, 0, open_w)
    run = ClearingRun(
        market=period.market.name,
        period_start=period.start,
        period_end=period.end,
        pricing=rule.value,
        orders=len(explained),
        trades=len(result.trades),
    )
    session.add(run)
    session.flush()
    assert run.id is not None
    _insert_explanations(session, run.id, explained)
    _insert_trades(session, run.id, book.rows, result.trades)
    _update_orders(session, book.rows, explained)
    outbox_rows.insert_rows(
        session,
        [
            outbox_rows.message_row(
                TRADE_KIND, payload, sender=platform.operator_address, key=trade_key(run.id, n)
            )
            for n, payload in enumerate(payloads)
        ],
    )
    session.commit()
    session.refresh(run)
    return run


def trade_key(run_id: int, n: int) -> str:
    return f"trade:{run_id}:{n}"


def _insert_explanations(
    session: Session, run_id: int, explained: dict[str, tuple[str, str, int, int]]
) -> None:
    rows = [
        {
            "run_id": run_id,
            "order_id": order_id,
            "reason": reason,
            "text": text,
            "filled_w": filled_w,
            "remaining_w": remaining_w,
        }
        for order_id, (reason, text, filled_w, remaining_w) in explained.items()
    ]
    if rows:
        session.exec(insert(OrderExplanation), params=rows)


def _insert_trades(
    session: Session, run_id: int, rows: dict[str, MarketOrder], trades: Sequence[Trade]
) -> None:
    now = utc_now()
    records = []
    for n, trade in enumerate(trades):
        buy, sell = rows[trade.buy_id], rows[trade.sell_id]
        records.append(
            {
                "run_id": run_id,
                "buy_order_id": buy.id,
                "sell_order_id": sell.id,
                "buyer_id": buy.organisation_id,
                "seller_id": sell.organisation_id,
                "asset": sell.asset,
                "node_id": sell.node_id,  # where the flexibility is delivered
                "direction": buy.direction,
                "slot_start": buy.slot_start,
                "slot_count": buy.slot_count,
                "power_w": trade.power_w,
                "price_cents_per_mwh": trade.price_cents_per_mwh,
                "outbox_key": trade_key(run_id, n),
                "created_at": now,
            }
        )
    if records:
        session.exec(insert(MarketTrade), params=records)


def _update_orders(
    session: Session, rows: dict[str, MarketOrder], explained: dict[str, tuple[str, str, int, int]]
) -> None:
    changes = []
    for order_id, (_, _, filled_now, _) in explained.items():
        order = rows[order_id]
        filled_w = order.filled_w + filled_now
        changes.append(
            {"id": order_id, "filled_w": filled_w, "status": final_status(order.power_w, filled_w)}
        )
    if changes:
        session.exec(update(MarketOrder), params=changes)


def final_status(power_w: int, filled_w: int) -> OrderStatus:
    if filled_w >= power_w:
        return OrderStatus.FILLED
    return OrderStatus.PARTIALLY_FILLED if filled_w else OrderStatus.CLOSED
