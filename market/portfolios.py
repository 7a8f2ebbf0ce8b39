"""Portfolios: a group of one FSP's assets that trades, is baselined and settles as one.

Orders and trades always name one registered asset (``MarketOrder.asset``; the chain's
``FlexMarket`` checks it against the ``GridRegistry``). So a portfolio is an asset of its
own, registered like any other (its prequalified power, its node), plus a named set of
member assets. The FSP offers the portfolio asset; clearing places it at its node, so
every member must sit at or below that node (a subtree of the grid), and the portfolio's
prequalified power may not exceed the sum of its members' (it cannot sell more than they
can deliver). An asset is a member of at most one portfolio, and a portfolio is no member.

What is supported:

* **Baseline.** Nominated once for the whole portfolio (``POST /baselines`` with the
  portfolio asset's id): one row, one hash locked on chain, bounded and flagged as any
  nomination (:mod:`market.baselines.bounds`) with the members' summed prequalified power and
  summed meter history. Without a valid nomination, X of Y over the summed history.
* **Metering.** The DSO meters the members; the portfolio's energy in a slot is the sum of
  its members' readings, and settlement waits until every member has one. The portfolio
  asset's own meter point is virtual: readings submitted for it are refused.
* **Settlement.** A trade of the portfolio asset settles on the portfolio baseline and the
  summed readings. A member's energy counts once: a trade of the portfolio and a trade of
  one of its members in the same slot are both refused at settlement (skipped with the
  reason), as one meter cannot say which of them delivered.

Not supported: changing a portfolio's members (create a new portfolio asset), members under
another FSP, nested portfolios.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from market.access import Scope, asset_node, get_asset, licence_area, owned_asset
from market.db.models import (
    Asset,
    AssetStatus,
    MarketTrade,
    MeterReading,
    Organisation,
    Portfolio,
    PortfolioMember,
)
from market.errors import ConflictError, MarketValueError
from market.grid_service import ancestry
from market.metering import consumes_only
from oracle.types import SLOT_SECONDS

MAX_MEMBERS = 1_000
MIN_MEMBERS = 2


@dataclass(frozen=True, slots=True)
class PortfolioView:
    portfolio: Portfolio
    members: list[Asset]


def create_portfolio(
    session: Session, fsp: Organisation, name: str, asset_id: str, member_ids: Sequence[str]
) -> PortfolioView:
    """Group ``member_ids`` under the FSP's registered asset ``asset_id`` (rules above)."""
    asset = owned_asset(session, fsp, asset_id, "asset_id")
    if asset.status == AssetStatus.RETIRED:
        raise ConflictError("asset_id", f"asset {asset.id} is retired")
    if _membership(session, asset.id) is not None or _portfolio_row(session, asset.id):
        raise ConflictError("asset_id", f"asset {asset.id} is already in or of a portfolio")
    members = _members(session, fsp, asset, member_ids)
    _check_capacity(asset, members)
    portfolio = Portfolio(owner_id=fsp.id, name=name, asset_id=asset.id)
    try:
        session.add(portfolio)
        session.flush()
        assert portfolio.id is not None
        session.add_all(PortfolioMember(asset_id=m.id, portfolio_id=portfolio.id) for m in members)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ConflictError(
            "member_asset_ids", "a member or the asset joined another portfolio meanwhile"
        ) from None
    session.refresh(portfolio)
    return PortfolioView(portfolio, members)


def _members(
    session: Session, fsp: Organisation, asset: Asset, member_ids: Sequence[str]
) -> list[Asset]:
    if not MIN_MEMBERS <= len(member_ids) <= MAX_MEMBERS:
        raise MarketValueError(
            "member_asset_ids", f"a portfolio has {MIN_MEMBERS} to {MAX_MEMBERS} members"
        )
    subtree_root = asset_node(asset)
    members: list[Asset] = []
    seen: set[str] = set()
    for index, member_id in enumerate(member_ids):
        field = f"member_asset_ids.{index}"
        member = owned_asset(session, fsp, member_id, field)
        if member.id in seen or member.id == asset.id:
            raise MarketValueError(field, f"{member.id} is named twice or is the portfolio")
        seen.add(member.id)
        _check_member(session, member, subtree_root, field)
        members.append(member)
    return members


def _check_member(session: Session, member: Asset, subtree_root: int, field: str) -> None:
    if member.status == AssetStatus.RETIRED:
        raise ConflictError(field, f"asset {member.id} is retired")
    if _membership(session, member.id) is not None or _portfolio_row(session, member.id):
        raise ConflictError(field, f"asset {member.id} is already in or of a portfolio")
    path = {node.node_id for node in ancestry(session, asset_node(member))}
    if subtree_root not in path:
        raise MarketValueError(
            field,
            f"asset {member.id} sits at node {asset_node(member)}, not at or below the "
            f"portfolio's node {subtree_root}: clearing places the portfolio there",
        )


def _check_capacity(asset: Asset, members: Sequence[Asset]) -> None:
    up_w, down_w = sum(m.up_w for m in members), sum(m.down_w for m in members)
    if asset.up_w > up_w or asset.down_w > down_w:
        raise MarketValueError(
            "asset_id",
            f"the portfolio asset prequalifies {asset.up_w} W up / {asset.down_w} W down, its "
            f"members together {up_w} W / {down_w} W: it cannot offer more than they deliver",
        )


def _membership(session: Session, asset_id: str) -> PortfolioMember | None:
    return session.get(PortfolioMember, asset_id)


def _portfolio_row(session: Session, asset_id: str) -> Portfolio | None:
    return session.exec(select(Portfolio).where(Portfolio.asset_id == asset_id)).first()


def members_of(session: Session, asset: Asset) -> list[Asset] | None:
    """The member assets if ``asset`` is a portfolio asset, else None."""
    portfolio = _portfolio_row(session, asset.id)
    if portfolio is None:
        return None
    rows = session.exec(
        select(Asset)
        .where(PortfolioMember.asset_id == Asset.id)
        .where(PortfolioMember.portfolio_id == portfolio.id)
        .order_by(col(Asset.id))
    ).all()
    return list(rows)


def energy_series(session: Session, asset: Asset, start: int, end: int) -> dict[int, int]:
    """``{slot: Wh}`` of ``asset`` in ``[start, end)``: its meter's, or for a portfolio the
    sum of its members' in the slots where every member has a reading."""
    members = members_of(session, asset)
    points = [asset.meter_point_id] if members is None else [m.meter_point_id for m in members]
    rows = session.exec(
        select(MeterReading.slot_start, MeterReading.energy_wh)
        .where(col(MeterReading.meter_point_id).in_(points))
        .where(MeterReading.slot_start >= start)
        .where(MeterReading.slot_start < end)
    ).all()
    total: dict[int, int] = {}
    count: dict[int, int] = {}
    for slot, energy_wh in rows:
        total[slot] = total.get(slot, 0) + energy_wh
        count[slot] = count.get(slot, 0) + 1
    return {slot: wh for slot, wh in total.items() if count[slot] == len(points)}


def prequalified_w(session: Session, asset: Asset) -> tuple[int, int, bool]:
    """Up W, down W and whether it only consumes, for bounding a nomination of ``asset``:
    a portfolio's are its members' sums (all of them consume only, for the last)."""
    members = members_of(session, asset)
    if members is None:
        return asset.up_w, asset.down_w, consumes_only(asset)
    return (
        sum(m.up_w for m in members),
        sum(m.down_w for m in members),
        all(consumes_only(m) for m in members),
    )


def double_counted(session: Session, trade: MarketTrade) -> str | None:
    """Why the trade's energy would count twice (a portfolio trade and a trade of one of its
    members in the same slots); None when it does not."""
    asset = session.get(Asset, trade.asset)
    if asset is None:
        return None
    members = members_of(session, asset)
    membership = _membership(session, asset.id)
    if members is not None:
        others = [m.id for m in members]
    elif membership is not None:
        portfolio = session.get(Portfolio, membership.portfolio_id)
        others = [] if portfolio is None else [portfolio.asset_id]
    else:
        return None
    end = trade.slot_start + trade.slot_count * SLOT_SECONDS
    clash = session.exec(
        select(MarketTrade.id)
        .where(col(MarketTrade.asset).in_(others))
        .where(MarketTrade.slot_start < end)
        .where(MarketTrade.slot_start + MarketTrade.slot_count * SLOT_SECONDS > trade.slot_start)
    ).first()
    if clash is None:
        return None
    return (
        f"trade {clash} of the same assets (a portfolio and its member) shares these slots; "
        "the members' meters cannot say which trade delivered"
    )


def portfolios_of(session: Session, scope: Scope) -> list[PortfolioView]:
    """Portfolios the reader may see: its own (FSP), those at nodes in its licence area
    (DSO/TSO), all (auditors, the market operator)."""
    rows = list(session.exec(select(Portfolio).order_by(col(Portfolio.id))).all())
    organisation = scope.organisation
    if not scope.sees_all:
        if organisation is None:
            return []
        area = licence_area(session, organisation)
        rows = [row for row in rows if row.owner_id == organisation.id or _in(session, row, area)]
    views = []
    for row in rows:
        asset = get_asset(session, row.asset_id)
        views.append(PortfolioView(row, members_of(session, asset) or []))
    return views


def _in(session: Session, row: Portfolio, area: set[int]) -> bool:
    asset = session.get(Asset, row.asset_id)
    return asset is not None and asset_node(asset) in area


__all__ = [
    "PortfolioView",
    "create_portfolio",
    "double_counted",
    "energy_series",
    "members_of",
    "portfolios_of",
    "prequalified_w",
]
