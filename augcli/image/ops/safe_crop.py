"""``box_safe_crop``: a random crop that cuts no box and no mask object (as Albumentations'
BBoxSafeRandomCrop, with the mask's foreground kept too), then resized like the other crops."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from augcli.image.ops.base import INTERPOLATION
from augcli.image.ops.geometric import SIZE, CropOp
from augcli.params import Param


def kept_region(info: dict[str, Any]) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1), end exclusive, of every box with an area and every mask pixel > 0,
    within the image; None when there is neither."""
    h, w = info["height"], info["width"]
    spans = []
    boxes = info.get("boxes")
    if boxes is not None:
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        b = b[(b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])]
        spans += [
            (math.floor(x0), math.floor(y0), math.ceil(x1), math.ceil(y1)) for x0, y0, x1, y1 in b
        ]
    mask = info.get("mask")
    if mask is not None and mask.any():
        ys, xs = np.nonzero(mask)
        spans.append((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
    if not spans:
        return None
    x0, y0 = max(0, min(s[0] for s in spans)), max(0, min(s[1] for s in spans))
    x1, y1 = min(w, max(s[2] for s in spans)), min(h, max(s[3] for s in spans))
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


class BoxSafeCrop(CropOp):
    """Crop a random window that holds every box and every mask object whole, then resize it
    to the input's size (or ``size``).

    Each side of the window is drawn uniformly between the image's edge and the nearest edge
    of what must be kept (the union of the boxes and the mask's foreground), so no annotation
    is cut. An image with nothing annotated is cropped to ``scale`` of its area, anywhere.
    The window is recorded (``top``, ``left``, ``crop_height``, ``crop_width``). Never fused
    with the warps before it: it reads the annotations as they are.
    """

    name = "box_safe_crop"
    fusable = False
    params = {
        "scale": Param(
            default=[0.5, 1.0],
            low=0.0,
            low_open=True,
            high=1.0,
            unit="area fraction",
            help="the crop's area when nothing is annotated",
        ),
        "size": SIZE,
        "interpolation": INTERPOLATION,
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        h, w = info["height"], info["width"]
        keep = kept_region(info)
        if keep is None:
            side = math.sqrt(params["scale"])
            return self.window(params, rng, h, w, round(h * side), round(w * side))
        x0, y0, x1, y1 = keep
        left, top = int(rng.integers(0, x0 + 1)), int(rng.integers(0, y0 + 1))
        right, bottom = int(rng.integers(x1, w + 1)), int(rng.integers(y1, h + 1))
        params = self.window(params, rng, h, w, bottom - top, right - left)
        params["top"], params["left"] = top, left  # the window's place is the one drawn above
        return params
