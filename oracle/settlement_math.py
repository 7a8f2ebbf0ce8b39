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

from dataclasses import dataclass

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
