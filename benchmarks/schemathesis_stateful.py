"""Stateful Schemathesis over the whole API for minutes: calls, links followed, 5xx count.

Run from the repository root: ``python -m benchmarks.schemathesis_stateful`` (``--minutes 5``
by default, split evenly between an FSP, a DSO and the market operator; ``--minutes 0.5``
for a smoke run). The scenarios, the world they run against and what is recorded are those
of the CI test (tests/market/api/stateful_fuzz.py), only longer: the platform runs in this
process (the API through its ASGI app, the embedded chain, one pump round after each
scenario). Prints one row per actor and writes benchmarks/results/schemathesis_stateful.json.
The target of the issue: 0 server errors.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.market.api.market_cast import build_cast
from tests.market.api.platform_world import start
from tests.market.api.stateful_fuzz import Figures, actors, run_actor, seed_orders

RESULTS = Path(__file__).resolve().parent / "results" / "schemathesis_stateful.json"
SCENARIOS_PER_ROUND = 25
STEPS_PER_SCENARIO = 10
MAX_ROUNDS = 10_000  # the clock ends a run long before
SEED_ORDERS = 5


def _progress(figures: Figures) -> None:
    print(
        f"  {figures.actor}: {figures.wall_s:6.0f} s, {figures.calls:,} calls, "
        f"{figures.links_followed:,} via links, {len(figures.server_errors)} 5xx",
        flush=True,
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="flexledger-stateful-") as tmp:
        cast = build_cast(start(Path(tmp), rate_limit_burst=100_000))
        try:
            seed_orders(cast, SEED_ORDERS)
            roles = actors(cast)
            seconds = 60 * args.minutes / len(roles)
            rows = [
                run_actor(
                    cast,
                    name,
                    actor,
                    scenarios_per_round=SCENARIOS_PER_ROUND,
                    steps_per_scenario=STEPS_PER_SCENARIO,
                    seconds=seconds,
                    max_rounds=MAX_ROUNDS,
                    progress=_progress,
                ).as_dict()
                for name, actor in roles.items()
            ]
        finally:
            cast.world.close()
    report = _report(args, rows, time.perf_counter() - started)
    _print(report)
    if not args.no_write:
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return report


def _report(args: argparse.Namespace, rows: list[dict[str, Any]], wall_s: float) -> dict[str, Any]:
    return {
        "made_by": f"python -m benchmarks.schemathesis_stateful --minutes {args.minutes:g}",
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "target": "0 server errors (5xx) in stateful scenarios over the whole API",
        "how": (
            "schemathesis state machine from /api/v1/openapi.json (declared and inferred "
            f"OpenAPI links), {SCENARIOS_PER_ROUND} scenarios of up to {STEPS_PER_SCENARIO} "
            "calls per round, rounds until the actor's share of the time is spent; one pump "
            "round after each scenario; POST /auth/logout and /auth/revoke left out (they "
            "end the run's own session)"
        ),
        "totals": {
            "calls": sum(row["calls"] for row in rows),
            "links_followed": sum(row["links_followed"] for row in rows),
            "server_errors": sum(row["server_errors"] for row in rows),
            "scenarios": sum(row["scenarios"] for row in rows),
            "wall_s": round(wall_s, 1),
        },
        "actors": rows,
    }


def _print(report: dict[str, Any]) -> None:
    print(f"{'actor':<10}{'scenarios':>11}{'calls':>9}{'via links':>11}{'5xx':>6}{'ops':>6}")
    for row in report["actors"]:
        print(
            f"{row['actor']:<10}{row['scenarios']:>11,}{row['calls']:>9,}"
            f"{row['links_followed']:>11,}{row['server_errors']:>6}{row['operations_called']:>6}"
        )
        for error in row["first_server_errors"]:
            print(f"  {error}")
    totals = report["totals"]
    print(
        f"total: {totals['calls']:,} calls, {totals['links_followed']:,} via links, "
        f"{totals['server_errors']} server errors (target 0), {totals['wall_s']:.0f} s"
    )


if __name__ == "__main__":
    main()
