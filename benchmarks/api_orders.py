"""Signed order intake through the REST API: orders/s and request latency, 64 clients.

Run from the repository root: ``python -m benchmarks.api_orders`` (``--single 20 --batches 2``
for a smoke run). Prints a table and writes benchmarks/results/api_orders.json. The target
of the issue: at least 1,000 signed order submissions per second through the REST API with
a p99 latency of at most 100 ms from 64 concurrent clients, and none lost: every accepted
order is committed on chain by the oracle's next order batches.

How it runs:

* the server is ``flexledger serve`` in its own process (its own GIL), on a fresh embedded
  chain in a temporary data directory, with the oracle's pump committing orders behind it;
  its per-host rate limit is lifted, since all 64 clients share this machine's address;
* setup goes through the API with :class:`~market.client.FlexledgerClient`, as in the demo:
  a DSO and 64 FSPs sign in and register, the market operator approves them, the DSO
  publishes a small grid, every FSP registers one asset and the DSO confirms its node;
* every order is signed before the clock starts (EIP-712, the wallet's exact signature);
* 64 threads, one HTTP session and one FSP each, send their requests back to back:
  first one order per ``POST /orders``, then ``--batch-size`` orders per
  ``POST /orders/batch``; a request's latency is measured at the client;
* after each phase the outbox is watched (the server's SQLite, read-only) until every
  order commitment is confirmed; at the end the server stops and every accepted order hash
  is checked against the chain: its Merkle proof leads to a batch root that
  ``FlexMarket.batchCommittedAt`` knows, and the ``OrderBatchCommitted`` events count
  exactly the accepted orders.
"""

import argparse
import json
import os
import platform
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import coincurve
import httpx2 as httpx

from flexibility.fleet import EAN_PREFIX, ean_check_digit
from flexledger import wiring
from flexledger.participants import SCENARIO_PARTICIPANTS, open_participants
from flexledger.server import free_port
from flexledger.settings import Settings
from market.client import FlexledgerClient
from market.client.orders import order_json
from market.orders import commit_key
from market.wallet import Wallet
from oracle.chain import connect
from oracle.eip712 import Order
from oracle.errors import OracleValueError
from oracle.manifest import Manifest
from oracle.merkle import verify_proof
from oracle.order_hashing import domain_separator, order_hash
from oracle.service import OracleService
from oracle.signers import AccountBook
from oracle.types import SLOT_SECONDS, Address, Direction, Side

RESULTS = Path(__file__).resolve().parent / "results" / "api_orders.json"
MARKET = "day-ahead"
API = "/api/v1"
SEED = 20260101
COMMIT_KIND = "market.order.commit"
NODE_COUNT = 8  # one root and seven feeders, every FSP's asset at one of the feeders
ORIGIN_LAT, ORIGIN_LON = 52.2689, 10.5268
ASSET_UP_KW = 50.0
SERVER_COMMAND = (sys.executable, "-m", "flexledger.cli", "serve")
ENV = {
    "FLEXLEDGER_KEYSTORE_SCRYPT_N": "1024",  # quick test keystores; the default is 2^18
    "FLEXLEDGER_RATE_LIMIT_PER_S": "1000000",  # every client is 127.0.0.1 here
    "FLEXLEDGER_RATE_LIMIT_BURST": "1000000",
}


class BenchmarkError(RuntimeError):
    """The benchmark could not set up or check its run; the message says which step."""


# -- the server ------------------------------------------------------------------------------


class ServerProcess:
    """``flexledger serve`` on a free port over ``data_dir``; stopped with Ctrl-C (SIGINT)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            **ENV,
            "FLEXLEDGER_DATA_DIR": str(data_dir),
            "FLEXLEDGER_API_PORT": str(self.port),
        }
        self.log_path = data_dir / "server.log"
        self._process: subprocess.Popen[bytes] | None = None

    def settings(self) -> Settings:
        """The server's settings, as its environment gives them."""
        return Settings(
            data_dir=self.data_dir,
            api_port=self.port,
            keystore_scrypt_n=int(ENV["FLEXLEDGER_KEYSTORE_SCRYPT_N"]),
        )

    def __enter__(self) -> "ServerProcess":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            SERVER_COMMAND,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready(timeout_s=180)
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise BenchmarkError(f"the server exited; see {self.log_path}")
            try:
                if httpx.get(f"{self.url}{API}/chain", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise BenchmarkError(f"the server did not answer within {timeout_s:.0f} s")

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGINT)
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


# -- setup through the API --------------------------------------------------------------------


@dataclass
class Maker:
    """One FSP: its signed-in client, its signing key and its one mapped asset."""

    client: FlexledgerClient
    key: coincurve.PrivateKey
    token: str  # the session token of its sign-in
    asset: str = ""
    node_id: int = 0


def company(name: str, number: int) -> dict[str, str]:
    return {
        "name": name,
        "legal_name": f"{name} GmbH",
        "country": "DE",
        "registration_number": f"HRB {20_000 + number}",
        "email": f"market@{name.lower().replace(' ', '-')}.example",
    }


def new_maker(url: str, chain_id: int) -> Maker:
    key = coincurve.PrivateKey()
    client = FlexledgerClient.connect(url, Wallet(key.secret, chain_id))
    return Maker(client, key, client.sign_in())


def operator_wallet(settings: Settings, chain_id: int) -> Wallet:
    """The market operator's key, from the keystore ``flexledger serve`` created."""
    signer = open_participants(
        wiring.keystore(settings),
        settings.keystore_password,
        chain_id,
        SCENARIO_PARTICIPANTS[:1],
    )["market-operator"]
    return Wallet(signer.private_key, chain_id)


def wait_until(what: str, done: Any, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise BenchmarkError(f"{what}: not done after {timeout_s:.0f} s")
        time.sleep(0.2)


def onboard(server: ServerProcess, fsps: int) -> list[Maker]:
    """A DSO with a small grid and ``fsps`` FSPs, each with one mapped asset."""
    chain_id = int(httpx.get(f"{server.url}{API}/chain").json()["chain_id"])
    operator = FlexledgerClient.connect(server.url, operator_wallet(server.settings(), chain_id))
    operator.sign_in()
    dso = new_maker(server.url, chain_id).client
    operator.approve(dso.register("dso", company("Netz Nord", 0))["id"])
    makers = []
    for number in range(1, fsps + 1):
        maker = new_maker(server.url, chain_id)
        operator.approve(maker.client.register("fsp", company(f"Flex {number}", number))["id"])
        makers.append(maker)
    everyone = [dso, *(m.client for m in makers)]
    wait_until("role grants", lambda: all(c.me()["status"] == "active" for c in everyone))
    dso.import_grid(nodes=grid_nodes(), name="bench-grid")
    wait_until("grid on chain", lambda: all(n["on_chain"] for n in dso.grid_nodes()))
    for number, maker in enumerate(makers):
        maker.asset = register_asset(maker.client, number)
    wait_until("assets on chain", lambda: len(dso.assets(status="on_chain")) == fsps)
    for asset in dso.assets():
        dso.confirm_asset_node(asset["id"])
    wait_until("assets mapped", lambda: len(dso.assets(status="mapped")) == fsps)
    for maker in makers:
        maker.node_id = int(maker.client.asset(maker.asset)["node_id"])
    for client in (operator, dso):
        client.close()
    return makers


def grid_nodes() -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = [
        {"node_id": 1, "parent_id": 0, "name": "Substation", "voltage_kv": 20.0}
    ]
    for node_id in range(2, NODE_COUNT + 1):
        lat, lon = feeder_location(node_id)
        nodes.append(
            {
                "node_id": node_id,
                "parent_id": 1,
                "name": f"Feeder {node_id}",
                "voltage_kv": 0.4,
                "x": lon,
                "y": lat,
            }
        )
    return nodes


def feeder_location(node_id: int) -> tuple[float, float]:
    return ORIGIN_LAT + 0.01 * node_id, ORIGIN_LON + 0.01 * node_id


def register_asset(client: FlexledgerClient, number: int) -> str:
    lat, lon = feeder_location(2 + number % (NODE_COUNT - 1))
    body = EAN_PREFIX + f"{number:014d}"
    registered = client.register_asset(
        name=f"battery {number}",
        technology="battery",
        meter_point_id=body + str(ean_check_digit(body)),
        latitude=lat + 0.0001,
        longitude=lon,
        prequalified_up_kw=ASSET_UP_KW,
    )
    return str(registered["asset"]["id"])


# -- orders, signed before the clock starts ---------------------------------------------------


class FastSigner:
    """EIP-712 order signatures with coincurve: the same bytes as ``Wallet.sign_order``
    (deterministic RFC 6979, low s), ten times faster, so tens of thousands of orders can be
    signed before a run. ``check`` proves the equality on a real order."""

    def __init__(self, key: coincurve.PrivateKey, chain_id: int, market: Address) -> None:
        self.key = key
        self.separator = domain_separator(chain_id, market)

    def sign(self, order: Order) -> tuple[str, str]:
        """(order hash, signature) as 0x-hex."""
        digest = order_hash(order.as_message(), self.separator)
        recoverable = self.key.sign_recoverable(digest, hasher=None)
        signature = recoverable[:64] + bytes([recoverable[64] + 27])
        return "0x" + digest.hex(), "0x" + signature.hex()

    def check(self, order: Order, wallet: Wallet, market: Address) -> None:
        if self.sign(order)[1] != "0x" + wallet.sign_order(order, market).hex():
            raise BenchmarkError("the fast signer disagrees with Wallet.sign_order")


def delivery_day_start(now: datetime) -> int:
    """Midnight UTC two days ahead: its day-ahead gate (12:00 the day before) is open."""
    day = (now + timedelta(days=2)).date()
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


@dataclass
class Request:
    """One pre-built request: its path, JSON body and the hashes of the orders in it."""

    path: str
    body: bytes
    order_hashes: list[str]


def build_requests(
    makers: list[Maker],
    *,
    per_request: int,
    requests_per_client: int,
    first_nonce: int,
    day_start: int,
    rng: random.Random,
) -> list[list[Request]]:
    """Every client's requests, signed: ``per_request`` 1 is ``POST /orders``."""
    market = makers[0].client.market_address()
    chain_id = makers[0].client.wallet.chain_id
    plans = []
    for maker in makers:
        signer = FastSigner(maker.key, chain_id, market)
        plan = []
        for request_number in range(requests_per_client):
            nonce = first_nonce + request_number * per_request
            orders = [sell_order(maker, nonce + n, day_start, rng) for n in range(per_request)]
            signed = [signer.sign(order) for order in orders]
            entries = [
                {"order": order_json(order), "signature": signature}
                for order, (_, signature) in zip(orders, signed, strict=True)
            ]
            if per_request == 1:
                path, body = "/orders", {"market": MARKET, **entries[0]}
            else:
                path, body = "/orders/batch", {"market": MARKET, "orders": entries}
            plan.append(Request(path, json.dumps(body).encode(), [h for h, _ in signed]))
        signer.check(sell_order(maker, 0, day_start, rng), maker.client.wallet, market)
        plans.append(plan)
    return plans


def sell_order(maker: Maker, nonce: int, day_start: int, rng: random.Random) -> Order:
    slot_start = day_start + rng.randrange(96) * SLOT_SECONDS
    power_w = rng.randrange(1_000, int(ASSET_UP_KW * 1000) + 1, 100)
    divisible = rng.random() < 0.5
    return Order(
        maker=maker.client.wallet.address,
        side=Side.SELL,
        direction=Direction.UP,
        node_id=maker.node_id,
        asset=Address(maker.asset),
        slot_start=slot_start,
        slot_count=1,
        power_w=power_w,
        min_power_w=1_000 if divisible else power_w,
        divisible=divisible,
        price_cents_per_mwh=rng.randrange(5_000, 30_000, 100),
        nonce=nonce,
        expiry=slot_start,
    )


# -- the load -------------------------------------------------------------------------------


@dataclass
class ClientLog:
    latencies_s: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    accepted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def run_load(makers: list[Maker], plans: list[list[Request]]) -> tuple[float, list[ClientLog]]:
    """Every client sends its requests back to back; returns the wall time and the logs."""
    logs = [ClientLog() for _ in makers]
    start = threading.Barrier(len(makers) + 1)
    threads = [
        threading.Thread(target=_client, args=(maker, plan, log, start), daemon=True)
        for maker, plan, log in zip(makers, plans, logs, strict=True)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, logs


def _client(maker: Maker, plan: list[Request], log: ClientLog, start: threading.Barrier) -> None:
    http = maker.client.http
    headers = {
        "Authorization": f"Bearer {maker.token}",
        "Content-Type": "application/json",
    }
    start.wait()
    for request in plan:
        sent = time.perf_counter()
        try:
            response = http.post(API + request.path, content=request.body, headers=headers)
        except httpx.HTTPError as error:
            log.latencies_s.append(time.perf_counter() - sent)
            log.statuses[0] += 1
            log.errors.append(repr(error))
            continue
        log.latencies_s.append(time.perf_counter() - sent)
        log.statuses[response.status_code] += 1
        if response.status_code == 201:
            log.accepted.extend(_accepted_hashes(request, response.json()))
        elif len(log.errors) < 5:
            log.errors.append(f"{response.status_code}: {response.text[:300]}")


def _accepted_hashes(request: Request, body: dict[str, Any]) -> list[str]:
    hashes = [str(body["order_hash"])] if "order_hash" in body else list(body["order_hashes"])
    if hashes != request.order_hashes:
        raise BenchmarkError("the server's order hashes differ from the signed ones")
    return hashes


def summarise(mode: str, wall_s: float, logs: list[ClientLog]) -> dict[str, Any]:
    latencies = sorted(s for log in logs for s in log.latencies_s)
    statuses: Counter[int] = Counter()
    for log in logs:
        statuses.update(log.statuses)
    accepted = sum(len(log.accepted) for log in logs)
    requests = len(latencies)
    return {
        "mode": mode,
        "clients": len(logs),
        "requests": requests,
        "orders_accepted": accepted,
        "errors": requests - statuses[201],
        "statuses": {str(code): count for code, count in sorted(statuses.items())},
        "wall_s": round(wall_s, 2),
        "orders_per_s": round(accepted / wall_s, 1),
        "requests_per_s": round(requests / wall_s, 1),
        "p50_ms": round(1000 * _quantile(latencies, 0.50), 1),
        "p95_ms": round(1000 * _quantile(latencies, 0.95), 1),
        "p99_ms": round(1000 * _quantile(latencies, 0.99), 1),
        "max_ms": round(1000 * latencies[-1], 1),
        "mean_ms": round(1000 * statistics.fmean(latencies), 1),
        "first_errors": [e for log in logs for e in log.errors][:5],
    }


def _quantile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank quantile: the smallest value with at least ``q`` of the values at or
    below it."""
    rank = max(1, -(-len(sorted_values) * q // 1))
    return sorted_values[int(rank) - 1]


# -- nothing lost ------------------------------------------------------------------------------


def commit_backlog(database: Path) -> dict[str, int]:
    """Order commitment messages by outbox status, read-only from the server's SQLite (WAL:
    readers never block the server's writers)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as connection:
        rows = connection.execute(
            "SELECT status, count(*) FROM outbox_message WHERE kind = ? GROUP BY status",
            (COMMIT_KIND,),
        ).fetchall()
    connection.close()
    return {str(status).lower(): int(count) for status, count in rows}


def wait_committed(database: Path, expected: int, timeout_s: float) -> float:
    """Seconds until all ``expected`` commitments are confirmed; refused ones fail the run."""
    started = time.perf_counter()
    while True:
        backlog = commit_backlog(database)
        if backlog.get("rejected"):
            raise BenchmarkError(f"{backlog['rejected']} order commitments were rejected")
        if backlog.get("confirmed", 0) >= expected:
            return time.perf_counter() - started
        if time.perf_counter() - started > timeout_s:
            raise BenchmarkError(f"commitments not confirmed after {timeout_s:.0f} s: {backlog}")
        time.sleep(0.25)


def verify_on_chain(settings: Settings, accepted: list[str]) -> dict[str, Any]:
    """Every accepted order hash is proven into a batch root the chain holds, and the chain's
    OrderBatchCommitted events count exactly the accepted orders (the server is stopped)."""
    started = time.perf_counter()
    with connect(settings) as connection:
        manifest = Manifest.read(settings.resolved_manifest_path)
        oracle = wiring.oracle_service(settings, connection, manifest, AccountBook([]))
        try:
            root_of = {h: proven_root(oracle, h) for h in accepted}
            roots = {root for root in root_of.values() if root is not None}
            on_chain = {r for r in roots if oracle.suite.read("FlexMarket", "batchCommittedAt", r)}
            proven = sum(1 for root in root_of.values() if root in on_chain)
            market = oracle.suite.contract("FlexMarket")
            events = market.events.OrderBatchCommitted().get_logs(from_block=0)
            counted = sum(int(event["args"]["count"]) for event in events)
        finally:
            oracle.close()
    return {
        "accepted": len(accepted),
        "distinct": len(set(accepted)),
        "proven_on_chain": proven,
        "batches": len(on_chain),
        "committed_by_events": counted,
        "lost": len(accepted) - proven,
        "check_s": round(time.perf_counter() - started, 2),
    }


def proven_root(oracle: OracleService, order_hash_hex: str) -> bytes | None:
    """The batch root the order's Merkle proof leads to; None if it is not committed."""
    try:
        commitment = oracle.commitment_of(commit_key(order_hash_hex))
    except OracleValueError:
        return None
    leaf = bytes.fromhex(order_hash_hex[2:])
    return commitment.root if verify_proof(commitment.proof, commitment.root, leaf) else None


# -- the run ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--single", type=int, default=60, help="POST /orders per client")
    parser.add_argument("--batches", type=int, default=6, help="POST /orders/batch per client")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory(prefix="flexledger-bench-") as tmp:
        server = ServerProcess(Path(tmp) / "data")
        with server:
            started = time.perf_counter()
            makers = onboard(server, args.clients)
            setup_s = time.perf_counter() - started
            day_start = delivery_day_start(datetime.now(UTC))
            phases = (("single", 1, args.single), ("batch", args.batch_size, args.batches))
            rows, accepted, nonce = [], [], 1
            database = server.data_dir / "flexledger.db"
            for mode, per_request, count in phases:
                plans = build_requests(
                    makers,
                    per_request=per_request,
                    requests_per_client=count,
                    first_nonce=nonce,
                    day_start=day_start,
                    rng=rng,
                )
                nonce += per_request * count
                wall_s, logs = run_load(makers, plans)
                row = summarise(mode, wall_s, logs)
                accepted.extend(h for log in logs for h in log.accepted)
                row["commit_lag_s"] = round(wait_committed(database, len(accepted), 600), 2)
                rows.append(row)
            for maker in makers:
                maker.client.close()
        lost = verify_on_chain(server.settings(), accepted)
    _print(rows, lost)
    report = _report(args, setup_s, rows, lost)
    if not args.no_write:
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return report


_TABLE = (  # key, title, alignment and width, number format
    ("mode", "mode", "<8", ""),
    ("clients", "clients", ">8", ""),
    ("requests", "requests", ">10", ","),
    ("orders_accepted", "orders", ">9", ","),
    ("errors", "errors", ">8", ","),
    ("orders_per_s", "orders/s", ">10", ",.0f"),
    ("p50_ms", "p50 ms", ">9", ".1f"),
    ("p95_ms", "p95 ms", ">9", ".1f"),
    ("p99_ms", "p99 ms", ">9", ".1f"),
    ("max_ms", "max ms", ">9", ".1f"),
    ("commit_lag_s", "on chain +s", ">13", ".1f"),
)


def _print(rows: list[dict[str, Any]], lost: dict[str, Any]) -> None:
    print("".join(f"{title:{align}}" for _, title, align, _ in _TABLE))
    for row in rows:
        print("".join(f"{row[key]:{align}{style}}" for key, _, align, style in _TABLE))
        for error in row["first_errors"]:
            print(f"  {error}")
    print(
        f"on chain: {lost['proven_on_chain']:,} of {lost['accepted']:,} accepted orders proven "
        f"into {lost['batches']} batch roots; OrderBatchCommitted events count "
        f"{lost['committed_by_events']:,}; lost {lost['lost']}"
    )


def _report(
    args: argparse.Namespace, setup_s: float, rows: list[dict[str, Any]], lost: dict[str, Any]
) -> dict[str, Any]:
    return {
        "made_by": (
            f"python -m benchmarks.api_orders --clients {args.clients} --single {args.single} "
            f"--batches {args.batches} --batch-size {args.batch_size}"
        ),
        "seed": SEED,
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "target": (
            ">= 1,000 signed order submissions/s through the REST API, p99 <= 100 ms, "
            "64 concurrent clients, zero lost"
        ),
        "timing": (
            "flexledger serve in its own process (embedded chain, outbox pump running); the "
            "clients are threads of this process, one HTTP session and one FSP each, sending "
            "back to back; latency per request at the client; orders_per_s is accepted orders "
            "over the phase's wall time; commit_lag_s is from the phase's end until the outbox "
            "had confirmed every accepted order's commitment on chain"
        ),
        "server": {"environment": ENV, "setup_s": round(setup_s, 1)},
        "runs": rows,
        "on_chain": lost,
    }


if __name__ == "__main__":
    main()
