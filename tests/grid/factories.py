"""Canned grids and days for the grid tests.

The demo day is a cold January evening on pandapower's CIGRE LV grid ("evening-peak"): the
residential transformer overloads 18:15-20:15 and the feeder ends fall under 0.95 p.u. The PV
day is a clear July noon on the same grid with rooftop PV ("sunny-noon"): over-voltage.
"""

from datetime import date

import pandapower as pp
from pandapower.auxiliary import pandapowerNet

from grid import FlexNeed, Limits, ScenarioProfiles, Violation, apply_needs
from grid.timeseries import SlotSolver
from grid.violations import slot_violations

WINTER_DAY = date(2026, 1, 15)
SUMMER_DAY = date(2026, 7, 15)
SEED = 7


def chain_network(buses: int) -> pandapowerNet:
    """An external grid and ``buses - 1`` short 0.4 kV cables in a row: depth ``buses``."""
    net = pp.create_empty_network()
    names = [f"bus {number}" for number in range(buses)]
    index = list(pp.create_buses(net, buses, vn_kv=0.4, name=names))
    pp.create_ext_grid(net, index[0])
    pp.create_lines(net, index[:-1], index[1:], length_km=0.01, std_type="NAYY 4x150 SE")
    pp.create_load(net, index[-1], p_mw=0.01)
    return net


def violations_when_delivered(
    net: pandapowerNet, profiles: ScenarioProfiles, needs: list[FlexNeed], limits: Limits
) -> list[Violation]:
    """The violations left in the slots the needs cover, with every need delivered in full.

    Cheaper than a whole ``run_day`` (only those slots are solved); the other slots carry no
    flexibility, so they are as before.
    """
    solver = SlotSolver(net, apply_needs(profiles, needs))
    slots = sorted({need.slot for need in needs})
    return [v for slot in slots for v in slot_violations(net, solver.solve(slot), slot, limits)]
