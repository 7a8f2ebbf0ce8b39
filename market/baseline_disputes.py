"""The system operator disputes a nominated baseline, and who sees flagged baselines.

A nomination within its hard bounds may still look implausible against the asset's meter
history; it is then stored with a flag (:mod:`market.baselines.bounds`). The DSO or TSO
whose licence area holds the asset's node sees it (``GET /baselines?flagged=true``) and may
dispute it with a reason, as long as no trade of the asset in the nomination's period has
been attested on chain: after attestation the numbers are the chain's, and a party disputes
the settlement there (``FlexSettlement.dispute``).

A disputed nomination is never used for settlement: its trades settle on the X-of-Y
baseline from the meter history (:func:`market.baseline_service.settlement_baseline`), the
default of USEF's and NODES' baseline rules, which the FSP and the DSO can both recompute
from the readings. A dispute stands; a computed baseline is not disputed (its inputs are the
meter readings, which the DSO corrects instead).
"""

from sqlmodel import Session, col, select

from market.access import Scope, asset_node
from market.baseline_rows import period_end
from market.baselines import BaselineMethod
from market.db.models import (
    Asset,
    Baseline,
    MarketTrade,
    Organisation,
    SettlementRecord,
    utc_now,
)
from market.errors import ConflictError, MarketValueError, NotFoundError
from market.grid_service import area_node_ids, in_licence_area
from oracle.types import SLOT_SECONDS

MAX_LISTED = 1_000


def dispute_baseline(
    session: Session, operator: Organisation, baseline_id: int, reason: str
) -> Baseline:
    """Mark a nomination of an asset in ``operator``'s licence area as disputed."""
    row = session.get(Baseline, baseline_id)
    asset = None if row is None else session.get(Asset, row.asset_id)
    if row is None or asset is None or not in_licence_area(session, operator, asset_node(asset)):
        raise NotFoundError("baseline_id", f"no baseline {baseline_id} in your licence area")
    if row.method != BaselineMethod.NOMINATED.value:
        raise ConflictError(
            "baseline_id",
            f"baseline {baseline_id} is {row.method}, computed from the meter readings; "
            "correct the readings instead (POST /meter-readings?correct=true)",
        )
    if row.disputed_at is not None:
        raise ConflictError("baseline_id", f"baseline {baseline_id} is disputed already")
    attested = _attested_trade(session, row)
    if attested is not None:
        raise ConflictError(
            "baseline_id",
            f"trade {attested} of this baseline's period is attested on chain already; "
            "dispute its settlement on chain instead",
        )
    row.disputed_at = utc_now()
    row.disputed_by = operator.id
    row.dispute_reason = reason
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def _attested_trade(session: Session, row: Baseline) -> int | None:
    """The chain id of an attested trade of the baseline's asset in its period, if any."""
    found = session.exec(
        select(SettlementRecord.chain_trade_id)
        .where(SettlementRecord.trade_id == MarketTrade.id)
        .where(MarketTrade.asset == row.asset_id)
        .where(MarketTrade.slot_start < period_end(row))
        .where(MarketTrade.slot_start + MarketTrade.slot_count * SLOT_SECONDS > row.period_start)
    ).first()
    return found


def flagged_baselines(session: Session, scope: Scope, limit: int) -> list[Baseline]:
    """Flagged baselines of the assets ``scope`` may see, newest first (at most ``limit``)."""
    if not 1 <= limit <= MAX_LISTED:
        raise MarketValueError("limit", f"must be 1 to {MAX_LISTED}")
    query = (
        select(Baseline, Asset)
        .where(col(Baseline.flagged).is_(True))
        .where(Baseline.asset_id == Asset.id)
        .order_by(col(Baseline.id).desc())
    )
    organisation = scope.organisation
    if not scope.sees_all:
        if organisation is None:
            return []
        area = area_node_ids(session, organisation)
        query = query.where(
            (col(Asset.owner_id) == organisation.id)
            | col(Asset.node_id).in_(area)
            | (col(Asset.node_id).is_(None) & col(Asset.proposed_node_id).in_(area))
        )
    rows = session.exec(query.limit(limit)).all()
    return [row for row, _asset in rows]
