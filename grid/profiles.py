"""Tomorrow's 96 quarter-hour profiles for every load and static generator of a network.

Sign conventions are pandapower's, per table: ``load_p_mw`` is consumption (positive draws
power), ``sgen_p_mw`` is generation (positive feeds in), and ``flex_p_mw`` is activated
flexibility as extra consumption at a bus (negative = "up": less consumption or more
generation). Slot ``s`` covers ``[s * 15 min, (s + 1) * 15 min)`` of the day, in UTC.

Everything is deterministic: the random parts (weather, per-load noise, EV arrival) are drawn
from ``numpy.random.default_rng((seed, day.toordinal()))``.

Shapes (``h`` is the hour at the middle of a slot, ``g(h; m, w) = exp(-((h - m) / w)² / 2)``):

* residential (BDEW H0-like, winter weekday), peak 1 at the evening peak::

      h0(h) = (0.30 + 0.30 g(h; 7.5, 1.0) + 0.35 g(h; 12.5, 1.5) + 0.70 g(h; 19.0, 2.0)) / max

* commercial (G0-like): a business-hours plateau with soft edges and a lunch dip::

      c(h) = 0.25 + 0.75 σ(2 (h - 7.5)) σ(2 (18.5 - h)) (1 - 0.10 g(h; 12.75, 0.6))

  with ``σ(z) = 1 / (1 + e^-z)``; loads whose name is ``Load C…``, ``Load I…`` or ``Load CI…``
  (the CIGRE naming) are commercial, all others residential;
* EV charging (evening arrival, ~3 h charge): ``ev(h) = g(h; 19.5 + a, 1.6)``, with an
  arrival shift ``a ~ U(-0.5, 0.5)`` h per load;
* heat pump (temperature-driven): ``hp(h) = clip((15 - T(h)) / (15 - (-12)), 0, 1)``, i.e. off
  above the 15 °C heating limit and full at the -12 °C design temperature; outdoor temperature
  ``T(h) = 9.5 - 9 cos(2π (doy - 20) / 365) + ΔT + 4 cos(2π (h - 15) / 24)`` (Central European
  seasons, coldest late January, daily minimum at 03:00, maximum at 15:00);
* PV (clear-sky bell, zero at night): with day length ``D = 12 + 4.2 sin(2π (doy - 80) / 365)``
  h around solar noon 11:30 UTC (about 50° N, 8° E)::

      pv(h) = k(doy) sin(π (h - sunrise) / D)^1.2 (1 - cloudiness · cloud(h)),  sunrise < h < sunset

  where ``k(doy)`` is the sine of the noon sun elevation relative to June's and ``cloud(h)`` a
  seeded smooth random process in [0, 1];
* wind (sgens of type ``WP``/``WT``): capacity factor ``clip(0.35 + 0.25 z(h), 0.02, 0.95)``
  with ``z`` a seeded smooth standard-normal process; other generators run at their rating.

A residential load draws ``p_nominal (r h0 + e ev + q hp)`` and a commercial one
``p_nominal m c``, each times ``1 + 0.04 z(h)`` of seeded noise; PV and wind multiply the
generator's ``p_mw`` (its installed power in the reference grids). ``r, e, q, m`` and the PV
scale come from the scenario (``SCENARIOS``).
"""

import math
import re
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

import numpy as np
import pandas as pd
from pandapower.auxiliary import pandapowerNet

from grid.errors import GridInputError

SLOTS = 96
SLOT_HOURS = 0.25
HOURS = (np.arange(SLOTS) + 0.5) * SLOT_HOURS  # the middle of each slot
SOLAR_NOON_UTC_H = 11.5
LATITUDE_DEG = 50.0
HEATING_LIMIT_C = 15.0
DESIGN_TEMPERATURE_C = -12.0

_COMMERCIAL_NAME = re.compile(r"^Load (CI|C|I)\d")
_WIND_TYPES = {"WP", "WT", "wind"}


class Scenario(StrEnum):
    """The days the demo can ask for."""

    TYPICAL = "typical"
    EVENING_PEAK = "evening-peak"
    SUNNY_NOON = "sunny-noon"


@dataclass(frozen=True)
class ScenarioSpec:
    """Multipliers of the shapes (see the module docstring), relative to nominal powers."""

    residential_peak: float  # r: H0 peak as a multiple of a residential load's p_mw
    ev_peak: float  # e: EV charging peak, same reference
    heat_pump_peak: float  # q: heat pumps at the design temperature, same reference
    commercial_peak: float  # m: commercial plateau as a multiple of its p_mw
    pv_peak: float  # PV at clear-sky June noon as a multiple of the generator's p_mw
    max_cloudiness: float  # the day's cloudiness is drawn from U(0, max_cloudiness)
    temperature_offset_c: float  # added to the seasonal temperature (plus U(-2, 2) °C)


SCENARIOS: dict[Scenario, ScenarioSpec] = {
    # An ordinary day: little EV and heat-pump load, some clouds.
    Scenario.TYPICAL: ScenarioSpec(0.8, 0.10, 0.10, 0.45, 0.80, 0.6, 0.0),
    # High EV and heat-pump adoption on a cold day: the evening peak congests LV and MV
    # transformers and feeders (the market day's demo).
    Scenario.EVENING_PEAK: ScenarioSpec(0.7, 0.50, 0.20, 0.45, 0.80, 0.6, -2.0),
    # Clear sky, light load and a lot of PV: midday feed-in raises voltages and reverses flows.
    Scenario.SUNNY_NOON: ScenarioSpec(0.5, 0.05, 0.0, 0.40, 1.0, 0.05, 6.0),
}


@dataclass(frozen=True)
class ScenarioProfiles:
    """Per-slot active powers (index: slots 0..95) for one network and day.

    Columns are element indices: ``net.load`` for ``load_p_mw``, ``net.sgen`` for
    ``sgen_p_mw``, buses for ``flex_p_mw`` (empty until flexibility is applied).
    """

    day: date
    seed: int
    scenario: str
    load_p_mw: pd.DataFrame
    sgen_p_mw: pd.DataFrame
    flex_p_mw: pd.DataFrame
    outdoor_temperature_c: pd.Series

    def with_flex(self, flex_p_mw: pd.DataFrame) -> "ScenarioProfiles":
        """The same day with ``flex_p_mw`` as the activated flexibility."""
        return replace(self, flex_p_mw=flex_p_mw)


def day_profiles(
    net: pandapowerNet, day: date, seed: int, scenario: Scenario | str | ScenarioSpec
) -> ScenarioProfiles:
    """Profiles of every load and static generator of ``net`` for ``day``."""
    spec = _spec(scenario)
    rng = np.random.default_rng((seed, day.toordinal()))
    temperature = outdoor_temperature_c(day, spec.temperature_offset_c + rng.uniform(-2, 2))
    cloudiness = rng.uniform(0, spec.max_cloudiness)
    heat_pump = heat_pump_shape(temperature)
    loads = {
        int(index): _load_profile(float(p_mw), _text(name), spec, heat_pump, rng)
        for index, p_mw, name in zip(net.load.index, net.load.p_mw, net.load["name"], strict=True)
    }
    sgens = {
        int(index): _sgen_profile(float(p_mw), _text(kind), spec, day, cloudiness, rng)
        for index, p_mw, kind in zip(net.sgen.index, net.sgen.p_mw, net.sgen["type"], strict=True)
    }
    return ScenarioProfiles(
        day=day,
        seed=seed,
        scenario=_spec_name(scenario),
        load_p_mw=_frame(loads, net.load.index),
        sgen_p_mw=_frame(sgens, net.sgen.index),
        flex_p_mw=pd.DataFrame(index=pd.RangeIndex(SLOTS, name="slot"), dtype=float),
        outdoor_temperature_c=pd.Series(temperature, index=pd.RangeIndex(SLOTS, name="slot")),
    )


def _spec_name(scenario: Scenario | str | ScenarioSpec) -> str:
    return "custom" if isinstance(scenario, ScenarioSpec) else str(Scenario(scenario))


def _spec(scenario: Scenario | str | ScenarioSpec) -> ScenarioSpec:
    if isinstance(scenario, ScenarioSpec):
        return scenario
    try:
        return SCENARIOS[Scenario(scenario)]
    except ValueError:
        allowed = ", ".join(s.value for s in Scenario)
        raise GridInputError(
            "scenario", f"unknown scenario {scenario!r}; use one of: {allowed}"
        ) from None


def _text(value: object) -> str:
    """A name or type from the model; missing ones (None, NaN) are empty."""
    return value if isinstance(value, str) else ""


def _frame(columns: dict[int, np.ndarray], index: pd.Index) -> pd.DataFrame:
    frame = pd.DataFrame(columns, index=pd.RangeIndex(SLOTS, name="slot"), dtype=float)
    return frame.reindex(columns=[int(i) for i in index])


def _gauss(hours: np.ndarray, middle: float, width: float) -> np.ndarray:
    return np.asarray(np.exp(-0.5 * ((hours - middle) / width) ** 2))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def smooth_noise(rng: np.random.Generator, phi: float = 0.9) -> np.ndarray:
    """A stationary AR(1) process with standard-normal marginals, one value per slot."""
    shocks = rng.standard_normal(SLOTS)
    values = np.empty(SLOTS)
    values[0] = shocks[0]
    for slot in range(1, SLOTS):
        values[slot] = phi * values[slot - 1] + math.sqrt(1 - phi**2) * shocks[slot]
    return values


def residential_shape() -> np.ndarray:
    """H0-like residential shape, peak 1 in the evening."""
    shape = (
        0.30
        + 0.30 * _gauss(HOURS, 7.5, 1.0)
        + 0.35 * _gauss(HOURS, 12.5, 1.5)
        + 0.70 * _gauss(HOURS, 19.0, 2.0)
    )
    return np.asarray(shape / shape.max())


def commercial_shape() -> np.ndarray:
    """Business-hours plateau (08:00-18:00) with a lunch dip, night base 0.25."""
    plateau = _sigmoid(2 * (HOURS - 7.5)) * _sigmoid(2 * (18.5 - HOURS))
    return np.asarray(0.25 + 0.75 * plateau * (1 - 0.10 * _gauss(HOURS, 12.75, 0.6)))


def ev_shape(arrival_shift_h: float) -> np.ndarray:
    """Evening EV charging, peak 1 at 19:30 plus the arrival shift."""
    return np.asarray(_gauss(HOURS, 19.5 + arrival_shift_h, 1.6))


def outdoor_temperature_c(day: date, offset_c: float) -> np.ndarray:
    """Seasonal mean plus a daily swing (see the module docstring)."""
    doy = day.timetuple().tm_yday
    seasonal = 9.5 - 9.0 * math.cos(2 * math.pi * (doy - 20) / 365)
    return np.asarray(seasonal + offset_c + 4.0 * np.cos(2 * math.pi * (HOURS - 15) / 24))


def heat_pump_shape(temperature_c: np.ndarray) -> np.ndarray:
    """Heat-pump power, 0 above the heating limit and 1 at the design temperature."""
    span = HEATING_LIMIT_C - DESIGN_TEMPERATURE_C
    return np.asarray(np.clip((HEATING_LIMIT_C - temperature_c) / span, 0.0, 1.0))


def pv_clear_sky_shape(day: date) -> np.ndarray:
    """Clear-sky PV, relative to a June noon; exactly 0 before sunrise and after sunset."""
    doy = day.timetuple().tm_yday
    season = math.sin(2 * math.pi * (doy - 80) / 365)
    day_length_h = 12.0 + 4.2 * season
    sunrise = SOLAR_NOON_UTC_H - day_length_h / 2
    phase = (HOURS - sunrise) / day_length_h
    bell = np.where((phase > 0) & (phase < 1), np.sin(np.pi * np.clip(phase, 0, 1)), 0.0) ** 1.2
    noon_elevation = math.radians(90 - LATITUDE_DEG + 23.44 * season)
    june = math.radians(90 - LATITUDE_DEG + 23.44)
    return np.asarray(bell * math.sin(noon_elevation) / math.sin(june))


def _load_profile(
    p_mw: float,
    name: str,
    spec: ScenarioSpec,
    heat_pump: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    if _COMMERCIAL_NAME.match(name):
        shape = spec.commercial_peak * commercial_shape()
    else:
        ev = ev_shape(rng.uniform(-0.5, 0.5))
        shape = (
            spec.residential_peak * residential_shape()
            + spec.ev_peak * ev
            + spec.heat_pump_peak * heat_pump
        )
    return np.asarray(p_mw * shape * (1 + 0.04 * smooth_noise(rng)))


def _sgen_profile(
    p_mw: float,
    kind: str,
    spec: ScenarioSpec,
    day: date,
    cloudiness: float,
    rng: np.random.Generator,
) -> np.ndarray:
    if kind == "PV":
        clouds = 1 - cloudiness * _sigmoid(1.5 * smooth_noise(rng, phi=0.8))
        return np.asarray(p_mw * spec.pv_peak * pv_clear_sky_shape(day) * clouds)
    if kind in _WIND_TYPES:
        return np.asarray(p_mw * np.clip(0.35 + 0.25 * smooth_noise(rng, phi=0.95), 0.02, 0.95))
    return np.full(SLOTS, float(p_mw))
