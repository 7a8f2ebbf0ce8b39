"""How much flexibility, where and when, removes the day's limit violations.

For each slot with violations, flexibility is placed just below each violated element: at the
downstream bus of a line or transformer (the bus farther from the external grid), at the bus
itself for a voltage violation. A buy order at that node lets every asset at or below it help,
which is how the market clears grid-aware. With ``candidate_buses`` the need moves down to the
highest allowed buses in that subtree (where the flexible assets are; the deepest of several,
then the lowest index).

The amount comes from sensitivities by perturbation: one extra power flow with a small step of
consumption at a bus gives d(value)/d(MW) for every element. Violations are taken deepest place
first (feeder ends before the branches that feed them); each gets the step that brings its
(predicted) value just inside the limit, times ``1 + margin_pct / 100``, and the step's
effect on every other element is predicted with the same sensitivities, so violations a deeper
step already relieves get nothing more. A re-check power flow then shows what is left (the
grid is not linear), and rounds repeat until the slot is clean. The first round of a slot
reuses sensitivities measured in earlier slots (the operating point moves little from one
quarter-hour to the next); if it leaves violations, later rounds measure them afresh at the
slot's own operating point.
"""

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
from pandapower.auxiliary import pandapowerNet

from grid.elements import Direction, Element
from grid.errors import FlexibilityNeedError, GridInputError
from grid.profiles import ScenarioProfiles
from grid.timeseries import DayResult, SlotSolver, SlotState
from grid.topology import BusTree, node_id_of_bus, node_tree
from grid.violations import Limits, Violation, find_violations, slot_violations

__all__ = ["FlexNeed", "Limits", "Violation", "find_violations", "flexibility_needs"]

_MIN_STEP_MW = 0.001  # 1 kW: big enough to stand well out of the power flow's tolerance
_STEP_SHARE = 0.001  # of the slot's total load, so MV grids get a step of their own scale
_AIM = 1e-4  # aim this share inside the limit: linear steps would only creep up to it
_FLAT = 1e-9  # a sensitivity below this (per MW) means the bus cannot move the value


@dataclass(frozen=True)
class FlexNeed:
    """Flexibility the DSO needs in one slot at one node: ``kw`` in ``direction``."""

    slot: int
    bus: int
    node_id: int
    direction: Direction
    kw: float
    reason: str


def flexibility_needs(
    net: pandapowerNet,
    profiles: ScenarioProfiles,
    result: DayResult,
    limits: Limits | None = None,
    candidate_buses: Collection[int] | None = None,
    margin_pct: float = 10.0,
    max_rounds: int = 8,
    numba: bool = True,
) -> list[FlexNeed]:
    """Per slot and node, the kW of flexibility that removes the violations of ``result``
    (the day of ``profiles`` on ``net``), with ``margin_pct`` more than the linear estimate.

    Raises ``FlexibilityNeedError`` naming the slot when a violation has no allowed bus below
    it, no bus below it moves its value, or ``max_rounds`` rounds leave violations.
    ``numba`` is passed on to the power flows (see ``run_day``).
    """
    limits = limits or Limits()
    if margin_pct < 0:
        raise GridInputError("margin_pct", "must be 0 or more")
    if max_rounds < 1:
        raise GridInputError("max_rounds", "must be 1 or more")
    tree = BusTree(node_tree(net, exclude_disconnected=True))
    allowed = _allowed_buses(tree, candidate_buses)
    solver = SlotSolver(net, profiles, numba=numba)
    finder = _NeedFinder(net, solver, tree, allowed, limits, margin_pct, max_rounds)
    slots = sorted({violation.slot for violation in find_violations(net, result, limits)})
    return [need for slot in slots for need in _needs_of(slot, finder.plan(slot))]


def _allowed_buses(tree: BusTree, candidate_buses: Collection[int] | None) -> set[int]:
    if candidate_buses is None:
        return {bus for bus in tree.parent if bus != tree.root}
    unknown = sorted(set(candidate_buses) - set(tree.parent))
    if unknown:
        raise GridInputError("candidate_buses", f"buses {unknown} are not in the node tree")
    return set(candidate_buses) - {tree.root}


@dataclass
class _SlotPlan:
    """Flexibility found so far for one slot: MW of added consumption per bus (negative is
    "up") and the violations each bus answers."""

    flex_mw: dict[int, float] = field(default_factory=dict)
    reasons: dict[int, list[str]] = field(default_factory=dict)

    def add(self, bus: int, delta_mw: float, violation: Violation) -> None:
        self.flex_mw[bus] = self.flex_mw.get(bus, 0.0) + delta_mw
        reasons = self.reasons.setdefault(bus, [])
        if violation.describe() not in reasons:
            reasons.append(violation.describe())


def _needs_of(slot: int, plan: _SlotPlan) -> list[FlexNeed]:
    needs = []
    for bus, flex_mw in sorted(plan.flex_mw.items()):
        watts = int(np.ceil(abs(flex_mw) * 1e6))  # whole watts, rounded up: never too little
        if watts:
            needs.append(
                FlexNeed(
                    slot=slot,
                    bus=bus,
                    node_id=node_id_of_bus(bus),
                    direction="up" if flex_mw < 0 else "down",
                    kw=watts / 1000,
                    reason="; ".join(plan.reasons[bus]),
                )
            )
    return needs


class _NeedFinder:
    """Works out one slot's flexibility, round by round, on a shared slot solver."""

    def __init__(
        self,
        net: pandapowerNet,
        solver: SlotSolver,
        tree: BusTree,
        allowed: set[int],
        limits: Limits,
        margin_pct: float,
        max_rounds: int,
    ) -> None:
        self.net = net
        self.solver = solver
        self.tree = tree
        self.allowed = allowed
        self.limits = limits
        self.margin = 1 + margin_pct / 100
        self.max_rounds = max_rounds
        # bus -> d(values)/d(MW there), from an earlier slot: neighbouring slots have nearly
        # the same operating point, so a first round may use them without a perturbation.
        self.earlier_slopes: dict[int, SlotState] = {}

    def plan(self, slot: int) -> _SlotPlan:
        plan = _SlotPlan()
        slopes = dict(self.earlier_slopes)
        for round_number in range(self.max_rounds + 1):  # the last pass only checks
            state = self.solver.solve(slot, plan.flex_mw)
            left = slot_violations(self.net, state, slot, self.limits)
            if not left:
                return plan
            if round_number == self.max_rounds:
                break
            if round_number == 1:  # the earlier slopes were not good enough: measure afresh
                slopes.clear()
            self._round(slot, state, plan, slopes, left)
            self.earlier_slopes.update(slopes)
        remaining = "; ".join(v.describe() for v in left)
        raise FlexibilityNeedError(
            slot, f"violations remain after {self.max_rounds} rounds of flexibility: {remaining}"
        )

    def _round(
        self,
        slot: int,
        state: SlotState,
        plan: _SlotPlan,
        slopes: dict[int, SlotState],
        violations: list[Violation],
    ) -> None:
        predicted = state
        state_flex = dict(plan.flex_mw)  # what ``state`` was solved with
        placed = sorted(((self._place(v), v) for v in violations), key=self._deepest_first)
        for bus, violation in placed:
            value = self._value(predicted, violation.element)
            if not _breaks(violation, value):
                continue  # a deeper step relieved it
            if bus not in slopes:
                slopes[bus] = self._sensitivity(slot, state, state_flex, bus)
            step_mw = _step_mw(violation, value, self._value(slopes[bus], violation.element))
            plan.add(bus, step_mw * self.margin, violation)
            predicted = _shifted(predicted, slopes[bus], step_mw * self.margin)

    def _value(self, state: SlotState, element: Element) -> float:
        position = self.net[element.kind].index.get_loc(element.index)
        return float(state.values(element.kind)[position])

    def _deepest_first(self, placed: tuple[int, Violation]) -> tuple[int, float, int]:
        bus, violation = placed
        return (-self.tree.depth[bus], -violation.excess / violation.limit, bus)

    def _place(self, violation: Violation) -> int:
        """The deepest of the highest allowed buses at or below the element's downstream
        end(s), or the bus itself for a voltage violation."""
        places = [
            bus
            for start in self._below(violation.element)
            for bus in self.tree.shallowest(start, self.allowed)
        ]
        if not places:
            raise FlexibilityNeedError(
                violation.slot,
                f"{violation.describe()}: no allowed bus at or below it to place flexibility",
            )
        return min(places, key=lambda bus: (-self.tree.depth[bus], bus))

    def _below(self, element: Element) -> list[int]:
        """The element's buses farthest from the external grid (the bus itself for a bus)."""
        if element.kind == "bus":
            return [element.index] if element.index in self.tree else []
        ends = {
            "line": ("from_bus", "to_bus"),
            "trafo": ("hv_bus", "lv_bus"),
            "trafo3w": ("hv_bus", "mv_bus", "lv_bus"),
        }[element.kind]
        row = self.net[element.kind].loc[element.index]
        buses = [int(row[end]) for end in ends if int(row[end]) in self.tree]
        top = min((self.tree.depth[bus] for bus in buses), default=0)
        return [bus for bus in buses if self.tree.depth[bus] > top] or buses

    def _sensitivity(
        self, slot: int, state: SlotState, state_flex: dict[int, float], bus: int
    ) -> SlotState:
        """d(every value)/d(MW of consumption at ``bus``), by one perturbed power flow."""
        step = max(_MIN_STEP_MW, _STEP_SHARE * float(np.abs(self.solver.load_p(slot)).sum()))
        extra = dict(state_flex)
        extra[bus] = extra.get(bus, 0.0) + step
        moved = self.solver.solve(slot, extra)
        return _combined(moved, state, 1 / step, -1 / step)


def _breaks(violation: Violation, value: float) -> bool:
    return value < violation.limit if violation.is_under else value > violation.limit


def _step_mw(violation: Violation, value: float, slope: float) -> float:
    """MW of added consumption (negative: less) that brings the value just inside its limit."""
    if abs(slope) < _FLAT or not np.isfinite(slope):
        raise FlexibilityNeedError(
            violation.slot,
            f"{violation.describe()}: flexibility below it does not change the value",
        )
    inward = -_AIM if violation.is_under else _AIM
    target = violation.limit * (1 - inward)
    return -(value - target) / slope


def _shifted(state: SlotState, slope: SlotState, step_mw: float) -> SlotState:
    """The linear prediction of ``state`` after ``step_mw`` at the slope's bus."""
    return _combined(state, slope, 1.0, step_mw)


def _combined(a: SlotState, b: SlotState, a_factor: float, b_factor: float) -> SlotState:
    """``a * a_factor + b * b_factor``, field by field."""
    return SlotState(
        line_loading_pct=a.line_loading_pct * a_factor + b.line_loading_pct * b_factor,
        trafo_loading_pct=a.trafo_loading_pct * a_factor + b.trafo_loading_pct * b_factor,
        trafo3w_loading_pct=a.trafo3w_loading_pct * a_factor + b.trafo3w_loading_pct * b_factor,
        bus_vm_pu=a.bus_vm_pu * a_factor + b.bus_vm_pu * b_factor,
        grid_p_mw=a.grid_p_mw * a_factor + b.grid_p_mw * b_factor,
    )
