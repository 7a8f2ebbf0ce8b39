"""Where assets sit relative to grid nodes: distances, the nearest nodes, licence polygons.

Node coordinates are read as ``x`` = longitude and ``y`` = latitude in WGS 84 degrees, the
GeoJSON order; a grid model with schematic coordinates works the same way in its own plane
(its "kilometres" are then nominal). Distances use the equirectangular approximation, which
is within a fraction of a percent of the great circle over a distribution grid's few
kilometres and needs no projection library.
"""

import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius

Ring = Sequence[Sequence[float]]


@dataclass(frozen=True, slots=True)
class Place:
    """A grid node that has coordinates."""

    node_id: int
    voltage_kv: float
    x: float  # longitude
    y: float  # latitude


def distance_km(
    latitude_a: float, longitude_a: float, latitude_b: float, longitude_b: float
) -> float:
    """Approximate surface distance between two points (equirectangular projection)."""
    mean_latitude = math.radians((latitude_a + latitude_b) / 2)
    east = math.radians(longitude_b - longitude_a) * math.cos(mean_latitude)
    north = math.radians(latitude_b - latitude_a)
    return EARTH_RADIUS_KM * math.hypot(east, north)


def nearest(
    places: Iterable[Place], latitude: float, longitude: float, count: int = 1
) -> list[tuple[Place, float]]:
    """The ``count`` places nearest to a point with their distances in km, nearest first.

    Co-located nodes (the two sides of a transformer often share coordinates) are ordered by
    the lower voltage first, since small assets connect at the lowest level, then by node id.
    """
    ranked = ((place, distance_km(latitude, longitude, place.y, place.x)) for place in places)
    return heapq.nsmallest(
        count, ranked, key=lambda pair: (pair[1], pair[0].voltage_kv, pair[0].node_id)
    )


def in_polygon(rings: Sequence[Ring], x: float, y: float) -> bool:
    """Whether (x, y) lies inside a GeoJSON polygon: inside its outer ring, outside its holes."""
    if not rings:
        return False
    outer, *holes = rings
    return _in_ring(outer, x, y) and not any(_in_ring(hole, x, y) for hole in holes)


def _in_ring(ring: Ring, x: float, y: float) -> bool:
    """Even-odd rule: a ray going east from the point crosses the ring an odd number of times."""
    inside = False
    # Pairing each vertex with the next, wrapping round, also closes an unclosed ring.
    for start, end in zip(ring, [*ring[1:], ring[0]], strict=True):
        (x1, y1), (x2, y2) = start[:2], end[:2]
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside
