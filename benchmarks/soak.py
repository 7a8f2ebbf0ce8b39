"""Soak: minutes of mixed traffic against ``flexledger serve``, killed (-9) and restarted twice.

Run from the repository root: ``python -m benchmarks.soak`` (``--minutes 10`` by default;
``--minutes 1`` for a smoke run), or ``python -m benchmarks soak``. Writes
benchmarks/results/soak.json.

The pump (outbox dispatcher, indexer, sync) runs inside ``flexledger serve``: the embedded
chain lives in that process (its lock file admits one process), so the pump cannot be
killed apart from the API. The soak therefore kills the whole server with SIGKILL at a
third and at two thirds of the run, mid-traffic and with outbox work in flight, and
starts it again on the same data directory (chain and database reopen from disk).

Traffic, from one loop bounded by the clock and ``MAX_OPERATIONS``: FSPs sign sell offers
and the DSO buy orders for the next intraday slot whose gate is open, orders are
cancelled, the DSO submits meter readings, and the operator clears each slot once its gate
has passed (the server's scheduler clears too; both must agree). At the end the outbox is
drained, the server stopped, and the database (read-only SQLite) is compared with the chain
alone (:func:`check`): every order row on chain (Merkle batch or ``placeOrder``) and none
twice, every recorded trade with its ``TradeRecorded`` event and no event without a trade,
settlements matching ``SettlementAttested(s)`` events, no outbox work left, no account nonce
confirmed twice. The servers' logs stay in the temporary directory printed at the start
with ``--keep``.
"""

import argparse
import itertools
import json
import random
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx

from benchmarks.api_orders import (
    API,
    BenchmarkError,
    Maker,
    ServerProcess,
    grid_nodes,
    map_assets,
    new_client,
    new_maker,
    operator_wallet,
    register,
    wait_until,
)
from market.client import ApiError, FlexledgerClient
from oracle.bindings import ContractSuite
from oracle.chain import connect
from oracle.eip712 import ZERO_ADDRESS, Order
from oracle.manifest import Manifest
from oracle.types import SLOT_SECONDS, Address, Direction, Side

RESULTS = Path(__file__).resolve().parent / "results" / "soak.json"
MARKET = "intraday"
GATE_LEAD_S = 3600  # intraday: the gate closes 1 h before the slot
GATE_MARGIN_S = 20  # an order is placed at least this long before its gate
CLEAR_AFTER_GATE_S = 5
MAX_OPERATIONS = 200_000
OPEN_SLOTS = 8  # orders go to one of the next eight slots whose gate is open
MAX_OFFERED_W = 45_000  # per maker and slot: below the asset's 50 kW prequalification
DRAIN_TIMEOUT_S = 600
FINAL_GATE_WAIT_S = 120.0
SESSION_REFRESH_S = 300.0  # sign-in messages expire after 10 minutes (market.wallet)
SEED = 20261204
WORK_KINDS = ("pending", "in_flight")


# -- the check: database against chain, pure ----------------------------------------------


@dataclass
class DbState:
    """What the platform's database holds at the end."""

    order_ids: set[str]
    trades: dict[int, tuple[str, str]]  # chain trade id -> (buy hash, sell hash)
    unrecorded_trades: Counter[str]  # trades without a chain id, by status
    settled_trade_ids: set[int]  # chain trade ids with a settlement row
    outbox_open: int  # messages still pending or in flight
    confirmed_nonces: Counter[tuple[str, int]]  # (sender, nonce) of confirmed transactions


@dataclass
class ChainState:
    """What the chain's logs hold at the end."""

    committed_batches: list[list[str]]  # order hashes of each OrderBatchCommitted
    placed_orders: list[str]  # OrderPlaced hashes
    trades: list[tuple[int, str, str]]  # TradeRecorded: (trade id, buy hash, sell hash)
    attested_trade_ids: list[int]  # SettlementAttested(s), one entry per attestation
    bad_batches: int = 0  # batches whose hashes do not give the event's Merkle root


def check(db: DbState, chain: ChainState) -> dict[str, int]:
    """Every disagreement between database and chain, counted; all zero when they agree."""
    on_chain_orders = Counter(h for batch in chain.committed_batches for h in batch)
    on_chain_orders.update(chain.placed_orders)
    chain_trades = Counter(trade_id for trade_id, _, _ in chain.trades)
    pairs = {trade_id: (buy, sell) for trade_id, buy, sell in chain.trades}
    attested = Counter(chain.attested_trade_ids)
    return {
        "orders_missing_on_chain": len(db.order_ids - on_chain_orders.keys()),
        "orders_on_chain_not_in_db": len(on_chain_orders.keys() - db.order_ids),
        "orders_on_chain_twice": sum(1 for n in on_chain_orders.values() if n > 1),
        "bad_batches": chain.bad_batches,
        "trades_missing_on_chain": len(db.trades.keys() - chain_trades.keys()),
        "trades_on_chain_not_in_db": len(chain_trades.keys() - db.trades.keys()),
        "trades_recorded_twice": sum(1 for n in chain_trades.values() if n > 1),
        "trades_with_other_orders": sum(
            1 for tid, pair in db.trades.items() if tid in pairs and pairs[tid] != pair
        ),
        "trades_pending_after_drain": db.unrecorded_trades.get("pending", 0),
        "settlements_missing_on_chain": len(db.settled_trade_ids - attested.keys()),
        "settlements_on_chain_not_in_db": len(attested.keys() - db.settled_trade_ids),
        "settlements_attested_twice": sum(1 for n in attested.values() if n > 1),
        "outbox_open_after_drain": db.outbox_open,
        "nonces_confirmed_twice": sum(1 for n in db.confirmed_nonces.values() if n > 1),
    }


def read_db(database: Path) -> DbState:
    """The database's side, read-only (WAL: the server may still be running)."""
    uri = f"file:{database}?mode=ro"
    with sqlite3.connect(uri, uri=True, timeout=30) as connection:
        orders = {row[0].lower() for row in connection.execute("SELECT id FROM market_order")}
        trades: dict[int, tuple[str, str]] = {}
        unrecorded: Counter[str] = Counter()
        for chain_id, buy, sell, status in connection.execute(
            "SELECT chain_trade_id, buy_order_id, sell_order_id, status FROM market_trade"
        ):
            if chain_id is None:
                unrecorded[str(status).lower()] += 1
            else:
                trades[int(chain_id)] = (buy.lower(), sell.lower())
        settled = {
            int(r[0]) for r in connection.execute("SELECT chain_trade_id FROM market_settlement")
        }
        open_work = connection.execute(
            "SELECT count(*) FROM outbox_message WHERE lower(status) IN (?, ?)", WORK_KINDS
        ).fetchone()[0]
        nonces = Counter(
            (str(sender).lower(), int(nonce))
            for sender, nonce in connection.execute(
                "SELECT sender, nonce FROM outbox_transaction WHERE lower(status) = 'confirmed'"
            )
        )
    connection.close()
    return DbState(orders, trades, unrecorded, settled, int(open_work), nonces)


def read_chain(server: ServerProcess) -> ChainState:
    """The chain's side, from its logs alone (the server is stopped: it holds the chain)."""
    settings = server.settings()
    with connect(settings) as connection:
        w3 = connection.w3
        suite = ContractSuite(w3, Manifest.read(settings.resolved_manifest_path))
        market, settlement = suite.contract("FlexMarket"), suite.contract("FlexSettlement")
        batches, bad = [], 0
        for event in market.events.OrderBatchCommitted().get_logs(from_block=0):
            _, args = market.decode_function_input(
                w3.eth.get_transaction(event["transactionHash"])["input"]
            )
            hashes = ["0x" + bytes(h).hex() for h in args["orderHashes"]]
            if len(hashes) != event["args"]["count"]:
                bad += 1
            batches.append(hashes)
        placed = [
            "0x" + bytes(e["args"]["orderHash"]).hex()
            for e in market.events.OrderPlaced().get_logs(from_block=0)
        ]
        trades = [
            (
                int(e["args"]["tradeId"]),
                "0x" + bytes(e["args"]["buyHash"]).hex(),
                "0x" + bytes(e["args"]["sellHash"]).hex(),
            )
            for e in market.events.TradeRecorded().get_logs(from_block=0)
        ]
        attested = [
            int(e["args"]["tradeId"])
            for e in settlement.events.SettlementAttested().get_logs(from_block=0)
        ]
        for event in settlement.events.SettlementsAttested().get_logs(from_block=0):
            records = event["args"]["records"]
            attested.extend(int(records[i]) >> 192 for i in range(0, len(records), 2))
    return ChainState(batches, placed, trades, attested, bad)


# -- the server, killed and restarted -------------------------------------------------------


class KillableServer(ServerProcess):
    """``flexledger serve`` that can be killed with SIGKILL and started again on its data."""

    def start(self) -> None:
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self.command, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self._wait_ready(timeout_s=300)

    def kill(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=60)
        if self._log is not None:
            self._log.close()


# -- the traffic -------------------------------------------------------------------------------


@dataclass
class Cast:
    operator: FlexledgerClient
    dso: FlexledgerClient
    makers: list[Maker]
    meter_points: list[str]


@dataclass
class Traffic:
    """What the load did, by operation and answer."""

    calls: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    unavailable: int = 0  # transport errors (a request met the kill)
    first_refusals: dict[str, str] = field(default_factory=dict)  # "operation status" -> text
    server_errors: list[str] = field(default_factory=list)
    accepted_orders: list[str] = field(default_factory=list)
    cancelled_orders: int = 0
    readings: int = 0
    clearings: list[dict[str, Any]] = field(default_factory=list)
    kills: list[dict[str, float]] = field(default_factory=list)


def set_up(server: KillableServer, fsps: int) -> Cast:
    """A DSO with the benchmark grid and ``fsps`` FSPs with one mapped battery each."""
    chain_id = int(httpx.get(f"{server.url}{API}/chain").json()["chain_id"])
    operator = new_client(server.url, operator_wallet(server.settings(), chain_id))
    operator.sign_in()
    dso = register(operator, new_maker(server.url, chain_id), "dso", 0).client
    makers = [
        register(operator, new_maker(server.url, chain_id), "fsp", n) for n in range(1, fsps + 1)
    ]
    everyone = [dso, *(maker.client for maker in makers)]
    wait_until("role grants", lambda: all(c.me()["status"] == "active" for c in everyone))
    dso.import_grid(nodes=grid_nodes(), name="soak-grid")
    wait_until("grid on chain", lambda: all(n["on_chain"] for n in dso.grid_nodes()))
    map_assets(dso, makers)
    points = [str(maker.client.asset(maker.asset)["meter_point_id"]) for maker in makers]
    return Cast(operator, dso, makers, points)


def next_open_slot(now_s: float) -> int:
    """The first slot whose intraday gate is still comfortably open."""
    earliest = now_s + GATE_LEAD_S + GATE_MARGIN_S
    return int(-(-earliest // SLOT_SECONDS) * SLOT_SECONDS)


class Load:
    """The mixed traffic: one operation per call of :meth:`step`, drawn by weight."""

    def __init__(self, cast: Cast, traffic: Traffic, rng: random.Random) -> None:
        self.cast = cast
        self.traffic = traffic
        self.rng = rng
        self.nonces = itertools.count(1)
        self.open_orders: dict[int, list[str]] = {}  # maker index -> its open order hashes
        self.offered_w: Counter[tuple[int, int]] = Counter()  # (maker, slot) -> W offered
        self.offers: dict[str, tuple[tuple[int, int], int]] = {}  # hash -> (maker, slot), W
        self.slots_to_clear: set[int] = set()
        self.reading_slots = itertools.count(1)
        self.started_s = time.time()
        self.signed_in_at = time.monotonic()

    def step(self) -> None:
        self.clear_due()
        if time.monotonic() - self.signed_in_at > SESSION_REFRESH_S:
            self.sign_in_again()
        roll = self.rng.random()
        if roll < 0.55:
            self.offer()
        elif roll < 0.65:
            self.bid()
        elif roll < 0.8:
            self.cancel()
        else:
            self.readings()

    def _call(self, name: str, action: Any) -> Any:
        self.traffic.calls[name] += 1
        try:
            answer = action()
        except ApiError as error:
            self.traffic.statuses[f"{name} {error.status}"] += 1
            self.traffic.first_refusals.setdefault(f"{name} {error.status}", str(error)[:300])
            if error.status >= 500:
                self.traffic.server_errors.append(f"{name}: {error}")
            return None
        except httpx.TransportError:
            self.traffic.unavailable += 1
            return None
        self.traffic.statuses[f"{name} ok"] += 1
        return answer

    def _order(
        self, maker: Address, side: Side, node_id: int, asset: Address, power_w: int, price: int
    ) -> Order:
        slot = next_open_slot(time.time()) + SLOT_SECONDS * self.rng.randrange(OPEN_SLOTS)
        self.slots_to_clear.add(slot)
        return Order(
            maker=maker,
            side=side,
            direction=Direction.UP,
            node_id=node_id,
            asset=asset,
            slot_start=slot,
            slot_count=1,
            power_w=power_w,
            min_power_w=min(1_000, power_w),
            divisible=True,
            price_cents_per_mwh=price,
            nonce=next(self.nonces),
            expiry=slot + SLOT_SECONDS,
        )

    def sign_in_again(self) -> None:
        """New sessions for everyone before the old ones expire (10 min after sign-in)."""
        clients = [self.cast.operator, self.cast.dso, *(m.client for m in self.cast.makers)]
        for client in clients:
            self._call("sign-in", client.sign_in)
        self.signed_in_at = time.monotonic()

    def offer(self) -> None:
        index = self.rng.randrange(len(self.cast.makers))
        maker = self.cast.makers[index]
        power_w = self.rng.randrange(500, 2_001, 100)
        order = self._order(
            maker.client.wallet.address,
            Side.SELL,
            maker.node_id,
            Address(maker.asset),
            power_w,
            self.rng.randrange(5_000, 30_000, 100),
        )
        if self.offered_w[(index, order.slot_start)] + power_w > MAX_OFFERED_W:
            self.cancel()  # the asset is fully offered in that slot: free some of it
            return
        placed = self._call("offer", lambda: maker.client.place_order(order, MARKET))
        if placed is not None:
            self.offered_w[(index, order.slot_start)] += power_w
            self.offers[placed["order_hash"]] = ((index, order.slot_start), power_w)
            self.traffic.accepted_orders.append(placed["order_hash"])
            self.open_orders.setdefault(index, []).append(placed["order_hash"])

    def bid(self) -> None:
        dso = self.cast.dso
        order = self._order(
            dso.wallet.address,
            Side.BUY,
            1,
            Address(ZERO_ADDRESS),
            self.rng.randrange(5_000, 20_001, 1_000),
            self.rng.randrange(20_000, 40_000, 100),
        )
        placed = self._call("bid", lambda: dso.place_order(order, MARKET))
        if placed is not None:
            self.traffic.accepted_orders.append(placed["order_hash"])
            self.open_orders.setdefault(-1, []).append(placed["order_hash"])

    def cancel(self) -> None:
        owners = [index for index, hashes in self.open_orders.items() if hashes]
        if not owners:
            return
        index = self.rng.choice(owners)
        order_hash = self.open_orders[index].pop(self.rng.randrange(len(self.open_orders[index])))
        client = self.cast.dso if index < 0 else self.cast.makers[index].client
        if self._call("cancel", lambda: client.cancel_order(order_hash)) is not None:
            self.traffic.cancelled_orders += 1
            key, power_w = self.offers.pop(order_hash, ((index, 0), 0))
            self.offered_w[key] -= power_w

    def readings(self) -> None:
        """An hour of past slots' readings for every meter point, each (point, slot) once."""
        hour = next(self.reading_slots)
        first = (int(self.started_s) // SLOT_SECONDS - 4 * hour) * SLOT_SECONDS
        rows = [
            {
                "meter_point_id": point,
                "slot_start": first + n * SLOT_SECONDS,
                "energy_kwh": round(self.rng.uniform(0.0, 5.0), 3),
            }
            for point in self.cast.meter_points
            for n in range(4)
        ]
        if self._call("readings", lambda: self.cast.dso.submit_meter_readings(rows)) is not None:
            self.traffic.readings += len(rows)

    def finish(self) -> None:
        """Wait (at most ``FINAL_GATE_WAIT_S``) for a gate about to pass, then clear."""
        upcoming = [slot - GATE_LEAD_S for slot in self.slots_to_clear]
        wait_s = min(upcoming, default=0) + CLEAR_AFTER_GATE_S - time.time()
        if 0 < wait_s <= FINAL_GATE_WAIT_S:
            time.sleep(wait_s)
        self.clear_due(force=True)

    def clear_due(self, force: bool = False) -> None:
        """The operator clears each slot whose gate passed (the scheduler may have already)."""
        now = time.time()
        for slot in sorted(self.slots_to_clear):
            if force or slot - GATE_LEAD_S + CLEAR_AFTER_GATE_S <= now:
                if slot - GATE_LEAD_S > now:
                    continue
                self.slots_to_clear.discard(slot)
                run = self._call(
                    "clearing",
                    lambda slot=slot: self.cast.operator.run_clearing(
                        MARKET, slot, slot + SLOT_SECONDS
                    ),
                )
                self.traffic.clearings.append(
                    {"slot_start": slot, "trades": None if run is None else run.get("trade_count")}
                )


# -- the run ----------------------------------------------------------------------------------


def outbox_open(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as connection:
        count = connection.execute(
            "SELECT count(*) FROM outbox_message WHERE lower(status) IN (?, ?)", WORK_KINDS
        ).fetchone()[0]
    connection.close()
    return int(count)


def drive(server: KillableServer, load: Load, seconds: float, kills: int) -> None:
    """Traffic for ``seconds``; the server killed and restarted at each ``1/(kills+1)``."""
    started = time.monotonic()
    kill_at = [started + seconds * (n + 1) / (kills + 1) for n in range(kills)]
    for _ in range(MAX_OPERATIONS):
        now = time.monotonic()
        if now - started >= seconds:
            break
        if kill_at and now >= kill_at[0]:
            kill_at.pop(0)
            open_before = outbox_open(server.data_dir / "flexledger.db")
            server.kill()
            down = time.monotonic()
            server.start()
            load.traffic.kills.append(
                {
                    "at_s": round(down - started, 1),
                    "restart_s": round(time.monotonic() - down, 1),
                    "outbox_open_at_kill": open_before,
                }
            )
            print(
                f"  killed -9 at {down - started:.0f} s ({open_before} outbox messages open), "
                f"back after {time.monotonic() - down:.1f} s",
                flush=True,
            )
            continue
        load.step()


def drain(database: Path, timeout_s: float) -> float:
    started = time.monotonic()
    wait_until("outbox drained", lambda: outbox_open(database) == 0, timeout_s=timeout_s)
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--fsps", type=int, default=4)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="flexledger-soak-")
    print(f"data and server logs in {tmp}", flush=True)
    server = KillableServer(Path(tmp) / "data")
    database = server.data_dir / "flexledger.db"
    traffic = Traffic()
    with server:
        try:
            setup_started = time.monotonic()
            cast = set_up(server, args.fsps)
            setup_s = time.monotonic() - setup_started
            load = Load(cast, traffic, random.Random(SEED))
            drive(server, load, 60 * args.minutes, args.kills)
            load.finish()
            drain_s = drain(database, DRAIN_TIMEOUT_S)
        except (BenchmarkError, ApiError):
            print(f"the soak failed; the server's log ends:\n{server.log_tail(40)}")
            raise
    db = read_db(database)
    chain = read_chain(server)
    mismatches = check(db, chain)
    report = _report(args, traffic, db, chain, mismatches, setup_s, drain_s)
    _print(report)
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    if not args.no_write:
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return report


def _report(
    args: argparse.Namespace,
    traffic: Traffic,
    db: DbState,
    chain: ChainState,
    mismatches: dict[str, int],
    setup_s: float,
    drain_s: float,
) -> dict[str, Any]:
    return {
        "made_by": (
            f"python -m benchmarks.soak --minutes {args.minutes:g} --fsps {args.fsps} "
            f"--kills {args.kills}"
        ),
        "target": (
            "database and chain agree after the pump was killed and restarted twice; "
            "nothing lost or doubled"
        ),
        "how": (
            "flexledger serve in its own process, pump inside it (the embedded chain admits one "
            "process), killed with SIGKILL and restarted on the same data directory; intraday "
            "offers, bids, cancels, meter readings, clearings at each gate"
        ),
        "setup_s": round(setup_s, 1),
        "drain_after_load_s": round(drain_s, 1),
        "kills": traffic.kills,
        "traffic": {
            "calls": dict(traffic.calls),
            "answers": dict(sorted(traffic.statuses.items())),
            "unavailable": traffic.unavailable,
            "first_refusals": traffic.first_refusals,
            "server_errors": len(traffic.server_errors),
            "first_server_errors": traffic.server_errors[:10],
            "orders_accepted": len(traffic.accepted_orders),
            "orders_cancelled": traffic.cancelled_orders,
            "meter_readings": traffic.readings,
            "clearings": traffic.clearings,
        },
        "end_state": {
            "orders_in_db": len(db.order_ids),
            "accepted_orders_not_in_db": len(set(traffic.accepted_orders) - db.order_ids),
            "trades_recorded_in_db": len(db.trades),
            "trades_without_chain_id": dict(db.unrecorded_trades),
            "settlements_in_db": len(db.settled_trade_ids),
            "order_batches_on_chain": len(chain.committed_batches),
            "orders_committed_on_chain": sum(len(b) for b in chain.committed_batches),
            "orders_placed_on_chain": len(chain.placed_orders),
            "trades_on_chain": len(chain.trades),
            "attestations_on_chain": len(chain.attested_trade_ids),
        },
        "mismatches": mismatches,
        "agree": not any(mismatches.values())
        and not set(traffic.accepted_orders) - db.order_ids
        and not traffic.server_errors,
    }


def _print(report: dict[str, Any]) -> None:
    traffic, end = report["traffic"], report["end_state"]
    print(
        f"calls: {traffic['calls']}; unavailable during kills: {traffic['unavailable']}; "
        f"5xx: {traffic['server_errors']}"
    )
    print(
        f"orders accepted {traffic['orders_accepted']:,}, "
        f"cancelled {traffic['orders_cancelled']:,}, "
        f"readings {traffic['meter_readings']:,}, clearings {len(traffic['clearings'])}"
    )
    print(f"end: {json.dumps(end)}")
    for name, count in report["mismatches"].items():
        print(f"  {name:<34}{count:>6}")
    print(f"database and chain agree: {'yes' if report['agree'] else 'NO'}")


if __name__ == "__main__":
    main()
