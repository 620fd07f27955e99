"""Smooth non-linear warps: lens distortion (``optical_distortion``, barrel or pincushion) and
a thin-plate spline through randomly moved control points (``thin_plate_spline``). Like the
other remap ops they move masks, boxes and keypoints through the same field and never fuse."""

from __future__ import annotations

from typing import Any

import numpy as np

from augcli.image.ops.base import BORDER_MODE, FILL, INTERPOLATION
from augcli.image.ops.distort import REFLECT, _RemapOp
from augcli.params import Param


class OpticalDistortion(_RemapOp):
    """Radial lens distortion about the centre: the output pixel at radius r samples the input
    at r (1 + ``k`` r^2), with r = 1 at the corners.

    k > 0 samples from further out: the middle swells and the edges bend inwards (barrel,
    a wide-angle lens); k < 0 pulls the middle in (pincushion, a telephoto lens). k is drawn
    per output and recorded. The corners a barrel uncovers take ``border_mode`` (constant:
    the image's background).
    """

    name = "optical_distortion"
    params = {
        "k": Param(
            default=[-0.2, 0.2],
            low=-0.9,
            high=2.0,
            unit="x r^2",
            help="radial coefficient: > 0 barrel, < 0 pincushion",
        ),
        "interpolation": INTERPOLATION,
        "border_mode": BORDER_MODE,
        "fill": FILL,
    }

    def maps(self, params: dict[str, Any], h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        dy, dx = yy - cy, xx - cx
        half_diagonal = max(np.hypot(cx, cy), 1e-9)
        gain = 1.0 + params["k"] * (dx * dx + dy * dy) / half_diagonal**2
        return cx + dx * gain, cy + dy * gain


class ThinPlateSpline(_RemapOp):
    """A thin-plate-spline warp: a ``points`` x ``points`` grid of control points, each moved
    by Normal(0, ``scale``) of the image's size, and the smoothest map through them.

    As Albumentations' ThinPlateSpline: for every output pixel the spline (kernel r^2 log r^2
    plus an affine part) through the moved points gives where to sample the input, so the
    pixel at a moved control point shows what was at the point before. The moves are recorded
    (``moves``, [dx, dy] per point, in fractions of the width and height). Evaluated on a grid
    of at most 256 steps per side and interpolated linearly between (within 0.05 px).
    """

    name = "thin_plate_spline"
    params = {
        "scale": Param(
            default=[0.02, 0.05],
            low=0.0,
            high=0.5,
            unit="fraction of size",
            help="standard deviation of each control point's move",
        ),
        "points": Param(
            kind="int",
            default=4,
            low=2,
            high=10,
            sampled=False,
            unit="per side",
            help="control points along each side (corners included)",
        ),
        "interpolation": INTERPOLATION,
        "border_mode": REFLECT,
        "fill": FILL,
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        moves = rng.normal(0.0, params["scale"], (params["points"] ** 2, 2))
        params["moves"] = np.round(moves, 6).tolist()
        return params

    def maps(self, params: dict[str, Any], h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        n = params["points"]
        grid = np.linspace(0.0, 1.0, n)
        src = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)  # (x, y) in [0, 1]
        dst = src + np.asarray(params["moves"], dtype=np.float64)
        step = max(1, -(-max(h, w) // 256))
        xs = np.arange(0, w - 1 + step, step, dtype=np.float64)  # the last at or past the edge
        ys = np.arange(0, h - 1 + step, step, dtype=np.float64)
        gx, gy = np.meshgrid(xs / max(w - 1, 1), ys / max(h - 1, 1))
        where = _spline(dst, src, np.stack([gx.ravel(), gy.ravel()], axis=1))
        coarse_x = (where[:, 0] * (w - 1)).reshape(gx.shape).astype(np.float32)
        coarse_y = (where[:, 1] * (h - 1)).reshape(gy.shape).astype(np.float32)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) / np.float32(step)
        fine = [cv2.remap(c, xx, yy, cv2.INTER_LINEAR) for c in (coarse_x, coarse_y)]
        return fine[0], fine[1]


def _kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    r2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r2 > 0, r2 * np.log(r2), 0.0)


def _spline(knots: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The thin-plate spline through ``knots`` -> ``values`` (both (k, 2)), evaluated ``at``."""
    k = len(knots)
    p = np.hstack([np.ones((k, 1)), knots])
    system = np.zeros((k + 3, k + 3))
    system[:k, :k] = _kernel(knots, knots)
    system[:k, k:], system[k:, :k] = p, p.T
    rhs = np.vstack([values, np.zeros((3, 2))])
    coef = np.linalg.solve(system, rhs)
    return _kernel(at, knots) @ coef[:k] + np.hstack([np.ones((len(at), 1)), at]) @ coef[k:]
