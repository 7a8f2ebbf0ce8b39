"""The settlement rule, in Python, exactly as FlexSettlement.sol computes it.

The auditor recomputes every on-chain settlement with these functions, and the tests fuzz
the contract against them. All quantities are integers in on-chain units (Wh, euro cents
per MWh, euro cents); divisions round down, as Solidity's do.

* traded      = power_w × slot_count × 900 s / 3600 s/h            [Wh]
* delivered   = baseline − metered for Up (consumption fell), metered − baseline for Down,
                clipped to [0, traded]                               [Wh]
* payment     = price × delivered / 10⁶                              [cents; Wh→MWh]
* shortfall   = traded − delivered                                   [Wh]
* penalty     = price × penalty_factor_bps / 10⁴ × shortfall / 10⁶   [cents]
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from oracle.types import SLOT_SECONDS, Direction

WH_PER_MWH = 1_000_000
BPS = 10_000


@dataclass(frozen=True, slots=True)
class SettlementOutcome:
    traded_wh: int
    delivered_wh: int
    shortfall_wh: int
    payment_cents: int
    penalty_cents: int


def traded_energy_wh(power_w: int, slot_count: int) -> int:
    return power_w * slot_count * SLOT_SECONDS // 3600


def delivered_energy_wh(
    direction: Direction | int, baseline_wh: int, metered_wh: int, traded_wh: int
) -> int:
    raw = baseline_wh - metered_wh if direction == Direction.UP else metered_wh - baseline_wh
    return max(0, min(raw, traded_wh))


def settle(
    *,
    direction: Direction | int,
    power_w: int,
    slot_count: int,
    price_cents_per_mwh: int,
    penalty_factor_bps: int,
    baseline_wh: int,
    metered_wh: int,
) -> SettlementOutcome:
    traded = traded_energy_wh(power_w, slot_count)
    delivered = delivered_energy_wh(direction, baseline_wh, metered_wh, traded)
    shortfall = traded - delivered
    penalty_rate = price_cents_per_mwh * penalty_factor_bps // BPS
    return SettlementOutcome(
        traded_wh=traded,
        delivered_wh=delivered,
        shortfall_wh=shortfall,
        payment_cents=price_cents_per_mwh * delivered // WH_PER_MWH,
        penalty_cents=penalty_rate * shortfall // WH_PER_MWH,
    )


# -- SettlementsAttested records (FlexSettlement.attestBatch) ------------------------------
# Two words per trade, see IFlexSettlement.SettlementsAttested:
#   word 2i:   tradeId (bits 192-255) | baselineWh (128-191) | meteredWh (64-127) | deliveredWh
#   word 2i+1: tradedWh (192-255) | paymentCents (96-191) | penaltyCents (0-95)
_U64 = (1 << 64) - 1
_U96 = (1 << 96) - 1


def unpack_attested_records(records: list[int]) -> list[dict[str, int]]:
    """The per-trade settlements of one ``SettlementsAttested`` log, keyed like the fields
    of ``SettlementAttested`` (tradeId, baselineWh, ..., penaltyCents), so that every reader
    of attested settlements handles both events alike. A record list of odd length is
    malformed: :class:`ValueError`."""
    if len(records) % 2:
        raise ValueError(f"{len(records)} record words: a settlement takes two")
    unpacked = []
    for first, second in zip(records[::2], records[1::2], strict=True):
        traded_wh, delivered_wh = second >> 192, first & _U64
        unpacked.append(
            {
                "tradeId": first >> 192,
                "baselineWh": (first >> 128) & _U64,
                "meteredWh": (first >> 64) & _U64,
                "deliveredWh": delivered_wh,
                "tradedWh": traded_wh,
                "shortfallWh": traded_wh - delivered_wh,
                "paymentCents": (second >> 96) & _U96,
                "penaltyCents": second & _U96,
            }
        )
    return unpacked


def attested_settlements(event_name: str, args: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The settlements an attestation event carries, each with ``tradeId``, the energies and
    amounts of ``SettlementAttested`` and the event's ``penaltyFactorBps``: one for
    ``SettlementAttested`` or ``SettlementResolved``, one per trade for ``SettlementsAttested``,
    none for any other event."""
    if event_name in ("SettlementAttested", "SettlementResolved"):
        return [dict(args)]
    if event_name != "SettlementsAttested":
        return []
    records = [int(word) for word in cast(list[int], args["records"])]
    extra = {"oracle": args["oracle"], "penaltyFactorBps": args["penaltyFactorBps"]}
    return [record | extra for record in unpack_attested_records(records)]


def pack_attestation(trade_id: int, baseline_wh: int, metered_wh: int) -> int:
    """One word of ``FlexSettlement.attestBatch``: tradeId << 128 | baselineWh << 64 |
    meteredWh (each below 2^64, else :class:`ValueError`)."""
    for name, value in (
        ("trade_id", trade_id),
        ("baseline_wh", baseline_wh),
        ("metered_wh", metered_wh),
    ):
        if not 0 <= value < 1 << 64:
            raise ValueError(f"{name} {value} does not fit 64 bits")
    return (trade_id << 128) | (baseline_wh << 64) | metered_wh
