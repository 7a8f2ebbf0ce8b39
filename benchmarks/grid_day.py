"""Grid analytics speed: a forecast day of 96 power flows, and the flexibility needs, per network.

Run from the repository root: ``python -m benchmarks.grid_day`` (``--repeats 1`` for a smoke
run). Prints a table and writes benchmarks/results/grid_day.json.

Each network gets its demo day (seeded, so every run computes the same flows): the winter
evening peak, or a sunny July noon for the grid with rooftop PV. Timed, per network:

* ``first_flow_s``: the first power flow of the process for that network (for the first
  network this includes numba's compilation, a once-per-process cost);
* ``day_s``: ``run_day``, 96 power flows (numba, recycled admittances, warm start);
* ``needs_s``: ``flexibility_needs`` for that day's violations (its own power flows included).
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from pandapower.auxiliary import pandapowerNet

from grid import (
    DayResult,
    FlexNeed,
    ScenarioProfiles,
    day_profiles,
    find_violations,
    flexibility_needs,
    load_network,
    run_day,
)
from grid.timeseries import SlotSolver

RESULTS = Path(__file__).resolve().parent / "results" / "grid_day.json"
SEED = 7
DAYS = {  # network -> (scenario, day)
    "cigre-lv": ("evening-peak", date(2026, 1, 15)),
    "cigre-mv": ("evening-peak", date(2026, 1, 15)),
    "cigre-lv-pv": ("sunny-noon", date(2026, 7, 15)),
    "kerber-extrem-landnetz-kabel": ("evening-peak", date(2026, 1, 15)),
}


def measure(name: str, repeats: int) -> dict[str, Any]:
    """Times one network's demo day: the first flow, ``repeats`` days and needs (medians)."""
    scenario, day = DAYS[name]
    net = load_network(name)
    profiles = day_profiles(net, day, SEED, scenario)
    started = time.perf_counter()
    SlotSolver(net, profiles).solve(0)
    first_flow_s = time.perf_counter() - started
    days = [run_day(net, profiles) for _ in range(repeats)]
    day_s = statistics.median(result.elapsed_s for result in days)
    day_s_min = min(result.elapsed_s for result in days)
    needs_s, needs = _time_needs(net, profiles, days[0], repeats)
    violations = find_violations(net, days[0])
    return {
        "network": name,
        "scenario": scenario,
        "day": day.isoformat(),
        "buses": len(net.bus),
        "first_flow_s": round(first_flow_s, 3),
        "day_s": round(day_s, 3),
        "day_s_min": round(day_s_min, 3),
        "flows_per_s": round(96 / day_s),
        "violating_slots": len({v.slot for v in violations}),
        "needs": len(needs),
        "needs_s": round(needs_s, 3),
    }


def _time_needs(
    net: pandapowerNet, profiles: ScenarioProfiles, result: DayResult, repeats: int
) -> tuple[float, list[FlexNeed]]:
    times: list[float] = []
    needs: list[FlexNeed] = []
    for _ in range(repeats):
        started = time.perf_counter()
        needs = flexibility_needs(net, profiles, result)
        times.append(time.perf_counter() - started)
    return statistics.median(times), needs


_TABLE = (  # key, title, alignment and width, number format
    ("network", "network", "<30", ""),
    ("buses", "buses", ">6", ""),
    ("flows_per_s", "flows/s", ">9", ","),
    ("day_s", "day s", ">8", ".2f"),
    ("day_s_min", "min s", ">8", ".2f"),
    ("first_flow_s", "first flow s", ">14", ".2f"),
    ("violating_slots", "bad slots", ">11", ""),
    ("needs", "needs", ">7", ""),
    ("needs_s", "needs s", ">9", ".2f"),
)


def _print(rows: list[dict[str, Any]]) -> None:
    print("".join(f"{title:{align}}" for _, title, align, _ in _TABLE))
    for row in rows:
        print("".join(f"{row[key]:{align}{style}}" for key, _, align, style in _TABLE))


def _report(repeats: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "made_by": f"python -m benchmarks.grid_day --repeats {repeats}",
        "seed": SEED,
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "timing": (
            "wall clock, median (and min) of the repeats; day_s is run_day's 96 power flows "
            "(pandapower runpp, numba, recycle); needs_s is flexibility_needs on that day; "
            "flows_per_s is 96 / day_s"
        ),
        "runs": rows,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measures every demo network, prints the table, writes the JSON; returns the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    rows = [measure(name, args.repeats) for name in DAYS]
    _print(rows)
    report = _report(args.repeats, rows)
    if not args.no_write:
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
