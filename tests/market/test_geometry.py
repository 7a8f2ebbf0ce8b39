"""Node proposal and licence polygons on hand-made nodes."""

import pytest

from market.assets import propose_node
from market.errors import ConflictError
from market.geometry import Place, distance_km, in_polygon, nearest

# Three streets of a village (longitude, latitude): a 20 kV substation with its 0.4 kV
# busbar at the same point, and two 0.4 kV cabinets.
SUBSTATION_MV = Place(node_id=1, voltage_kv=20.0, x=8.4000, y=49.0000)
SUBSTATION_LV = Place(node_id=2, voltage_kv=0.4, x=8.4000, y=49.0000)
CABINET_NORTH = Place(node_id=3, voltage_kv=0.4, x=8.4000, y=49.0050)
CABINET_EAST = Place(node_id=4, voltage_kv=0.4, x=8.4080, y=49.0000)
VILLAGE = [SUBSTATION_MV, SUBSTATION_LV, CABINET_NORTH, CABINET_EAST]


def test_one_degree_of_latitude_is_about_111_km() -> None:
    assert distance_km(49.0, 8.4, 50.0, 8.4) == pytest.approx(111.19, abs=0.01)


def test_longitude_shrinks_with_latitude() -> None:
    at_equator = distance_km(0.0, 0.0, 0.0, 1.0)
    at_60_north = distance_km(60.0, 0.0, 60.0, 1.0)
    assert at_60_north == pytest.approx(at_equator / 2, rel=1e-3)


def test_the_nearest_cabinet_is_proposed() -> None:
    assert propose_node(VILLAGE, latitude=49.0045, longitude=8.4001) == CABINET_NORTH.node_id
    assert propose_node(VILLAGE, latitude=49.0001, longitude=8.4070) == CABINET_EAST.node_id


def test_degrees_east_count_less_than_degrees_north() -> None:
    # At 49 N, 0.007 degrees east is ~0.51 km, nearer than 0.005 degrees north (~0.56 km).
    north = Place(node_id=10, voltage_kv=0.4, x=8.4, y=49.005)
    east = Place(node_id=11, voltage_kv=0.4, x=8.407, y=49.0)
    ranked = nearest([north, east], 49.0, 8.4, count=2)
    assert [place.node_id for place, _ in ranked] == [11, 10]
    assert [km for _, km in ranked] == pytest.approx([0.511, 0.556], abs=0.001)


def test_co_located_buses_give_the_lower_voltage() -> None:
    assert propose_node(VILLAGE, latitude=49.0, longitude=8.4) == SUBSTATION_LV.node_id
    ranked = nearest(VILLAGE, 49.0, 8.4, count=2)
    assert [place.node_id for place, _ in ranked] == [2, 1]


def test_no_located_node_is_a_conflict_naming_the_coordinates() -> None:
    with pytest.raises(ConflictError) as raised:
        propose_node([], latitude=49.0, longitude=8.4)
    assert raised.value.field == "latitude"


SQUARE = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0], [0.0, 0.0]]
HOLE = [[4.0, 4.0], [6.0, 4.0], [6.0, 6.0], [4.0, 6.0], [4.0, 4.0]]


@pytest.mark.parametrize(
    ("x", "y", "inside"),
    [(1.0, 1.0, True), (9.9, 5.0, True), (5.0, 5.0, False), (11.0, 5.0, False), (5.0, -1.0, False)],
)
def test_polygon_with_a_hole(x: float, y: float, inside: bool) -> None:
    assert in_polygon([SQUARE, HOLE], x, y) is inside


def test_an_unclosed_ring_is_closed() -> None:
    assert in_polygon([SQUARE[:-1]], 5.0, 9.0)
    assert not in_polygon([], 5.0, 5.0)
