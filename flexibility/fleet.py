"""A seeded, realistic FSP portfolio: homes with batteries, EV chargers and heat pumps.

Homes are scattered uniformly over a bounding box, or within ``radius_m`` of points the
caller gives (the lead passes grid bus coordinates, so each home lands near a bus). Every
asset gets its own meter point (asset-level metering), an 18-digit EAN with a GS1 check digit
starting "871". The same arguments always give the same fleet.

Parameter ranges (uniform unless said): battery 5-15 kWh, 0.5 C power capped 3-5 kW,
90 % round trip, degradation 30-80 EUR/MWh; EV charger 3.7, 11 or 22 kW; heat pump COP
2.8-4.0 in a house of 8-16 kWh/K and 0.12-0.30 kW/K, comfort band of +-1.0-1.5 K, sized for
a design day 10 K colder than the day's mean with 25 % margin.
"""

import math
import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from flexibility import patterns
from flexibility.assets import Asset, EVCharger, HeatPump, HomeBattery
from flexibility.errors import FlexibilityInputError
from flexibility.portfolio import BoundingBox, FleetAsset, GeoPoint

EAN_PREFIX = "871"
METRES_PER_DEGREE = 111_320.0
DESIGN_MARGIN_K = 10.0
OUTDOOR_AMPLITUDE_C = 4.0


def generate_fleet(
    homes: int,
    *,
    seed: int,
    area: BoundingBox | Sequence[GeoPoint],
    day: date,
    radius_m: float = 200.0,
    outdoor_mean_c: float = 4.0,
    home_prefix: str = "home",
) -> tuple[FleetAsset, ...]:
    """``homes`` homes with one to three assets each, modelled for ``day``."""
    if homes < 1:
        raise FlexibilityInputError("homes", f"{homes} must be at least 1")
    if not isinstance(area, BoundingBox) and not area:
        raise FlexibilityInputError("area", "no points given; pass bus coordinates or a box")
    rng = random.Random(seed)
    meter_points: set[str] = set()
    fleet: list[FleetAsset] = []
    for number in range(1, homes + 1):
        home_id = f"{home_prefix}-{number:04d}"
        location = _location(rng, area, radius_m)
        for kind, model in _home_assets(rng, day, outdoor_mean_c):
            fleet.append(
                FleetAsset(
                    asset_id=f"{home_id}-{kind}",
                    home_id=home_id,
                    meter_point_id=_new_meter_point(rng, meter_points),
                    location=location,
                    model=model,
                    day=day,
                )
            )
    return tuple(fleet)


def ean_check_digit(body: str) -> int:
    """The GS1 check digit of a 17-digit body (weights 3, 1, 3, ... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def _new_meter_point(rng: random.Random, taken: set[str]) -> str:
    while True:
        body = EAN_PREFIX + "".join(str(rng.randrange(10)) for _ in range(14))
        ean = body + str(ean_check_digit(body))
        if ean not in taken:
            taken.add(ean)
            return ean


def _location(
    rng: random.Random, area: BoundingBox | Sequence[GeoPoint], radius_m: float
) -> GeoPoint:
    if isinstance(area, BoundingBox):
        return GeoPoint(rng.uniform(area.south, area.north), rng.uniform(area.west, area.east))
    anchor = rng.choice(list(area))
    distance = radius_m * math.sqrt(rng.random())  # uniform over the disc
    bearing = rng.uniform(0, 2 * math.pi)
    d_lat = distance * math.cos(bearing) / METRES_PER_DEGREE
    d_lon = distance * math.sin(bearing) / (METRES_PER_DEGREE * math.cos(math.radians(anchor.lat)))
    return GeoPoint(anchor.lat + d_lat, anchor.lon + d_lon)


def _home_assets(rng: random.Random, day: date, outdoor_mean_c: float) -> list[tuple[str, Asset]]:
    assets: list[tuple[str, Asset]] = []
    if rng.random() < 0.5:
        assets.append(("battery", _battery(rng, day)))
    if rng.random() < 0.5:
        assets.append(("ev", _ev_charger(rng, day)))
    if rng.random() < 0.4 or not assets:
        assets.append(("heatpump", _heat_pump(rng, day, outdoor_mean_c)))
    return assets


def _battery(rng: random.Random, day: date) -> HomeBattery:
    capacity_kwh = round(rng.uniform(5.0, 15.0), 1)
    battery = HomeBattery(
        capacity_kwh=capacity_kwh,
        power_kw=round(min(5.0, max(3.0, capacity_kwh / 2)), 1),
        soc_start=round(rng.uniform(0.2, 0.6), 2),
        soc_min=0.1,
        efficiency=0.9,
        degradation_eur_per_mwh=round(rng.uniform(30.0, 80.0)),
    )
    return with_day_schedule(battery, rng, day)


def with_day_schedule(battery: HomeBattery, rng: random.Random, day: date) -> HomeBattery:
    """The battery with a self-consumption schedule for ``day`` (the sun drawn from ``rng``)."""
    sun = rng.uniform(0.1, 1.0) * (0.6 if patterns.is_weekend(day) else 1.0)
    return replace(battery, schedule_w=patterns.self_consumption_schedule(battery, sun))


def _ev_charger(rng: random.Random, day: date) -> EVCharger:
    max_kw = rng.choice((3.7, 11.0, 11.0, 22.0))
    return EVCharger(
        max_kw=max_kw,
        sessions=patterns.charging_session(rng, max_kw, day),
        shift_cost_eur_per_mwh=round(rng.uniform(15.0, 45.0)),
    )


def _heat_pump(rng: random.Random, day: date, outdoor_mean_c: float) -> HeatPump:
    cop = round(rng.uniform(2.8, 4.0), 2)
    loss_kw_per_k = round(rng.uniform(0.12, 0.30), 3)
    base_setpoint_c = round(rng.uniform(19.5, 21.5), 1)
    band_k = round(rng.uniform(1.0, 1.5), 1)
    design_c = outdoor_mean_c - DESIGN_MARGIN_K - OUTDOOR_AMPLITUDE_C
    design_kw = 1.25 * loss_kw_per_k * (base_setpoint_c + 0.5 + band_k - design_c) / cop
    setpoint_c = patterns.setpoint_c(base_setpoint_c, day)
    return HeatPump(
        electric_kw=math.ceil(design_kw * 2) / 2,
        cop=cop,
        thermal_capacity_kwh_per_k=round(rng.uniform(8.0, 16.0), 1),
        heat_loss_kw_per_k=loss_kw_per_k,
        setpoint_c=setpoint_c,
        comfort_min_c=setpoint_c - band_k,
        comfort_max_c=setpoint_c + band_k,
        outdoor_c=patterns.outdoor_profile(outdoor_mean_c, OUTDOOR_AMPLITUDE_C),
        comfort_cost_eur_per_mwh=round(rng.uniform(40.0, 90.0)),
    )
