"""Re-running a clearing run from chain data, as an auditor does.

Nothing comes from the platform's order, asset or node tables. A run names the orders it
cleared (its explanations). For each, the oracle's commitment message gives the order and
signature; the order must hash (EIP-712) to its id and its Merkle proof must lead to a batch
root the chain committed (``OrderBatchCommitted``). The grid comes from ``NodeRegistered``,
the sells' asset nodes from ``AssetNodeConfirmed``. Clearing these with the run's pricing
rule gives the run's trades again, which :func:`recorded_trades` reads from
``TradeRecorded``.

Clearing time: every order of a period expires at or after its first slot, which lies at or
after the period start, and a run clears before the period starts; so no order of the run
was expired when it cleared, nor is any at ``period_start - 1``, the time used here.
"""

import json
from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select

from market.clearing import (
    ClearingOrder,
    ClearingResult,
    GridTopology,
    PricingRule,
    Reason,
    Trade,
    clear,
)
from market.db.models import ClearingRun, MarketTrade, OrderExplanation
from market.errors import ConflictError, NotFoundError
from market.orders import commit_key
from market.platform import Platform
from oracle.eip712 import Order
from oracle.indexer.models import IndexedEvent
from oracle.merkle import verify_proof
from oracle.order_hashing import domain_separator, order_hash
from oracle.payloads import OrderCommitment
from oracle.types import Side

ENGINE_REASONS = frozenset(reason.value for reason in Reason)


def reclear_from_chain(platform: Platform, run_id: int) -> ClearingResult:
    """The run cleared again from the orders committed on chain and the on-chain grid."""
    with Session(platform.engine) as session:
        run = session.get(ClearingRun, run_id)
        if run is None:
            raise NotFoundError("run_id", f"no clearing run {run_id}")
        order_ids = _cleared_order_ids(session, run_id)
        events = _events(session, platform.chain_id)
    asset_nodes = _asset_nodes(events["AssetNodeConfirmed"])
    capacities = _asset_capacities(events["AssetRegistered"] + events["AssetCapacityUpdated"])
    orders = []
    for order_id in order_ids:
        order = _committed_order(platform, order_id, events)
        if order.side == Side.SELL:
            capacity_w = capacities.get(order.asset, (None, None))[int(order.direction)]
            node = asset_nodes.get(order.asset)
            orders.append(ClearingOrder.of(order_id, order, node, capacity_w))
        else:
            orders.append(ClearingOrder.of(order_id, order))
    grid = _grid(events["NodeRegistered"])
    return clear(orders, grid, PricingRule(run.pricing), now_s=run.period_start - 1)


def recorded_trades(platform: Platform, run_id: int) -> tuple[Trade, ...]:
    """The run's trades as the chain recorded them (``TradeRecorded``), in trade order."""
    with Session(platform.engine) as session:
        ids = session.exec(
            select(MarketTrade.chain_trade_id)
            .where(MarketTrade.run_id == run_id)
            .order_by(col(MarketTrade.id))
        ).all()
        events = {int(a["tradeId"]): a for a in _args(session, platform.chain_id, "TradeRecorded")}
    if None in ids:
        raise ConflictError("run_id", "some of the run's trades are not recorded on chain yet")
    return tuple(_trade(events[trade_id]) for trade_id in ids if trade_id is not None)


def _trade(args: dict[str, Any]) -> Trade:
    return Trade(args["buyHash"], args["sellHash"], int(args["powerW"]), args["priceCentsPerMWh"])


def _cleared_order_ids(session: Session, run_id: int) -> list[str]:
    rows = session.exec(
        select(OrderExplanation.order_id, OrderExplanation.reason).where(
            OrderExplanation.run_id == run_id
        )
    ).all()
    return sorted(order_id for order_id, reason in rows if reason in ENGINE_REASONS)


def _events(session: Session, chain_id: int) -> dict[str, list[dict[str, Any]]]:
    names = (
        "OrderBatchCommitted",
        "NodeRegistered",
        "AssetNodeConfirmed",
        "AssetRegistered",
        "AssetCapacityUpdated",
    )
    return {name: _args(session, chain_id, name) for name in names}


def _args(session: Session, chain_id: int, event: str) -> list[dict[str, Any]]:
    query = (
        select(IndexedEvent.args)
        .where(IndexedEvent.chain_id == chain_id)
        .where(IndexedEvent.event == event)
        .order_by(col(IndexedEvent.id))
    )
    return [json.loads(args) for args in session.exec(query).all()]


def _committed_order(
    platform: Platform, order_id: str, events: dict[str, list[dict[str, Any]]]
) -> Order:
    """The order from its commitment, checked against its hash and a committed root."""
    message = platform.oracle.status_of(commit_key(order_id))
    payload = OrderCommitment.model_validate_json(message.payload)
    order = payload.order.to_order()
    separator = domain_separator(platform.chain_id, platform.oracle.view.market_address)
    digest = order_hash(order.as_message(), separator)
    if "0x" + digest.hex() != order_id.lower():
        raise ConflictError("order_hash", f"order {order_id} does not hash to its id")
    commitment = platform.oracle.commitment_of(commit_key(order_id))
    roots = {args["root"] for args in events["OrderBatchCommitted"]}
    root = "0x" + commitment.root.hex()
    if root not in roots or not verify_proof(commitment.proof, commitment.root, digest):
        raise ConflictError("order_hash", f"order {order_id} is not in a root on chain")
    return order


def _asset_nodes(confirmations: Iterable[dict[str, Any]]) -> dict[str, int]:
    return {args["asset"]: int(args["nodeId"]) for args in confirmations}  # the latest wins


def _asset_capacities(
    events: Iterable[dict[str, Any]],
) -> dict[str, tuple[int | None, int | None]]:
    """Per asset, its (up, down) prequalified power, W: registered, then updated (the
    latest wins; registrations come first in the list, updates after, each in chain order)."""
    return {args["asset"]: (int(args["upW"]), int(args["downW"])) for args in events}


def _grid(registrations: Iterable[dict[str, Any]]) -> GridTopology:
    return GridTopology({int(a["nodeId"]): int(a["parentId"]) or None for a in registrations})
