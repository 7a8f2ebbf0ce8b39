"""A market day with about 1,000 assets, end to end through the REST API, on the embedded chain.

Run from the repository root: ``python -m benchmarks.market_day`` (``--homes 20`` for a smoke
run). Prints a table and writes benchmarks/results/market_day.json. The target of the issue:
a market day with 1,000 assets end to end in at most 60 s on the embedded chain. It took
393 s with one registry transaction per asset and one request per nomination; with the
batches (POST /assets/batch, POST /assets/nodes, batched registerNodes, POST /baselines/batch)
about 43 s: results/market_day.json has the steps.

The day is ``flexledger demo`` (:func:`flexledger.demo.run`) with more homes: a DSO, two
FSPs and an auditor register and are approved; the DSO forecasts tomorrow's grid (96 power
flows and the flexibility needs), publishes its nodes; the FSPs register their homes'
batteries, EV chargers and heat pumps and the DSO maps them; baselines are nominated, the DSO
buys and the FSPs offer, the market clears, trades go on chain, the FSPs are activated, the
meters report, settlement is written on chain and finalised, and the auditor checks it all
from chain logs. Every step's wall time is the demo's own; the counts are read from the
run's database afterwards.
"""

import argparse
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from flexledger import demo
from flexledger.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results" / "market_day.json"
HOMES_PER_FSP = 490  # the two FSPs keep 1,005 of their homes' assets
TARGET_S = 60.0
COUNTED = {  # what the report counts -> its table in the run's database
    "assets": "market_asset",
    "orders": "market_order",
    "trades": "market_trade",
    "meter_readings": "market_meter_reading",
    "settlements": "market_settlement",
}


def run_day(homes_per_fsp: int, data_dir: Path) -> dict[str, Any]:
    """One demo day in ``data_dir``; its timings, counts and audit."""
    settings = Settings(data_dir=data_dir, keystore_scrypt_n=1024)  # quick test keystores
    config = demo.DemoConfig(homes_per_fsp=homes_per_fsp, report_path=data_dir / "report.html")
    started = time.perf_counter()
    result = demo.run(settings, config)
    total_s = time.perf_counter() - started
    return {
        "homes_per_fsp": homes_per_fsp,
        **counts(data_dir / "flexledger.db"),
        "total_s": round(total_s, 1),
        "steps_s": result.timings,
        "audit_clean": result.audit_clean,
        "audit_settlements": result.audit.settlements,
        "violations_before": result.violations_before,
        "violations_after": result.violations_after,
    }


def counts(database: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        found = {
            name: int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for name, table in COUNTED.items()
        }
    connection.close()
    return found


def _print(row: dict[str, Any]) -> None:
    width = max(len(step) for step in row["steps_s"])
    print(f"{'step':<{width}}  {'s':>7}")
    for step, seconds in row["steps_s"].items():
        print(f"{step:<{width}}  {seconds:>7.2f}")
    print(f"{'total (with start-up and report)':<{width}}  {row['total_s']:>7.1f}")
    print(
        ", ".join(f"{row[name]:,} {name.replace('_', ' ')}" for name in COUNTED)
        + f"; audit {'clean' if row['audit_clean'] else 'NOT clean'}; target <= {TARGET_S:.0f} s"
    )


def _report(homes_per_fsp: int, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "made_by": f"python -m benchmarks.market_day --homes {homes_per_fsp}",
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "target": f"a market day with 1,000 assets end to end in <= {TARGET_S:.0f} s (embedded)",
        "timing": (
            "wall clock of flexledger.demo.run on a fresh embedded chain in a temporary "
            "directory (API on a real socket in the same process, every chain write through "
            "the outbox); steps_s are the demo's own step timings; total_s includes deploying "
            "the contracts, starting the API and writing the report"
        ),
        "run": row,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--homes", type=int, default=HOMES_PER_FSP, help="homes per FSP")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="flexledger-day-") as tmp:
        row = run_day(args.homes, Path(tmp) / "data")
    _print(row)
    report = _report(args.homes, row)
    if not args.no_write:
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
