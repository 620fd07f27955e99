"""Colour and intensity ops. They work in the image's own intensity units and leave alpha alone."""

from __future__ import annotations

from typing import Any

import numpy as np

from augcli.image.arrays import full_scale, on_color, to_dtype
from augcli.image.base import ImageOp
from augcli.params import Param


class BrightnessContrast(ImageOp):
    """Shift brightness and stretch contrast about the mean.

    out = (x - mean) * (1 + contrast) + mean + brightness * full_scale, clipped to [0, full_scale].
    full_scale is 255 for 8-bit images; for 16-bit ones it is the smallest 2**b - 1 covering the
    image's maximum (4095 for a 12-bit scan), so medical data keeps its bit depth.
    """

    name = "brightness_contrast"
    group = "color"
    params = {
        "brightness": Param(
            default=[-0.2, 0.2],
            low=-1.0,
            high=1.0,
            unit="fraction of full scale",
            help="added intensity, as a fraction of full scale",
        ),
        "contrast": Param(
            default=[-0.2, 0.2],
            low=-1.0,
            high=10.0,
            unit="gain - 1",
            help="contrast change about the mean: 0 keeps, -1 flattens, 1 doubles",
        ),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        import cv2

        def fn(x: np.ndarray) -> np.ndarray:
            top = full_scale(x)
            channels = 1 if x.ndim == 2 else x.shape[2]
            mean = np.float32(sum(cv2.mean(x)[:channels]) / channels)
            # The output depends only on the input level: compute it once per level (a LUT).
            levels = np.arange(top + 1, dtype=np.float32)
            gain = np.float32(1.0 + params["contrast"])
            shift = np.float32(params["brightness"] * top)
            lut = to_dtype((levels - mean) * gain + mean + shift, x.dtype, top)
            return cv2.LUT(x, lut) if x.dtype == np.uint8 else lut[x]

        return on_color(data, fn)
