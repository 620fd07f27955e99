"""Non-linear geometric ops (elastic, grid distortion): a displacement field and one remap.
Alpha moves with the pixels; they are not matrices, so they are never fused."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np

from augcli.image.ops.arrays import border_value, cv_border, cv_interpolation
from augcli.image.ops.base import BORDER_MODE, FILL, INTERPOLATION, ImageOp
from augcli.params import Param


def _remap(
    img: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, params: dict[str, Any]
) -> np.ndarray:
    import cv2

    return cv2.remap(
        img,
        map_x.astype(np.float32),
        map_y.astype(np.float32),
        cv_interpolation(params["interpolation"]),
        borderMode=cv_border(params["border_mode"]),
        borderValue=border_value(img, params["fill"]),
    )


# Distortions move pixels near the border inwards: reflecting reads naturally there.
REFLECT = Param(
    kind="choice", default="reflect", choices=BORDER_MODE.choices, help=BORDER_MODE.help
)


class _RemapOp(ImageOp):
    """A displacement field (``maps``: for every output pixel, where to sample the input)."""

    group = "geometric"

    @abstractmethod
    def maps(self, params: dict[str, Any], h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """(map_x, map_y): the input coordinates each output pixel samples."""

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        map_x, map_y = self.maps(params, data.shape[0], data.shape[1])
        return _remap(data, map_x, map_y, params)

    def targets(
        self, ann: Any, params: dict[str, Any], info: dict[str, Any], partners: Any, applier: Any
    ) -> tuple[Any, Any]:
        from augcli.image.annotate import (
            DENSIFY_PX,
            invert_remap,
            mask_params,
            move_masks,
            move_objects,
        )

        h, w = info["height"], info["width"]
        mask, objects = ann.mask, ann.objects
        if mask is not None:
            mask = self.apply(mask, mask_params(params, applier.mask_fill))
        if objects is not None and len(objects):
            map_x, map_y = self.maps(params, h, w)
            objects = move_objects(
                objects, lambda p: invert_remap(p, map_x, map_y), h, w, False, densify=DENSIFY_PX
            )
            objects = move_masks(objects, lambda a: self.apply(a, mask_params(params, 0)))
        return mask, objects


class Elastic(_RemapOp):
    """Elastic deformation (Simard et al., 2003): a random displacement field, smoothed with a
    Gaussian of ``sigma`` px and scaled to ``alpha`` px.

    Each output pixel moves by about alpha/sigma px at most in practice; the field comes from
    an integer ``noise_seed`` drawn in sample(), so it is recorded and replayable.
    """

    name = "elastic"
    params = {
        "alpha": Param(
            default=[20.0, 40.0],
            low=0.0,
            high=10_000.0,
            unit="px",
            help="displacement scale",
            quantity="length",
        ),
        "sigma": Param(
            default=[4.0, 6.0],
            low=0.0,
            low_open=True,
            high=500.0,
            unit="px",
            quantity="length",
            help="smoothness of the field",
        ),
        "interpolation": INTERPOLATION,
        "border_mode": REFLECT,
        "fill": FILL,
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        params["noise_seed"] = int(rng.integers(0, 2**31))
        return params

    def maps(self, params: dict[str, Any], h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        rng = np.random.default_rng(params["noise_seed"])
        s, a = params["sigma"], params["alpha"]
        k = 2 * int(np.ceil(3 * s)) + 1
        dx = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (k, k), s) * a
        dy = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (k, k), s) * a
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        return xx + dx, yy + dy


class GridDistortion(_RemapOp):
    """Split the image into ``steps`` x ``steps`` cells and stretch or squeeze each grid line by
    up to ``distort`` of a cell (piecewise-linear, so straight lines stay connected)."""

    name = "grid_distortion"
    params = {
        "steps": Param(
            kind="int",
            default=5,
            low=1,
            high=64,
            sampled=False,
            unit="cells",
            help="grid cells per side",
        ),
        "distort": Param(
            default=[-0.3, 0.3],
            low=-0.9,
            high=0.9,
            unit="fraction of a cell",
            help="how much each grid line may move",
        ),
        "interpolation": INTERPOLATION,
        "border_mode": REFLECT,
        "fill": FILL,
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        d = self.config["distort"]
        lo, hi = d if isinstance(d, tuple) else (d, d)
        n = params["steps"] + 1
        params["x_steps"] = [round(float(v), 6) for v in rng.uniform(lo, hi, n)]
        params["y_steps"] = [round(float(v), 6) for v in rng.uniform(lo, hi, n)]
        del params["distort"]
        return params

    @staticmethod
    def _axis(size: int, cells: int, steps: list[float]) -> np.ndarray:
        """Source coordinate for every output coordinate along one axis."""
        cell = size / cells
        knots_out = np.linspace(0, size - 1, cells + 1)
        lengths = np.array([cell * (1 + steps[i]) for i in range(cells)])
        knots_src = np.concatenate([[0.0], np.cumsum(lengths)])
        knots_src *= (size - 1) / knots_src[-1]  # the grid still spans the whole image
        return np.interp(np.arange(size), knots_out, knots_src)

    def maps(self, params: dict[str, Any], h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        cells = params["steps"]
        xs = self._axis(w, cells, params["x_steps"])
        ys = self._axis(h, cells, params["y_steps"])
        return np.broadcast_to(xs[None, :], (h, w)), np.broadcast_to(ys[:, None], (h, w))
