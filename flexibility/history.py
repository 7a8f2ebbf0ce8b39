"""Synthetic metered history of one asset: 15-minute Wh, for baseline backtests.

Each local day gets its own conditions, drawn from a generator seeded by (seed, asset id,
date), so overlapping histories agree day by day: the battery's sun, whether and when the car
charges, the day's mean outdoor temperature (a day-to-day spread of 2.5 K around
``outdoor_mean_c``, kept within the heat pump's design margin) and the weekend setpoint. The
asset's baseline for those conditions is then metered with multiplicative Gaussian noise of
``noise_pct`` (behaviour and metering spread); consumption-only assets never read negative.
Pass the ``outdoor_mean_c`` the fleet was generated with: heat pumps are sized for it.

Slots follow the local wall clock (default Europe/Berlin): on daylight-saving days the repeated
hour repeats the profile's values and the skipped hour is skipped.
"""

import random
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flexibility import patterns
from flexibility.assets import Asset, EVCharger, HeatPump, HomeBattery
from flexibility.errors import FlexibilityInputError
from flexibility.fleet import DESIGN_MARGIN_K, OUTDOOR_AMPLITUDE_C, with_day_schedule
from flexibility.portfolio import FleetAsset

DAILY_SPREAD_K = 2.5
SLOT_SECONDS = 900


def history(
    asset: FleetAsset,
    start_day: date,
    days: int,
    seed: int,
    *,
    tz: str = "Europe/Berlin",
    noise_pct: float = 5.0,
    outdoor_mean_c: float = 4.0,
) -> dict[int, int]:
    """``{slot start (unix s, UTC): Wh}`` for ``days`` local days from ``start_day``."""
    if days < 1:
        raise FlexibilityInputError("days", f"{days} must be at least 1")
    if noise_pct < 0:
        raise FlexibilityInputError("noise_pct", f"{noise_pct} must not be negative")
    zone = ZoneInfo(tz)
    metered: dict[int, int] = {}
    for offset in range(days):
        day = start_day + timedelta(days=offset)
        rng = random.Random(f"{seed}:{asset.asset_id}:{day.isoformat()}")
        profile_w = day_variant(asset, day, rng, outdoor_mean_c).baseline_w()
        for slot in _local_day_slots(day, zone):
            power_w = profile_w[_wall_clock_index(slot, zone)]
            noisy_w = power_w * (1 + rng.gauss(0, noise_pct / 100))
            if not asset.model.can_generate:
                noisy_w = max(0.0, noisy_w)
            metered[slot] = round(noisy_w / 4)
    return metered


def day_variant(asset: FleetAsset, day: date, rng: random.Random, outdoor_mean_c: float) -> Asset:
    """The asset's model as it runs on ``day``: that day's sun, car and weather."""
    model = asset.model
    if isinstance(model, HomeBattery):
        return with_day_schedule(model, rng, day)
    if isinstance(model, EVCharger):
        return replace(model, sessions=patterns.charging_session(rng, model.max_kw, day))
    return _heat_pump_day(model, asset.day, day, rng, outdoor_mean_c)


def _heat_pump_day(
    model: HeatPump, model_day: date, day: date, rng: random.Random, outdoor_mean_c: float
) -> HeatPump:
    spread = max(-DESIGN_MARGIN_K, min(DESIGN_MARGIN_K, rng.gauss(0, DAILY_SPREAD_K)))
    half_band = (model.comfort_max_c - model.comfort_min_c) / 2
    weekday_setpoint = model.setpoint_c - patterns.weekend_boost_k(model_day)
    setpoint = patterns.setpoint_c(weekday_setpoint, day)
    return replace(
        model,
        setpoint_c=setpoint,
        comfort_min_c=setpoint - half_band,
        comfort_max_c=setpoint + half_band,
        outdoor_c=patterns.outdoor_profile(outdoor_mean_c + spread, OUTDOOR_AMPLITUDE_C),
    )


def _local_day_slots(day: date, zone: ZoneInfo) -> range:
    first = int(datetime.combine(day, time(0), tzinfo=zone).timestamp())
    end = int(datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).timestamp())
    return range(first, end, SLOT_SECONDS)


def _wall_clock_index(slot_start: int, zone: ZoneInfo) -> int:
    local = datetime.fromtimestamp(slot_start, UTC).astimezone(zone)
    return local.hour * 4 + local.minute // 15
