"""The DSO's side of the demo: tomorrow's power flows, the congestion they show, what
flexibility is needed where, and the same day again with the flexibility that was metered.

Thin glue over :mod:`grid`; the market never sees pandapower objects, only node ids, slots
and kW.
"""

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import pandas as pd
from pandapower.auxiliary import pandapowerNet

from flexledger.demo_report import ElementSeries
from grid.congestion import FlexNeed, flexibility_needs
from grid.networks import load_network
from grid.profiles import Scenario, ScenarioProfiles, day_profiles
from grid.timeseries import DayResult, run_day
from grid.topology import GridNode, node_tree
from grid.violations import Limits, Violation, find_violations

# A cold winter evening with many EVs and heat pumps: the residential feeder of CIGRE LV
# overloads its transformer and falls below the DSO's planning voltage (grid.profiles).
DEMO_SCENARIO = Scenario.EVENING_PEAK
# The statutory LV limits (EN 50160: ±10 % voltage) and the equipment's ratings.
DEMO_LIMITS = Limits(
    line_loading_pct=100.0, trafo_loading_pct=100.0, vm_min_pu=0.90, vm_max_pu=1.10
)
BLOCK_SLOTS = 4  # the DSO buys hourly blocks, the product NODES and Piclo trade


@dataclass(frozen=True, slots=True)
class BlockNeed:
    """What the DSO buys: ``kw`` held over ``slot_count`` slots from ``first_slot``."""

    node_id: int
    first_slot: int
    slot_count: int
    kw: int
    reason: str


@dataclass
class GridForecast:
    network: str
    net: pandapowerNet
    nodes: list[GridNode]
    profiles: ScenarioProfiles
    result: DayResult
    violations: list[Violation]
    needs: list[FlexNeed]

    @property
    def need_nodes(self) -> set[int]:
        return {need.node_id for need in self.needs}

    def blocks(self) -> list[BlockNeed]:
        """Needs per node and hourly block: the block's largest slot need, rounded up."""
        grouped: dict[tuple[int, int], list[FlexNeed]] = defaultdict(list)
        for need in self.needs:
            grouped[(need.node_id, need.slot // BLOCK_SLOTS)].append(need)
        return [
            BlockNeed(
                node_id=node_id,
                first_slot=block * BLOCK_SLOTS,
                slot_count=BLOCK_SLOTS,
                kw=max(1, math.ceil(max(n.kw for n in needs))),
                reason=needs[0].reason,
            )
            for (node_id, block), needs in sorted(grouped.items())
        ]


def forecast(network: str, day: date, seed: int) -> GridForecast:
    net = load_network(network)
    profiles = day_profiles(net, day, seed, DEMO_SCENARIO)
    result = run_day(net, profiles)
    violations = find_violations(net, result, DEMO_LIMITS)
    needs = flexibility_needs(net, profiles, result, DEMO_LIMITS) if violations else []
    return GridForecast(network, net, node_tree(net), profiles, result, violations, needs)


def with_delivered(
    forecast_: GridForecast, delivered_kw: dict[tuple[int, int], float]
) -> DayResult:
    """The day's power flows with the metered reduction ((bus, slot) -> kW, positive = up)."""
    # Signed, not grid.apply_flexibility: the rebound after an activation (a battery
    # recharging, an EV catching up) is extra consumption the after-run must see too.
    buses = sorted({bus for bus, _ in delivered_kw})
    frame = pd.DataFrame(0.0, index=forecast_.profiles.load_p_mw.index, columns=buses)
    for (bus, slot), kw in delivered_kw.items():
        frame.loc[slot, bus] -= kw / 1000.0  # flex_p_mw: negative is less consumption
    return run_day(forecast_.net, forecast_.profiles.with_flex(frame))


def worst_elements(
    forecast_: GridForecast, after: DayResult, count: int = 2
) -> list[ElementSeries]:
    """The most violated elements, before and after, for the report."""
    worst: dict[tuple[str, int], Violation] = {}
    for violation in forecast_.violations:
        key = (violation.element_kind, violation.element_index)
        if key not in worst or _severity(violation) > _severity(worst[key]):
            worst[key] = violation
    chosen = sorted(worst.values(), key=_severity, reverse=True)[:count]
    series = []
    for violation in chosen:
        before = forecast_.result.values(violation.element_kind)[violation.element_index]
        after_values = after.values(violation.element_kind)[violation.element_index]
        is_voltage = violation.element_kind == "bus"
        series.append(
            ElementSeries(
                name=f"{violation.element_name} ({'voltage' if is_voltage else 'loading'})",
                quantity="voltage p.u." if is_voltage else "loading %",
                limit=violation.limit,
                before=[float(v) for v in before],
                after=[float(v) for v in after_values],
                upper_limit=not (is_voltage and violation.value < violation.limit),
            )
        )
    return series


def remaining_violations(forecast_: GridForecast, after: DayResult) -> list[Violation]:
    return find_violations(forecast_.net, after, DEMO_LIMITS)


def _severity(violation: Violation) -> float:
    return abs(violation.value - violation.limit) / max(abs(violation.limit), 1e-9)
