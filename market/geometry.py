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


MAX_OVERLAP_EDGE_PAIRS = 4_000_000  # beyond this, bounding boxes decide (conservatively)


def polygons_overlap(a: Sequence[Ring], b: Sequence[Ring]) -> bool:
    """Whether two GeoJSON polygons' outer rings share an area (touching edges do not count).

    They overlap when an edge of one properly crosses an edge of the other, or when a vertex
    of one, or a point just inside one of its edges, lies strictly inside the other
    (containment, identical rings). Holes
    are ignored, so a polygon inside another's hole counts as overlapping: the caller asks a
    person to decide, and a false alarm is safer than a miss. Rings too large to compare
    edge by edge are judged by their bounding boxes for the same reason.
    """
    if not a or not b or not _boxes_meet(a[0], b[0]):
        return False
    outer_a, outer_b = a[0], b[0]
    if len(outer_a) * len(outer_b) > MAX_OVERLAP_EDGE_PAIRS:
        return True
    return (
        _inside_any(outer_a, outer_b)
        or _inside_any(outer_b, outer_a)
        or _edges_cross(outer_a, outer_b)
    )


def _boxes_meet(a: Ring, b: Ring) -> bool:
    ax = [p[0] for p in a]
    ay = [p[1] for p in a]
    bx = [p[0] for p in b]
    by = [p[1] for p in b]
    return min(ax) < max(bx) and min(bx) < max(ax) and min(ay) < max(by) and min(by) < max(ay)


def _inside_any(points: Ring, ring: Ring) -> bool:
    """Whether a vertex of ``points``, or a point just inside one of its edges, lies
    strictly inside ``ring`` (the latter finds identical and edge-sharing shapes)."""
    probes = [(p[0], p[1]) for p in points] + _just_inside(points)
    return any(_in_ring(ring, x, y) and not _on_ring(ring, x, y) for x, y in probes)


def _just_inside(ring: Ring) -> list[tuple[float, float]]:
    """For each edge, the point a hair off its midpoint on the ring's inner side."""
    found = []
    for (x1, y1), (x2, y2) in _edges(ring):
        if (x1, y1) == (x2, y2):
            continue
        mid_x, mid_y = (x1 + x2) / 2, (y1 + y2) / 2
        step_x, step_y = -(y2 - y1) * 1e-7, (x2 - x1) * 1e-7  # normal, 1e-7 of the edge
        for x, y in ((mid_x + step_x, mid_y + step_y), (mid_x - step_x, mid_y - step_y)):
            if _in_ring(ring, x, y):
                found.append((x, y))
                break
    return found


def _edges(ring: Ring) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    closed = [*ring[1:], ring[0]]
    return [((s[0], s[1]), (e[0], e[1])) for s, e in zip(ring, closed, strict=True)]


def _edges_cross(a: Ring, b: Ring) -> bool:
    edges_b = _edges(b)
    return any(_cross(p, q, r, s) for p, q in _edges(a) for r, s in edges_b)


def _side(o: tuple[float, float], p: tuple[float, float], q: tuple[float, float]) -> float:
    return (p[0] - o[0]) * (q[1] - o[1]) - (p[1] - o[1]) * (q[0] - o[0])


def _cross(
    p: tuple[float, float], q: tuple[float, float], r: tuple[float, float], s: tuple[float, float]
) -> bool:
    """Whether segments pq and rs cross at a point inside both (not at an end, not along)."""
    d1, d2 = _side(r, s, p), _side(r, s, q)
    d3, d4 = _side(p, q, r), _side(p, q, s)
    return d1 * d2 < 0 and d3 * d4 < 0


def _on_ring(ring: Ring, x: float, y: float) -> bool:
    """Whether (x, y) lies on an edge of the ring (collinear and between its ends)."""
    for (x1, y1), (x2, y2) in _edges(ring):
        collinear = abs((x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)) <= 1e-12
        if collinear and min(x1, x2) <= x <= max(x1, x2) and min(y1, y2) <= y <= max(y1, y2):
            return True
    return False
