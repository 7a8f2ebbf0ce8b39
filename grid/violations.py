"""Operating limits and the slots and elements that break them.

Branches (lines, 2- and 3-winding transformers) are checked against a maximum loading in
percent of their rating; buses against a voltage band in p.u. Elements without a result (out
of service, isolated) are never violations.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pandapower.auxiliary import pandapowerNet

from grid.elements import ELEMENT_KINDS, Element, ElementKind, element_name
from grid.errors import GridInputError
from grid.timeseries import DayResult, SlotState


@dataclass(frozen=True)
class Limits:
    """The DSO's operating limits."""

    line_loading_pct: float = 100.0
    trafo_loading_pct: float = 100.0  # also used for 3-winding transformers
    vm_min_pu: float = 0.95
    vm_max_pu: float = 1.05

    def __post_init__(self) -> None:
        for field in ("line_loading_pct", "trafo_loading_pct", "vm_min_pu", "vm_max_pu"):
            if not getattr(self, field) > 0:
                raise GridInputError(f"limits.{field}", "must be a positive number")
        if self.vm_min_pu >= self.vm_max_pu:
            raise GridInputError("limits.vm_min_pu", "must be below limits.vm_max_pu")

    def upper(self, kind: ElementKind) -> float:
        """The maximum allowed value for ``kind`` (loading %, or voltage p.u. for buses)."""
        return {
            "line": self.line_loading_pct,
            "trafo": self.trafo_loading_pct,
            "trafo3w": self.trafo_loading_pct,
            "bus": self.vm_max_pu,
        }[kind]


@dataclass(frozen=True)
class Violation:
    """One element over (or, for bus voltages, possibly under) its limit in one slot."""

    slot: int
    element_kind: ElementKind
    element_index: int
    element_name: str
    value: float
    limit: float

    @property
    def element(self) -> Element:
        return Element(self.element_kind, self.element_index)

    @property
    def is_under(self) -> bool:
        """True for an under-voltage (the value is below a lower limit)."""
        return self.value < self.limit

    @property
    def excess(self) -> float:
        """How far beyond the limit the value is (positive), in the value's unit."""
        return abs(self.value - self.limit)

    def describe(self) -> str:
        if self.element_kind == "bus":
            sign = "<" if self.is_under else ">"
            return f"{self.element_name} voltage {self.value:.3f} p.u. {sign} {self.limit:g}"
        return f"{self.element_name} loading {self.value:.1f} % > {self.limit:g} %"


def find_violations(
    net: pandapowerNet, result: DayResult, limits: Limits | None = None
) -> list[Violation]:
    """Every limit violation of the day, by slot, then element kind and index."""
    limits = limits or Limits()
    found: list[Violation] = []
    for kind in ELEMENT_KINDS:
        frame = result.values(kind)
        found += _violations(net, kind, frame.to_numpy(), list(frame.columns), limits)
    return sorted(found, key=_order)


def slot_violations(
    net: pandapowerNet, state: SlotState, slot: int, limits: Limits
) -> list[Violation]:
    """The violations of one solved slot (``state`` from ``SlotSolver.solve``)."""
    found: list[Violation] = []
    for kind in ELEMENT_KINDS:
        values = state.values(kind)[np.newaxis, :]
        found += _violations(net, kind, values, list(net[kind].index), limits, first_slot=slot)
    return sorted(found, key=_order)


def _order(violation: Violation) -> tuple[int, int, int]:
    kind_rank = ELEMENT_KINDS.index(violation.element_kind)
    return (violation.slot, kind_rank, violation.element_index)


def _violations(
    net: pandapowerNet,
    kind: ElementKind,
    values: np.ndarray,
    indices: list[int],
    limits: Limits,
    first_slot: int = 0,
) -> list[Violation]:
    """Violations in a (slots x elements) array; NaN compares false, so it never counts."""
    bounds = [(values > limits.upper(kind), limits.upper(kind))]
    if kind == "bus":
        bounds.append((values < limits.vm_min_pu, limits.vm_min_pu))
    found = []
    for broken, limit in bounds:
        for row, column in zip(*np.nonzero(broken), strict=True):
            index = int(indices[column])
            found.append(
                Violation(
                    slot=first_slot + int(row),
                    element_kind=kind,
                    element_index=index,
                    element_name=element_name(net, Element(kind, index)),
                    value=float(values[row, column]),
                    limit=limit,
                )
            )
    return found


def critical_element(violations: Sequence[Violation]) -> Element:
    """The element of the worst violation, relative to its limit (the one to report on)."""
    if not violations:
        raise GridInputError("violations", "no violations to pick a critical element from")
    worst = max(violations, key=lambda v: (v.excess / v.limit, -v.slot))
    return worst.element
