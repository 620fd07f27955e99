"""Histogram ops (clahe, equalize, rescale) on 8- and 16-bit data, within the image's full
scale."""

from __future__ import annotations

from typing import Any

import numpy as np

from augcli import artefacts
from augcli.image.ops.arrays import full_scale, on_color, to_dtype
from augcli.image.ops.base import ImageOp
from augcli.image.ops.pixel import clip_top, from_float
from augcli.params import Param

BINS = 256


def clahe_plane(p: np.ndarray, top: int, clip: float, grid: int) -> np.ndarray:
    """CLAHE of one plane whose levels span 0..top, as OpenCV computes it on 8-bit data.

    8-bit planes go to OpenCV. Wider ones are histogrammed in 256 bins (as skimage does), so
    clip_limit means what it means on 8-bit and data with sparse levels (8-bit scaled up) is
    treated like its 8-bit original; each value then maps through its tiles' cumulative
    histograms interpolated within its bin, which keeps 16-bit precision. OpenCV's own 16-bit
    CLAHE would histogram 65536 levels, where a 12-bit scan's tiles are too sparse to clip.
    """
    import cv2

    if p.dtype == np.uint8:
        return cv2.createCLAHE(clip, (grid, grid)).apply(p)
    h, w = p.shape
    ext = p
    if h % grid or w % grid:  # pad like OpenCV (including its extra tile row or column)
        ext = cv2.copyMakeBorder(p, 0, grid - h % grid, 0, grid - w % grid, cv2.BORDER_REFLECT_101)
    th, tw = ext.shape[0] // grid, ext.shape[1] // grid
    area = th * tw
    shift = (top + 1).bit_length() - 1 - 8  # levels per bin = 2**shift
    tile = (np.arange(grid * th) // th)[:, None] * grid + (np.arange(grid * tw) // tw)[None, :]
    keys = tile * BINS + (ext[: grid * th, : grid * tw] >> shift)
    hist = np.bincount(keys.ravel(), minlength=grid * grid * BINS).reshape(-1, BINS)
    if clip > 0:  # clip and redistribute exactly as OpenCV does
        limit = max(1, int(clip * area / BINS))
        excess = np.maximum(hist - limit, 0).sum(axis=1)
        hist = np.minimum(hist, limit) + (excess // BINS)[:, None]
        residual = (excess % BINS)[:, None]
        step = np.maximum(BINS // np.maximum(residual, 1), 1)
        i = np.arange(BINS)[None, :]
        hist += (i % step == 0) & (i // step < residual)
    below = (np.cumsum(hist, axis=1) - hist).ravel().astype(np.float32)  # counts under each bin
    inside = hist.ravel().astype(np.float32)

    bins = (p >> shift).astype(np.intp)
    frac = ((p & ((1 << shift) - 1)) + 1).astype(np.float32) * np.float32(1 / (1 << shift))

    def axis(n: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.arange(n, dtype=np.float32) * np.float32(1 / size) - np.float32(0.5)
        first = np.floor(pos)
        weight = pos - first
        lo = np.maximum(first, 0).astype(np.intp)
        return lo, np.minimum(first.astype(np.intp) + 1, grid - 1), weight

    y1, y2, ya = axis(h, th)
    x1, x2, xa = axis(w, tw)
    out = np.zeros((h, w), np.float32)
    for ty, wy in ((y1, 1 - ya), (y2, ya)):
        for tx, wx in ((x1, 1 - xa), (x2, xa)):
            idx = (ty[:, None] * grid + tx[None, :]) * BINS + bins
            out += (below[idx] + frac * inside[idx]) * (wy[:, None] * wx[None, :])
    return from_float(out * np.float32(top / area), p.dtype, top)


class CLAHE(ImageOp):
    """Contrast-limited adaptive histogram equalisation (CLAHE, as OpenCV).

    The image is split into tile_grid x tile_grid tiles; each tile's histogram is clipped at
    clip_limit times a flat histogram's height (so no level range is stretched more than about
    clip_limit times), equalised, and blended between neighbouring tiles. Colour images are
    equalised on lightness only (L of Lab; hue and saturation kept). 8-bit: OpenCV's CLAHE.
    16-bit: the same algorithm with 256-bin histograms, applied at full precision; colour via
    float32 Lab; the output stays within full scale (4095 for a 12-bit scan).
    """

    name = "clahe"
    group = "color"
    params = {
        "clip_limit": Param(
            default=[1.0, 4.0],
            low=0.0,
            low_open=True,
            high=100.0,
            unit="x flat histogram",
            help="histogram clip height; higher gives more local contrast",
        ),
        "tile_grid": Param(
            kind="int",
            default=8,
            low=1,
            high=64,
            sampled=False,
            unit="tiles per side",
            help="the image is split into tile_grid x tile_grid tiles",
        ),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        import cv2

        clip, grid = params["clip_limit"], params["tile_grid"]

        def fn(x: np.ndarray) -> np.ndarray:
            top = full_scale(x)
            if x.ndim == 2:
                return clahe_plane(x, top, clip, grid)
            if x.dtype == np.uint8:
                lab = cv2.cvtColor(x, cv2.COLOR_BGR2Lab)
                lab[..., 0] = clahe_plane(np.ascontiguousarray(lab[..., 0]), 255, clip, grid)
                return cv2.cvtColor(lab, cv2.COLOR_Lab2BGR)
            lab = cv2.cvtColor(x.astype(np.float32) * np.float32(1 / top), cv2.COLOR_BGR2Lab)
            light = to_dtype(lab[..., 0] * np.float32(655.35), np.uint16)  # L is 0..100
            light = clahe_plane(light, 65535, clip, grid)
            lab[..., 0] = light.astype(np.float32) * np.float32(1 / 655.35)
            bgr = cv2.cvtColor(lab, cv2.COLOR_Lab2BGR)
            return from_float(bgr * np.float32(top), x.dtype, top)

        return on_color(data, fn)


def equalize_plane(p: np.ndarray, top: int) -> np.ndarray:
    """Histogram equalisation of one plane onto 0..top (OpenCV's rule, any bit depth)."""
    import cv2

    if p.dtype == np.uint8:
        return cv2.equalizeHist(p)
    hist = np.bincount(p.ravel(), minlength=top + 1)
    first = int(np.flatnonzero(hist)[0])
    rest = p.size - int(hist[first])
    if rest == 0:  # a flat plane stays as it is
        return p.copy()
    cdf = np.cumsum(hist) - hist[first]  # the darkest level maps to 0
    lut = np.clip(np.rint(cdf * (top / rest)), 0, top).astype(p.dtype)
    return lut[p]


class Equalize(ImageOp):
    """Histogram equalisation: spread the levels so that their histogram is roughly flat.

    The darkest level present maps to 0 and the brightest to full scale (255 for 8-bit; the bit
    depth in use for 16-bit, so a 12-bit scan stays within 0..4095). 8-bit uses OpenCV's
    equalizeHist; 16-bit the same rule on a histogram of every level. Colour images: each channel
    on its own (by_channels, as Albumentations), or only the luma Y of YCrCb.
    """

    name = "equalize"
    group = "color"
    params = {
        "by_channels": Param(
            kind="bool",
            default=True,
            help="equalise B, G, R separately; false equalises luma only (keeps colours)",
        ),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        import cv2

        def fn(x: np.ndarray) -> np.ndarray:
            top = full_scale(x)
            if x.ndim == 2:
                return equalize_plane(x, top)
            if params["by_channels"]:
                return cv2.merge([equalize_plane(c, top) for c in cv2.split(x)])
            ycc = cv2.cvtColor(x, cv2.COLOR_BGR2YCrCb)
            ycc[..., 0] = equalize_plane(np.ascontiguousarray(ycc[..., 0]), top)
            return clip_top(cv2.cvtColor(ycc, cv2.COLOR_YCrCb2BGR), top)

        return on_color(data, fn)


class Rescale(ImageOp):
    """Rescale intensities: a display window (``center``, ``width``) or the image's
    ``low_percentile``..``high_percentile`` range, mapped linearly onto ``out_min``..``out_max``
    (fractions of full scale), clipped outside.

    The volume section's ``rescale`` on one slice (the same ``artefacts.rescale``), as TorchIO's
    RescaleIntensity and MONAI's ScaleIntensityRange(clip=True). ``center`` and ``width`` are in
    the image's own levels: for a 16-bit DICOM CT those are the stored values (HU = stored *
    RescaleSlope + RescaleIntercept, shifted up by 2**k when the file stores negative values), so
    a window of 40/400 HU with intercept -1024 is center 1064, width 400. Full scale is 255 for
    8-bit and the bit depth in use for 16-bit (a 12-bit scan stays 0..4095). Colour channels
    share one range (percentiles over all of them); alpha is kept.
    """

    name = "rescale"
    group = "color"
    changes_levels = True
    params = {
        "by": Param(
            kind="choice",
            default="percentiles",
            choices=artefacts.RESCALE_BY,
            help="take the input range from center/width or from the percentiles",
        ),
        "center": Param(
            default=2048.0,
            unit="intensity",
            quantity="level",
            help="window centre, in image levels",
        ),
        "width": Param(
            default=4096.0,
            low=0.0,
            low_open=True,
            unit="intensity",
            help="window width",
            quantity="difference",
        ),
        "low_percentile": artefacts.LOW_PERCENTILE,
        "high_percentile": artefacts.HIGH_PERCENTILE,
        "out_min": Param(
            default=0.0,
            low=0.0,
            high=1.0,
            sampled=False,
            unit="fraction of full scale",
            help="output minimum",
        ),
        "out_max": Param(
            default=1.0,
            low=0.0,
            high=1.0,
            sampled=False,
            unit="fraction of full scale",
            help="output maximum",
        ),
    }

    def check_config(self, path: str) -> None:
        artefacts.check_rescale(self.config, path)

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        def fn(x: np.ndarray) -> np.ndarray:
            top = full_scale(x)
            if params["by"] == "window":
                lo, hi = artefacts.window_range(params["center"], params["width"])
            else:
                lo, hi = artefacts.percentile_range(
                    x, params["low_percentile"], params["high_percentile"]
                )
            out_lo, out_hi = params["out_min"] * top, params["out_max"] * top
            return to_dtype(
                artefacts.rescale(x.astype(np.float64), lo, hi, out_lo, out_hi), x.dtype, top
            )

        return on_color(data, fn)
