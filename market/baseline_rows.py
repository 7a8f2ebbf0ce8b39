"""How a :class:`~market.db.models.Baseline` row keeps its values, and finding the rows that
cover some slots.

``Baseline.values`` is JSON ``{"<slot start>": Wh, ...}`` (slot starts as decimal strings,
JSON object keys being strings); :func:`decode_values` gives ``{slot start: Wh}`` back.
"""

import json
from collections.abc import Iterable, Mapping

from sqlmodel import Session, col, select

from market.db.models import Baseline
from oracle.types import SLOT_SECONDS

MAX_PERIOD_SLOTS = 7 * 96  # the longest baseline period: one week of 15-minute slots


def encode_values(values_wh: Mapping[int, int]) -> str:
    return json.dumps({str(slot): values_wh[slot] for slot in sorted(values_wh)})


def decode_values(baseline: Baseline) -> dict[int, int]:
    return {int(slot): int(energy_wh) for slot, energy_wh in json.loads(baseline.values).items()}


def period_end(baseline: Baseline) -> int:
    """The end of the baseline's period (exclusive), unix s."""
    return baseline.period_start + baseline.slot_count * SLOT_SECONDS


def rows_overlapping(
    session: Session,
    asset_ids: Iterable[str],
    start: int,
    end: int,
    method: str | None = None,
) -> list[Baseline]:
    """Baselines of the assets whose period overlaps ``[start, end)``, oldest first.

    A period is at most :data:`MAX_PERIOD_SLOTS` long, which bounds the index scan.
    """
    ids = list(asset_ids)
    if not ids:
        return []
    query = (
        select(Baseline)
        .where(col(Baseline.asset_id).in_(ids))
        .where(Baseline.period_start < end)
        .where(Baseline.period_start > start - MAX_PERIOD_SLOTS * SLOT_SECONDS)
        .order_by(col(Baseline.id))
    )
    if method is not None:
        query = query.where(Baseline.method == method)
    return [row for row in session.exec(query).all() if period_end(row) > start]
