"""The vocabulary of the grid analytics: the elements whose limits they watch, the kinds of
published nodes and the directions of flexibility."""

from dataclasses import dataclass
from typing import Literal, get_args

from pandapower.auxiliary import pandapowerNet

ElementKind = Literal["line", "trafo", "trafo3w", "bus"]
ELEMENT_KINDS: tuple[ElementKind, ...] = get_args(ElementKind)


@dataclass(frozen=True, order=True)
class Element:
    """One element of a network: its pandapower table (``kind``) and row index."""

    kind: ElementKind
    index: int


def element_name(net: pandapowerNet, element: Element) -> str:
    """The element's name in the model, or ``"<kind> <index>"`` where it has none."""
    name = net[element.kind].at[element.index, "name"]
    return name if isinstance(name, str) and name else f"{element.kind} {element.index}"


Direction = Literal["up", "down"]
"""Flexibility direction: "up" lowers consumption or raises generation; "down" the reverse."""

NodeKind = Literal["root", "bus"]
"""A published node: the external-grid bus (the tree's root) or any other bus."""
