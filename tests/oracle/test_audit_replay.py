"""The auditor's replay rules for capacity per asset, slot and direction, for windows fixed
per trade and for packed batch attestations, on hand-made events (no chain needed).

The contracts refuse what these events show; a lying contract (or node) could still log it,
and the auditor must say so."""

from typing import Any

from contracts import CONTRACT_NAMES
from oracle.audit import Auditor
from oracle.events import DecodedEvent
from oracle.manifest import DeployedContract, Manifest
from oracle.settlement_math import settle
from oracle.types import Address, BlockNumber, ChainId, Role

ORACLE = "0x" + "0c" * 20
DSO = "0x" + "d5" * 20
FSP = "0x" + "f5" * 20
ASSET = "0x" + "a5" * 20
SLOT = 1_800_000_000  # a multiple of 900
ATTESTATION_S, DISPUTE_S, FACTOR = 86_400, 172_800, 15_000


def auditor() -> Auditor:
    contracts = {
        name: DeployedContract(name, Address("0x" + f"{i + 1:040x}"), BlockNumber(1), "0x", "", "")
        for i, name in enumerate(CONTRACT_NAMES)
    }
    return Auditor(None, Manifest(ChainId(1337), contracts, Address(ORACLE)))  # type: ignore[arg-type]


class Replay:
    """Feeds events to an auditor, one block each, at the given times."""

    def __init__(self) -> None:
        self.auditor = auditor()
        self.block = 0
        self.emit(
            "RoleRegistry",
            "RoleGranted",
            {"identity": ORACLE, "role": int(Role.ORACLE), "validFrom": 0, "validUntil": 2**64 - 1},
        )
        for who, role in ((DSO, Role.DSO), (FSP, Role.FSP)):
            self.emit(
                "RoleRegistry",
                "RoleGranted",
                {"identity": who, "role": int(role), "validFrom": 0, "validUntil": 2**64 - 1},
            )
        self.emit("GridRegistry", "NodeRegistered", {"nodeId": 1, "parentId": 0})
        self.emit(
            "GridRegistry",
            "AssetRegistered",
            {"asset": ASSET, "owner": FSP, "upW": 3_000_000, "downW": 1_000_000},
        )
        self.emit("GridRegistry", "AssetNodeConfirmed", {"asset": ASSET, "nodeId": 1})
        self.emit("FlexSettlement", "PenaltyFactorChanged", {"penaltyFactorBps": FACTOR})
        self.windows(ATTESTATION_S, DISPUTE_S, 0)

    def emit(self, contract: str, name: str, args: dict[str, Any], at: int = 0) -> None:
        self.block += 1
        event = DecodedEvent(contract, name, args, self.block, 0, b"\0" * 32, b"\0" * 32)
        self.auditor._timestamps = {self.block: at}
        self.auditor._replay([event])

    def windows(self, attestation_s: int, dispute_s: int, from_trade_id: int) -> None:
        args = {
            "attestationWindowS": attestation_s,
            "disputeWindowS": dispute_s,
            "fromTradeId": from_trade_id,
        }
        self.emit("FlexSettlement", "WindowsChanged", args)

    def trade(
        self, trade_id: int, power_w: int, slot_start: int, slot_count: int, direction: int = 0
    ) -> None:
        def order(maker: str, side: int, asset: str) -> dict[str, Any]:
            return {
                "maker": maker,
                "side": side,
                "direction": direction,
                "nodeId": 1,
                "asset": asset,
                "slotStart": slot_start,
                "slotCount": slot_count,
                "powerW": power_w,
                "minPowerW": power_w,
                "divisible": False,
                "priceCentsPerMWh": 20_000,
                "nonce": trade_id,
                "expiry": 2**63,
            }

        def signed(o: dict[str, Any]) -> dict[str, Any]:
            return {"order": o, "signature": b"", "root": b"\0" * 32, "proof": []}

        args = {
            "tradeId": trade_id,
            "buyHash": trade_id.to_bytes(32, "big"),
            "sellHash": (trade_id + 1000).to_bytes(32, "big"),
            "buy": signed(order(DSO, 0, "0x" + "00" * 20)),
            "sell": signed(order(FSP, 1, ASSET)),
            "powerW": power_w,
            "priceCentsPerMWh": 20_000,
        }
        self.emit("FlexMarket", "TradeRecorded", args, at=slot_start - 3600)

    def checks(self, check: str) -> list[str]:
        return [m.subject for m in self.auditor._report.mismatches if m.check == check]


def test_capacity_is_summed_per_asset_slot_and_direction() -> None:
    replay = Replay()
    replay.trade(1, 2_000_000, SLOT, 4)
    replay.trade(2, 1_000_000, SLOT + 3 * 900, 2)  # 3 MW in slot 3: exactly the capacity
    assert replay.checks("sold power within capacity") == []
    replay.trade(3, 1_000_000, SLOT + 4 * 900, 1, direction=1)  # down: its own 1 MW
    assert replay.checks("sold power within capacity") == []
    replay.trade(4, 500_000, SLOT + 2 * 900, 2)  # slot 3 now holds 3.5 MW
    [subject] = replay.checks("sold power within capacity")
    assert subject == f"trade 4 asset {ASSET} slot {SLOT + 3 * 900} direction 0"


def test_windows_stay_with_the_trades_recorded_before_a_change() -> None:
    replay = Replay()
    replay.trade(1, 2_000_000, SLOT, 4)
    replay.windows(600, 1200, 2)
    replay.trade(2, 1_000_000, SLOT, 4)
    assert replay.checks("apply from the next trade") == []
    end = SLOT + 4 * 900
    old_deadline = end + ATTESTATION_S + DISPUTE_S
    outcome = settle(
        direction=0,
        power_w=2_000_000,
        slot_count=4,
        price_cents_per_mwh=20_000,
        penalty_factor_bps=FACTOR,
        baseline_wh=10_000_000,
        metered_wh=9_000_000,
    )
    attested = {
        "tradeId": 1,
        "oracle": ORACLE,
        "baselineWh": 10_000_000,
        "meteredWh": 9_000_000,
        "tradedWh": outcome.traded_wh,
        "deliveredWh": outcome.delivered_wh,
        "shortfallWh": outcome.shortfall_wh,
        "paymentCents": outcome.payment_cents,
        "penaltyCents": outcome.penalty_cents,
        "penaltyFactorBps": FACTOR,
        "disputeDeadline": old_deadline,
    }
    # past the new 600 s window, inside trade 1's own window: accepted, old deadline
    replay.emit("FlexSettlement", "SettlementAttested", attested, at=end + 601)
    # trade 2 has the new windows: 601 s after delivery is too late for it
    record = (2 << 192) | (10_000_000 << 128) | (9_000_000 << 64) | outcome.delivered_wh // 2
    second = (outcome.traded_wh // 2 << 192) | (outcome.payment_cents // 2 << 96)
    batch = {"oracle": ORACLE, "penaltyFactorBps": FACTOR, "records": [record, second]}
    replay.emit("FlexSettlement", "SettlementsAttested", batch, at=end + 601)
    assert replay.checks("attested within its window") == ["settlement 2"]
    assert replay.checks("dispute deadline") == []
    assert replay.auditor.state.settlements[1].deadline == old_deadline
    assert replay.auditor.state.settlements[2].deadline == end + 1800
    assert replay.auditor._report.settlements == 2
    # a change that claims to reach back to trade 1 is reported
    replay.windows(700, 1300, 1)
    assert replay.checks("apply from the next trade") == ["windows"]


def test_a_batch_record_that_disagrees_with_its_inputs_is_reported() -> None:
    replay = Replay()
    replay.trade(1, 2_000_000, SLOT, 4)
    end = SLOT + 4 * 900
    traded = 2_000_000
    record = (1 << 192) | (10_000_000 << 128) | (9_000_000 << 64) | 1_000_000
    second = (traded << 192) | (20_000 * 10 << 96) | 0  # payment tenfold, penalty 0
    batch = {"oracle": ORACLE, "penaltyFactorBps": FACTOR, "records": [record, second]}
    replay.emit("FlexSettlement", "SettlementsAttested", batch, at=end)
    checks = {m.check for m in replay.auditor._report.mismatches if m.subject == "settlement 1"}
    assert checks == {"paymentCents", "penaltyCents"}
    replay.emit("FlexSettlement", "SettlementsAttested", {**batch, "records": [record]}, at=end)
    assert replay.checks("two words per settlement") == ["attestation batch"]
