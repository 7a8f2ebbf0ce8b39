"""grid: pandapower analytics for system operators (DSO/TSO).

The market day's grid side: load a network (``load_network``), publish its node tree
(``node_tree``), forecast tomorrow (``day_profiles`` + ``run_day``), find limit violations
(``find_violations``) and the flexibility that removes them (``flexibility_needs``), then
re-run the day with the activated flexibility (``apply_flexibility``) and ``compare``.

Plain data in and out: grid never imports market or oracle.
"""

from grid.congestion import FlexNeed, flexibility_needs
from grid.delivery import activations_of, apply_flexibility, apply_needs, compare
from grid.elements import Direction, Element, ElementKind
from grid.errors import (
    DisconnectedBusesError,
    FlexibilityNeedError,
    GridError,
    GridInputError,
    NetworkImportError,
    PowerFlowError,
    ProfileError,
    TopologyError,
    TreeTooDeepError,
    UnknownNetworkError,
)
from grid.networks import (
    NETWORKS,
    load_cim,
    load_network,
    load_network_file,
    load_simbench,
    open_network,
)
from grid.profiles import SCENARIOS, Scenario, ScenarioProfiles, ScenarioSpec, day_profiles
from grid.timeseries import DayResult, run_day
from grid.topology import (
    MAX_DEPTH,
    GridNode,
    is_at_or_below,
    nearest_bus_node,
    node_id_of_bus,
    node_tree,
)
from grid.violations import Limits, Violation, critical_element, find_violations

__all__ = [
    "MAX_DEPTH",
    "NETWORKS",
    "SCENARIOS",
    "DayResult",
    "Direction",
    "DisconnectedBusesError",
    "Element",
    "ElementKind",
    "FlexNeed",
    "FlexibilityNeedError",
    "GridError",
    "GridInputError",
    "GridNode",
    "Limits",
    "NetworkImportError",
    "PowerFlowError",
    "ProfileError",
    "Scenario",
    "ScenarioProfiles",
    "ScenarioSpec",
    "TopologyError",
    "TreeTooDeepError",
    "UnknownNetworkError",
    "Violation",
    "activations_of",
    "apply_flexibility",
    "apply_needs",
    "compare",
    "critical_element",
    "day_profiles",
    "find_violations",
    "flexibility_needs",
    "is_at_or_below",
    "load_cim",
    "load_network",
    "load_network_file",
    "load_simbench",
    "nearest_bus_node",
    "node_id_of_bus",
    "node_tree",
    "open_network",
    "run_day",
]
