"""The market day of the chain scenario: every step a participant takes, in order.

Matching here is a deliberately plain greedy rule (cheapest qualifying offer first, at
the offer's price); the grid-aware clearing of the market platform replaces it.
"""

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_account import Account
from eth_utils import keccak
from rich.console import Console

from flexledger.devtools import DevControls
from oracle.credential_anchor import anchored_grant_check
from oracle.eip712 import ZERO_ADDRESS, Order, order_digest, sign_order
from oracle.errors import OracleError
from oracle.identity import (
    Signer,
    VerifiedPresentation,
    credential_hash,
    issue_role_credential,
    present,
    verify_presentation,
)
from oracle.indexer.models import IndexedEvent
from oracle.payloads import OrderFields
from oracle.service import OracleService
from oracle.settlement_math import attested_settlements, traded_energy_wh
from oracle.types import SLOT_SECONDS, Address, ChainId, Direction, Role, Side

GRID_NODES: tuple[tuple[int, int], ...] = (
    (1, 0),
    (10, 1),
    (11, 1),
    (100, 10),
    (101, 10),
    (110, 11),
)
TECH_BATTERY, TECH_EV_CHARGER, TECH_HEAT_PUMP = 1, 2, 3
ONE_YEAR_S = 365 * 24 * 3600
SLOTS = 4  # one hour of delivery
MIN_FILL_W = 5_000
PRESENTATION_DOMAIN = "flexledger.local"
ROLES: tuple[tuple[str, Role], ...] = (
    ("oracle", Role.ORACLE),
    ("dso-north", Role.DSO),
    ("fsp-alpha", Role.FSP),
    ("fsp-beta", Role.FSP),
    ("auditor", Role.AUDITOR),
)


@dataclass(frozen=True, slots=True)
class AssetPlan:
    owner: str
    label: str
    node_id: int
    technology: int
    up_w: int


@dataclass(frozen=True, slots=True)
class OfferPlan:
    asset: str
    power_w: int
    price_cents_per_mwh: int
    divisible: bool
    direct: bool = False  # placed by the FSP's wallet itself rather than batched


@dataclass(frozen=True, slots=True)
class MeterPlan:
    baseline_wh: int
    metered_wh: int


ASSETS: tuple[AssetPlan, ...] = (
    AssetPlan("fsp-alpha", "home battery, Elm St 4", 100, TECH_BATTERY, 30_000),
    AssetPlan("fsp-alpha", "EV charger, depot", 101, TECH_EV_CHARGER, 22_000),
    AssetPlan("fsp-beta", "heat pumps, Oak quarter", 100, TECH_HEAT_PUMP, 15_000),
    AssetPlan("fsp-beta", "community battery", 110, TECH_BATTERY, 25_000),
)
OFFERS: tuple[OfferPlan, ...] = (
    OfferPlan("home battery, Elm St 4", 30_000, 15_000, True),
    OfferPlan("EV charger, depot", 20_000, 18_000, False),
    OfferPlan("heat pumps, Oak quarter", 15_000, 20_000, True),
    OfferPlan("community battery", 20_000, 22_000, False, direct=True),
)
BUYS: tuple[tuple[int, int, int, bool], ...] = (  # node, W, cents/MWh, divisible
    (10, 60_000, 25_000, True),
    (11, 20_000, 30_000, False),
)


class MarketDay:
    def __init__(
        self,
        oracle: OracleService,
        signers: dict[str, Signer],
        controls: DevControls,
        console: Console,
    ) -> None:
        self.oracle = oracle
        self.signers = signers
        self.controls = controls
        self.console = console
        self.run_id = secrets.token_hex(4)
        self.asset_addresses: dict[str, Address] = {}
        self.market = oracle.suite.market_address
        self.chain_id = ChainId(oracle.suite.chain_id)

    def address(self, name: str) -> Address:
        return Address(self.signers[name].address)

    def key(self, *parts: object) -> str:
        return ":".join([self.run_id, *map(str, parts)])

    def drain(self, step: str) -> None:
        report = self.oracle.drain()
        if report.rejected_messages or report.errors:
            raise OracleError(
                f"{step}: {report.rejected_messages} rejected, errors {report.errors}"
            )
        self.console.print(
            f"[green]{step}[/]: {report.sent_messages} messages "
            f"in {report.sent_transactions} transactions"
        )

    def run(self) -> list[dict[str, int]]:
        self.grant_roles()
        self.publish_grid()
        self.register_assets()
        slot_start = self.next_delivery_slot()
        buys, offers = self.place_orders(slot_start)
        trades = self.record_trades(buys, offers)
        self.settle(trades, slot_start)
        return self.outcome(trades)

    # -- identity ----------------------------------------------------------------------

    def grant_roles(self) -> None:
        presentations = {}
        for name, role in ROLES:
            presentations[name] = self.present(name, role)
            verified = self.verify(presentations[name], role)
            vc = verified.credential.credential
            self.oracle.publish(
                "role.grant",
                {
                    "identity": self.address(name),
                    "role": int(role),
                    "credential_hash": "0x" + bytes(credential_hash(vc)).hex(),
                    "valid_from": int(verified.credential.valid_from.timestamp()),
                    "valid_until": int(verified.credential.valid_until.timestamp()),
                },
                sender=self.address("market-operator"),
                key=self.key("role", name),
            )
        self.drain("role credentials verified and anchored")
        for name, role in ROLES:  # now the presentations count only while anchored
            self.verify(presentations[name], role, anchored_as=self.address(name))

    def present(self, name: str, role: Role) -> tuple[dict[str, Any], str]:
        operator, subject = self.signers["market-operator"], self.signers[name]
        now, registry = self.chain_now(), self.oracle.suite.manifest.address_of("RoleRegistry")
        vc = issue_role_credential(
            operator, subject.did, role, now, _plus(now, ONE_YEAR_S), self.chain_id, registry
        )
        challenge = secrets.token_hex(16)
        return present(vc, subject, challenge, PRESENTATION_DOMAIN), challenge

    def verify(
        self, presented: tuple[dict[str, Any], str], role: Role, anchored_as: Address | None = None
    ) -> VerifiedPresentation:
        vp, challenge = presented
        suite = self.oracle.suite
        check = anchored_grant_check(suite, anchored_as, role) if anchored_as else None
        return verify_presentation(
            vp,
            challenge=challenge,
            domain=PRESENTATION_DOMAIN,
            trusted_issuers=[self.signers["market-operator"].did],
            now=self.chain_now(),
            expected_role=role,
            expected_chain_id=self.chain_id,
            expected_registry=suite.manifest.address_of("RoleRegistry"),
            is_revoked=check,
        )

    # -- grid --------------------------------------------------------------------------

    def publish_grid(self) -> None:
        for node_id, parent in GRID_NODES:
            self.oracle.publish(
                "grid.node",
                {"node_id": node_id, "parent_id": parent, "operator": self.address("dso-north")},
                sender=self.address("dso-north"),
                key=self.key("node", node_id),
            )
        self.drain("grid nodes published by the DSO")

    def register_assets(self) -> None:
        for plan in ASSETS:
            asset = Address(_new_address())
            self.asset_addresses[plan.label] = asset
            self.oracle.publish(
                "grid.asset",
                {
                    "asset": asset,
                    "meter_point_hash": "0x" + keccak(text=f"meter:{plan.label}").hex(),
                    "up_w": plan.up_w,
                    "down_w": 0,
                    "technology": plan.technology,
                    "proposed_node_id": plan.node_id,
                },
                sender=self.address(plan.owner),
                key=self.key("asset", plan.label),
            )
        self.drain("assets registered by FSPs")
        for plan in ASSETS:
            self.oracle.publish(
                "grid.asset_node",
                {"asset": self.asset_addresses[plan.label], "node_id": plan.node_id},
                sender=self.address("dso-north"),
                key=self.key("asset-node", plan.label),
            )
        self.drain("asset nodes confirmed by the DSO")

    # -- orders and trades ---------------------------------------------------------------

    def chain_now(self) -> datetime:
        timestamp = int(self.oracle.connection.w3.eth.get_block("latest")["timestamp"])
        return datetime.fromtimestamp(timestamp, UTC)

    def next_delivery_slot(self) -> int:
        now = int(self.chain_now().timestamp())
        return (now // SLOT_SECONDS + 8) * SLOT_SECONDS  # two hours ahead, slot-aligned

    def place_orders(
        self, slot_start: int
    ) -> tuple[list[tuple[Order, bytes]], list[tuple[Order, bytes, OfferPlan]]]:
        buys = [
            self.signed(self.buy_order(n, node, w, price, div, slot_start), "dso-north")
            for n, (node, w, price, div) in enumerate(BUYS)
        ]
        offers = []
        for n, plan in enumerate(OFFERS):
            owner = next(a.owner for a in ASSETS if a.label == plan.asset)
            order, signature = self.signed(self.sell_order(n, plan, slot_start), owner)
            offers.append((order, signature, plan))
        for order, signature in buys + [(o, s) for o, s, p in offers if not p.direct]:
            self.publish_commitment(order, signature)
        for order, signature, plan in offers:
            if plan.direct:
                self.oracle.publish(
                    "market.order.place",
                    {"order": _fields(order), "signature": "0x" + signature.hex()},
                    sender=order.maker,
                    key=self.key("place", order.nonce, order.maker),
                )
        self.drain("orders signed (EIP-712) and committed")
        return buys, offers

    def buy_order(
        self, n: int, node: int, power_w: int, price: int, divisible: bool, slot_start: int
    ) -> Order:
        return Order(
            maker=self.address("dso-north"),
            side=Side.BUY,
            direction=Direction.UP,
            node_id=node,
            asset=ZERO_ADDRESS,
            slot_start=slot_start,
            slot_count=SLOTS,
            power_w=power_w,
            min_power_w=MIN_FILL_W if divisible else power_w,
            divisible=divisible,
            price_cents_per_mwh=price,
            nonce=1_000 + n,
            expiry=slot_start,  # orders close when delivery starts
        )

    def sell_order(self, n: int, plan: OfferPlan, slot_start: int) -> Order:
        asset = next(a for a in ASSETS if a.label == plan.asset)
        return Order(
            maker=self.address(asset.owner),
            side=Side.SELL,
            direction=Direction.UP,
            node_id=asset.node_id,
            asset=self.asset_addresses[plan.asset],
            slot_start=slot_start,
            slot_count=SLOTS,
            power_w=plan.power_w,
            min_power_w=MIN_FILL_W if plan.divisible else plan.power_w,
            divisible=plan.divisible,
            price_cents_per_mwh=plan.price_cents_per_mwh,
            nonce=2_000 + n,
            expiry=slot_start,
        )

    def signed(self, order: Order, name: str) -> tuple[Order, bytes]:
        return order, sign_order(order, self.signers[name].private_key, self.chain_id, self.market)

    def publish_commitment(self, order: Order, signature: bytes) -> None:
        digest = order_digest(order, self.chain_id, self.market)
        self.oracle.publish(
            "market.order.commit",
            {
                "order": _fields(order),
                "signature": "0x" + signature.hex(),
                "order_hash": "0x" + digest.hex(),
            },
            sender=self.address("oracle"),
            key=self.key("commit", digest.hex()),
        )

    def trade_side(self, order: Order, signature: bytes, direct: bool) -> dict[str, object]:
        if direct:
            root, proof = b"\x00" * 32, []
        else:
            digest = order_digest(order, self.chain_id, self.market)
            commitment = self.oracle.commitment_of(self.key("commit", digest.hex()))
            root, proof = commitment.root, commitment.proof
        return {
            "order": _fields(order),
            "signature": "0x" + signature.hex(),
            "root": "0x" + root.hex(),
            "proof": ["0x" + p.hex() for p in proof],
        }

    def record_trades(
        self, buys: list[tuple[Order, bytes]], offers: list[tuple[Order, bytes, OfferPlan]]
    ) -> list[dict[str, int]]:
        trades = []
        remaining = {id(o): o.power_w for o, _, _ in offers}
        for buy, buy_sig in buys:
            left = buy.power_w
            for sell, sell_sig, plan in sorted(offers, key=lambda x: x[0].price_cents_per_mwh):
                fill = min(left, remaining[id(sell)])
                if not self.qualifies(buy, sell, fill):
                    continue
                payload = {
                    "buy": self.trade_side(buy, buy_sig, False),
                    "sell": self.trade_side(sell, sell_sig, plan.direct),
                    "power_w": fill,
                    "price_cents_per_mwh": sell.price_cents_per_mwh,
                }
                self.oracle.publish(
                    "market.trade",
                    payload,
                    sender=self.address("market-operator"),
                    key=self.key("trade", buy.nonce, sell.nonce),
                )
                trades.append(
                    {"seller_name": plan.asset, "power_w": fill, "price": sell.price_cents_per_mwh}
                )
                left -= fill
                remaining[id(sell)] -= fill
        self.drain("trades recorded on chain")
        self.oracle.index()
        recorded = self.oracle.indexer.events("TradeRecorded")
        return [
            {"trade_id": _args(e)["tradeId"], **t}
            for e, t in zip(recorded[-len(trades) :], trades, strict=True)
        ]

    def qualifies(self, buy: Order, sell: Order, fill: int) -> bool:
        if fill <= 0 or sell.price_cents_per_mwh > buy.price_cents_per_mwh:
            return False
        if (not buy.divisible and fill != buy.power_w) or (
            not sell.divisible and fill != sell.power_w
        ):
            return False
        below = self.oracle.suite.read("GridRegistry", "isAtOrBelow", sell.node_id, buy.node_id)
        return bool(below)

    # -- settlement ----------------------------------------------------------------------

    def settle(self, trades: list[dict[str, int]], slot_start: int) -> None:
        now = int(self.chain_now().timestamp())
        self.controls.advance_time(slot_start + SLOTS * SLOT_SECONDS - now + 60)
        for n, trade in enumerate(trades):
            meter = self.metering(trade, under_deliver=(n == len(trades) - 1))
            self.oracle.publish(
                "settlement.attest",
                {"trade_id": trade["trade_id"], **meter},
                sender=self.address("oracle"),
                key=self.key("attest", trade["trade_id"]),
            )
        self.drain("metering attested, settlements computed on chain")
        self.dispute_and_resolve(trades[0])
        params = self.oracle.suite.manifest.parameters
        self.controls.advance_time(params["attestation_window_s"] + params["dispute_window_s"] + 60)
        for trade in trades[1:]:
            self.oracle.publish(
                "settlement.finalise",
                {"trade_id": trade["trade_id"]},
                sender=self.address("market-operator"),
                key=self.key("finalise", trade["trade_id"]),
            )
        self.drain("settlements finalised after the dispute window")

    def metering(self, trade: dict[str, int], under_deliver: bool) -> dict[str, int]:
        traded_wh = traded_energy_wh(trade["power_w"], SLOTS)
        baseline = traded_wh * 3
        delivered = traded_wh * 6 // 10 if under_deliver else traded_wh + 500
        return {"baseline_wh": baseline, "metered_wh": baseline - delivered}

    def dispute_and_resolve(self, trade: dict[str, int]) -> None:
        seller = next(a.owner for a in ASSETS if a.label == trade["seller_name"])
        suite, account = self.oracle.suite, self.signers[seller].account
        call = suite.contract("FlexSettlement").functions.dispute(
            trade["trade_id"], keccak(text="meter read late")
        )
        tx_hash = suite.w3.eth.send_raw_transaction(
            account.sign_transaction(
                call.build_transaction(
                    {
                        "from": account.address,
                        "nonce": suite.w3.eth.get_transaction_count(account.address, "pending"),
                        "chainId": self.chain_id,
                    }
                )
            ).raw_transaction
        )
        self.oracle.connection.wait_for_receipt(bytes(tx_hash))
        traded_wh = traded_energy_wh(trade["power_w"], SLOTS)
        self.oracle.publish(
            "settlement.resolve",
            {
                "trade_id": trade["trade_id"],
                "baseline_wh": traded_wh * 3,
                "metered_wh": traded_wh * 2,
            },
            sender=self.address("market-operator"),
            key=self.key("resolve", trade["trade_id"]),
        )
        self.drain(f"dispute by {seller} resolved by the market operator")

    def outcome(self, trades: list[dict[str, int]]) -> list[dict[str, int]]:
        self.oracle.index()
        final: dict[int, dict[str, int]] = {}
        for event in self.oracle.indexer.events():
            for settled in attested_settlements(event.event, _args(event)):
                final[int(settled["tradeId"])] = settled
        rows = []
        for trade in trades:
            settled = final[trade["trade_id"]]
            rows.append(
                {
                    "trade_id": trade["trade_id"],
                    "seller": trade["seller_name"],
                    "power_w": trade["power_w"],
                    "price_cents_per_mwh": trade["price"],
                    "traded_wh": settled["tradedWh"],
                    "delivered_wh": settled["deliveredWh"],
                    "payment_cents": settled["paymentCents"],
                    "penalty_cents": settled["penaltyCents"],
                }
            )
        return rows


def _fields(order: Order) -> dict[str, object]:
    return OrderFields.from_order(order).model_dump()


def _args(event: IndexedEvent) -> dict[str, int]:
    return dict(json.loads(event.args))


def _plus(moment: datetime, seconds: int) -> datetime:
    return datetime.fromtimestamp(moment.timestamp() + seconds, UTC)


def _new_address() -> str:
    return str(Account.create().address)
