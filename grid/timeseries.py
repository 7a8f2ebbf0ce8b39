"""A day of power flows: one AC power flow per quarter-hour slot.

The network is copied once; each slot writes its powers into the copy and re-solves. After
the first (full) power flow, pandapower's ``recycle`` mode reuses the admittance matrices and
starts from the previous slot's voltages, which is what makes 96 flows cheap. Loads keep the
power factor they have in the model (``q = p · q_nominal / p_nominal``); flexibility is pure
active power at its bus.
"""

import copy
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandapower as pp
import pandas as pd
from pandapower.auxiliary import LoadflowNotConverged, pandapowerNet

from grid.elements import ElementKind
from grid.errors import PowerFlowError, ProfileError
from grid.profiles import SLOTS, ScenarioProfiles

_RECYCLE = {"bus_pq": True, "trafo": False, "gen": False}  # only P/Q change between slots
_FLEX_LOAD_NAME = "flexibility at bus {bus}"


@dataclass(frozen=True)
class SlotState:
    """One solved slot, arrays in the order of the network's tables."""

    line_loading_pct: np.ndarray
    trafo_loading_pct: np.ndarray
    trafo3w_loading_pct: np.ndarray
    bus_vm_pu: np.ndarray
    grid_p_mw: float

    def values(self, kind: ElementKind) -> np.ndarray:
        return {
            "line": self.line_loading_pct,
            "trafo": self.trafo_loading_pct,
            "trafo3w": self.trafo3w_loading_pct,
            "bus": self.bus_vm_pu,
        }[kind]


@dataclass(frozen=True)
class DayResult:
    """Per-slot results (index: slots 0..95; columns: element indices).

    ``grid_p_mw`` is the power drawn from the external grid (positive = import).
    ``elapsed_s`` is the wall time of the 96 power flows.
    """

    line_loading_pct: pd.DataFrame
    trafo_loading_pct: pd.DataFrame
    trafo3w_loading_pct: pd.DataFrame
    bus_vm_pu: pd.DataFrame
    grid_p_mw: pd.Series
    elapsed_s: float

    def values(self, kind: ElementKind) -> pd.DataFrame:
        """Loading % of a branch kind, or voltage p.u. for ``"bus"``."""
        return {
            "line": self.line_loading_pct,
            "trafo": self.trafo_loading_pct,
            "trafo3w": self.trafo3w_loading_pct,
            "bus": self.bus_vm_pu,
        }[kind]


def run_day(net: pandapowerNet, profiles: ScenarioProfiles, numba: bool = True) -> DayResult:
    """The 96 power flows of ``profiles`` on (a copy of) ``net``.

    ``numba=False`` avoids numba's compile time (several seconds, once per process) at
    about a third more time per flow: worth it for a single day of a small grid.
    """
    solver = SlotSolver(net, profiles, numba=numba)
    started = time.perf_counter()
    states = [solver.solve(slot) for slot in range(SLOTS)]
    elapsed_s = time.perf_counter() - started
    return _day_result(solver.net, states, elapsed_s)


class SlotSolver:
    """A private copy of a network that solves any slot of a day, with optional extra
    flexibility (MW of added consumption per bus) on top of the profiles'."""

    def __init__(self, net: pandapowerNet, profiles: ScenarioProfiles, numba: bool = True) -> None:
        check_profiles(net, profiles)
        self.net = copy.deepcopy(net)
        self.numba = numba
        self._load_p = profiles.load_p_mw[list(self.net.load.index)].to_numpy(dtype=float)
        self._sgen_p = profiles.sgen_p_mw[list(self.net.sgen.index)].to_numpy(dtype=float)
        self._flex = profiles.flex_p_mw
        self._tan_phi = _tan_phi(self.net)
        self._flex_loads: dict[int, int] = {}  # bus -> position among the flexibility loads
        self._recyclable = False

    def solve(self, slot: int, extra_flex_mw: Mapping[int, float] | None = None) -> SlotState:
        """Solves ``slot``; raises ``PowerFlowError`` naming it if the flow diverges."""
        self._set_powers(slot, extra_flex_mw or {})
        try:
            self._run()
        except LoadflowNotConverged as error:
            self._recyclable = False  # the stored voltages are the diverged ones
            raise PowerFlowError(slot, str(error)) from error
        return self._state()

    def load_p(self, slot: int) -> np.ndarray:
        """The model loads' active power in ``slot`` (MW, in ``net.load`` order)."""
        return np.asarray(self._load_p[slot])

    def _set_powers(self, slot: int, extra_flex_mw: Mapping[int, float]) -> None:
        flex = self._flex_at(slot, extra_flex_mw)
        for bus in flex:
            if bus not in self._flex_loads:
                self._add_flex_load(bus)
        flex_p = np.zeros(len(self._flex_loads))
        for bus, p_mw in flex.items():
            flex_p[self._flex_loads[bus]] = p_mw
        load_p = self._load_p[slot]
        # Flexibility loads were appended after the model's own, in creation order.
        self.net.load["p_mw"] = np.concatenate([load_p, flex_p])
        self.net.load["q_mvar"] = np.concatenate([load_p * self._tan_phi, np.zeros_like(flex_p)])
        self.net.sgen["p_mw"] = self._sgen_p[slot]

    def _flex_at(self, slot: int, extra_flex_mw: Mapping[int, float]) -> dict[int, float]:
        flex = {int(bus): float(p) for bus, p in self._flex.loc[slot].items() if p}
        for bus, p_mw in extra_flex_mw.items():
            flex[bus] = flex.get(bus, 0.0) + p_mw
        return flex

    def _add_flex_load(self, bus: int) -> None:
        if bus not in self.net.bus.index:
            raise ProfileError("flex_p_mw", f"bus {bus} is not in the network")
        pp.create_load(self.net, bus, p_mw=0.0, name=_FLEX_LOAD_NAME.format(bus=bus))
        self._flex_loads[bus] = len(self._flex_loads)
        self._recyclable = False  # a new element changes pandapower's internal lookups

    def _run(self) -> None:
        if self._recyclable:
            pp.runpp(self.net, numba=self.numba, recycle=_RECYCLE)
        else:
            init = "auto" if self.net.res_bus.empty else "results"
            pp.runpp(self.net, numba=self.numba, init=init)
            self._recyclable = True

    def _state(self) -> SlotState:
        net = self.net
        return SlotState(
            line_loading_pct=net.res_line.loading_percent.to_numpy(dtype=float, copy=True),
            trafo_loading_pct=net.res_trafo.loading_percent.to_numpy(dtype=float, copy=True),
            trafo3w_loading_pct=net.res_trafo3w.loading_percent.to_numpy(dtype=float, copy=True),
            bus_vm_pu=net.res_bus.vm_pu.to_numpy(dtype=float, copy=True),
            grid_p_mw=float(net.res_ext_grid.p_mw.sum()),
        )


def check_profiles(net: pandapowerNet, profiles: ScenarioProfiles) -> None:
    """Raises ``ProfileError`` naming the field unless the profiles fit ``net``."""
    _check_frame("load_p_mw", profiles.load_p_mw, net.load.index)
    _check_frame("sgen_p_mw", profiles.sgen_p_mw, net.sgen.index)
    _check_frame("flex_p_mw", profiles.flex_p_mw, None)
    unknown = sorted(set(profiles.flex_p_mw.columns) - set(net.bus.index))
    if unknown:
        raise ProfileError("flex_p_mw", f"columns {unknown} are not buses of the network")


def _check_frame(field: str, frame: pd.DataFrame, columns: pd.Index | None) -> None:
    if list(frame.index) != list(range(SLOTS)):
        raise ProfileError(
            field, f"index must be the slots 0..{SLOTS - 1}; got {len(frame.index)} rows"
        )
    if columns is not None and set(frame.columns) != set(columns):
        missing = sorted(set(columns) - set(frame.columns))
        extra = sorted(set(frame.columns) - set(columns))
        raise ProfileError(
            field, f"columns must be the network's elements; missing {missing}, extra {extra}"
        )
    values = frame.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise ProfileError(field, "has NaN or infinite values; give a power for every slot")


def _tan_phi(net: pandapowerNet) -> np.ndarray:
    p = net.load.p_mw.to_numpy(dtype=float)
    q = net.load.q_mvar.to_numpy(dtype=float)
    return np.asarray(np.divide(q, p, out=np.zeros_like(p), where=p != 0))


def _day_result(net: pandapowerNet, states: list[SlotState], elapsed_s: float) -> DayResult:
    slots = pd.RangeIndex(SLOTS, name="slot")

    def frame(kind: ElementKind, index: pd.Index) -> pd.DataFrame:
        rows = np.vstack([state.values(kind) for state in states]) if len(index) else None
        return pd.DataFrame(rows, index=slots, columns=[int(i) for i in index], dtype=float)

    return DayResult(
        line_loading_pct=frame("line", net.line.index),
        trafo_loading_pct=frame("trafo", net.trafo.index),
        trafo3w_loading_pct=frame("trafo3w", net.trafo3w.index),
        bus_vm_pu=frame("bus", net.bus.index),
        grid_p_mw=pd.Series([state.grid_p_mw for state in states], index=slots, dtype=float),
        elapsed_s=elapsed_s,
    )
