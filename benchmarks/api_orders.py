"""Signed order intake through the REST API: orders/s and request latency, 64 clients.

Run from the repository root: ``python -m benchmarks.api_orders`` (``--single 20 --batches 2``
for a smoke run). Prints a table and writes benchmarks/results/api_orders.json. The target
of the issue: at least 1,000 signed order submissions per second through the REST API with
a p99 latency of at most 100 ms from 64 concurrent clients, and none lost: every accepted
order is committed on chain by the oracle's next order batches.

How it runs:

* first the yardstick: ``benchmarks/bare_api.py``, a FastAPI endpoint that parses the same
  JSON body into a pydantic model and touches nothing, under the same uvicorn settings
  (:func:`flexledger.server.uvicorn_config`) and the same load, in the same run;
* then ``flexledger serve`` in its own process (its own GIL), on a fresh embedded chain in
  a temporary data directory, with the oracle's pump committing orders behind it and order
  intake committed in groups (market/intake.py); both servers without the access log
  unless ``--access-log``;
* setup goes through the API with :class:`~market.client.FlexledgerClient`, as in the demo:
  a DSO and 64 FSPs sign in and register, the market operator approves them, the DSO
  publishes a small grid, every FSP registers one asset and the DSO confirms its node;
* every order is signed before the clock starts (EIP-712, the wallet's exact signature),
  each maker's orders spread over four days' slots at most 5 kW so that they stay within
  the asset's prequalified capacity per slot;
* the load generator (``benchmarks/loadgen.py``) is its own process: asyncio on uvloop,
  one keep-alive connection per client, every request's bytes built before the clock
  starts; 64 clients send back to back, first one order per ``POST /orders``, then
  ``--batch-size`` orders per ``POST /orders/batch``; latency is measured at the client;
* after each phase the outbox is watched (the server's SQLite, read-only) until no order
  commitment waits any more; at the end the server stops and the chain alone is asked:
  every ``OrderBatchCommitted`` event's ``commitOrderBatch`` transaction carries order hashes
  whose Merkle root is the event's root, known to ``FlexMarket.batchCommittedAt``, and every
  accepted order hash must be among them.

The load generator shares this machine's two cores with the server (and, while the
numbers in results/ were taken, with other test runs), so they are a floor.
"""

import argparse
import json
import math
import os
import platform
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import coincurve
import httpx2 as httpx
from web3 import Web3

from flexibility.fleet import EAN_PREFIX, ean_check_digit
from flexledger import wiring
from flexledger.participants import SCENARIO_PARTICIPANTS, open_participants
from flexledger.server import free_port
from flexledger.settings import Settings
from market.client import FlexledgerClient
from market.client.orders import order_json
from market.wallet import Wallet
from oracle.bindings import ContractSuite
from oracle.chain import connect
from oracle.eip712 import Order
from oracle.manifest import Manifest
from oracle.merkle import merkle_root
from oracle.order_hashing import domain_separator, order_hash
from oracle.types import SLOT_SECONDS, Address, Direction, Side

RESULTS = Path(__file__).resolve().parent / "results" / "api_orders.json"
MARKET = "day-ahead"
API = "/api/v1"
SEED = 20260101
COMMIT_KIND = "market.order.commit"
NODE_COUNT = 8  # one root and seven feeders, every FSP's asset at one of the feeders
ORIGIN_LAT, ORIGIN_LON = 52.2689, 10.5268
ASSET_UP_KW = 50.0
ORDER_DAYS = 4  # orders spread over the slots of four delivery days
ORDER_MAX_W = 5_000  # so that even ten of one maker's orders in one slot fit its asset
CLIENT_TIMEOUT_S = 120.0  # an overloaded server answers late; a timeout counts as an error
SERVER_COMMAND = (sys.executable, "-m", "flexledger.cli", "serve")
BARE_COMMAND = (sys.executable, "-m", "benchmarks.bare_api")
LOADGEN_COMMAND = (sys.executable, "-m", "benchmarks.loadgen")
ENV = {"FLEXLEDGER_KEYSTORE_SCRYPT_N": "1024"}  # quick test keystores; the default is 2^18


class BenchmarkError(RuntimeError):
    """The benchmark could not set up or check its run; the message says which step."""


# -- the server ------------------------------------------------------------------------------


class ServerProcess:
    """``flexledger serve`` on a free port over ``data_dir``; stopped with Ctrl-C (SIGINT)."""

    def __init__(self, data_dir: Path, *, access_log: bool = False, bare: bool = False) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log_option = () if access_log else ("--no-access-log",)
        self.command = (
            (*BARE_COMMAND, str(self.port), *log_option) if bare else (*SERVER_COMMAND, *log_option)
        )
        self.ready_path = f"{API}/bare" if bare else f"{API}/chain"
        self.env = {
            **os.environ,
            **ENV,
            "FLEXLEDGER_DATA_DIR": str(data_dir),
            "FLEXLEDGER_API_PORT": str(self.port),
        }
        self.log_path = data_dir / "server.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None

    def settings(self) -> Settings:
        """The server's settings, as its environment gives them."""
        return Settings(
            data_dir=self.data_dir,
            api_port=self.port,
            keystore_scrypt_n=int(ENV["FLEXLEDGER_KEYSTORE_SCRYPT_N"]),
        )

    def __enter__(self) -> "ServerProcess":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            self.command, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self._wait_ready(timeout_s=180)
        return self

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise BenchmarkError(f"the server exited:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=2).status_code in (200, 405):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise BenchmarkError(f"the server did not answer within {timeout_s:.0f} s")

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._log is not None:
            self._log.close()


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


def new_client(url: str, wallet: Wallet) -> FlexledgerClient:
    return FlexledgerClient(wallet, httpx.Client(base_url=url, timeout=CLIENT_TIMEOUT_S))


def new_maker(url: str, chain_id: int) -> Maker:
    key = coincurve.PrivateKey()
    client = new_client(url, Wallet(key.secret, chain_id))
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


def wait_until(what: str, done: Callable[[], bool], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise BenchmarkError(f"{what}: not done after {timeout_s:.0f} s")
        time.sleep(0.2)


def onboard(server: ServerProcess, fsps: int) -> list[Maker]:
    """A DSO with a small grid and ``fsps`` FSPs, each with one mapped asset."""
    chain_id = int(httpx.get(f"{server.url}{API}/chain").json()["chain_id"])
    operator = new_client(server.url, operator_wallet(server.settings(), chain_id))
    operator.sign_in()
    dso = register(operator, new_maker(server.url, chain_id), "dso", 0).client
    makers = [
        register(operator, new_maker(server.url, chain_id), "fsp", number)
        for number in range(1, fsps + 1)
    ]
    everyone = [dso, *(maker.client for maker in makers)]
    wait_until("role grants", lambda: all(c.me()["status"] == "active" for c in everyone))
    dso.import_grid(nodes=grid_nodes(), name="bench-grid")
    wait_until("grid on chain", lambda: all(n["on_chain"] for n in dso.grid_nodes()))
    map_assets(dso, makers)
    for client in (operator, dso):
        client.close()
    return makers


def register(operator: FlexledgerClient, maker: Maker, kind: str, number: int) -> Maker:
    """The maker registers its organisation and the market operator approves it."""
    name = "Netz Nord" if kind == "dso" else f"Flex {number}"
    operator.approve(maker.client.register(kind, company(name, number))["id"])
    return maker


def map_assets(dso: FlexledgerClient, makers: list[Maker]) -> None:
    """Every maker registers one battery; the DSO confirms its proposed node."""
    for number, maker in enumerate(makers):
        maker.asset = register_asset(maker.client, number)
    wait_until("assets on chain", lambda: len(dso.assets(status="on_chain")) == len(makers))
    for asset in dso.assets():
        dso.confirm_asset_node(asset["id"])
    wait_until("assets mapped", lambda: len(dso.assets(status="mapped")) == len(makers))
    for maker in makers:
        maker.node_id = int(maker.client.asset(maker.asset)["node_id"])


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
        signer.check(sell_order(maker, 0, day_start, rng), maker.client.wallet, market)
        plans.append(
            [
                signed_request(
                    signer,
                    [
                        sell_order(maker, first_nonce + number * per_request + n, day_start, rng)
                        for n in range(per_request)
                    ],
                )
                for number in range(requests_per_client)
            ]
        )
    return plans


def signed_request(signer: FastSigner, orders: list[Order]) -> Request:
    signed = [signer.sign(order) for order in orders]
    entries = [
        {"order": order_json(order), "signature": signature}
        for order, (_, signature) in zip(orders, signed, strict=True)
    ]
    body: dict[str, Any]
    if len(entries) == 1:
        path, body = "/orders", {"market": MARKET, **entries[0]}
    else:
        path, body = "/orders/batch", {"market": MARKET, "orders": entries}
    return Request(path, json.dumps(body).encode(), [order_hash for order_hash, _ in signed])


def sell_order(maker: Maker, nonce: int, day_start: int, rng: random.Random) -> Order:
    return _sell(
        maker.client.wallet.address, maker.node_id, Address(maker.asset), nonce, day_start, rng
    )


def _sell(
    maker: Address, node_id: int, asset: Address, nonce: int, day_start: int, rng: random.Random
) -> Order:
    """One slot of ORDER_DAYS days, at most ORDER_MAX_W: a maker's orders stay within its
    asset's prequalified capacity per slot even when several land in one slot."""
    slot_start = day_start + rng.randrange(96 * ORDER_DAYS) * SLOT_SECONDS
    power_w = rng.randrange(1_000, ORDER_MAX_W + 1, 100)
    divisible = rng.random() < 0.5
    return Order(
        maker=maker,
        side=Side.SELL,
        direction=Direction.UP,
        node_id=node_id,
        asset=asset,
        slot_start=slot_start,
        slot_count=1,
        power_w=power_w,
        min_power_w=1_000 if divisible else power_w,
        divisible=divisible,
        price_cents_per_mwh=rng.randrange(5_000, 30_000, 100),
        nonce=nonce,
        expiry=slot_start,
    )


# -- the load ---------------------------------------------------------------------------------


@dataclass
class ClientLog:
    latencies_s: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    accepted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def run_load(
    url: str, headers: list[dict[str, str]], plans: list[list[Request]], work_dir: Path
) -> tuple[float, list[ClientLog]]:
    """The clients' requests from the load generator in its own process (benchmarks/loadgen:
    asyncio, keep-alive, pre-built bytes); returns the wall time and the logs."""
    host, port = url.removeprefix("http://").split(":")
    plan = {
        "host": host,
        "port": int(port),
        "clients": [
            [{"path": API + r.path, "headers": h, "body": r.body.decode()} for r in requests]
            for h, requests in zip(headers, plans, strict=True)
        ],
    }
    plan_path, out_path = work_dir / "plan.json", work_dir / "load.json"
    plan_path.write_text(json.dumps(plan))
    subprocess.run((*LOADGEN_COMMAND, str(plan_path), str(out_path)), check=True)
    result = json.loads(out_path.read_text())
    logs = []
    for client, requests in zip(result["clients"], plans, strict=True):
        log = ClientLog(
            latencies_s=client["latencies_s"],
            statuses=Counter(client["statuses"]),
            accepted=client["accepted"],
            errors=client["errors"],
        )
        signed = {h for r in requests for h in r.order_hashes}
        if signed and any(h not in signed for h in log.accepted):
            log.errors.append("the server's order hashes differ from the signed ones")
        logs.append(log)
    return float(result["wall_s"]), logs


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
    return sorted_values[max(1, math.ceil(len(sorted_values) * q)) - 1]


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


def wait_committed(database: Path, timeout_s: float) -> tuple[float, dict[str, int]]:
    """Seconds until no order commitment waits in the outbox any more (an accepted order's
    commitment is stored in the same transaction as the order), and the final counts."""
    started = time.perf_counter()
    while True:
        backlog = commit_backlog(database)
        if not backlog.get("pending", 0) + backlog.get("in_flight", 0):
            return time.perf_counter() - started, backlog
        if time.perf_counter() - started > timeout_s:
            raise BenchmarkError(f"commitments not confirmed after {timeout_s:.0f} s: {backlog}")
        time.sleep(0.25)


def verify_on_chain(settings: Settings, accepted: list[str]) -> dict[str, Any]:
    """From the chain alone (the server is stopped): the order hashes of every
    ``commitOrderBatch`` transaction behind an ``OrderBatchCommitted`` event hash to the
    event's Merkle root, which ``batchCommittedAt`` knows; every accepted order is among them."""
    started = time.perf_counter()
    with connect(settings) as connection:
        suite = ContractSuite(connection.w3, Manifest.read(settings.resolved_manifest_path))
        market = suite.contract("FlexMarket")
        committed: set[str] = set()
        batches = bad_batches = 0
        for event in market.events.OrderBatchCommitted().get_logs(from_block=0):
            transaction = connection.w3.eth.get_transaction(event["transactionHash"])
            _, args = market.decode_function_input(transaction["input"])
            hashes = [bytes(order_hash) for order_hash in args["orderHashes"]]
            root = bytes(event["args"]["root"])
            known = suite.read("FlexMarket", "batchCommittedAt", root)
            if merkle_root(hashes) != root or not known or len(hashes) != event["args"]["count"]:
                bad_batches += 1
                continue
            batches += 1
            committed.update("0x" + order_hash.hex() for order_hash in hashes)
    proven = sum(1 for order_hash in accepted if order_hash in committed)
    return {
        "accepted": len(accepted),
        "distinct": len(set(accepted)),
        "proven_on_chain": proven,
        "batches": batches,
        "bad_batches": bad_batches,
        "committed_on_chain": len(committed),
        "lost": len(accepted) - proven,
        "check_s": round(time.perf_counter() - started, 2),
    }


# -- the run ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--bare", type=int, default=150, help="POST /bare per client")
    parser.add_argument("--single", type=int, default=150, help="POST /orders per client")
    parser.add_argument("--batches", type=int, default=4, help="POST /orders/batch per client")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--access-log", action="store_true", help="both servers log requests")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="flexledger-bench-") as tmp:
        rows = [run_bare(args, Path(tmp) / "bare")] if args.bare > 0 else []
        server = ServerProcess(Path(tmp) / "data", access_log=args.access_log)
        with server:
            started = time.perf_counter()
            try:
                makers = onboard(server, args.clients)
            except Exception:
                print(f"setup failed; the server's log ends:\n{server.log_tail(40)}")
                raise
            setup_s = time.perf_counter() - started
            phases = (("single", 1, args.single), ("batch", args.batch_size, args.batches))
            intake_rows, accepted = run_phases(server, makers, [p for p in phases if p[2] > 0])
            rows.extend(intake_rows)
            for maker in makers:
                maker.client.close()
        lost = verify_on_chain(server.settings(), accepted)
    _print(rows, lost)
    report = _report(args, setup_s, rows, lost)
    if not args.no_write:
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return report


def run_bare(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    """The bare FastAPI endpoint under the same load: this machine's ceiling."""
    rng = random.Random(SEED)
    day_start = delivery_day_start(datetime.now(UTC))
    plans = [[bare_request(rng, day_start) for _ in range(args.bare)] for _ in range(args.clients)]
    with ServerProcess(data_dir, access_log=args.access_log, bare=True) as server:
        wall_s, logs = run_load(server.url, [{}] * args.clients, plans, data_dir)
    row = summarise("bare", wall_s, logs)
    row["commit_lag_s"] = 0.0
    return row


def bare_request(rng: random.Random, day_start: int) -> Request:
    """An order's body, as big as a real one, with a signature that nobody checks."""
    maker = Address(Web3.to_checksum_address("0x" + rng.randbytes(20).hex()))
    order = _sell(maker, 2, maker, rng.randrange(2**40), day_start, rng)
    body = {
        "market": MARKET,
        "order": order_json(order),
        "signature": "0x" + rng.randbytes(65).hex(),
    }
    return Request("/bare", json.dumps(body).encode(), [])


def run_phases(
    server: ServerProcess, makers: list[Maker], phases: list[tuple[str, int, int]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Each phase (mode, orders per request, requests per client) in turn, each until its
    orders are committed; the phases' rows and every accepted order hash."""
    rng = random.Random(SEED)
    day_start = delivery_day_start(datetime.now(UTC))
    rows: list[dict[str, Any]] = []
    accepted: list[str] = []
    nonce = 1
    headers = [{"Authorization": f"Bearer {maker.token}"} for maker in makers]
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
        wall_s, logs = run_load(server.url, headers, plans, server.data_dir)
        row = summarise(mode, wall_s, logs)
        accepted.extend(order_hash for log in logs for order_hash in log.accepted)
        lag_s, backlog = wait_committed(server.data_dir / "flexledger.db", timeout_s=600)
        row["commit_lag_s"] = round(lag_s, 2)
        row["commitments_rejected"] = backlog.get("rejected", 0)
        rows.append(row)
    return rows, accepted


TARGET_ORDERS_PER_S = 1_000
TARGET_P99_MS = 100.0
_TABLE = (  # key, title, alignment and width, number format
    ("mode", "mode", "<8", ""),
    ("clients", "clients", ">8", ""),
    ("requests", "requests", ">10", ","),
    ("orders_accepted", "orders", ">9", ","),
    ("errors", "errors", ">8", ","),
    ("requests_per_s", "req/s", ">9", ",.0f"),
    ("orders_per_s", "orders/s", ">10", ",.0f"),
    ("p50_ms", "p50 ms", ">9", ".1f"),
    ("p95_ms", "p95 ms", ">9", ".1f"),
    ("p99_ms", "p99 ms", ">9", ".1f"),
    ("max_ms", "max ms", ">9", ".1f"),
    ("commit_lag_s", "on chain +s", ">13", ".1f"),
    ("meets_target", "target", ">8", ""),
)


def meets_target(row: dict[str, Any]) -> str:
    """Whether an intake row reaches the issue's target; the bare row is the yardstick."""
    if row["mode"] == "bare":
        return "-"
    fast = row["orders_per_s"] >= TARGET_ORDERS_PER_S and row["p99_ms"] <= TARGET_P99_MS
    return "yes" if fast and row["errors"] == 0 else "no"


def _print(rows: list[dict[str, Any]], lost: dict[str, Any]) -> None:
    print("".join(f"{title:{align}}" for _, title, align, _ in _TABLE))
    for row in rows:
        row["meets_target"] = meets_target(row)
        print("".join(f"{row[key]:{align}{style}}" for key, _, align, style in _TABLE))
        for error in row["first_errors"]:
            print(f"  {error}")
    print(
        f"target: >= {TARGET_ORDERS_PER_S:,} orders/s with p99 <= {TARGET_P99_MS:.0f} ms, "
        "0 errors, 0 lost; bare: a FastAPI endpoint that parses the same body and touches "
        "nothing, same uvicorn settings, same load generator"
    )
    print(
        f"on chain: {lost['proven_on_chain']:,} of {lost['accepted']:,} accepted orders proven "
        f"into {lost['batches']} committed batches ({lost['bad_batches']} batches whose hashes "
        f"miss their root); {lost['committed_on_chain']:,} orders on chain; lost {lost['lost']}"
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
            "bare: a FastAPI endpoint parsing the same body, same uvicorn settings; then "
            "flexledger serve in its own process (embedded chain, outbox pump running, group "
            "commit); the clients are asyncio connections of a load-generator process, one "
            "keep-alive connection and one FSP each, sending back to back; latency per "
            "request at the client; orders_per_s is accepted orders "
            "over the phase's wall time; commit_lag_s is from the phase's end until the outbox "
            "had confirmed every accepted order's commitment on chain"
        ),
        "server": {"environment": ENV, "setup_s": round(setup_s, 1)},
        "runs": rows,
        "on_chain": lost,
    }


if __name__ == "__main__":
    main()
