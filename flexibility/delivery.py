"""Metering of a delivered activation, simulated for the demo.

``metered_w = baseline_w - performance * reduction_w + noise`` per slot, where
``reduction_w = baseline - dispatched`` is what the activation changed (positive for up,
rebound included) and the noise is Gaussian with ``noise_std_w``, drawn from a generator
seeded by ``seed``: the same inputs always meter the same. ``performance`` is 1.0 for a unit
that does what it was told; the demo makes one FSP under-deliver with about 0.5.
Consumption-only assets never meter below zero. Energy per slot: ``Wh = W / 4``, rounded half
up (:func:`energy_wh`).
"""

import random
from collections.abc import Sequence

from flexibility.errors import FlexibilityInputError
from flexibility.portfolio import FleetAsset
from flexibility.profile import Activation


def simulate_metering(
    baseline_w: Sequence[int],
    reduction_w: Sequence[int],
    *,
    performance: float = 1.0,
    noise_std_w: float = 0.0,
    seed: int | str = 0,
    allow_negative: bool = False,
) -> list[int]:
    """Metered W per slot (see the module docstring)."""
    if len(baseline_w) != len(reduction_w):
        raise FlexibilityInputError(
            "reduction_w", f"has {len(reduction_w)} slots, the baseline {len(baseline_w)}"
        )
    if not 0.0 <= performance <= 2.0:
        raise FlexibilityInputError("performance", f"{performance} must be within 0..2")
    if noise_std_w < 0:
        raise FlexibilityInputError("noise_std_w", f"{noise_std_w} must not be negative")
    rng = random.Random(seed)
    metered = []
    for base, reduction in zip(baseline_w, reduction_w, strict=True):
        value = round(base - performance * reduction + rng.gauss(0.0, noise_std_w))
        metered.append(value if allow_negative else max(0, value))
    return metered


def simulate_asset_delivery(
    asset: FleetAsset,
    activation: Activation,
    *,
    performance: float = 1.0,
    noise_std_w: float = 0.0,
    seed: int = 0,
) -> list[int]:
    """Metered W per slot of one asset following ``activation`` (noise seeded per asset)."""
    baseline = asset.model.baseline_w()
    dispatched = asset.model.dispatch_w(activation)
    reduction = [b - d for b, d in zip(baseline, dispatched, strict=True)]
    return simulate_metering(
        baseline,
        reduction,
        performance=performance,
        noise_std_w=noise_std_w,
        seed=f"{seed}:{asset.asset_id}",
        allow_negative=asset.model.can_generate,
    )


def energy_wh(power_w: Sequence[int]) -> list[int]:
    """Energy per 15-minute slot in Wh, rounded half up."""
    return [(w + 2) // 4 for w in power_w]
