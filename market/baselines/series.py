"""Energy series of 15-minute slots, and the integer arithmetic every method shares.

A series is a ``Mapping[int, int]``: slot start (unix seconds, UTC, a multiple of 900) to the
energy of that slot in integer Wh, consumption positive (generation negative). Means are kept
exact as fractions and rounded once, half up, to whole Wh, so that an auditor recomputing a
baseline in any language gets the same integers.
"""

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from fractions import Fraction
from typing import TypeAlias

from market.baselines.errors import BaselineError
from oracle.types import SLOT_SECONDS

EnergySeries: TypeAlias = Mapping[int, int]


def check_slot(field: str, slot_start: int) -> None:
    """Raise unless ``slot_start`` is a slot start (an int multiple of 900 s)."""
    if isinstance(slot_start, bool) or not isinstance(slot_start, int):
        raise BaselineError(field, f"slot start {slot_start!r} must be integer unix seconds")
    if slot_start < 0:
        raise BaselineError(field, f"slot start {slot_start} is before 1970; use unix seconds")
    if slot_start % SLOT_SECONDS:
        raise BaselineError(
            field, f"{iso(slot_start)} is not a slot start; use a multiple of {SLOT_SECONDS} s"
        )


def sorted_slots(field: str, slots: Iterable[int]) -> list[int]:
    """The distinct slot starts in ascending order; raises when empty or misaligned."""
    ordered = sorted(set(slots))
    if not ordered:
        raise BaselineError(field, "no slots given; pass at least one slot start")
    for slot in ordered:
        check_slot(field, slot)
    return ordered


def slot_range(first: int, count: int) -> list[int]:
    """``count`` consecutive slot starts beginning at ``first``."""
    return [first + i * SLOT_SECONDS for i in range(count)]


def values_at(history: EnergySeries, slots: Iterable[int], why: str) -> list[int]:
    """The history's values at ``slots``; a missing one raises naming the slot and ``why``."""
    found = []
    for slot in slots:
        if slot not in history:
            raise BaselineError("history", f"no value for the slot at {iso(slot)}; {why}")
        found.append(history[slot])
    return found


def exact_mean(values: Iterable[int | Fraction]) -> Fraction:
    """The arithmetic mean, exact."""
    items = list(values)
    return Fraction(sum(items, Fraction(0)), len(items))


def round_half_up(value: Fraction) -> int:
    """``value`` rounded to the nearest integer, halves towards +infinity."""
    return math.floor(value + Fraction(1, 2))


def iso(slot_start: int) -> str:
    """A slot start as ISO 8601 UTC, for messages."""
    return datetime.fromtimestamp(slot_start, UTC).strftime("%Y-%m-%dT%H:%MZ")
