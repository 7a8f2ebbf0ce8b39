"""flexibility: the FSP side - asset models, a seeded fleet, offers, unit selection, metering.

    from flexibility import generate_fleet, node_offers, select_units, simulate_asset_delivery

    fleet = generate_fleet(40, seed=1, area=bus_points, day=date(2026, 11, 27))
    offers = node_offers(fleet, node_of, day_start_s, Direction.UP)      # FlexOffer, ...
    plan = select_units(bid, assets_below_node, day_start_s=day_start_s)  # UC 3.3
    metered_w = simulate_asset_delivery(asset, plan.activation(asset.asset_id), seed=7)

Units: integer W per 15-minute slot of a 96-slot day (index 0..95), positive = consumption;
prices in euro cents per MWh; activations are ``{slot index: W}``, positive = up
(:mod:`flexibility.profile`). Plain data in and out: no database, no chain, no web.
Errors: :mod:`flexibility.errors`.
"""

from flexibility.assets import Asset, ChargingSession, EVCharger, FlexAsset, HeatPump, HomeBattery
from flexibility.delivery import energy_wh, simulate_asset_delivery, simulate_metering
from flexibility.errors import FlexibilityError, FlexibilityInputError, InfeasibleError
from flexibility.fleet import ean_check_digit, generate_fleet
from flexibility.history import history
from flexibility.offers import DEFAULT_RULES, FlexOffer, OfferRules, asset_offers, node_offers
from flexibility.portfolio import BoundingBox, FleetAsset, GeoPoint
from flexibility.profile import SLOTS_PER_DAY, Activation, SlotFlex
from flexibility.selection import Selection, SoldBid, UnitDispatch, select_units

__all__ = [
    "DEFAULT_RULES",
    "SLOTS_PER_DAY",
    "Activation",
    "Asset",
    "BoundingBox",
    "ChargingSession",
    "EVCharger",
    "FleetAsset",
    "FlexAsset",
    "FlexOffer",
    "FlexibilityError",
    "FlexibilityInputError",
    "GeoPoint",
    "HeatPump",
    "HomeBattery",
    "InfeasibleError",
    "OfferRules",
    "Selection",
    "SlotFlex",
    "SoldBid",
    "UnitDispatch",
    "asset_offers",
    "ean_check_digit",
    "energy_wh",
    "generate_fleet",
    "history",
    "node_offers",
    "select_units",
    "simulate_asset_delivery",
    "simulate_metering",
]
