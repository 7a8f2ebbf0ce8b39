"""``make bench``: every benchmark, then one table of the issue's targets.

Runs each benchmark in its own process (gas, embedded chain, outbox and audit), reads the
results files they write under benchmarks/results/, prints the targets table and writes
benchmarks/results/summary.json. Timings are never asserted by the test suite.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
BENCHMARKS = ("benchmarks.gas_report", "benchmarks.embedded_chain", "benchmarks.outbox_audit")


def _gas(gas: dict[str, Any], function: str, case_start: str) -> float:
    for row in gas["measurements"]:
        if row["function"] == function and row["case"].startswith(case_start):
            return float(row["per_item"])
    raise KeyError(f"{function} / {case_start} not in gas.json")


def targets() -> list[tuple[str, float, str, str]]:
    gas = json.loads((RESULTS / "gas.json").read_text())
    outbox = json.loads((RESULTS / "outbox_audit.json").read_text())
    chain = json.loads((RESULTS / "embedded_chain.json").read_text())
    embedded = outbox["embedded"]["batched"]
    return [
        ("placeOrder, buy (total gas)", _gas(gas, "placeOrder", "buy, bitmap"), "gas", "<= 40,000"),
        (
            "commitOrderBatch, per order at 1,000",
            _gas(gas, "commitOrderBatch", "1000"),
            "gas",
            "<= 1,000",
        ),
        ("attestBatch, per trade at 100", _gas(gas, "attestBatch", "100"), "gas", "<= 5,000"),
        (
            "outbox, attestations (embedded)",
            embedded["attestations"]["messages_per_s"],
            "writes/s",
            ">= 50",
        ),
        (
            "outbox, order commitments (embedded)",
            embedded["order commitments"]["messages_per_s"],
            "writes/s",
            ">= 50",
        ),
        (
            "outbox, unbatched grid.node (embedded)",
            outbox["embedded"]["unbatched"]["confirmed_per_s"],
            "writes/s",
            ">= 50",
        ),
        (
            "embedded chain, contract calls persisted",
            chain["throughput"][-1]["calls_per_s"],
            "tx/s",
            "(py-evm ~75-100)",
        ),
        (
            "audit over JSON-RPC (Hardhat)",
            outbox["devnode"]["audit"]["settlements_per_s"],
            "settlements/s",
            ">= 1,000",
        ),
    ]


def main() -> int:
    for module in BENCHMARKS:
        print(f"== {module}", flush=True)
        if subprocess.run([sys.executable, "-m", module], check=False).returncode:
            print(f"{module} failed", file=sys.stderr)
            return 1
    rows = targets()
    width = max(len(name) for name, *_ in rows)
    print(f"\n{'target':<{width}}  {'reached':>10}  unit            target")
    for name, value, unit, target in rows:
        print(f"{name:<{width}}  {value:>10,.1f}  {unit:<14}  {target}")
    summary = [{"target": n, "reached": v, "unit": u, "goal": t} for n, v, u, t in rows]
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
