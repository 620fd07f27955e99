"""Ops that move an image towards a reference image drawn from one of the section's ``folders``
(another site's scanner, another lab's staining): ``histogram_matching`` and ``fda`` (Fourier
domain adaptation). ``sample`` draws the reference and records what the op takes from it (its
quantiles, its low-frequency amplitudes), so ``apply`` is pure and ``replay`` needs no folder.
Intensities are compared on each image's own full scale (8- against 16-bit alike)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from augcli.core.folders import pick
from augcli.image.ops.arrays import full_scale, on_color, to_dtype
from augcli.image.ops.base import ImageOp
from augcli.image.ops.pixel import apply_lut
from augcli.params import Param

FOLDER = Param(
    kind="text",
    default="references",
    help="name of the folder of reference images under the section's folders",
)
QUANTILES = 257  # the reference's histogram as this many quantiles per channel


def draw_reference(
    op: str, folder: str, rng: np.random.Generator, info: dict[str, Any]
) -> tuple[str, np.ndarray]:
    """A reference drawn from ``folder``: its name (the folder's name, then its path inside it)
    and its pixels as float64 in [0, 1] with the input's colour channel count."""
    files = pick(info.get("folders") or {}, folder, op, "image")
    path = files[int(rng.integers(len(files)))]
    root = Path(files[0]).parent if len(files) == 1 else Path(_common(files))
    image = info["reference"](path)
    return f"{folder}/{Path(path).relative_to(root).as_posix()}", like(image, info["channels"])


def _common(files: tuple[str, ...]) -> str:
    import os

    return os.path.commonpath(files)


def like(image: np.ndarray, channels: int) -> np.ndarray:
    """``image`` normalised by its full scale, as one gray channel (``channels`` 1) or three."""
    import cv2

    norm = image.astype(np.float64) / full_scale(image)
    if channels == 1 and norm.ndim == 3:
        return cv2.cvtColor(norm.astype(np.float32), cv2.COLOR_BGR2GRAY).astype(np.float64)
    if channels >= 3 and norm.ndim == 2:
        return np.repeat(norm[..., None], 3, axis=2)
    return norm


def planes(x: np.ndarray) -> list[np.ndarray]:
    return [x] if x.ndim == 2 else [x[..., c] for c in range(x.shape[2])]


class HistogramMatching(ImageOp):
    """Match each channel's histogram to a reference image's, then blend with the original.

    As scikit-image's match_histograms (each level goes to the reference's level at the same
    quantile) and Albumentations' HistogramMatching (``blend``: the matched image's share). The
    reference is drawn from the folder and recorded (``reference``) with its histogram as 257
    quantiles per channel (``quantiles``, on [0, 1] of its full scale), which is all ``apply``
    uses. A gray input takes a colour reference's gray.
    """

    name = "histogram_matching"
    group = "color"
    params = {
        "folder": FOLDER,
        "blend": Param(
            default=[0.5, 1.0],
            low=0.0,
            high=1.0,
            unit="fraction",
            help="share of the matched image in the output: 1 is matched, 0 the input",
        ),
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        params["reference"], ref = draw_reference(self.name, params["folder"], rng, info)
        q = np.linspace(0.0, 1.0, QUANTILES)
        params["quantiles"] = [np.round(np.quantile(p, q), 6).tolist() for p in planes(ref)]
        return params

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        def fn(x: np.ndarray) -> np.ndarray:
            top = full_scale(x)
            out = [
                _match(p, np.asarray(qs), params["blend"], top)
                for p, qs in zip(planes(x), params["quantiles"], strict=True)
            ]
            return out[0] if x.ndim == 2 else np.stack(out, axis=-1)

        return on_color(data, fn)


def _match(plane: np.ndarray, quantiles: np.ndarray, blend: float, top: int) -> np.ndarray:
    """One channel's levels sent to the reference's at the same quantile (each level at the
    middle of its share of pixels), blended, as one table over the levels."""
    values, counts = np.unique(plane, return_counts=True)
    cdf = (np.cumsum(counts) - 0.5 * counts) / plane.size
    matched = np.interp(cdf, np.linspace(0.0, 1.0, len(quantiles)), quantiles) * top
    lut = np.arange(top + 1, dtype=np.float64)
    lut[values] = (1.0 - blend) * values + blend * matched
    return apply_lut(np.ascontiguousarray(plane), to_dtype(lut, plane.dtype, top))


class FDA(ImageOp):
    """Fourier domain adaptation (Yang and Soatto, 2020): the lowest frequencies' amplitudes
    of each channel taken from a reference image, the phase (the content) kept.

    The reference is resized to the input's size; the square of (2b + 1)^2 frequencies around
    zero, b = floor(``beta`` x the shorter side), gets the reference's amplitudes (recorded
    as ``amplitude``, per channel, on [0, 1] intensities), so global brightness, contrast and
    the scanner's low-frequency shading move towards the reference's. The result is clipped
    to the input's full scale. beta is at most 0.05: the square grows with its square.
    """

    name = "fda"
    group = "color"
    params = {
        "folder": FOLDER,
        "beta": Param(
            default=[0.005, 0.02],
            low=0.0,
            high=0.05,
            unit="fraction of the shorter side",
            help="half-side of the low-frequency square taken from the reference",
        ),
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        import cv2

        params = super().sample(rng, info)
        params["reference"], ref = draw_reference(self.name, params["folder"], rng, info)
        h, w = info["height"], info["width"]
        ref = cv2.resize(ref.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
        b = int(np.floor(min(h, w) * params["beta"]))
        params["amplitude"] = [
            np.round(_centre(np.abs(_spectrum(p)), b), 5).tolist() for p in planes(ref)
        ]
        return params

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        def fn(x: np.ndarray) -> np.ndarray:
            top = full_scale(x)
            out = [
                _adapt(p.astype(np.float64) / top, np.asarray(a)) * top
                for p, a in zip(planes(x), params["amplitude"], strict=True)
            ]
            return to_dtype(out[0] if x.ndim == 2 else np.stack(out, axis=-1), x.dtype, top)

        return on_color(data, fn)


def _spectrum(plane: np.ndarray) -> np.ndarray:
    return np.fft.fftshift(np.fft.fft2(plane))


def _window(shape: tuple[int, ...], b: int) -> tuple[slice, slice]:
    cy, cx = shape[0] // 2, shape[1] // 2
    return slice(max(0, cy - b), cy + b + 1), slice(max(0, cx - b), cx + b + 1)


def _centre(amplitude: np.ndarray, b: int) -> np.ndarray:
    return amplitude[_window(amplitude.shape, b)]


def _adapt(plane: np.ndarray, amplitude: np.ndarray) -> np.ndarray:
    """``plane`` with the centre of its shifted spectrum's amplitude replaced."""
    f = _spectrum(plane)
    b = (amplitude.shape[0] - 1) // 2
    mag, phase = np.abs(f), np.angle(f)
    mag[_window(f.shape, b)] = amplitude
    return np.real(np.fft.ifft2(np.fft.ifftshift(mag * np.exp(1j * phase))))
