"""Whether a system operator's licence area overlaps another's of the same kind.

Two DSOs (or two TSOs) that both claim a node could both buy its flexibility, read its
meter points and map its assets, so an overlap is never approved silently: the market
operator must name every operator it accepts the overlap with (``allow_overlap_with``).
A TSO's area lies over DSOs' areas by nature (other voltage levels), so only operators of
the same kind are compared.

Areas overlap when their node sets share a node (every node at or below a listed,
operated or polygon-covered node, as :func:`market.grid_service.area_node_ids` counts
them) or their polygons share an area (:func:`market.geometry.polygons_overlap`).
"""

import json
from typing import Any

from sqlmodel import Session, col, select

from market.db.models import Organisation, OrganisationKind, OrganisationStatus
from market.geometry import polygons_overlap
from market.grid_service import area_node_ids

SYSTEM_OPERATORS = (OrganisationKind.DSO, OrganisationKind.TSO)
COMPARED_STATUSES = (OrganisationStatus.APPROVED, OrganisationStatus.ACTIVE)


def overlapping_operators(session: Session, organisation: Organisation) -> list[str]:
    """Ids of approved or active operators of the same kind whose area overlaps this one's."""
    if organisation.kind not in SYSTEM_OPERATORS:
        return []
    others = session.exec(
        select(Organisation)
        .where(Organisation.kind == organisation.kind)
        .where(col(Organisation.status).in_(COMPARED_STATUSES))
        .where(Organisation.id != organisation.id)
    ).all()
    if not others:
        return []
    nodes = area_node_ids(session, organisation)
    polygon = _rings(organisation)
    return sorted(other.id for other in others if _overlaps(session, nodes, polygon, other))


def _overlaps(
    session: Session, nodes: set[int], polygon: list[Any] | None, other: Organisation
) -> bool:
    if nodes and nodes & area_node_ids(session, other):
        return True
    theirs = _rings(other)
    return polygon is not None and theirs is not None and polygons_overlap(polygon, theirs)


def _rings(organisation: Organisation) -> list[Any] | None:
    if not organisation.licence_area_polygon:
        return None
    rings: list[Any] = json.loads(organisation.licence_area_polygon)["coordinates"]
    return rings


def conflicts_of(organisation: Organisation) -> list[str]:
    """The conflicts recorded on the organisation (empty when none)."""
    recorded: list[str] = json.loads(organisation.licence_conflicts or "[]")
    return recorded
