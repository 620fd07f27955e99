"""Colour and intensity ops. They work in the image's own intensity units and leave alpha alone."""

from __future__ import annotations

from typing import Any

import numpy as np

from augcli.image.arrays import full_scale, on_color, to_dtype
from augcli.image.geometric import ImageOp
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
        "brightness": Param(default=[-0.2, 0.2], low=-1.0, high=1.0, unit="fraction of full scale",
                            help="added intensity, as a fraction of full scale"),
        "contrast": Param(default=[-0.2, 0.2], low=-1.0, high=10.0, unit="gain - 1",
                          help="contrast change about the mean: 0 keeps, -1 flattens, 1 doubles"),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        top = full_scale(data)

        def fn(x: np.ndarray) -> np.ndarray:
            f = x.astype(np.float32)
            mean = np.float32(f.mean())
            gain = np.float32(1.0 + params["contrast"])
            out = (f - mean) * gain + mean + np.float32(params["brightness"] * top)
            return to_dtype(out, data.dtype, top)

        return on_color(data, fn)
