"""Colour and intensity ops. They work in the image's own intensity units and leave alpha alone."""

from __future__ import annotations

from typing import Any

import numpy as np

from augcli.image.ops.arrays import full_scale, on_color, to_dtype
from augcli.image.ops.base import ImageOp, largest, scale_words, shown
from augcli.image.ops.pixel import apply_lut, from_float, level_lut
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

    def implausible(self, facts: dict[str, Any]) -> str | None:
        """Both changes below one level: brightness x full scale and contrast x full scale
        (the most a level can move by contrast) under one."""
        b, c, top = self.config["brightness"], self.config["contrast"], facts["full_scale"]
        if 0 < largest(b) * top < 1 and largest(c) * top < 1:
            return (
                f"brightness {shown(b)} is a fraction of full scale ({scale_words(facts)}): "
                f"{largest(b):g} x {top} is below one level (and contrast {shown(c)} moves no "
                f"level either), so the image does not change; a brightness of 1/{top} = "
                f"{1 / top:.2g} moves one level"
            )
        return super().implausible(facts)

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


class Gamma(ImageOp):
    """Gamma curve on the normalised intensity: out = full_scale * (x / full_scale) ** gamma.

    gamma < 1 brightens the shadows, > 1 darkens them; 1 leaves the image unchanged. full_scale
    is 255 for 8-bit images and the bit depth in use for 16-bit ones (4095 for a 12-bit scan), so
    the curve spans the data's real range. One table per level (cv2.LUT on 8-bit).
    """

    name = "gamma"
    group = "color"
    params = {
        "gamma": Param(
            default=[0.8, 1.2],
            low=0.0,
            low_open=True,
            high=10.0,
            unit="exponent",
            help="exponent applied to intensity / full scale; 1 keeps the image",
        ),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        g = params["gamma"]

        def fn(x: np.ndarray) -> np.ndarray:
            top = full_scale(x)
            return apply_lut(x, level_lut(x.dtype, top, lambda v: top * (v / top) ** g))

        return on_color(data, fn)


class Invert(ImageOp):
    """Negative image: out = full_scale - x.

    full_scale, not the dtype maximum: 255 for 8-bit (the same thing), and for 16-bit the
    smallest 2**b - 1 covering the image's maximum, so a 12-bit scan inverts within 0..4095
    instead of landing at 61440..65535. On 16-bit data inverting twice returns the original only
    when the inverted image still needs the same bit depth (its maximum is full_scale - min(x)).
    """

    name = "invert"
    group = "color"

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        import cv2

        def fn(x: np.ndarray) -> np.ndarray:
            top = full_scale(x)
            if top == np.iinfo(x.dtype).max:
                return cv2.bitwise_not(x)
            return np.subtract(x.dtype.type(top), x)

        return on_color(data, fn)


class Posterize(ImageOp):
    """Keep only the top ``bits`` bits of each colour value (fewer distinct levels).

    Bits count from the image's own bit depth: 8 for 8-bit images, and for 16-bit ones the depth
    of full scale (12 for a 12-bit scan), so bits 4 gives 16 levels on both. bits at or above
    that depth leaves the image unchanged.
    """

    name = "posterize"
    group = "color"
    params = {
        "bits": Param(
            kind="int",
            default=[4, 6],
            low=1,
            high=16,
            unit="bits",
            help="bits kept per channel, of the image's bit depth",
        ),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        def fn(x: np.ndarray) -> np.ndarray:
            depth = full_scale(x).bit_length()
            bits = params["bits"]
            if bits >= depth:
                return x.copy()
            return np.bitwise_and(x, x.dtype.type(((1 << bits) - 1) << (depth - bits)))

        return on_color(data, fn)


class Solarize(ImageOp):
    """Invert every value at or above ``threshold``: x >= threshold * full_scale becomes
    full_scale - x.

    threshold is a fraction of full scale (255 for 8-bit; the bit depth in use for 16-bit, e.g.
    4095), so 0.5 means mid-grey on both; 0 inverts everything, 1 only the full-scale value.
    """

    name = "solarize"
    group = "color"
    params = {
        "threshold": Param(
            default=0.5,
            low=0.0,
            high=1.0,
            unit="fraction of full scale",
            help="values at or above this are inverted",
        ),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        def fn(x: np.ndarray) -> np.ndarray:
            top = full_scale(x)
            cut = params["threshold"] * top
            return apply_lut(x, level_lut(x.dtype, top, lambda v: np.where(v >= cut, top - v, v)))

        return on_color(data, fn)


class HSV(ImageOp):
    """Shift hue and scale saturation and value (HSV), on colour images.

    hue is added in degrees (the colour wheel wraps at 360); saturation and value are
    fractional changes: out S = S * (1 + saturation) capped at fully saturated, out V =
    V * (1 + value) clipped to full scale (255 for 8-bit; the bit depth in use for 16-bit).
    Converted in float32 on both 8- and 16-bit data, so all zero changes nothing and 16-bit keeps
    its precision. Gray images have no hue: the op refuses them (use brightness_contrast).
    """

    name = "hsv"
    group = "color"
    channels = (3, 4)
    params = {
        "hue": Param(
            default=[-20.0, 20.0],
            low=-360.0,
            high=360.0,
            unit="degrees",
            help="hue rotation on the colour wheel",
        ),
        "saturation": Param(
            default=[-0.3, 0.3],
            low=-1.0,
            high=10.0,
            unit="fraction",
            help="saturation change: 0 keeps, -1 makes gray, 0.5 is 50% more saturated",
        ),
        "value": Param(
            default=[-0.2, 0.2],
            low=-1.0,
            high=10.0,
            unit="fraction",
            help="value (max of B, G, R) change: 0 keeps, -1 makes black",
        ),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        import cv2

        hue = params["hue"] % 360.0
        sat, val = 1.0 + params["saturation"], 1.0 + params["value"]

        def fn(x: np.ndarray) -> np.ndarray:
            top = full_scale(x)
            # float32 HSV: H in degrees, S in [0, 1], V in the image's own units.
            hsv = cv2.cvtColor(x.astype(np.float32), cv2.COLOR_BGR2HSV)
            if hue:
                hsv[..., 0] += np.float32(hue)  # HSV2BGR wraps hues past 360
            if sat != 1.0:
                hsv[..., 1] *= np.float32(sat)
                np.minimum(hsv[..., 1], np.float32(1.0), out=hsv[..., 1])
            if val != 1.0:
                hsv[..., 2] *= np.float32(val)
            return from_float(cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR), x.dtype, top)

        return on_color(data, fn)


class ChannelShuffle(ImageOp):
    """Reorder the B, G, R channels with a random permutation (alpha stays last).

    The permutation is drawn per output and recorded as ``order`` (output channel i is input
    channel order[i]); it may be the identity. Gray images have one channel: refused.
    """

    name = "channel_shuffle"
    group = "color"
    changes_levels = False  # moves whole channels: no level of a gray mask changes
    channels = (3, 4)

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        return {"order": [int(i) for i in rng.permutation(3)]}

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        order = params["order"]
        import cv2

        return on_color(data, lambda x: cv2.merge([x[..., i] for i in order]))


class Grayscale(ImageOp):
    """Remove colour, keeping the channel count: the gray value is written to B, G and R.

    method weighted_average uses the ITU-R BT.601 luma weights (0.299 R + 0.587 G + 0.114 B, as
    OpenCV), average the plain mean, max the brightest channel. Alpha is kept. A gray (1-channel)
    input is returned unchanged, so the op can sit in a recipe for mixed data.
    """

    name = "grayscale"
    group = "color"
    changes_levels = False  # moves whole channels: no level of a gray mask changes
    params = {
        "method": Param(
            kind="choice",
            default="weighted_average",
            choices=("weighted_average", "average", "max"),
            help="how B, G, R combine into one gray value",
        ),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        import cv2

        if data.ndim == 2:
            return data.copy()
        weights = {"weighted_average": (0.114, 0.587, 0.299), "average": (1 / 3,) * 3}

        def fn(x: np.ndarray) -> np.ndarray:
            if params["method"] == "max":
                g = np.max(x, axis=2)
                return cv2.merge([g, g, g])
            # One pass: every output channel is the same weighted sum of the inputs.
            return cv2.transform(x, np.array([weights[params["method"]]] * 3, np.float32))

        return on_color(data, fn)
