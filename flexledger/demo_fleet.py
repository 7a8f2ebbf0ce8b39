"""The FSPs' side of the demo: their homes' assets, offers, activation and metering.

Thin glue over :mod:`flexibility`: it places each FSP's homes around the grid nodes where
the DSO forecasts congestion, turns the assets' flexibility into sell orders, follows the
activations the market sends, and simulates what the meters then record.
"""

import math
from dataclasses import dataclass, field
from datetime import date

from flexibility.delivery import energy_wh, simulate_asset_delivery
from flexibility.fleet import generate_fleet
from flexibility.offers import FlexOffer, OfferRules, asset_offers
from flexibility.portfolio import FleetAsset, GeoPoint
from grid.topology import GridNode
from oracle.types import SLOT_SECONDS, Direction

# The schematic coordinates of pandapower's CIGRE and Kerber networks, placed on a map:
# one unit is METRES_PER_UNIT metres east/north of ORIGIN (a town in Lower Saxony).
ORIGIN = GeoPoint(lat=52.2689, lon=10.5268)
METRES_PER_UNIT = 120.0
METRES_PER_DEGREE = 111_320.0
TECHNOLOGY = {"battery": "battery", "ev": "ev_charger", "heatpump": "heat_pump"}


def to_geo(x: float, y: float) -> GeoPoint:
    lat = ORIGIN.lat + y * METRES_PER_UNIT / METRES_PER_DEGREE
    lon = ORIGIN.lon + x * METRES_PER_UNIT / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
    return GeoPoint(round(lat, 7), round(lon, 7))


@dataclass
class Portfolio:
    """One FSP's assets and what it learns about them from the platform."""

    name: str
    assets: tuple[FleetAsset, ...]
    performance: float  # 1.0 delivers as told; the demo's weak FSP delivers about half
    asset_address: dict[str, str] = field(default_factory=dict)  # asset id -> on-chain id
    node_of: dict[str, int] = field(default_factory=dict)  # asset id -> confirmed node

    def by_address(self, address: str) -> FleetAsset:
        for asset in self.assets:
            if self.asset_address.get(asset.asset_id) == address:
                return asset
        raise KeyError(address)


def portfolio(
    name: str,
    homes: int,
    seed: int,
    nodes: list[GridNode],
    anchor_node_ids: set[int],
    day: date,
    kinds: set[str],
    performance: float,
) -> Portfolio:
    """Homes within 25 m of the anchor nodes, keeping the asset kinds this FSP runs."""
    anchors = [to_geo(n.x, n.y) for n in nodes if n.node_id in anchor_node_ids and n.x is not None]
    fleet = generate_fleet(homes, seed=seed, area=anchors, day=day, radius_m=25.0, home_prefix=name)
    kept = tuple(a for a in fleet if a.asset_id.rsplit("-", 1)[-1] in kinds)
    return Portfolio(name=name, assets=kept, performance=performance)


def technology(asset: FleetAsset) -> str:
    return TECHNOLOGY[asset.asset_id.rsplit("-", 1)[-1]]


def prequalified_kw(asset: FleetAsset) -> tuple[float, float]:
    """Up and down kW the FSP prequalifies: the largest the model can give in any slot."""
    flex = asset.model.flexibility()
    up = max(slot.up_w for slot in flex) / 1000
    down = max(slot.down_w for slot in flex) / 1000
    return round(max(up, 0.1), 1), round(down, 1)


def baseline_kwh(asset: FleetAsset) -> list[float]:
    return [wh / 1000 for wh in energy_wh(asset.model.baseline_w())]


def offers(
    asset: FleetAsset, node_id: int, day_start: int, first_slot: int, slot_count: int
) -> list[FlexOffer]:
    rules = OfferRules(block_slots=4, first_slot=first_slot, slot_count=slot_count)
    return asset_offers(asset, node_id, day_start, Direction.UP, rules)


def metered_kwh(
    asset: FleetAsset, activation: dict[int, int], performance: float, seed: int
) -> list[float]:
    """What the asset's meter records over the day with its activation (W per slot index)."""
    metered_w = simulate_asset_delivery(
        asset, activation, performance=performance, noise_std_w=60.0, seed=seed
    )
    return [wh / 1000 for wh in energy_wh(metered_w)]


def add_activation(
    activation: dict[int, int], schedule: list[dict[str, object]], day_start: int
) -> None:
    """Add an API activation schedule (kW per slot) to an asset's activation (W per slot
    index, positive up): one asset may deliver several trades in the same slots."""
    for entry in schedule:
        slot = (int(str(entry["slot_start"])) - day_start) // SLOT_SECONDS
        watts = round(float(str(entry["power_kw"])) * 1000)
        sign = 1 if entry["direction"] == "up" else -1
        activation[slot] = activation.get(slot, 0) + sign * watts
