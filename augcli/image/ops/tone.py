"""Tone ops: per-channel shifts (``rgb_shift``), a contrast stretch to full scale
(``auto_contrast``) and a random tone curve (``tone_curve``). Each is one table per level on
the image's full scale (255 for 8-bit, the bit depth in use for 16-bit), so 8- and 16-bit mean
the same; alpha is left alone."""

from __future__ import annotations

from typing import Any

import numpy as np

from augcli.image.ops.arrays import full_scale, on_color, to_dtype
from augcli.image.ops.base import ImageOp
from augcli.image.ops.pixel import apply_lut
from augcli.params import Param


def _shift(name: str) -> Param:
    return Param(
        default=[-0.08, 0.08],
        low=-1.0,
        high=1.0,
        unit="fraction of full scale",
        help=f"added to the {name} channel, as a fraction of full scale",
    )


def _per_channel(x: np.ndarray, luts: list[np.ndarray]) -> np.ndarray:
    """Each channel of ``x`` through its own table (one table: every channel)."""
    if x.ndim == 2:
        return apply_lut(x, luts[0])
    planes = [apply_lut(np.ascontiguousarray(x[..., c]), luts[c % len(luts)]) for c in range(3)]
    return np.stack(planes, axis=-1)


class RGBShift(ImageOp):
    """Add a shift of its own to each of the red, green and blue channels.

    As Albumentations' RGBShift, with the shifts as fractions of full scale so that a 16-bit
    image moves as much as an 8-bit one; the drawn shifts are recorded as ``r``, ``g``, ``b``.
    Clipped to [0, full scale]. Colour images only.
    """

    name = "rgb_shift"
    group = "color"
    channels = (3, 4)
    params = {"r": _shift("red"), "g": _shift("green"), "b": _shift("blue")}

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        def fn(x: np.ndarray) -> np.ndarray:
            top = full_scale(x)
            levels = np.arange(top + 1, dtype=np.float64)
            luts = [to_dtype(levels + params[c] * top, x.dtype, top) for c in ("b", "g", "r")]
            return _per_channel(x, luts)

        return on_color(data, fn)


class AutoContrast(ImageOp):
    """Stretch each channel so that its darkest level becomes 0 and its brightest full scale.

    As PIL's ImageOps.autocontrast: ``cutoff`` percent of the pixels at each end are ignored
    when finding the darkest and brightest levels (and clipped). ``by_channels`` false stretches
    every colour channel by the range of all of them (keeps hues). A flat channel is kept.
    """

    name = "auto_contrast"
    group = "color"
    params = {
        "cutoff": Param(
            default=0.0,
            low=0.0,
            high=49.0,
            unit="percent",
            help="share of pixels ignored at each end of the histogram",
        ),
        "by_channels": Param(
            kind="bool", default=True, help="stretch each channel by its own range"
        ),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        def fn(x: np.ndarray) -> np.ndarray:
            top = full_scale(x)
            planes = [x] if x.ndim == 2 or not params["by_channels"] else list(x.transpose(2, 0, 1))
            luts = [_stretch(p, params["cutoff"], top, x.dtype) for p in planes]
            return _per_channel(x, luts)

        return on_color(data, fn)


def _stretch(plane: np.ndarray, cutoff: float, top: int, dtype: np.dtype) -> np.ndarray:
    """The table that maps ``plane``'s darkest and brightest levels, once ``cutoff`` percent
    of its pixels are left out at each end, to 0 and ``top``."""
    levels = np.arange(top + 1, dtype=np.float64)
    flat = plane.ravel()
    k = min(int(flat.size * cutoff / 100.0), (flat.size - 1) // 2)  # pixels cut at each end
    lo, hi = (float(v) for v in np.partition(flat, (k, flat.size - 1 - k))[[k, -1 - k]])
    if hi <= lo:
        return levels.astype(dtype)
    return to_dtype((levels - lo) * (top / (hi - lo)), dtype, top)


class ToneCurve(ImageOp):
    """A random tone curve: a cubic Bezier from black to white through two control points,
    (0.25, 0.25 + d1) and (0.75, 0.75 + d2), with d1, d2 ~ Normal(0, ``scale``).

    As Albumentations' RandomToneCurve, but the curve is evaluated as a function of the input
    level (the Bezier's x inverted), not of its parameter. Output levels are clipped to
    [0, full scale]. ``per_channel`` draws a curve per colour channel. The control points are
    recorded as ``low_y`` and ``high_y`` (one per channel, B, G, R, or one for all).
    """

    name = "tone_curve"
    group = "color"
    params = {
        "scale": Param(
            default=0.1,
            low=0.0,
            high=1.0,
            unit="fraction of full scale",
            help="standard deviation of the control points' vertical move",
        ),
        "per_channel": Param(kind="bool", default=False, help="a curve of its own per channel"),
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        n = 3 if params["per_channel"] and info["channels"] >= 3 else 1
        moves = (
            rng.normal(0.0, params["scale"], size=(2, n)) if params["scale"] else np.zeros((2, n))
        )
        params["low_y"] = [round(float(np.clip(0.25 + d, 0, 1)), 6) for d in moves[0]]
        params["high_y"] = [round(float(np.clip(0.75 + d, 0, 1)), 6) for d in moves[1]]
        return params

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        def fn(x: np.ndarray) -> np.ndarray:
            top = full_scale(x)
            luts = [
                to_dtype(top * curve(lo, hi, top + 1), x.dtype, top)
                for lo, hi in zip(params["low_y"], params["high_y"], strict=True)
            ]
            return _per_channel(x, luts)

        return on_color(data, fn)


def curve(low_y: float, high_y: float, n: int) -> np.ndarray:
    """The tone curve at ``n`` evenly spaced input levels in [0, 1]."""
    t = np.linspace(0.0, 1.0, 4 * n)
    u = 1.0 - t
    bx = 3 * u * u * t * 0.25 + 3 * u * t * t * 0.75 + t**3
    by = 3 * u * u * t * low_y + 3 * u * t * t * high_y + t**3
    return np.clip(np.interp(np.linspace(0.0, 1.0, n), bx, by), 0.0, 1.0)
