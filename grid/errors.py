"""Errors of the grid analytics.

Hierarchy (each mixes in the builtin that fits, so callers may catch either)::

    FlexledgerError
    └── GridError
        ├── GridInputError(GridError, ValueError)     a bad argument; ``field`` names it
        │   ├── UnknownNetworkError                   a name not in the network catalogue
        │   └── ProfileError                          profiles that do not fit the network
        ├── NetworkImportError(GridError, ValueError) a grid file or CIM set that cannot be read
        ├── TopologyError(GridError, ValueError)      a grid that is no valid node tree
        │   ├── DisconnectedBusesError                buses the external grid does not reach
        │   └── TreeTooDeepError                      deeper than the chain's node limit
        ├── PowerFlowError(GridError, RuntimeError)   a power flow that did not converge
        └── FlexibilityNeedError(GridError, RuntimeError)  a violation flexibility cannot fix
"""

from collections.abc import Sequence

from flexledger.errors import FlexledgerError


class GridError(FlexledgerError):
    """Base class of every error the grid analytics raise on purpose."""


class GridInputError(GridError, ValueError):
    """An argument is invalid; ``field`` names it and the message says what would be valid."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnknownNetworkError(GridInputError):
    """The network name is not in the catalogue; the message lists the names there are."""


class ProfileError(GridInputError):
    """Day profiles do not fit the network (shape, columns, values)."""


class NetworkImportError(GridError, ValueError):
    """A pandapower file or a CIM/CGMES file set could not be turned into a network."""


class TopologyError(GridError, ValueError):
    """The network cannot be published as a node tree."""


class DisconnectedBusesError(TopologyError):
    """In-service buses that no path of closed switches and in-service branches reaches."""

    def __init__(self, buses: Sequence[int]) -> None:
        shown = ", ".join(str(bus) for bus in buses[:20])
        more = f" and {len(buses) - 20} more" if len(buses) > 20 else ""
        super().__init__(
            f"buses {shown}{more} are not connected to the external grid; connect them, "
            "take them out of service, or pass exclude_disconnected=True"
        )
        self.buses = tuple(buses)


class TreeTooDeepError(TopologyError):
    """A node would sit deeper than the on-chain limit (a root has depth 1)."""

    def __init__(self, bus: int, depth: int, max_depth: int) -> None:
        super().__init__(
            f"bus {bus} sits at depth {depth}, deeper than the chain's limit of {max_depth}; "
            "publish an aggregated (coarser) tree"
        )
        self.bus = bus
        self.depth = depth


class PowerFlowError(GridError, RuntimeError):
    """The power flow of one slot did not converge; ``slot`` names it."""

    def __init__(self, slot: int, detail: str) -> None:
        super().__init__(f"slot {slot}: power flow did not converge ({detail})")
        self.slot = slot


class FlexibilityNeedError(GridError, RuntimeError):
    """No amount of flexibility at an allowed bus removes a violation of one slot."""

    def __init__(self, slot: int, detail: str) -> None:
        super().__init__(f"slot {slot}: {detail}")
        self.slot = slot
