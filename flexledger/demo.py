"""``flexledger demo``: a full market day on a real pandapower network, through the REST API.

Every participant works as a real one would: a wallet signs in (EIP-4361), registers its
organisation, and signs its orders (EIP-712) and registry transactions; the API runs on a
real socket; every chain write goes through the oracle's outbox; the auditor checks it all
from chain logs alone at the end. The DSO finds tomorrow's congestion with 96 power flows,
buys flexibility at the congested nodes, two FSPs offer their homes' batteries, EV chargers
and heat pumps, the market clears grid-aware, the FSPs are activated, the meters record
delivery (one FSP delivers only about half), and settlement is written on chain.
"""

import shutil
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from flexibility.offers import FlexOffer
from flexibility.portfolio import FleetAsset
from flexledger import demo_fleet, demo_grid
from flexledger.demo_fleet import Portfolio
from flexledger.demo_report import DemoReport, write_report
from flexledger.errors import FlexledgerError
from flexledger.platform_wiring import gas_faucet, open_platform
from flexledger.server import ServerThread
from flexledger.settings import Settings
from grid.topology import is_at_or_below
from market.api import create_app
from market.client import FlexledgerClient
from market.platform import Platform
from market.wallet import Wallet
from oracle.audit import Auditor, AuditReport
from oracle.chain import ChainConnection
from oracle.eip712 import ZERO_ADDRESS, Order
from oracle.types import SLOT_SECONDS, Direction, Side

MARKET = "day-ahead"
DSO_PRICE_CENTS_PER_MWH = 40_000  # the DSO pays at most 400 EUR/MWh for congestion relief
SLOTS_PER_DAY = 96
NOMINATION_BATCH = 500  # POST /baselines/batch takes up to 1,000
ASSET_PAGE = 10_000  # GET /assets' largest page; the API's default of 1,000 is too few at scale
COMPANY = {"country": "DE", "legal_name": "", "registration_number": "", "email": ""}


class DemoError(FlexledgerError):
    """The demo could not complete a step; the message says which and why."""


@dataclass(frozen=True)
class DemoConfig:
    network: str = "cigre-lv"
    homes_per_fsp: int = 60
    seed: int = 7
    weak_performance: float = 0.5  # the under-delivering FSP's share of what it sold
    report_path: Path | None = None


@dataclass
class DemoResult:
    audit: AuditReport
    report_path: Path
    trades: int
    settlements: list[dict[str, Any]] = field(default_factory=list)
    violations_before: int = 0
    violations_after: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def audit_clean(self) -> bool:
        return self.audit.clean


def run(settings: Settings, config: DemoConfig, console: Console | None = None) -> DemoResult:
    """Wipe the demo's data directory and run the market day on the embedded chain."""
    console = console or Console(quiet=True)
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    with open_platform(settings) as (platform, connection):
        fund = gas_faucet(connection)
        with ServerThread(create_app(platform, fund=fund)) as server:
            console.print(f"[green]API[/] on {server.url}/api/v1/docs, chain {platform.chain_id}")
            day = MarketDayDemo(settings, config, platform, connection, server.url, console)
            try:
                return day.run()
            finally:
                day.close()


class MarketDayDemo:
    def __init__(
        self,
        settings: Settings,
        config: DemoConfig,
        platform: Platform,
        connection: ChainConnection,
        url: str,
        console: Console,
    ) -> None:
        self.settings = settings
        self.config = config
        self.platform = platform
        self.connection = connection
        self.url = url
        self.console = console
        self.timings: dict[str, float] = {}
        self.clients: dict[str, FlexledgerClient] = {}
        self.portfolios: dict[str, Portfolio] = {}

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    # -- the day, step by step ---------------------------------------------------------

    def run(self) -> DemoResult:
        self.step("participants register and are approved", self.onboard)
        self.day = self.delivery_day()
        self.day_start = int(datetime.combine(self.day, datetime.min.time(), UTC).timestamp())
        self.forecast = self.step("DSO forecasts tomorrow's grid", self.forecast_grid)
        self.step("DSO publishes its grid", self.publish_grid)
        self.step("FSPs register assets, DSO maps them", self.register_assets)
        self.step("FSPs nominate baselines (hashes locked on chain)", self.nominate_baselines)
        self.step("DSO buys, FSPs offer (EIP-712 signed)", self.place_orders)
        self.trades = self.step("gate closes, market clears, trades on chain", self.clear)
        self.activations = self.step("FSPs are activated", self.collect_activations)
        self.step("delivery and metering", self.deliver_and_meter)
        self.step("settlement on chain, dispute window, finalisation", self.settle)
        audit = self.step("audit from chain logs alone", self.audit)
        return self.finish(audit)

    def step(self, title: str, action: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        with self.console.status(title):
            result = action()
        elapsed = time.perf_counter() - started
        self.timings[title] = round(elapsed, 2)
        self.console.print(f"[green]✓[/] {title} [dim]({elapsed:.1f} s)[/]")
        return result

    # -- participants ------------------------------------------------------------------

    def client(self, name: str, wallet: Wallet) -> FlexledgerClient:
        client = FlexledgerClient.connect(self.url, wallet)
        client.sign_in()
        self.clients[name] = client
        return client

    def onboard(self) -> None:
        chain_id = self.platform.chain_id
        operator = self.client("operator", Wallet(self.platform.operator.private_key, chain_id))
        organisations = (
            ("dso", "dso", "Stadtwerke Nord Netz GmbH"),
            ("fsp-alpha", "fsp", "Alpha Aggregation GmbH (batteries, EV chargers)"),
            ("fsp-beta", "fsp", "Beta Wärme GmbH (heat pumps)"),
            ("auditor", "auditor", "Prüfgesellschaft Energie AG"),
        )
        for name, kind, company_name in organisations:
            client = self.client(name, Wallet.create(chain_id))
            company = {
                **COMPANY,
                "name": company_name.split(" (")[0],
                "legal_name": company_name.split(" (")[0],
                "registration_number": f"HRB {10_000 + len(self.clients)}",
                "email": f"market@{name}.example",
            }
            registered = client.register(kind, company)
            operator.approve(registered["id"])
        self.wait("role grants on chain", lambda: self.all_active())

    def all_active(self) -> bool:
        return all(
            client.me()["status"] == "active"
            for name, client in self.clients.items()
            if name != "operator"
        )

    def delivery_day(self) -> date:
        """Tomorrow, unless its day-ahead gate has closed already: then the day after."""
        now = datetime.fromtimestamp(self.platform.now(), UTC)
        market = self.platform.markets.get(MARKET)
        day = now.date() + timedelta(days=1)
        while True:
            first_slot = int(datetime.combine(day, datetime.min.time(), UTC).timestamp())
            evening_slot = first_slot + 17 * 3600
            if (
                market.gate_closure(first_slot) > now.timestamp() + 600
                and market.gate_closure(evening_slot) > now.timestamp() + 600
            ):
                return day
            day += timedelta(days=1)

    # -- the DSO's grid ----------------------------------------------------------------

    def forecast_grid(self) -> demo_grid.GridForecast:
        forecast = demo_grid.forecast(self.config.network, self.day, self.config.seed)
        if not forecast.needs:
            raise DemoError(f"power flow found no congestion on {self.config.network}")
        self.console.print(
            f"  {len(forecast.violations)} limit violations in "
            f"{len({v.slot for v in forecast.violations})} slots; flexibility needed at "
            f"{len(forecast.need_nodes)} nodes ({sum(b.kw for b in forecast.blocks())} kW in "
            f"{len(forecast.blocks())} hourly blocks); 96 power flows in "
            f"{forecast.result.elapsed_s:.2f} s"
        )
        return forecast

    def publish_grid(self) -> None:
        nodes = [
            {
                "node_id": node.node_id,
                "parent_id": node.parent_id,
                "name": node.name,
                "voltage_kv": node.voltage_kv,
                **self.geo(node.x, node.y),
            }
            for node in self.forecast.nodes
        ]
        self.clients["dso"].import_grid(nodes=nodes, name=self.config.network)
        self.wait("grid nodes on chain", lambda: self.nodes_on_chain(len(nodes)))

    @staticmethod
    def geo(x: float | None, y: float | None) -> dict[str, float]:
        if x is None or y is None:
            return {}
        point = demo_fleet.to_geo(x, y)
        return {"x": point.lon, "y": point.lat}

    def nodes_on_chain(self, count: int) -> bool:
        nodes = self.clients["dso"].grid_nodes()
        return len(nodes) == count and all(node["on_chain"] for node in nodes)

    # -- the FSPs' assets --------------------------------------------------------------

    def register_assets(self) -> None:
        anchors = self.anchor_nodes()
        self.portfolios = {
            "fsp-alpha": demo_fleet.portfolio(
                "alpha",
                self.config.homes_per_fsp,
                self.config.seed,
                self.forecast.nodes,
                anchors,
                self.day,
                {"battery", "ev"},
                performance=1.0,
            ),
            "fsp-beta": demo_fleet.portfolio(
                "beta",
                self.config.homes_per_fsp,
                self.config.seed + 1,
                self.forecast.nodes,
                anchors,
                self.day,
                {"heatpump", "battery"},
                performance=self.config.weak_performance,
            ),
        }
        for name, portfolio in self.portfolios.items():
            bodies = [self.asset_body(asset) for asset in portfolio.assets]
            # POST /assets/batch: one registerAssets transaction per 50 assets
            registered = self.clients[name].register_assets(bodies)
            for asset, stored in zip(portfolio.assets, registered, strict=True):
                portfolio.asset_address[asset.asset_id] = stored["id"]
        self.wait("assets on chain", lambda: self.assets_with_status("on_chain"))
        dso = self.clients["dso"]
        found = dso.assets(limit=ASSET_PAGE)
        # POST /assets/nodes: one confirmAssetNodes per 200 assets, each at its proposed node
        dso.confirm_asset_nodes([(asset["id"], None) for asset in found])
        proposed = {asset["id"]: int(asset["proposed_node_id"]) for asset in found}
        for portfolio in self.portfolios.values():
            for fleet_asset in portfolio.assets:
                address = portfolio.asset_address[fleet_asset.asset_id]
                portfolio.node_of[fleet_asset.asset_id] = proposed[address]
        self.wait("asset nodes confirmed on chain", lambda: self.assets_with_status("mapped"))

    @staticmethod
    def asset_body(asset: FleetAsset) -> dict[str, Any]:
        up_kw, down_kw = demo_fleet.prequalified_kw(asset)
        return {
            "name": asset.asset_id,
            "technology": demo_fleet.technology(asset),
            "meter_point_id": asset.meter_point_id,
            "latitude": asset.location.lat,
            "longitude": asset.location.lon,
            "prequalified_up_kw": up_kw,
            "prequalified_down_kw": down_kw,
        }

    def anchor_nodes(self) -> set[int]:
        """The need nodes and every node below them: where the homes that can help sit."""
        below: set[int] = set(self.forecast.need_nodes)
        children: dict[int, list[int]] = defaultdict(list)
        for node in self.forecast.nodes:
            children[node.parent_id].append(node.node_id)
        frontier = list(below)
        while frontier:
            for child in children[frontier.pop()]:
                if child not in below:
                    below.add(child)
                    frontier.append(child)
        return below

    def assets_with_status(self, status: str) -> bool:
        expected = sum(len(p.assets) for p in self.portfolios.values())
        return len(self.clients["dso"].assets(status=status, limit=ASSET_PAGE)) == expected

    # -- baselines and orders ----------------------------------------------------------

    def nominate_baselines(self) -> None:
        for name, portfolio in self.portfolios.items():
            nominations = [
                (
                    portfolio.asset_address[asset.asset_id],
                    self.day_start,
                    demo_fleet.baseline_kwh(asset),
                )
                for asset in portfolio.assets
            ]
            for start in range(0, len(nominations), NOMINATION_BATCH):  # POST /baselines/batch
                self.clients[name].nominate_baselines(
                    nominations[start : start + NOMINATION_BATCH], market=MARKET
                )
        self.platform.settle()

    def place_orders(self) -> None:
        blocks = self.forecast.blocks()
        self.window = (
            min(b.first_slot for b in blocks),
            max(b.first_slot + b.slot_count for b in blocks),
        )
        dso = self.clients["dso"]
        buys = [self.buy_order(dso.wallet, n, block) for n, block in enumerate(blocks)]
        dso.place_orders(buys, MARKET)
        for name, portfolio in self.portfolios.items():
            sells = self.sell_orders(self.clients[name].wallet, portfolio)
            for start in range(0, len(sells), 400):
                self.clients[name].place_orders(sells[start : start + 400], MARKET)
        self.platform.settle()

    def gate_closure(self) -> int:
        return self.platform.markets.get(MARKET).gate_closure(
            self.day_start + self.window[0] * SLOT_SECONDS
        )

    def buy_order(self, wallet: Wallet, n: int, block: demo_grid.BlockNeed) -> Order:
        slot_start = self.day_start + block.first_slot * SLOT_SECONDS
        return Order(
            maker=wallet.address,
            side=Side.BUY,
            direction=Direction.UP,
            node_id=block.node_id,
            asset=ZERO_ADDRESS,
            slot_start=slot_start,
            slot_count=block.slot_count,
            power_w=block.kw * 1000,
            min_power_w=1000,
            divisible=True,
            price_cents_per_mwh=DSO_PRICE_CENTS_PER_MWH,
            nonce=10_000 + n,
            expiry=slot_start,
        )

    def sell_orders(self, wallet: Wallet, portfolio: Portfolio) -> list[Order]:
        """The FSP reads the DSO's buy orders (the public order book) and offers each unit in
        the hour that still needs the most at a node the unit sits at or below: a battery
        that discharged in the first hour has nothing left for the peak, so each unit offers
        once, where it helps most."""
        open_kw = {(b.node_id, b.first_slot): float(b.kw) for b in self.forecast.blocks()}
        orders: list[Order] = []
        for asset in portfolio.assets:
            node_id = portfolio.node_of[asset.asset_id]
            for need_node, first_slot in sorted(open_kw, key=lambda key: -open_kw[key]):
                if open_kw[(need_node, first_slot)] <= 0 or not is_at_or_below(
                    self.forecast.nodes, node_id, need_node
                ):
                    continue
                offers = demo_fleet.offers(asset, node_id, self.day_start, first_slot, 4)
                if not offers:
                    continue
                orders.append(self.sell_order(wallet, portfolio, asset, offers[0], len(orders)))
                open_kw[(need_node, first_slot)] -= offers[0].power_w / 1000
                break
        return orders

    def sell_order(
        self, wallet: Wallet, portfolio: Portfolio, asset: FleetAsset, offer: FlexOffer, n: int
    ) -> Order:
        return Order(
            maker=wallet.address,
            side=Side.SELL,
            direction=Direction.UP,
            node_id=offer.node_id,
            asset=portfolio.asset_address[asset.asset_id],
            slot_start=offer.slot_start,
            slot_count=offer.slot_count,
            power_w=offer.power_w,
            min_power_w=offer.min_power_w,
            divisible=offer.divisible,
            price_cents_per_mwh=offer.price_cents_per_mwh,
            nonce=20_000 + n,
            expiry=offer.slot_start,
        )

    # -- clearing and activation -------------------------------------------------------

    def clear(self) -> list[dict[str, Any]]:
        self.advance_to(self.gate_closure() + 60)
        first, end = self.window
        run = self.clients["operator"].run_clearing(
            MARKET, self.day_start + first * SLOT_SECONDS, self.day_start + end * SLOT_SECONDS
        )
        self.run_id = int(run["id"])
        self.wait("trades recorded on chain", lambda: self.trades_recorded(int(run["trade_count"])))
        trades: list[dict[str, Any]] = self.clients["operator"].trades()
        self.console.print(
            f"  {run['order_count']} orders cleared into {len(trades)} trades ({run['pricing']})"
        )
        return trades

    def trades_recorded(self, count: int) -> bool:
        trades = self.clients["operator"].trades()
        return len(trades) == count and all(t["chain_trade_id"] is not None for t in trades)

    def collect_activations(self) -> dict[str, list[dict[str, Any]]]:
        self.platform.settle()
        activations: dict[str, list[dict[str, Any]]] = {}
        for name in self.portfolios:
            client = self.clients[name]
            received = client.activations(limit=1000)
            for activation in received:
                client.acknowledge(int(activation["id"]))
            activations[name] = received
        return activations

    # -- delivery, metering, settlement ------------------------------------------------

    def deliver_and_meter(self) -> None:
        day_end = self.day_start + SLOTS_PER_DAY * SLOT_SECONDS
        self.advance_to(day_end + 600)
        self.delivered_kw: dict[tuple[int, int], float] = defaultdict(float)
        readings = []
        for name, portfolio in self.portfolios.items():
            per_asset: dict[str, dict[int, int]] = defaultdict(dict)
            for activation in self.activations[name]:
                asset = portfolio.by_address(activation["asset"])
                demo_fleet.add_activation(
                    per_asset[asset.asset_id], activation["schedule"], self.day_start
                )
            for asset in portfolio.assets:
                metered = demo_fleet.metered_kwh(
                    asset, per_asset[asset.asset_id], portfolio.performance, self.config.seed
                )
                baseline = demo_fleet.baseline_kwh(asset)
                bus = self.bus_of(portfolio.node_of[asset.asset_id])
                for slot, kwh in enumerate(metered):
                    readings.append(
                        {
                            "meter_point_id": asset.meter_point_id,
                            "slot_start": self.day_start + slot * SLOT_SECONDS,
                            "energy_kwh": kwh,
                        }
                    )
                    self.delivered_kw[(bus, slot)] += (baseline[slot] - kwh) * 4
        dso = self.clients["dso"]
        for start in range(0, len(readings), 5000):
            dso.submit_meter_readings(readings[start : start + 5000])
        self.after = demo_grid.with_delivered(self.forecast, dict(self.delivered_kw))

    def bus_of(self, node_id: int) -> int:
        return next(node.bus for node in self.forecast.nodes if node.node_id == node_id)

    def settle(self) -> None:
        operator = self.clients["operator"]
        report = operator.run_settlement()
        self.platform.settle()
        skipped = report.get("skipped", [])
        self.console.print(
            f"  {len(report.get('attested', []))} trades attested on chain, {len(skipped)} skipped"
        )
        for item in skipped:
            self.console.print(f"  [yellow]skipped[/] trade {item['trade_id']}: {item['reason']}")
        params = self.platform.oracle.suite.manifest.parameters
        window = int(params["attestation_window_s"]) + int(params["dispute_window_s"])
        self.advance_to(self.platform.now() + window + 60)
        operator.finalise()
        self.wait("settlements finalised", self.all_finalised)

    def all_finalised(self) -> bool:
        settlements = self.clients["operator"].settlements()
        return bool(settlements) and all(s["status"] == "finalised" for s in settlements)

    def audit(self) -> AuditReport:
        self.platform.settle()
        return Auditor(self.connection.w3, self.platform.oracle.suite.manifest).run()

    # -- helpers -----------------------------------------------------------------------

    def advance_to(self, timestamp: int) -> None:
        now = self.platform.now()
        if timestamp > now:
            with self.platform.chain_lock:
                self.connection.dev_chain.advance_time(timestamp - now)

    def wait(self, what: str, done: Callable[[], bool], timeout_s: float = 300.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            report, _ = self.platform.settle()
            if report.rejected_messages:
                raise DemoError(f"{what}: {report.rejected_messages} outbox messages rejected")
            if done():
                return
            if time.monotonic() > deadline:
                raise DemoError(f"{what}: not done after {timeout_s:.0f} s")
            time.sleep(0.05)

    # -- the outcome -------------------------------------------------------------------

    def finish(self, audit: AuditReport) -> DemoResult:
        settlements = self.clients["operator"].settlements()
        remaining = demo_grid.remaining_violations(self.forecast, self.after)
        self.print_summary(settlements, audit, len(remaining))
        report_path = self.config.report_path or self.settings.data_dir / "demo-report.html"
        write_report(self.report(settlements, audit, len(remaining)), report_path)
        self.console.print(f"report written to [bold]{report_path}[/]")
        return DemoResult(
            audit=audit,
            report_path=report_path,
            trades=len(self.trades),
            settlements=settlements,
            violations_before=len(self.forecast.violations),
            violations_after=len(remaining),
            timings=self.timings,
        )

    def print_summary(
        self, settlements: list[dict[str, Any]], audit: AuditReport, remaining: int
    ) -> None:
        table = Table(
            "trade",
            "FSP",
            "kW",
            "EUR/MWh",
            "traded kWh",
            "delivered kWh",
            "paid EUR",
            "penalty EUR",
            "status",
            title="Settlements on chain",
        )
        for row in settlements:
            table.add_row(
                str(row["chain_trade_id"]),
                self.seller_of(row["asset"]),
                f"{row['power_kw']:.1f}",
                f"{row['price_eur_per_mwh']:.2f}",
                f"{row['traded_kwh']:.2f}",
                f"{row['delivered_kwh']:.2f}",
                str(row["payment_eur"]),
                str(row["penalty_eur"]),
                str(row["status"]),
            )
        self.console.print(table)
        verdict = (
            "[bold green]clean[/]"
            if audit.clean
            else f"[bold red]{len(audit.mismatches)} mismatches[/]"
        )
        self.console.print(
            f"grid: {len(self.forecast.violations)} limit violations forecast, {remaining} left "
            f"after flexibility; audit from chain logs: {audit.trades} trades, "
            f"{audit.settlements} settlements: {verdict}"
        )

    def seller_of(self, asset_address: str) -> str:
        for name, portfolio in self.portfolios.items():
            if asset_address in portfolio.asset_address.values():
                return name
        return "?"

    def report(
        self, settlements: list[dict[str, Any]], audit: AuditReport, remaining: int
    ) -> DemoReport:
        orders = self.clients["operator"].orders(limit=1000)
        return DemoReport(
            title="flexledger market day",
            network=self.config.network,
            delivery_day=self.day.isoformat(),
            slot_starts=[self.day_start + s * SLOT_SECONDS for s in range(SLOTS_PER_DAY)],
            elements=demo_grid.worst_elements(self.forecast, self.after),
            orders=[_order_row(o) for o in orders],
            trades=[_trade_row(t) for t in self.trades],
            settlements=[{k: row.get(k, "") for k in SETTLEMENT_COLUMNS} for row in settlements],
            audit={
                "clean": audit.clean,
                "trades": audit.trades,
                "settlements": audit.settlements,
                "orders_verified": audit.orders_verified,
                "mismatches": len(audit.mismatches),
                "seconds": round(audit.duration_s, 2),
            },
            facts={
                "limit violations forecast": len(self.forecast.violations),
                "limit violations after flexibility": remaining,
                "assets": sum(len(p.assets) for p in self.portfolios.values()),
                "orders": len(orders),
                "trades": len(self.trades),
                **{f"{k} (s)": v for k, v in self.timings.items()},
            },
        )


SETTLEMENT_COLUMNS = (
    "chain_trade_id",
    "asset",
    "power_kw",
    "price_eur_per_mwh",
    "traded_kwh",
    "baseline_kwh",
    "metered_kwh",
    "delivered_kwh",
    "payment_eur",
    "penalty_eur",
    "net_eur",
    "status",
)


def _order_row(order: dict[str, Any]) -> dict[str, object]:
    fields = order["order"]
    explanation = order.get("explanation") or {}
    return {
        "side": "buy" if int(fields["side"]) == int(Side.BUY) else "sell",
        "node": fields["node_id"],
        "slot start (UTC)": _hhmm(int(fields["slot_start"])),
        "slots": fields["slot_count"],
        "kW": int(fields["power_w"]) / 1000,
        "EUR/MWh": int(fields["price_cents_per_mwh"]) / 100,
        "divisible": fields["divisible"],
        "status": order["status"],
        "filled kW": order["filled_kw"],
        "why": explanation.get("text", ""),
    }


def _trade_row(trade: dict[str, Any]) -> dict[str, object]:
    return {
        "trade (chain id)": trade["chain_trade_id"],
        "node": trade["node_id"],
        "slot start (UTC)": _hhmm(int(trade["slot_start"])),
        "slots": trade["slot_count"],
        "kW": trade["power_kw"],
        "EUR/MWh": trade["price_eur_per_mwh"],
        "asset": trade["asset"],
    }


def _hhmm(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M")
