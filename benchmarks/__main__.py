"""``make bench``: every benchmark, then one table of the issue's targets.

Runs each benchmark in its own process (gas, embedded chain, outbox and audit, clearing,
grid analytics, orders through the REST API, a market day), reads the results files they
write under benchmarks/results/, prints the targets table and writes
benchmarks/results/summary.json. Timings are never asserted by the test suite.

``python -m benchmarks soak [--minutes N]`` (a server killed and restarted under load, then
database against chain) and ``python -m benchmarks stateful [--minutes N]`` (stateful
Schemathesis) run one optional step each; the table shows their figures once they ran.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
BENCHMARKS = (
    "benchmarks.gas_report",
    "benchmarks.embedded_chain",
    "benchmarks.outbox_audit",
    "benchmarks.clearing",
    "benchmarks.grid_day",
    "benchmarks.api_orders",
    "benchmarks.market_day",
)
# Optional steps, run only when named (``python -m benchmarks soak``): minutes each.
OPTIONAL = {
    "soak": "benchmarks.soak",
    "stateful": "benchmarks.schemathesis_stateful",
}
Row = tuple[str, float, str, str]  # target, reached, unit, goal


def _gas(gas: dict[str, Any], function: str, case_start: str) -> float:
    for row in gas["measurements"]:
        if row["function"] == function and row["case"].startswith(case_start):
            return float(row["per_item"])
    raise KeyError(f"{function} / {case_start} not in gas.json")


def _results(name: str) -> Any:
    return json.loads((RESULTS / f"{name}.json").read_text())


def targets() -> list[Row]:
    return [*_chain_targets(), *_market_targets(), *_grid_targets(), *_reliability_targets()]


def _reliability_targets() -> list[Row]:
    """The optional steps' figures, where their results files exist."""
    rows: list[Row] = []
    if (RESULTS / "schemathesis_stateful.json").exists():
        totals = _results("schemathesis_stateful")["totals"]
        rows.append(("stateful schemathesis, server errors", totals["server_errors"], "5xx", "0"))
    if (RESULTS / "soak.json").exists():
        soak = _results("soak")
        wrong = sum(soak["mismatches"].values())
        rows.append((f"soak, {len(soak['kills'])} kills: DB/chain mismatches", wrong, "items", "0"))
    return rows


def _chain_targets() -> list[Row]:
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


def _market_targets() -> list[Row]:
    clearing = max(_results("clearing")["runs"], key=lambda run: run["clear_s"])  # the slower
    api = {run["mode"]: run for run in _results("api_orders")["runs"]}
    lost = _results("api_orders")["on_chain"]["lost"]
    day = _results("market_day")["run"]
    rows: list[Row] = [
        (
            f"clearing {clearing['orders']:,} orders ({clearing['pricing']})",
            clearing["clear_s"],
            "s",
            "<= 1",
        ),
    ]
    for mode, title in (("single", "POST /orders"), ("batch", "POST /orders/batch")):
        if mode in api:
            clients = api[mode]["clients"]
            rows.append(
                (f"{title}, {clients} clients", api[mode]["orders_per_s"], "orders/s", ">= 1,000")
            )
            rows.append((f"{title}, {clients} clients, p99", api[mode]["p99_ms"], "ms", "<= 100"))
    rows.append(("orders accepted but not on chain", lost, "orders", "0"))
    rows.append((f"market day, {day['assets']:,} assets end to end", day["total_s"], "s", "<= 60"))
    return rows


def _grid_targets() -> list[Row]:
    return [
        (f"grid day {run['network']}: 96 power flows", run["day_s"], "s", "(no target)")
        for run in _results("grid_day")["runs"]
    ]


def main(argv: list[str] | None = None) -> int:
    """Every benchmark and the table; ``soak`` or ``stateful`` (plus their options) runs
    only that optional step."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in OPTIONAL:
        return subprocess.run([sys.executable, "-m", OPTIONAL[args[0]], *args[1:]]).returncode
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
