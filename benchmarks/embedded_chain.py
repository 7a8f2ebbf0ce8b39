"""What the embedded chain costs: throughput with and without persistence, reopen time,
database size, and the price of reading logs.

Run from the repository root: ``python -m benchmarks.embedded_chain`` (``--quick`` for a
smoke run). Prints a table and writes benchmarks/results/embedded_chain.json.

Workloads: pre-signed EIP-1559 transactions sent raw (as the outbox sends them), one per
block (automine). "transfer" moves 1 wei; "contract call" stores a word in a
hand-assembled contract and emits one log (tests/devnode.py, storage_contract_init_code).
"""

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import eth_keys
from eth_account import Account
from eth_tester.backends.pyevm.main import _get_transaction_by_hash as stock_tx_lookup

from oracle.chain import EmbeddedChain, iter_log_chunks
from tests.devnode import BURN_ADDRESS, STORED_TOPIC, deploy_storage_contract

RESULTS = Path(__file__).resolve().parent / "results" / "embedded_chain.json"
MODES = {
    "memory (no persistence)": {"persist": False, "fsync": False},
    "sqlite WAL, no fsync": {"persist": True, "fsync": False},
    "sqlite WAL + fsync (default)": {"persist": True, "fsync": True},
}


@contextmanager
def opened(mode: dict[str, bool], directory: Path) -> Iterator[EmbeddedChain]:
    """A fresh chain in ``mode`` (a new file per call)."""
    path = directory / f"chain-{time.monotonic_ns()}.sqlite" if mode["persist"] else None
    with EmbeddedChain.open(path, fsync_each_block=mode["fsync"]) as chain:
        yield chain


def presigned(
    chain: EmbeddedChain, count: int, to: str, data: Callable[[int], bytes]
) -> list[bytes]:
    """``count`` raw transactions from dev account 5, nonces in order, gas set explicitly."""
    account = Account.from_key(chain.dev_private_keys[5])
    first = chain.w3.eth.get_transaction_count(account.address)
    fee = 2 * int(chain.w3.eth.get_block("latest")["baseFeePerGas"]) + 10**9
    return [
        bytes(
            account.sign_transaction(
                {
                    "type": 2,
                    "chainId": chain.chain_id,
                    "nonce": first + i,
                    "to": to,
                    "value": 1,
                    "data": data(i),
                    "gas": 60_000,
                    "maxFeePerGas": fee,
                    "maxPriorityFeePerGas": 10**9,
                }
            ).raw_transaction
        )
        for i in range(count)
    ]


def send_all(chain: EmbeddedChain, raws: list[bytes]) -> tuple[float, float]:
    """Send raw transactions one by one: per wall-clock second, per CPU second.

    The CPU rate is what other processes on a busy machine cannot spoil; the wall rate
    also pays for waiting on the disk (fsync)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for raw in raws:
        chain.w3.eth.send_raw_transaction(raw)
    return len(raws) / (time.perf_counter() - wall), len(raws) / (time.process_time() - cpu)


def store_calldata(i: int) -> bytes:
    return (i + 1).to_bytes(32, "big")


def throughput(directory: Path, count: int, rounds: int) -> list[dict[str, Any]]:
    """Best of ``rounds`` per mode and rate, the modes interleaved so that load from other
    processes hits them alike."""
    best: dict[str, dict[str, float]] = {name: {} for name in MODES}
    for _ in range(rounds):
        for name, mode in MODES.items():
            for key, rate in _one_round(directory, mode, count).items():
                best[name][key] = max(best[name].get(key, 0.0), rate)
    return [
        {"mode": name, **rates, "transactions": count, "rounds": rounds}
        for name, rates in best.items()
    ]


def _one_round(directory: Path, mode: dict[str, bool], count: int) -> dict[str, float]:
    with opened(mode, directory) as chain:
        transfers = send_all(chain, presigned(chain, count, BURN_ADDRESS, lambda i: b""))
        contract = deploy_storage_contract(chain.w3, "0x" + chain.dev_private_keys[0].hex())
        calls = send_all(chain, presigned(chain, count, contract, store_calldata))
    return {
        "transfers_per_s": transfers[0],
        "transfers_per_cpu_s": transfers[1],
        "calls_per_s": calls[0],
        "calls_per_cpu_s": calls[1],
    }


def reopen_seconds(path: Path, repeats: int = 3) -> float:
    """Best of ``repeats``: open the stored chain and answer one query."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        with EmbeddedChain.open(path) as chain:
            assert chain.w3.eth.block_number > 0
            best = min(best, time.perf_counter() - started)
    return best


def grow_and_reopen(directory: Path, checkpoints: list[int]) -> tuple[list[dict[str, Any]], Path]:
    """Fill a chain with one logging contract call per block; reopen at each checkpoint."""
    path = directory / "grown.sqlite"
    rows = []
    for target in checkpoints:
        with EmbeddedChain.open(path) as chain:
            contract = _contract_of(chain)
            missing = target - chain.w3.eth.block_number
            send_all(chain, presigned(chain, missing, contract, store_calldata))
            size = chain.db_size_bytes()
        rows.append(
            {
                "blocks": target,
                "reopen_s": reopen_seconds(path),
                "db_bytes_after_close": path.stat().st_size,
                "db_bytes_open": size,
            }
        )
    return rows, path


def _contract_of(chain: EmbeddedChain) -> str:
    """The storage contract of a grown chain (deployed in block 1)."""
    if chain.w3.eth.block_number == 0:
        return deploy_storage_contract(chain.w3, "0x" + chain.dev_private_keys[0].hex())
    receipt = chain.w3.eth.get_block(1, full_transactions=True)["transactions"][0]
    address = chain.w3.eth.get_transaction_receipt(receipt["hash"])["contractAddress"]
    return str(address)


def log_reads(path: Path, head: int) -> list[dict[str, Any]]:
    """eth_getLogs over ranges of different sizes, whole and in chunks (one log per block)."""
    rows = []
    with EmbeddedChain.open(path) as chain:
        w3 = chain.w3
        for span in [s for s in (100, 1_000) if s < head] + [head]:
            started = time.perf_counter()
            logs = w3.eth.get_logs(
                {"fromBlock": head - span + 1, "toBlock": head, "topics": [STORED_TOPIC]}
            )
            seconds = time.perf_counter() - started
            rows.append(
                {
                    "query": f"one call, last {span} blocks",
                    "blocks": span,
                    "logs": len(logs),
                    "s": seconds,
                    "ms_per_block": 1e3 * seconds / span,
                }
            )
        started = time.perf_counter()
        count = sum(
            len(c.logs) for c in iter_log_chunks(w3, None, 1, head, [STORED_TOPIC], chunk_size=500)
        )
        seconds = time.perf_counter() - started
        rows.append(
            {
                "query": "iter_log_chunks, 500-block chunks, all",
                "blocks": head,
                "logs": count,
                "s": seconds,
                "ms_per_block": 1e3 * seconds / head,
            }
        )
    return rows


def receipt_lookup(path: Path) -> dict[str, float]:
    """Finding block 2's transaction at the chain's head: py-evm's hash index vs the stock
    eth-tester scan (which is what made reading logs from block 0 quadratic)."""
    with EmbeddedChain.open(path) as chain:
        tx_hash = chain.w3.eth.get_block(2)["transactions"][0]
        started = time.perf_counter()
        chain.w3.eth.get_transaction_receipt(tx_hash)
        indexed = time.perf_counter() - started
        started = time.perf_counter()
        stock_tx_lookup(chain._backend.chain, bytes(tx_hash))  # private: the comparison
        scanned = time.perf_counter() - started
    return {"indexed_ms": 1e3 * indexed, "stock_scan_ms": 1e3 * scanned}


def environment() -> dict[str, object]:
    """Versions and machine load: numbers from a busy machine are not comparable."""
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1m_at_start": os.getloadavg()[0],
        "ecc_backend": type(eth_keys.KeyAPI().backend).__name__,
        **{name: version(name) for name in ("web3", "eth-tester", "py-evm")},
    }


def print_table(result: dict[str, Any]) -> None:
    env = result["environment"]
    print(f"\nembedded chain ({env['ecc_backend']}, load {env['load_average_1m_at_start']:.1f})")
    print(f"{'mode':31} {'transfers/s':>12} {'/cpu-s':>7} {'calls/s':>8} {'/cpu-s':>7}")
    for row in result["throughput"]:
        print(
            f"{row['mode']:31} {row['transfers_per_s']:12.1f} {row['transfers_per_cpu_s']:7.1f}"
            f" {row['calls_per_s']:8.1f} {row['calls_per_cpu_s']:7.1f}"
        )
    print(f"\n{'blocks':>8} {'reopen ms':>10} {'db MiB':>8} {'KiB/block':>10}")
    for row in result["reopen"]:
        size = row["db_bytes_after_close"]
        print(
            f"{row['blocks']:8} {1e3 * row['reopen_s']:10.1f} {size / 2**20:8.2f} "
            f"{size / 1024 / row['blocks']:10.2f}"
        )
    print(f"\n{'eth_getLogs':42} {'logs':>6} {'s':>8} {'ms/block':>9}")
    for row in result["logs"]:
        print(f"{row['query']:42} {row['logs']:6} {row['s']:8.2f} {row['ms_per_block']:9.3f}")
    lookup = result["receipt_lookup"]
    print(
        f"\nreceipt of block 2's tx at the head: indexed {lookup['indexed_ms']:.2f} ms, "
        f"stock eth-tester scan {lookup['stock_scan_ms']:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    count, checkpoints = (30, [100, 300]) if args.quick else (300, [1_000, 5_000])
    rounds = 1 if args.quick else 5
    with tempfile.TemporaryDirectory(prefix="bench-chain-") as tmp:
        directory = Path(tmp)
        env = environment()
        rows = throughput(directory, count, rounds)
        reopen, grown = grow_and_reopen(directory, checkpoints)
        result = {
            "environment": env,
            "throughput": rows,
            "reopen": reopen,
            "logs": log_reads(grown, checkpoints[-1]),
            "receipt_lookup": receipt_lookup(grown),
        }
    print_table(result)
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
