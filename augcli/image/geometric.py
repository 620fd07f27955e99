"""Geometric image ops: flips, rotation, crops and scaling. Alpha moves with the pixels."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from augcli.image.arrays import border_value, cv_border, cv_interpolation, resize
from augcli.image.base import BORDER_MODE, FILL, INTERPOLATION, INTERPOLATION_AUTO, ImageOp
from augcli.params import Param


class HFlip(ImageOp):
    """Mirror left to right."""

    name = "hflip"
    group = "geometric"

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        import cv2

        return cv2.flip(data, 1)


class VFlip(ImageOp):
    """Mirror top to bottom."""

    name = "vflip"
    group = "geometric"

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        import cv2

        return cv2.flip(data, 0)


class Rotate(ImageOp):
    """Rotate about the centre by ``degrees`` (counter-clockwise positive); size is kept.

    Corners uncovered by the rotation are filled per border_mode.
    """

    name = "rotate"
    group = "geometric"
    params = {
        "degrees": Param(
            default=[-15.0, 15.0],
            low=-360.0,
            high=360.0,
            unit="degrees",
            help="rotation angle, counter-clockwise",
        ),
        "interpolation": INTERPOLATION,
        "border_mode": BORDER_MODE,
        "fill": FILL,
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        import cv2

        h, w = data.shape[:2]
        m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), params["degrees"], 1.0)
        return cv2.warpAffine(
            data,
            m,
            (w, h),
            flags=cv_interpolation(params["interpolation"]),
            borderMode=cv_border(params["border_mode"]),
            borderValue=border_value(data, params["fill"]),
        )


class RandomCrop(ImageOp):
    """Crop a random window holding ``scale`` of the area (same aspect ratio), then resize it to
    the input's size, or to ``size`` [height, width] when given."""

    name = "random_crop"
    group = "geometric"
    keeps_size = False  # with ``size``
    params = {
        "scale": Param(
            default=[0.5, 1.0],
            low=0.0,
            low_open=True,
            high=1.0,
            unit="area fraction",
            help="fraction of the image area the crop keeps",
        ),
        "size": Param(
            kind="size",
            default=None,
            help="output [height, width] in pixels; null keeps the input size",
        ),
        "interpolation": INTERPOLATION,
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        h, w = info["height"], info["width"]
        side = math.sqrt(params["scale"])
        ch, cw = max(1, round(h * side)), max(1, round(w * side))
        params["top"] = int(rng.integers(0, h - ch + 1))
        params["left"] = int(rng.integers(0, w - cw + 1))
        params["crop_height"], params["crop_width"] = ch, cw
        out = params["size"] or [h, w]
        params["size"] = [int(out[0]), int(out[1])]
        return params

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        t, left = params["top"], params["left"]
        crop = data[t : t + params["crop_height"], left : left + params["crop_width"]]
        oh, ow = params["size"]
        if crop.shape[:2] == (oh, ow):
            return np.ascontiguousarray(crop)
        return resize(np.ascontiguousarray(crop), oh, ow, params["interpolation"])


class Scale(ImageOp):
    """Resize by ``factor`` (both sides); the output size changes."""

    name = "scale"
    group = "geometric"
    keeps_size = False
    params = {
        "factor": Param(
            default=[0.8, 1.2], low=0.0, low_open=True, high=16.0, unit="x", help="size multiplier"
        ),
        "interpolation": INTERPOLATION_AUTO,
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        f = params["factor"]
        h, w = data.shape[:2]
        return resize(data, max(1, round(h * f)), max(1, round(w * f)), params["interpolation"])
