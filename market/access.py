"""Who may see or act on an asset: its owner, the system operator of its node, everyone who
reads all (the market operator and auditors).

Licence areas are :mod:`market.grid_service`'s (every node at or below the operator's
licence nodes). An asset sits at its confirmed node, or at its proposed node until the
system operator confirms one.
"""

from dataclasses import dataclass

from eth_utils.address import is_hex_address, to_checksum_address
from sqlmodel import Session

from market.db.models import Asset, Organisation
from market.errors import ForbiddenError, NotFoundError
from market.grid_service import area_node_ids, in_licence_area


@dataclass(frozen=True, slots=True)
class Scope:
    """What a reader may see: everything (``sees_all``), or what its organisation owns or
    operates. An anonymous or unregistered reader sees nothing."""

    organisation: Organisation | None
    sees_all: bool = False

    @property
    def organisation_id(self) -> str | None:
        return None if self.organisation is None else self.organisation.id


def asset_node(asset: Asset) -> int:
    """The node an asset sits at: confirmed, else proposed."""
    return asset.node_id if asset.node_id is not None else asset.proposed_node_id


def licence_area(session: Session, organisation: Organisation) -> set[int]:
    """Every node a system operator may act on (none for any other kind)."""
    return area_node_ids(session, organisation)


def may_see_asset(session: Session, scope: Scope, asset: Asset) -> bool:
    organisation = scope.organisation
    if scope.sees_all:
        return True
    if organisation is None:
        return False
    if asset.owner_id == organisation.id:
        return True
    return in_licence_area(session, organisation, asset_node(asset))


def _find(session: Session, asset_id: str) -> Asset | None:
    if not is_hex_address(asset_id):
        return None
    return session.get(Asset, to_checksum_address(asset_id))


def get_asset(session: Session, asset_id: str, field: str = "asset_id") -> Asset:
    asset = _find(session, asset_id)
    if asset is None:
        raise NotFoundError(field, f"no asset {asset_id}; use the asset's on-chain address")
    return asset


def visible_asset(session: Session, scope: Scope, asset_id: str, field: str = "asset") -> Asset:
    """The asset, if ``scope`` may see it; else 404 (so that ids of others do not leak)."""
    asset = _find(session, asset_id)
    if asset is None or not may_see_asset(session, scope, asset):
        raise NotFoundError(field, f"no asset {asset_id} that you may see")
    return asset


def owned_asset(session: Session, owner: Organisation, asset_id: str, field: str) -> Asset:
    """The asset, which ``owner`` must own."""
    asset = get_asset(session, asset_id, field)
    if asset.owner_id != owner.id:
        raise ForbiddenError(field, f"asset {asset_id} belongs to another FSP")
    return asset
