"""Volume intensity ops: gamma, Gaussian and Rician noise, blur in mm, bias field, rescale/window.

Thin ops over the pure maths of ``augcli.artefacts``. Every op works on float64 and writes the
result back in the input's dtype: integers rounded to nearest and clipped to the dtype's range
(int16 CT stays int16, never wrapping), floats cast back (float32 stays float32). A 4-D scan
gets the same draw on every frame (the same noise field too). The label map is left as it is.

``sample`` reads from ``info``: ``shape`` ((z, y, x) of one frame) and ``spacing`` ((x, y, z)
in mm) where it needs them (``swap``), and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from augcli import artefacts
from augcli.core.errors import InputError
from augcli.params import Param
from augcli.volume.base import Volume, VolumeOp

# Noise seeds stay below 2**53 so the manifest's JSON reads back exactly in any language.
NOISE_SEED_END = 2**53


# Voxel-wise ops work on slabs of about this many voxels (8 MB of float64), so a large scan
# needs little more than its output beside it.
SLAB_VOXELS = 1 << 20


# float64 results back in the stored dtype (rounded and clipped): shared with the k-space maths,
# which store their result a slab at a time.
as_stored = artefacts.as_dtype


def per_frame(vol: Volume, fn: Callable[[np.ndarray], np.ndarray], raw: bool = False) -> Volume:
    """``fn`` on each whole (z, y, x) frame as float64, written back in the stored dtype
    (``raw``: ``fn`` takes the frame as stored and returns it in the stored dtype itself, for
    k-space ops that build their result a slab at a time), the same params for every frame of
    a 4-D scan; label and geometry kept. For ops that need the whole frame."""
    array = vol.array

    def one(frame: np.ndarray) -> np.ndarray:
        if raw:
            return fn(frame)
        return as_stored(fn(frame.astype(np.float64)), array.dtype)

    if array.ndim == 3:
        return vol.with_array(one(array))
    out = np.empty_like(array)
    for i, frame in enumerate(array):
        out[i] = one(frame)
    return vol.with_array(out)


SlabFn = Callable[[np.ndarray, slice, "np.random.Generator | None"], np.ndarray]


def per_slab(vol: Volume, fn: SlabFn, seed: int | None = None) -> Volume:
    """A voxel-wise ``fn(slab, planes, rng)`` over slabs of z planes of each frame (float64 in,
    stored dtype out), so memory stays near the output's size. With ``seed``, each frame gets
    a generator from it that the slabs draw from in plane order: the same noise as one draw of
    the whole frame, and the same on every frame of a 4-D scan."""
    array = vol.array
    out = np.empty_like(array)
    frames, dst = (array, out) if array.ndim == 4 else (array[None], out[None])
    z, y, x = vol.shape
    step = max(1, SLAB_VOXELS // max(1, y * x))
    for src, tgt in zip(frames, dst, strict=True):
        rng = None if seed is None else np.random.default_rng(seed)
        for z0 in range(0, z, step):
            planes = slice(z0, min(z, z0 + step))
            slab = src[planes].astype(np.float64)
            tgt[planes] = as_stored(fn(slab, planes, rng), array.dtype)
    return vol.with_array(out)


def normals(rng: np.random.Generator | None, shape: tuple[int, ...]) -> np.ndarray:
    """The next standard normal float64 values of ``shape`` from a slab's generator."""
    assert rng is not None, "a noise op's slabs get a generator"
    return rng.standard_normal(shape)


def draw_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, NOISE_SEED_END))


def frame_shape(info: dict[str, Any], name: str) -> tuple[int, ...]:
    """(z, y, x) of one frame, from the volume modality's ``info``."""
    try:
        return tuple(int(n) for n in info["shape"][-3:])
    except (KeyError, TypeError) as exc:
        raise InputError(
            f"{name} needs the volume's shape, which this input does not give"
        ) from exc


def spacing_zyx(info: dict[str, Any]) -> tuple[float, float, float]:
    """The spacing in numpy (z, y, x) order from ``info``'s ITK (x, y, z) ``spacing``."""
    x, y, z = info.get("spacing", (1.0, 1.0, 1.0))
    return float(z), float(y), float(x)


class Gamma(VolumeOp):
    """Gamma curve on the volume's own intensity range: its minimum and maximum stay, values
    between follow (x - min) / (max - min) raised to ``gamma``.

    gamma > 1 darkens the mid-range, < 1 brightens it. Unlike TorchIO's RandomGamma (raw values
    to the power, so it depends on the units and is odd on negative HU), it means the same on
    CT in HU and on MRI in any scale. The range is the whole scan's (all frames).
    """

    name = "gamma"
    group = "intensity"
    params = {
        "gamma": Param(
            default=[0.7, 1.5],
            low=0.0,
            low_open=True,
            high=10.0,
            unit="exponent",
            help="exponent of the curve; 1 leaves the volume as it is",
        ),
    }

    def apply(self, data: Volume, params: dict[str, Any]) -> Volume:
        lo, hi = float(data.array.min()), float(data.array.max())
        return per_slab(data, lambda x, _, __: artefacts.gamma(x, params["gamma"], lo, hi))


class GaussianNoise(VolumeOp):
    """Add Gaussian noise of standard deviation ``std`` and offset ``mean``, in the data's own
    units (HU for CT, the scanner's units for MRI).

    As TorchIO's RandomNoise. The noise is rebuilt from ``noise_seed``, recorded per output;
    a 4-D scan gets the same noise on every frame. Rounded and clipped to the dtype's range.
    """

    name = "gaussian_noise"
    group = "intensity"
    params = {
        "std": Param(
            default=[0.0, 25.0],
            low=0.0,
            unit="intensity",
            help="standard deviation, in the data's own units (HU for CT)",
        ),
        "mean": Param(
            default=0.0, unit="intensity", help="offset added with the noise, in the data's units"
        ),
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        params["noise_seed"] = draw_seed(rng)
        return params

    def apply(self, data: Volume, params: dict[str, Any]) -> Volume:
        std, mean = data.stored(params["std"], False), data.stored(params["mean"], False)

        def fn(x: np.ndarray, _: slice, rng: np.random.Generator | None) -> np.ndarray:
            return artefacts.gaussian_noise(x, normals(rng, x.shape), std, mean)

        return per_slab(data, fn, params["noise_seed"])


class RicianNoise(VolumeOp):
    """Rician noise, the noise of magnitude MR images: sqrt((x + std n1)^2 + (std n2)^2).

    std in the data's own units. On zero signal (background) the mean becomes
    std * sqrt(pi / 2); the result is never negative, so use it on MRI, not on CT in HU (its
    negative values would be folded up). As MONAI's RandRicianNoise (mean 0, absolute std).
    """

    name = "rician_noise"
    group = "intensity"
    params = {
        "std": Param(
            default=[0.0, 25.0],
            low=0.0,
            unit="intensity",
            help="standard deviation of each complex component, in the data's units",
        ),
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        params["noise_seed"] = draw_seed(rng)
        return params

    def apply(self, data: Volume, params: dict[str, Any]) -> Volume:
        std = data.stored(params["std"], False)

        def fn(x: np.ndarray, _: slice, rng: np.random.Generator | None) -> np.ndarray:
            pair = normals(rng, (x.shape[0], 2, *x.shape[1:]))  # plane by plane: n1, then n2
            return artefacts.rician_noise(x, pair[:, 0], pair[:, 1], std)

        return per_slab(data, fn, params["noise_seed"])


class Blur(VolumeOp):
    """Gaussian blur with standard deviation ``sigma`` in millimetres, drawn per axis.

    sigma / spacing voxels on each axis, so the same physical blur on a 0.5 mm and a 5 mm scan
    (as TorchIO's RandomBlur). The drawn sigmas are recorded as [x, y, z] mm.
    """

    name = "blur"
    group = "intensity"
    params = {
        "sigma": Param(
            default=[0.0, 2.0],
            low=0.0,
            high=100.0,
            unit="mm",
            help="standard deviation of the Gaussian, drawn per axis",
        ),
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        spec = self.params["sigma"]
        return {"sigma": [spec.draw(self.config["sigma"], rng) for _ in range(3)]}

    def apply(self, data: Volume, params: dict[str, Any]) -> Volume:
        """``artefacts.blur`` one axis at a time in bounded memory (``blur_frame``)."""
        sx, sy, sz = params["sigma"]
        spacing = data.spacing_zyx()
        return per_frame(data, lambda x: blur_frame(x, (sz, sy, sx), spacing), raw=True)


def blur_frame(frame: np.ndarray, sigma_mm: Any, spacing: Any) -> np.ndarray:
    """The Gaussian blur of one (z, y, x) frame in its stored dtype, as scipy's separable
    ``gaussian_filter`` (the same 1-D kernels, z first) but a block at a time: z through blocks
    of rows into a float32 frame, then y and x a slab of planes at a time, written back stored.
    Peak: the frame, the float32 frame and the output (4x an int16 CT), not 3 float64 copies."""
    from scipy import ndimage

    sigma = [float(s) / float(d) for s, d in zip(sigma_mm, spacing, strict=True)]
    z, y, x = frame.shape
    along_z = np.empty(frame.shape, np.float32)
    rows = max(1, SLAB_VOXELS // max(1, z * x))

    def along(a: np.ndarray, axis: int) -> np.ndarray:
        if sigma[axis] <= 1e-15:  # as gaussian_filter: no blur along that axis
            return a
        return ndimage.gaussian_filter1d(a, sigma[axis], axis=axis, mode="reflect", truncate=4.0)

    for y0 in range(0, y, rows):
        along_z[:, y0 : y0 + rows] = along(frame[:, y0 : y0 + rows].astype(np.float64), 0)
    out = np.empty_like(frame)
    step = max(1, SLAB_VOXELS // max(1, y * x))
    for z0 in range(0, z, step):
        slab = along(along(along_z[z0 : z0 + step].astype(np.float64), 1), 2)
        out[z0 : z0 + step] = as_stored(slab, frame.dtype)
    return out


class BiasField(VolumeOp):
    """MRI bias field: multiply by exp(polynomial of degree ``order``) over the volume's
    coordinates normalised to [-1, 1], coefficients uniform in [-``coefficients``,
    ``coefficients``].

    As TorchIO's RandomBiasField (same polynomial, same exponential, same defaults); the
    coefficients are recorded in the (z, y, x) monomial order of ``artefacts.bias_terms``.
    Order 0 scales the whole volume by one factor.
    """

    name = "bias_field"
    group = "intensity"
    params = {
        "coefficients": artefacts.BIAS_COEFFICIENTS,
        "order": artefacts.BIAS_ORDER,
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        count = len(artefacts.bias_terms(self.config["order"], 3))
        spread = self.config["coefficients"]
        return {
            "order": self.config["order"],
            "coefficients": artefacts.draw_uniform(rng, spread, count),
        }

    def apply(self, data: Volume, params: dict[str, Any]) -> Volume:
        def fn(x: np.ndarray, planes: slice, _: np.random.Generator | None) -> np.ndarray:
            order, coefficients = params["order"], params["coefficients"]
            return x * artefacts.bias_field(data.shape, order, coefficients, planes)

        return per_slab(data, fn)


class Rescale(VolumeOp):
    """Rescale intensities: a window (``center``, ``width``, as a CT display window) or the
    ``low_percentile``..``high_percentile`` range of the volume, mapped linearly onto
    ``out_min``..``out_max``, clipped outside.

    As TorchIO's RescaleIntensity (in_min_max or percentiles; out_min_max) and MONAI's
    ScaleIntensityRange(clip=True). Percentiles are of the whole scan (all frames). The output
    is written in the input's dtype: on an integer volume give an output range of many levels
    (e.g. 0..4095), since 0..1 would leave two values.
    """

    name = "rescale"
    group = "intensity"
    params = {
        "by": Param(
            kind="choice",
            default="window",
            choices=artefacts.RESCALE_BY,
            help="take the input range from center/width or from the percentiles",
        ),
        "center": Param(default=40.0, unit="intensity", help="window centre (HU: 40 soft tissue)"),
        "width": Param(
            default=400.0, low=0.0, low_open=True, unit="intensity", help="window width"
        ),
        "low_percentile": artefacts.LOW_PERCENTILE,
        "high_percentile": artefacts.HIGH_PERCENTILE,
        "out_min": Param(default=0.0, sampled=False, unit="intensity", help="output minimum"),
        "out_max": Param(default=1.0, sampled=False, unit="intensity", help="output maximum"),
    }

    def check_config(self, path: str) -> None:
        artefacts.check_rescale(self.config, path)

    def check_input(self, info: dict[str, Any]) -> None:
        dtype = np.dtype(info.get("dtype", "float64"))
        levels = self.config["out_max"] - self.config["out_min"]
        if np.issubdtype(dtype, np.integer) and levels < 255:
            raise InputError(
                f"rescale to {self.config['out_min']:g}..{self.config['out_max']:g} on a "
                f"{dtype} volume leaves {int(levels) + 1} levels after rounding; set out_min and "
                "out_max to a range of many levels (e.g. 0 and 4095)"
            )

    def apply(self, data: Volume, params: dict[str, Any]) -> Volume:
        if params["by"] == "window":
            lo, hi = artefacts.window_range(params["center"], params["width"])
            lo, hi = sorted((data.stored(lo), data.stored(hi)))  # units: physical -> stored
        else:
            lo, hi = artefacts.percentile_range(
                data.array, params["low_percentile"], params["high_percentile"]
            )
        out_min, out_max = data.stored(params["out_min"]), data.stored(params["out_max"])
        return per_slab(data, lambda x, _, __: artefacts.rescale(x, lo, hi, out_min, out_max))
