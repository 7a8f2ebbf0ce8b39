"""An FSP's registered assets: identity, location and model (plain data)."""

from dataclasses import dataclass
from datetime import date

from flexibility.assets import Asset


@dataclass(frozen=True, slots=True)
class GeoPoint:
    """A WGS 84 position in decimal degrees."""

    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """A WGS 84 box: ``south <= lat <= north``, ``west <= lon <= east``."""

    south: float
    west: float
    north: float
    east: float


@dataclass(frozen=True, slots=True)
class FleetAsset:
    """One asset as the FSP registers it: its own meter point, its home, where it sits, and
    its model as it runs on ``day`` (that day's car sessions, weather, battery plan)."""

    asset_id: str
    home_id: str
    meter_point_id: str
    location: GeoPoint
    model: Asset
    day: date
