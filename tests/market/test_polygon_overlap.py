"""Licence polygons: which share an area (overlap) and which only touch or lie apart."""

import pytest

from market.geometry import polygons_overlap


def square(x: float, y: float, side: float = 1.0) -> list[list[list[float]]]:
    return [[[x, y], [x + side, y], [x + side, y + side], [x, y + side], [x, y]]]


@pytest.mark.parametrize(
    ("other", "overlaps"),
    [
        (square(0, 0), True),  # identical
        (square(0.25, 0.25, 0.5), True),  # inside
        (square(-1, -1, 3), True),  # around
        (square(0.5, 0.5), True),  # corners crossing
        (square(1, 0), False),  # sharing an edge
        (square(1, 1), False),  # sharing a corner
        (square(2, 2), False),  # apart
        ([[[0.5, -1], [0.6, -1], [0.6, 2], [0.5, 2], [0.5, -1]]], True),  # a strip across
    ],
)
def test_polygons_overlap(other: list[list[list[float]]], overlaps: bool) -> None:
    assert polygons_overlap(square(0, 0), other) is overlaps
    assert polygons_overlap(other, square(0, 0)) is overlaps


def test_a_concave_ring_around_a_square_does_not_overlap_it() -> None:
    u_shape = [[[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3], [0, 0]]]
    assert not polygons_overlap(u_shape, square(1.2, 1.5, 0.5))
    assert polygons_overlap(u_shape, square(0.5, 0.5, 0.2))


def test_identical_concave_rings_overlap() -> None:
    u_shape = [[[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3], [0, 0]]]
    assert polygons_overlap(u_shape, u_shape)
