"""Kernel filters: blurs, sharpening and emboss, on colour channels only (alpha untouched)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from augcli.image.ops.arrays import full_scale, on_color
from augcli.image.ops.base import ImageOp
from augcli.image.ops.pixel import OddSizeOp, filter_2d, from_float, median_blur
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
            quantity="length",
            help="standard deviation of the Gaussian",
        ),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        return on_color(data, lambda x: _gauss(x, params["sigma"]))


class Sharpen(ImageOp):
    """Sharpening: out = x + amount * (x - gaussian_blur(x, sigma)), clipped to full scale.

    Clipped to [0, full scale] (255 for 8-bit; the bit depth in use for 16-bit, e.g. 4095 for a
    12-bit scan), so overshoot never leaves the scan's range. unsharp_mask adds a threshold.
    """

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
            quantity="length",
            help="radius of the blur whose difference is added back",
        ),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        def fn(x: np.ndarray) -> np.ndarray:  # in place: two float copies, not five
            f = x.astype(np.float32)
            detail = _gauss(f, params["sigma"])
            np.subtract(f, detail, out=detail)
            detail *= np.float32(params["amount"])
            detail += f
            del f
            return from_float(detail, data.dtype, full_scale(x))

        return on_color(data, fn)


class BoxBlur(OddSizeOp):
    """Box blur: the mean over a ``size`` x ``size`` window.

    size is odd, in pixels (a range draws odd sizes only). Borders are reflected, as in
    gaussian_blur. 8- and 16-bit alike.
    """

    name = "box_blur"
    group = "filter"
    odd = ("size",)
    params = {
        "size": Param(
            kind="int",
            default=[3, 7],
            low=3,
            high=99,
            unit="px, odd",
            help="window side",
        ),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        import cv2

        k = params["size"]
        return on_color(data, lambda x: cv2.blur(x, (k, k), borderType=cv2.BORDER_REFLECT_101))


class MedianBlur(OddSizeOp):
    """Median filter: each value becomes the median of its ``size`` x ``size`` window.

    size is odd, in pixels (a range draws odd sizes only); borders are replicated (as OpenCV).
    OpenCV filters 16-bit images with sizes 3 and 5 only; larger sizes on 16-bit run an exact
    two-pass median (high byte, then low byte) built on OpenCV's 8-bit median: identical to a
    true median, but slower (about 15x the 8-bit time on 12-bit data, up to 100x on noisy
    full-range 16-bit data).
    """

    name = "median_blur"
    group = "filter"
    odd = ("size",)
    params = {
        "size": Param(
            kind="int",
            default=[3, 5],
            low=3,
            high=99,
            unit="px, odd",
            help="window side",
        ),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        return on_color(data, lambda x: median_blur(x, params["size"]))


def motion_kernel(length: int, angle: float) -> np.ndarray:
    """A normalised length x length kernel holding an anti-aliased line through its centre."""
    import cv2

    line = np.zeros((length, length), np.float32)
    c = (length - 1) / 2
    line[length // 2, :] = 1.0
    m = cv2.getRotationMatrix2D((c, c), angle, 1.0)
    k = cv2.warpAffine(line, m, (length, length), flags=cv2.INTER_LINEAR)
    return k / k.sum()


class MotionBlur(OddSizeOp):
    """Motion blur: average along a straight line of ``length`` pixels at ``angle`` degrees.

    The line runs through the pixel (symmetric streak); angle 0 is horizontal, 90 vertical,
    counter-clockwise positive. length is odd (a range draws odd lengths only). Borders are
    reflected. 8- and 16-bit alike.
    """

    name = "motion_blur"
    group = "filter"
    odd = ("length",)
    params = {
        "length": Param(
            kind="int",
            default=[3, 9],
            low=3,
            high=99,
            unit="px, odd",
            help="streak length",
        ),
        "angle": Param(
            default=[0.0, 180.0],
            low=-360.0,
            high=360.0,
            unit="degrees",
            help="streak direction, counter-clockwise from horizontal",
        ),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        k = motion_kernel(params["length"], params["angle"])
        return on_color(data, lambda x: filter_2d(x, k, full_scale(x)))


class UnsharpMask(ImageOp):
    """Unsharp masking with a threshold: out = x + amount * (x - gaussian_blur(x, sigma)) where
    the detail exceeds ``threshold``.

    threshold is a fraction of full scale (255 for 8-bit; the bit depth in use for 16-bit): a
    pixel whose detail |x - blur| is at or below it is left alone, so flat noise is not boosted;
    the mask is softened with the same blur to avoid seams (as Albumentations). 0 sharpens
    everywhere. Results are clipped to full scale, so a 12-bit scan stays 12-bit.
    """

    name = "unsharp_mask"
    group = "filter"
    params = {
        "sigma": Param(
            default=[0.5, 1.5],
            low=0.0,
            low_open=True,
            high=20.0,
            unit="px",
            quantity="length",
            help="radius of the blur whose difference is added back",
        ),
        "amount": Param(
            default=[0.2, 0.5],
            low=0.0,
            high=10.0,
            unit="x",
            help="strength; 0 leaves the image unchanged",
        ),
        "threshold": Param(
            default=0.04,
            low=0.0,
            high=1.0,
            unit="fraction of full scale",
            help="detail at or below this is not sharpened",
        ),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        sigma, amount = params["sigma"], np.float32(params["amount"])

        def fn(x: np.ndarray) -> np.ndarray:
            top = full_scale(x)
            f = x.astype(np.float32)
            detail = f - _gauss(f, sigma)
            if params["threshold"] > 0:
                mask = (np.abs(detail) > params["threshold"] * top).astype(np.float32)
                detail *= _gauss(mask, sigma)
            detail *= amount
            detail += f
            return from_float(detail, x.dtype, top)

        return on_color(data, fn)


def emboss_kernel(strength: float, alpha: float) -> np.ndarray:
    """3x3 diagonal relief kernel (weights sum to 1) blended with the identity by ``alpha``."""
    s = strength
    effect = np.array([[-1 - s, -s, 0], [-s, 1, s], [0, s, 1 + s]], np.float32)
    identity = np.zeros((3, 3), np.float32)
    identity[1, 1] = 1
    return (1 - alpha) * identity + alpha * effect


class Emboss(ImageOp):
    """Emboss: relief shading from a 3x3 kernel, blended with the original.

    strength scales the relief, alpha is the embossed image's share (0 keeps the original,
    1 shows only the relief). The kernel's weights sum to 1, so flat areas keep their value;
    edges are clipped to full scale (255 for 8-bit; the bit depth in use for 16-bit).
    """

    name = "emboss"
    group = "filter"
    params = {
        "strength": Param(
            default=[0.2, 0.7], low=0.0, high=10.0, unit="x", help="depth of the relief"
        ),
        "alpha": Param(
            default=[0.2, 0.5],
            low=0.0,
            high=1.0,
            unit="fraction",
            help="blend: 0 keeps the original, 1 only the embossed image",
        ),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        k = emboss_kernel(params["strength"], params["alpha"])
        return on_color(data, lambda x: filter_2d(x, k, full_scale(x)))
