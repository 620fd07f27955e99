"""Noise and degradation ops: additive/multiplicative noise, salt and pepper, JPEG, downscale, cutout.

Bulk randomness (a value per pixel) cannot be a recorded parameter, so ``sample`` draws an integer
``noise_seed`` and ``apply`` rebuilds the same noise from it: the manifest still replays outputs.
All of them leave the alpha channel untouched.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from augcli.image.ops import physical
from augcli.image.ops.arrays import full_scale, max_value, on_color, resize
from augcli.image.ops.base import INTERPOLATION_AUTO, ImageOp, largest, scale_words, shown, times
from augcli.image.ops.pixel import clip_top, draw_noise_seed, normal_noise, uniform_noise
from augcli.params import Param

PER_CHANNEL = Param(
    kind="bool",
    default=True,
    help="independent noise per colour channel; false adds the same noise to B, G and R",
)


class _NoiseOp(ImageOp):
    """Draws the declared params plus ``noise_seed``, from which apply rebuilds its noise."""

    group = "noise"

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        params["noise_seed"] = draw_noise_seed(rng)
        return params


def _add_noise(x: np.ndarray, noise: np.ndarray, multiply: bool = False) -> np.ndarray:
    """x + noise (or x * noise) rounded and clipped to [0, full_scale(x)] in one OpenCV pass; a
    2-D ``noise`` is shared by all colour channels."""
    import cv2

    if noise.ndim < x.ndim:
        noise = cv2.merge([noise] * x.shape[2])
    depth = cv2.CV_8U if x.dtype == np.uint8 else cv2.CV_16U
    out = cv2.multiply(x, noise, dtype=depth) if multiply else cv2.add(x, noise, dtype=depth)
    return clip_top(out, full_scale(x))


class GaussianNoise(_NoiseOp):
    """Add Gaussian noise of standard deviation ``std`` (and offset ``mean``), in the image's
    own intensity units.

    std 10 is 10 levels on any image: noticeable on 8-bit (0..255), faint on a 16-bit scan
    (0..65535, or 0..4095 for 12-bit data), so choose it per dataset. Results are rounded and
    clipped to [0, full scale] (255 for 8-bit; the bit depth in use for 16-bit, so a 12-bit scan
    stays 12-bit). The noise comes from ``noise_seed``, recorded per output.
    """

    name = "gaussian_noise"
    params = {
        "std": Param(
            default=[5.0, 15.0],
            low=0.0,
            high=65535.0,
            unit="intensity",
            quantity="difference",
            help="standard deviation, in the image's own levels",
        ),
        "mean": Param(
            default=0.0,
            low=-65535.0,
            high=65535.0,
            unit="intensity",
            quantity="difference",
            help="offset added with the noise, in the image's own levels",
        ),
        "per_channel": PER_CHANNEL,
    }

    def implausible(self, facts: dict[str, Any]) -> str | None:
        """std entirely below one level: the rounded noise changes (almost) no pixel. Often a
        fraction of full scale (Albumentations' ``std_range``) given where levels are meant."""
        std, top = self.config["std"], facts["full_scale"]
        if 0 < largest(std) < 1:
            return (
                f"std {shown(std)} is in the image's own levels ({scale_words(facts)}): "
                f"{largest(std):g} is below one level, so the rounded noise changes almost no "
                f"pixel; did you mean {shown(std)} x {top} = {times(std, top)} (std as a "
                "fraction of full scale, as Albumentations' std_range)?"
            )
        return super().implausible(facts)

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        def fn(x: np.ndarray) -> np.ndarray:
            shape = x.shape if params["per_channel"] else x.shape[:2]
            noise = normal_noise(params["noise_seed"], shape, params["std"], params["mean"])
            return _add_noise(x, noise)

        return on_color(data, fn)


class SpeckleNoise(_NoiseOp):
    """Multiplicative (speckle) noise: out = x * (1 + n), n Gaussian with standard deviation
    ``std``.

    std is a fraction of each value (0.1 = 10% noise), so dark areas get less noise than bright
    ones, as in ultrasound or radar images; it means the same on 8- and 16-bit data. Results are
    clipped to full scale (255 for 8-bit; the bit depth in use for 16-bit).
    """

    name = "speckle_noise"
    params = {
        "std": Param(
            default=[0.05, 0.15],
            low=0.0,
            high=10.0,
            unit="fraction of the value",
            help="standard deviation of the multiplier around 1",
        ),
        "per_channel": PER_CHANNEL,
    }

    def implausible(self, facts: dict[str, Any]) -> str | None:
        """std so small that even the brightest level moves by less than one."""
        std, top = self.config["std"], facts["full_scale"]
        if 0 < largest(std) * top < 1:
            return (
                f"std {shown(std)} is a fraction of each pixel's value: even at full scale "
                f"({scale_words(facts)}) {largest(std):g} x {top} is below one level, so the "
                f"noise changes almost no pixel; it needs to be above 1/{top} = {1 / top:.2g} "
                "to move a level"
            )
        return super().implausible(facts)

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        def fn(x: np.ndarray) -> np.ndarray:
            shape = x.shape if params["per_channel"] else x.shape[:2]
            gain = normal_noise(params["noise_seed"], shape, params["std"], 1.0)
            return _add_noise(x, gain, multiply=True)

        return on_color(data, fn)


class SaltPepper(_NoiseOp):
    """Set a random ``amount`` of the pixels to full scale (salt) or 0 (pepper).

    Each pixel is hit with probability amount; a hit is salt with probability salt_vs_pepper.
    Salt is full scale, not the dtype maximum: 255 for 8-bit, the bit depth in use for 16-bit
    (4095 on a 12-bit scan). By default a hit sets all colour channels of the pixel (white/black
    dots); per_channel hits each channel on its own (coloured dots).
    """

    name = "salt_pepper"
    params = {
        "amount": Param(
            default=[0.01, 0.06],
            low=0.0,
            high=1.0,
            unit="fraction of pixels",
            help="share of pixels replaced",
        ),
        "salt_vs_pepper": Param(
            default=[0.4, 0.6],
            low=0.0,
            high=1.0,
            unit="fraction",
            help="share of the replaced pixels that become salt (full scale) rather than 0",
        ),
        "per_channel": Param(kind="bool", default=False, help="hit each colour channel separately"),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        amount = params["amount"]
        salt_below = np.float32(amount * params["salt_vs_pepper"])

        def fn(x: np.ndarray) -> np.ndarray:
            shape = x.shape if params["per_channel"] else x.shape[:2]
            draw = uniform_noise(params["noise_seed"], shape)
            out = x.copy()
            out[draw < salt_below] = full_scale(x)
            out[(draw >= salt_below) & (draw < np.float32(amount))] = 0
            return out

        return on_color(data, fn)


class JpegCompression(ImageOp):
    """JPEG artefacts: encode at ``quality`` and decode again, in memory (OpenCV/libjpeg).

    8-bit only: JPEG has no 16-bit mode, and squeezing 16-bit data through 8 bits would lose its
    precision, so 16-bit images are refused. Gray stays gray; on BGRA the colour is compressed
    and alpha kept exactly.
    """

    name = "jpeg_compression"
    group = "noise"
    dtypes = ("uint8",)
    params = {
        "quality": Param(
            kind="int",
            default=[60, 95],
            low=1,
            high=100,
            unit="JPEG quality",
            help="lower means stronger artefacts",
        ),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        import cv2

        def fn(x: np.ndarray) -> np.ndarray:
            ok, blob = cv2.imencode(".jpg", x, [cv2.IMWRITE_JPEG_QUALITY, params["quality"]])
            if not ok:
                raise RuntimeError("OpenCV could not encode the image as JPEG")
            return cv2.imdecode(blob, cv2.IMREAD_UNCHANGED)

        return on_color(data, fn)


class Downscale(ImageOp):
    """Lose detail: shrink by ``factor`` and resize back to the original size.

    factor is the side ratio of the small copy (0.5 = half width and height). interpolation is
    used both ways; auto shrinks with area and grows back with linear. Alpha is kept exactly.
    """

    name = "downscale"
    group = "noise"
    params = {
        "factor": Param(
            default=[0.25, 0.5],
            low=0.0,
            low_open=True,
            high=1.0,
            unit="x",
            help="side ratio of the intermediate small image",
        ),
        "interpolation": INTERPOLATION_AUTO,
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        h, w = data.shape[:2]
        f, how = params["factor"], params["interpolation"]
        sh, sw = max(1, round(h * f)), max(1, round(w * f))

        def fn(x: np.ndarray) -> np.ndarray:
            return resize(resize(x, sh, sw, how), h, w, how)

        return on_color(data, fn)


class Cutout(ImageOp):
    """Blank out ``holes`` random squares with ``fill`` (random erasing / coarse dropout).

    Each hole's side is ``size`` times the image's shorter side (drawn per hole when size is a
    range, at least 1 pixel); holes lie fully inside the image and may overlap. Their positions
    are drawn per output and recorded as boxes [top, left, height, width] in pixels. fill is in
    the image's own units (clipped to the dtype's maximum). Alpha is kept: a hole is not made
    transparent.
    """

    name = "cutout"
    group = "noise"
    params = {
        "holes": Param(kind="int", default=[1, 4], low=0, high=1000, help="number of holes"),
        "size": Param(
            default=[0.1, 0.25],
            low=0.0,
            low_open=True,
            high=1.0,
            unit="fraction of the shorter side",
            help="side of each square hole",
        ),
        "fill": Param(
            default=0.0,
            sampled=False,
            unit="intensity",
            quantity="level",
            help="value written into the holes, in the image's own units (clipped to its range)",
        ),
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        h, w = info["height"], info["width"]
        n = self.params["holes"].draw(self.config["holes"], rng)
        boxes = []
        for _ in range(n):
            frac = self.params["size"].draw(self.config["size"], rng)
            side = max(1, round(frac * min(h, w)))
            top = int(rng.integers(0, h - side + 1))
            left = int(rng.integers(0, w - side + 1))
            boxes.append([top, left, side, side])
        params = {"holes": n, "fill": self.config["fill"], "boxes": boxes}
        return physical.to_stored(self.name, self.params, params, info)

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        out = data.copy()
        color = out[..., :3] if out.ndim == 3 and out.shape[2] == 4 else out
        fill = round(min(max(params["fill"], 0.0), max_value(data.dtype)))
        for top, left, bh, bw in params["boxes"]:
            color[top : top + bh, left : left + bw] = fill
        return out
