"""Outbox throughput on the embedded chain and audit speed against a JSON-RPC dev node.

Run from the repository root: ``python -m benchmarks.outbox_audit`` (``--trades 100`` for
a smoke run). Prints a table and writes benchmarks/results/outbox_audit.json.

* outbox, unbatched: grid-node registrations, one transaction each, persisted chain;
* outbox, batched: order commitments (Merkle batches), trades, attestations;
* audit: every settlement of the bulk market recomputed from logs over HTTP.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bulk_market import (
    Timings,
    attest_all,
    commit_orders,
    prepare_grid,
    record_trades,
    signed_orders,
)
from flexledger.settings import ChainKind
from oracle.audit import Auditor
from oracle.chain import connect_rpc
from tests.devnode import devnode
from tests.world import World, new_world, publish_nodes, world_settings

RESULTS = Path(__file__).resolve().parent / "results" / "outbox_audit.json"


def unbatched_writes(world: World, count: int) -> dict[str, Any]:
    started = time.perf_counter()
    publish_nodes(world, range(1_000, 1_000 + count), prefix="bench")
    publish_s = time.perf_counter() - started
    report = world.oracle.drain(timeout_s=600)
    total = time.perf_counter() - started
    return {
        "messages": report.confirmed_messages,
        "publish_s": round(publish_s, 2),
        "total_s": round(total, 2),
        "confirmed_per_s": round(report.confirmed_messages / total, 1),
    }


def bulk_market(world: World, trades: int, advance: Any) -> dict[str, Any]:
    prepare_grid(world)
    buy, offers = signed_orders(world, trades)
    stages: dict[str, Any] = {}
    for name, run in (
        ("order commitments", lambda t: commit_orders(world, [buy, *offers], t)),
        ("trades", lambda t: record_trades(world, buy, offers, t)),
    ):
        timings = Timings()
        run(timings)
        stages[name] = _stage(timings)
    advance(3 * 3600)
    timings = Timings()
    attest_all(world, trades, timings)
    stages["attestations"] = _stage(timings)
    return stages


def _stage(timings: Timings) -> dict[str, Any]:
    return {
        "messages": timings.messages,
        "transactions": timings.transactions,
        "seconds": round(timings.publish_s + timings.drain_s, 2),
        "messages_per_s": round(timings.messages_per_s, 1),
    }


def embedded_part(trades: int, nodes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        world = new_world(world_settings(Path(tmp)))
        try:
            result = {"unbatched": unbatched_writes(world, nodes)}
            result["batched"] = bulk_market(world, trades, world.connection.dev_chain.advance_time)
        finally:
            world.close()
    return result


def devnode_part(trades: int) -> dict[str, Any]:
    from tests.oracle.test_outbox_faults import _devnode_world

    with tempfile.TemporaryDirectory() as tmp, devnode() as node:
        settings = world_settings(Path(tmp), chain=ChainKind.RPC, rpc_url=node.url)
        world = _devnode_world(settings, node.private_keys[0])
        try:
            world.oracle.publish  # noqa: B018 - world is ready
            batched = bulk_market(
                world, trades, lambda s: node.rpc("evm_increaseTime", s) and node.rpc("evm_mine")
            )
            w3 = connect_rpc(node.url, expected_chain_id=node.chain_id, timeout_s=30)
            report = Auditor(w3, world.manifest).run()
        finally:
            world.close()
    return {
        "batched": batched,
        "audit": {
            "settlements": report.settlements,
            "trades": report.trades,
            "events": report.events,
            "clean": report.clean,
            "seconds": round(report.duration_s, 2),
            "settlements_per_s": round(report.settlements_per_s, 1),
        },
    }


def print_table(results: dict[str, Any]) -> None:
    rows = [
        (
            "embedded: outbox unbatched (grid.node)",
            results["embedded"]["unbatched"]["confirmed_per_s"],
            "confirmed writes/s",
            ">= 50",
        )
    ]
    for backend in ("embedded", "devnode"):
        for stage, numbers in results[backend]["batched"].items():
            rows.append(
                (
                    f"{backend}: outbox batched {stage}",
                    numbers["messages_per_s"],
                    f"messages/s in {numbers['transactions']} txs",
                    ">= 50",
                )
            )
    audit = results["devnode"]["audit"]
    rows.append(
        (
            "devnode: audit over JSON-RPC",
            audit["settlements_per_s"],
            f"settlements/s ({audit['settlements']}, clean={audit['clean']})",
            ">= 1000",
        )
    )
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'value':>10}  unit  (target)")
    for name, value, unit, target in rows:
        print(f"{name:<{width}}  {value:>10}  {unit}  ({target})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trades", type=int, default=1_000)
    parser.add_argument("--nodes", type=int, default=300)
    args = parser.parse_args()
    results = {
        "trades": args.trades,
        "embedded": embedded_part(args.trades, args.nodes),
        "devnode": devnode_part(args.trades),
    }
    print_table(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
