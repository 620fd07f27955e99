"""Camera sensor noise: photon (shot) noise, Poisson in the light each pixel caught, and ISO
noise, hue jitter with a luminance grain (as Albumentations' ShotNoise and ISONoise). Both draw
their noise from a recorded ``noise_seed`` and work on the image's full scale, 8- or 16-bit."""

from __future__ import annotations

from typing import Any

import numpy as np

from augcli.image.ops.arrays import full_scale, on_color, to_dtype
from augcli.image.ops.base import ImageOp
from augcli.image.ops.pixel import draw_noise_seed
from augcli.params import Param


class _SeededOp(ImageOp):
    group = "noise"

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        params["noise_seed"] = draw_noise_seed(rng)
        return params


class ShotNoise(_SeededOp):
    """Photon (shot) noise: each value is a Poisson count of the light it stands for.

    A pixel at level x caught ``photons * x / full_scale`` photons on average; the output is a
    Poisson draw of that mean, scaled back (out = Poisson(photons * x / top) * top / photons),
    so the noise's variance grows with the level, as in low-light photographs and low-dose
    X-ray. Fewer photons is noisier; black stays black. Every channel draws its own.
    """

    name = "shot_noise"
    params = {
        "photons": Param(
            default=[100.0, 1000.0],
            low=1.0,
            high=1e9,
            unit="photons at full scale",
            help="mean photon count of a full-scale pixel; lower is noisier",
        ),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        def fn(x: np.ndarray) -> np.ndarray:
            top, photons = full_scale(x), params["photons"]
            mean = x.astype(np.float64) * (photons / top)
            counts = np.random.default_rng(params["noise_seed"]).poisson(mean)
            return to_dtype(counts * (top / photons), x.dtype, top)

        return on_color(data, fn)


class ISONoise(_SeededOp):
    """Camera ISO noise: the hue jittered and a grain added to the lightness (HLS).

    Per pixel, hue moves by Normal(0, ``color_shift`` x 360 x ``intensity``) degrees (wrapping)
    and lightness L (0..1) gains Poisson(std(L) x ``intensity`` x 255) / 255 x (1 - L), so dark
    and mid tones get the most grain, as Albumentations' ISONoise. Colour images only.
    """

    name = "iso_noise"
    channels = (3, 4)
    params = {
        "color_shift": Param(
            default=[0.01, 0.05],
            low=0.0,
            high=1.0,
            unit="fraction of the hue circle",
            help="spread of the hue jitter (times intensity)",
        ),
        "intensity": Param(
            default=[0.1, 0.5], low=0.0, high=10.0, unit="x", help="strength of both noises"
        ),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        import cv2

        def fn(x: np.ndarray) -> np.ndarray:
            top = full_scale(x)
            hls = cv2.cvtColor(x.astype(np.float32) / np.float32(top), cv2.COLOR_BGR2HLS)
            rng = np.random.default_rng(params["noise_seed"])
            strength = params["intensity"]
            hue_std = params["color_shift"] * 360.0 * strength
            hls[..., 0] = (hls[..., 0] + rng.normal(0.0, hue_std, hls.shape[:2])) % 360.0
            light = hls[..., 1]
            grain = rng.poisson(float(light.std()) * strength * 255.0, hls.shape[:2]) / 255.0
            hls[..., 1] = light + (grain * (1.0 - light)).astype(np.float32)
            bgr = cv2.cvtColor(hls, cv2.COLOR_HLS2BGR)
            return to_dtype(bgr * np.float32(top), x.dtype, top)

        return on_color(data, fn)
