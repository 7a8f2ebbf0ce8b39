"""Plain factories for flexibility tests: small assets with numbers easy to check by hand."""

from dataclasses import replace
from datetime import date

from flexibility import ChargingSession, EVCharger, FleetAsset, GeoPoint, HeatPump, HomeBattery
from flexibility.assets import Asset
from flexibility.patterns import outdoor_profile

DAY = date(2026, 11, 27)  # a Friday
DAY_START_S = 1_795_734_000  # 2026-11-27T00:00 Europe/Berlin


def battery(**changes: object) -> HomeBattery:
    """10 kWh, 5 kW, half full, 81 % round trip (0.9 each way), idle."""
    base = HomeBattery(
        capacity_kwh=10.0,
        power_kw=5.0,
        soc_start=0.5,
        soc_min=0.1,
        efficiency=0.81,
        degradation_eur_per_mwh=45.0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def ev(**changes: object) -> EVCharger:
    """11 kW; one car from 18:00 (slot 72) to midnight needing 11 kWh."""
    base = EVCharger(max_kw=11.0, sessions=(ChargingSession(72, 96, 11.0),))
    return replace(base, **changes)  # type: ignore[arg-type]


def heat_pump(**changes: object) -> HeatPump:
    """3 kW electric, COP 3, 12 kWh/K, 0.2 kW/K, 20.5 degC +- 1 K, a 2 degC day."""
    base = HeatPump(
        electric_kw=3.0,
        cop=3.0,
        thermal_capacity_kwh_per_k=12.0,
        heat_loss_kw_per_k=0.2,
        setpoint_c=20.5,
        comfort_min_c=19.5,
        comfort_max_c=21.5,
        outdoor_c=outdoor_profile(2.0, 4.0),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def registered(model: Asset, asset_id: str = "a-1") -> FleetAsset:
    return FleetAsset(
        asset_id=asset_id,
        home_id="home-1",
        meter_point_id="871000000000000001",
        location=GeoPoint(52.5, 13.4),
        model=model,
        day=DAY,
    )
