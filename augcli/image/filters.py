"""Kernel filters: blur and sharpen, on colour channels only (alpha untouched)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from augcli.image.arrays import on_color, to_dtype
from augcli.image.base import ImageOp
from augcli.params import Param


def _gauss(x: np.ndarray, sigma: float) -> np.ndarray:
    import cv2

    k = 2 * math.ceil(3 * sigma) + 1
    return cv2.GaussianBlur(
        x, (k, k), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101
    )


class GaussianBlur(ImageOp):
    """Gaussian blur with standard deviation ``sigma`` in pixels (kernel 2*ceil(3*sigma)+1)."""

    name = "gaussian_blur"
    group = "filter"
    params = {
        "sigma": Param(
            default=[0.5, 1.5],
            low=0.0,
            low_open=True,
            high=50.0,
            unit="px",
            help="standard deviation of the Gaussian",
        ),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        return on_color(data, lambda x: _gauss(x, params["sigma"]))


class Sharpen(ImageOp):
    """Unsharp-mask sharpening: out = x + amount * (x - gaussian_blur(x, sigma))."""

    name = "sharpen"
    group = "filter"
    params = {
        "amount": Param(
            default=[0.2, 0.6],
            low=0.0,
            high=10.0,
            unit="x",
            help="strength; 0 leaves the image unchanged",
        ),
        "sigma": Param(
            default=1.0,
            low=0.0,
            low_open=True,
            high=20.0,
            unit="px",
            help="radius of the blur whose difference is added back",
        ),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        def fn(x: np.ndarray) -> np.ndarray:
            f = x.astype(np.float32)
            blurred = _gauss(f, params["sigma"])
            return to_dtype(f + np.float32(params["amount"]) * (f - blurred), data.dtype)

        return on_color(data, fn)
