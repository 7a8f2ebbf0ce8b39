"""The shapes of a day that the fleet and its history share: sun and self-consumption for a
battery, when cars arrive, how cold it is, what the thermostat is set to.

Weekdays and weekends differ: on weekdays cars come home in the evening; at weekends fewer
cars charge, around midday; people at home use more of the PV themselves (less surplus for
the battery) and like it half a degree warmer.
"""

import math
import random
from datetime import date

from flexibility.battery import HomeBattery
from flexibility.ev_charger import ChargingSession
from flexibility.profile import SLOT_HOURS, SLOTS_PER_DAY

SATURDAY = 5
PV_SLOTS = range(40, 60)  # 10:00-15:00, when a home's PV exceeds its load
EVENING_SLOTS = range(72, 88)  # 18:00-22:00, when the battery covers the home's load
COLDEST_SLOT = 18  # 04:30


def is_weekend(day: date) -> bool:
    return day.weekday() >= SATURDAY


def outdoor_profile(mean_c: float, amplitude_c: float) -> tuple[float, ...]:
    """A day's outdoor temperature: coldest at 04:30, warmest twelve hours later."""
    return tuple(
        mean_c - amplitude_c * math.cos(2 * math.pi * (slot - COLDEST_SLOT) / SLOTS_PER_DAY)
        for slot in range(SLOTS_PER_DAY)
    )


def self_consumption_schedule(battery: HomeBattery, sun: float) -> tuple[int, ...]:
    """Charge from PV surplus (``sun`` 0..1 scales it) and discharge it over the evening.

    Starts from the battery's ``soc_start``; powers are rounded towards zero, so the schedule
    never asks for more energy or room than there is.
    """
    one_way = math.sqrt(battery.efficiency)
    capacity_wh = battery.capacity_kwh * 1000
    stored_wh = battery.soc_start * capacity_wh
    power = [0] * SLOTS_PER_DAY
    for k, slot in enumerate(PV_SLOTS):
        bell = sun * battery.power_w * math.sin(math.pi * (k + 0.5) / len(PV_SLOTS))
        room_wh = battery.soc_max * capacity_wh - stored_wh
        power[slot] = max(0, int(min(bell, room_wh / (SLOT_HOURS * one_way))))
        stored_wh += power[slot] * SLOT_HOURS * one_way
    usable_wh = stored_wh - battery.soc_min * capacity_wh
    evening_w = int(min(battery.power_w, usable_wh * one_way / SLOT_HOURS / len(EVENING_SLOTS)))
    for slot in EVENING_SLOTS:
        power[slot] = -max(0, evening_w)
    return tuple(power)


def charging_session(rng: random.Random, max_kw: float, day: date) -> tuple[ChargingSession, ...]:
    """The day's session, if the car charges: evening on weekdays, midday at weekends."""
    if rng.random() > (0.55 if is_weekend(day) else 0.9):
        return ()
    if is_weekend(day):
        arrival = rng.randint(40, 60)
        departure = min(SLOTS_PER_DAY, arrival + rng.randint(12, 32))
    else:
        arrival = min(80, max(64, round(rng.gauss(72, 3))))  # about 18:00
        departure = SLOTS_PER_DAY
    most_kwh = max_kw * (departure - arrival) * SLOT_HOURS
    energy_kwh = round(min(rng.uniform(4.0, 22.0), 0.8 * most_kwh), 1)
    return (ChargingSession(arrival, departure, energy_kwh),)


def weekend_boost_k(day: date) -> float:
    """How much warmer the thermostat is set on ``day``: half a degree at weekends."""
    return 0.5 if is_weekend(day) else 0.0


def setpoint_c(weekday_c: float, day: date) -> float:
    """The thermostat setting on ``day`` for a home set to ``weekday_c`` on weekdays."""
    return weekday_c + weekend_boost_k(day)
