"""Scanner artefact ops for 2-D scans (16-bit MRI/CT slices): the volume ops' maths on one slice.

The same functions as the volume modality's intensity and artefact ops (``augcli.artefacts``),
with lengths in pixels (an image has no spacing): Rician noise, bias field, motion, ghosting,
spike, Gibbs ringing, patch swap. Each colour channel gets the same draw; alpha is left alone.
Results are rounded and clipped to [0, full scale] (255 for 8-bit; the bit depth in use for
16-bit, so a 12-bit scan stays 12-bit).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from augcli import artefacts
from augcli.core.errors import InputError
from augcli.image.ops import physical
from augcli.image.ops.arrays import full_scale, on_color, to_dtype
from augcli.image.ops.base import ImageOp, largest, scale_words, shown, times
from augcli.image.ops.pixel import draw_noise_seed
from augcli.params import Param

PIXEL = (1.0, 1.0)
AXES = {"y": 0, "x": 1}


def on_planes(data: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``fn`` on each colour plane as float64 (alpha untouched), rounded and clipped back into
    [0, full scale] of the input's colour channels."""

    def planes(x: np.ndarray) -> np.ndarray:
        top = full_scale(x)
        if x.ndim == 2:
            return to_dtype(fn(x.astype(np.float64)), x.dtype, top)
        out = np.stack([fn(x[..., c].astype(np.float64)) for c in range(x.shape[2])], axis=-1)
        return to_dtype(out, x.dtype, top)

    return on_color(data, planes)


class _ScannerOp(ImageOp):
    """Scanner artefacts change intensities (a mask would be corrupted)."""

    group = "scanner"
    changes_levels: ClassVar[bool | None] = True


class RicianNoise(_ScannerOp):
    """Rician noise, the noise of magnitude MR images: sqrt((x + std n1)^2 + (std n2)^2).

    std in the image's own levels; a black background gets a mean of std * sqrt(pi / 2). As
    MONAI's RandRicianNoise (mean 0, absolute std). The noise comes from ``noise_seed``,
    recorded per output, and is the same on every colour channel.
    """

    name = "rician_noise"
    params = {
        "std": Param(
            default=[5.0, 15.0],
            low=0.0,
            high=65535.0,
            unit="intensity",
            quantity="difference",
            help="standard deviation of each complex component, in the image's own levels",
        ),
    }

    def implausible(self, facts: dict[str, Any]) -> str | None:
        """std entirely below one level (a fraction of full scale given where levels are
        meant): the rounded noise changes almost no pixel."""
        std, top = self.config["std"], facts["full_scale"]
        if 0 < largest(std) < 1:
            return (
                f"std {shown(std)} is in the image's own levels ({scale_words(facts)}): "
                f"{largest(std):g} is below one level, so the rounded noise changes almost no "
                f"pixel; did you mean {shown(std)} x {top} = {times(std, top)}?"
            )
        return super().implausible(facts)

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        params["noise_seed"] = draw_noise_seed(rng)
        return params

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        n = np.random.default_rng(params["noise_seed"]).standard_normal((2, *data.shape[:2]))
        return on_planes(data, lambda x: artefacts.rician_noise(x, n[0], n[1], params["std"]))


class BiasField(_ScannerOp):
    """MRI bias field: multiply by exp(polynomial of degree ``order``) over coordinates
    normalised to [-1, 1], coefficients uniform in [-``coefficients``, ``coefficients``].

    As TorchIO's RandomBiasField, on the slice's two axes; the coefficients are recorded in the
    (y, x) monomial order of ``artefacts.bias_terms``. Order 0 scales the image by one factor.
    """

    name = "bias_field"
    params = {
        "coefficients": artefacts.BIAS_COEFFICIENTS,
        "order": artefacts.BIAS_ORDER,
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        order = self.config["order"]
        count = len(artefacts.bias_terms(order, 2))
        coefficients = artefacts.draw_uniform(rng, self.config["coefficients"], count)
        return {"order": order, "coefficients": coefficients}

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        field = artefacts.bias_field(data.shape[:2], params["order"], params["coefficients"])
        return on_planes(data, lambda x: x * field)


class MriMotion(_ScannerOp):
    """MRI motion: k-space assembled, in segments of rows, from rigidly moved copies of the
    image (``num_transforms`` movements of up to ``degrees`` and ``translation`` pixels).

    As TorchIO's RandomMotion on a slice (TorchIO itself splits a 2-D image along a length-1
    axis): the unmoved copy fills the segment holding the centre of k-space. Angles, [x, y]
    shifts in pixels and the times (fractions of the rows) are recorded.
    """

    name = "mri_motion"
    params = {
        "degrees": Param(
            default=10.0, low=0.0, high=180.0, unit="degrees", help="largest rotation per movement"
        ),
        "translation": Param(
            default=10.0,
            low=0.0,
            unit="pixels",
            help="largest shift along each axis per movement",
            quantity="length",
        ),
        "num_transforms": artefacts.MOTION_TRANSFORMS,
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        degrees = self.params["degrees"].draw(self.config["degrees"], rng)
        shift = self.params["translation"].draw(self.config["translation"], rng)
        mm = physical.to_stored(self.name, self.params, {"translation": shift}, info)
        count = self.params["num_transforms"].draw(self.config["num_transforms"], rng)
        out = artefacts.draw_motion(rng, count, degrees, mm["translation"], 2)
        return {**out, "physical": mm["physical"]} if "physical" in mm else out

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        return on_planes(
            data,
            lambda x: artefacts.motion(
                x, PIXEL, params["angles"], params["translations"], params["times"]
            ),
        )


class MriGhosting(_ScannerOp):
    """MRI ghosting along the phase-encoding ``axis`` (y: rows, x: columns): every
    ``num_ghosts``-th k-space line attenuated by ``intensity``, the centre kept.

    As TorchIO's RandomGhosting; ``restore`` is the fraction of lines around the centre kept.
    """

    name = "mri_ghosting"
    params = {
        "num_ghosts": artefacts.GHOST_COUNT,
        "axis": Param(
            kind="choice",
            default="random",
            choices=("random", "y", "x"),
            help="phase-encoding axis (y rows, x columns); random draws one per output",
        ),
        "intensity": artefacts.GHOST_INTENSITY,
        "restore": artefacts.GHOST_RESTORE,
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        if params["axis"] == "random":
            params["axis"] = "yx"[int(rng.integers(0, 2))]
        return params

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        axis = AXES[params["axis"]]
        return on_planes(
            data,
            lambda x: artefacts.ghosting(
                x, params["num_ghosts"], axis, params["intensity"], params["restore"]
            ),
        )


class MriSpike(_ScannerOp):
    """MRI spike (herringbone) artefact: ``num_spikes`` k-space points set to ``intensity``
    times the spectrum's largest magnitude, at random places.

    As TorchIO's RandomSpike (whose default intensity, 1..3, is a strong artefact on one slice;
    the default here is 0.1..0.5); positions are recorded as [y, x] fractions of k-space.
    """

    name = "mri_spike"
    params = {
        "num_spikes": artefacts.SPIKE_COUNT,
        "intensity": Param(
            default=[0.1, 0.5],
            low=-10.0,
            high=10.0,
            unit="x largest k-space magnitude",
            help="value of each spike relative to the spectrum's peak",
        ),
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        params["positions"] = artefacts.draw_positions(rng, params["num_spikes"], 2)
        return params

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        return on_planes(
            data, lambda x: artefacts.spike(x, params["positions"], params["intensity"])
        )


class GibbsRinging(_ScannerOp):
    """Gibbs ringing: k-space truncated to a disc of radius (1 - ``alpha``) times the distance
    to its farthest corner; ripples beside every edge (about 9 % overshoot of a step).

    As MONAI's GibbsNoise (alpha 0 the identity, 1 keeps only the mean).
    """

    name = "gibbs_ringing"
    params = {
        "alpha": Param(
            default=[0.2, 0.6],
            low=0.0,
            high=1.0,
            unit="fraction",
            help="share of the k-space radius cut away",
        ),
    }

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        return on_planes(data, lambda x: artefacts.gibbs(x, params["alpha"]))


class PatchSwap(_ScannerOp):
    """Patch shuffling: ``num_iterations`` times, two disjoint square patches of side
    ``patch_size`` pixels exchanged (alpha is left alone).

    As TorchIO's RandomSwap, except that the patches of a pair never overlap, so the histogram
    is kept exactly. The corners of every pair ([top, left]) are recorded.
    """

    name = "patch_swap"
    params = {
        "patch_size": Param(
            kind="int",
            default=15,
            low=1,
            high=100000,
            sampled=False,
            unit="pixels",
            help="side of the square patches",
        ),
        "num_iterations": artefacts.SWAP_ITERATIONS,
    }

    def check_input(self, info: dict[str, Any]) -> None:
        super().check_input(info)
        shape, side = (info["height"], info["width"]), self.config["patch_size"]
        if not artefacts.can_swap(shape, (side, side)):
            raise InputError(
                f"patch_swap: two disjoint {side}x{side} patches do not fit in this "
                f"{info['width']}x{info['height']} image; use a patch_size of at most half its "
                "longer side"
            )

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        self.check_input(info)
        side = self.config["patch_size"]
        count = self.params["num_iterations"].draw(self.config["num_iterations"], rng)
        shape = (info["height"], info["width"])
        pairs = artefacts.draw_swap_pairs(rng, shape, (side, side), count)
        return {"patch_size": side, "pairs": pairs}

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        side = params["patch_size"]
        return on_color(data, lambda x: artefacts.swap(x, (side, side), params["pairs"]))
