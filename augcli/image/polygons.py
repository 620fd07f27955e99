"""Polygon geometry for segmentation outlines: shoelace area, exact clipping to an axis-aligned
rectangle (Sutherland-Hodgman, exact for any simple polygon, convex or not), a rectangle cut out
of a polygon, and densified edges for maps that bend straight lines. Pure numpy, no cv2.

A polygon is a (P, 2) float64 array of x, y vertices (continuous pixel coordinates), closed
implicitly (the last vertex joins the first). Clipping a non-convex polygon that the rectangle
splits in two gives one polygon whose pieces are joined along the rectangle's side by a
zero-width bridge: its area (shoelace) and rasterisation are those of the pieces."""

from __future__ import annotations

import numpy as np

MIN_VERTICES = 3  # fewer is no outline: dropped after clipping


def area(poly: np.ndarray) -> float:
    """The polygon's area (shoelace formula), whatever its orientation."""
    if len(poly) < MIN_VERTICES:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def total_area(polys: list[np.ndarray]) -> float:
    """The area of an object's polygons (its parts, which COCO does not let overlap)."""
    return float(sum(area(p) for p in polys))


def _half_plane(poly: np.ndarray, axis: int, bound: float, keep_below: bool) -> np.ndarray:
    """One Sutherland-Hodgman pass: the part of ``poly`` with ``coord[axis] <= bound``
    (``keep_below``) or ``>= bound``. Intersections lie exactly on the bound."""
    if not len(poly):
        return poly
    cur, prev = poly, np.roll(poly, 1, axis=0)
    c, p = cur[:, axis], prev[:, axis]
    cin = c <= bound if keep_below else c >= bound
    pin = p <= bound if keep_below else p >= bound
    cross = cin != pin
    denom = np.where(cross, c - p, 1.0)
    t = np.where(cross, (bound - p) / denom, 0.0)
    inter = prev + t[:, None] * (cur - prev)
    inter[:, axis] = bound
    slots = np.stack([inter, cur], axis=1)  # per edge: the crossing, then the end vertex
    use = np.stack([cross, cin], axis=1)
    return slots[use]


def clip(
    poly: np.ndarray,
    x0: float = -np.inf,
    y0: float = -np.inf,
    x1: float = np.inf,
    y1: float = np.inf,
) -> np.ndarray:
    """``poly`` clipped to the rectangle [x0, x1] x [y0, y1] (infinite sides do not cut); an
    empty (0, 2) array when fewer than three vertices or no area remain."""
    out = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
    for axis, bound, below in ((0, x0, False), (0, x1, True), (1, y0, False), (1, y1, True)):
        if np.isfinite(bound):
            out = _half_plane(out, axis, bound, below)
    if len(out) < MIN_VERTICES or area(out) <= 0.0:
        return np.zeros((0, 2))
    return out


def clip_all(
    polys: list[np.ndarray], x0: float, y0: float, x1: float, y1: float
) -> list[np.ndarray]:
    """Each polygon clipped to the rectangle; those with nothing left are dropped."""
    clipped = (clip(p, x0, y0, x1, y1) for p in polys)
    return [p for p in clipped if len(p)]


def cut(polys: list[np.ndarray], x0: float, y0: float, x1: float, y1: float) -> list[np.ndarray]:
    """The polygons with the rectangle [x0, x1] x [y0, y1] cut out: each clipped to the four
    strips around the rectangle (above, below, left, right of it), which tile its outside."""
    inf = np.inf
    strips = ((-inf, -inf, inf, y0), (-inf, y1, inf, inf), (-inf, y0, x0, y1), (x1, y0, inf, y1))
    out = []
    for poly in polys:
        out += [p for s in strips if len(p := clip(poly, *s))]
    return out


def densify(poly: np.ndarray, step: float) -> np.ndarray:
    """``poly`` with vertices added along its edges so that none is longer than ``step`` px:
    what a non-linear map needs so the moved outline follows the field, not its chords."""
    nxt = np.roll(poly, -1, axis=0)
    lengths = np.hypot(*(nxt - poly).T)
    pieces = np.maximum(1, np.ceil(lengths / step).astype(int))
    edge = np.repeat(np.arange(len(poly)), pieces)
    start = np.repeat(np.cumsum(pieces) - pieces, pieces)
    t = ((np.arange(len(edge)) - start) / pieces[edge])[:, None]
    return poly[edge] + (nxt[edge] - poly[edge]) * t


def bounds(polys: list[np.ndarray]) -> np.ndarray:
    """(x0, y0, x1, y1) around every vertex of ``polys``; zeros when there are none."""
    if not polys:
        return np.zeros(4)
    pts = np.concatenate(polys)
    return np.concatenate([pts.min(axis=0), pts.max(axis=0)])
