"""Volume MRI/CT artefact ops: motion, ghosting, spike, Gibbs ringing, swap (as TorchIO/MONAI).

Thin ops over ``augcli.artefacts`` (where each one's semantics are set side by side with
TorchIO's or MONAI's). ``sample`` draws every random value (movements and their times, the
ghosting axis, k-space spike positions, patch corners) and records it, so ``apply`` rebuilds
the output from the params alone. float64 arithmetic, the result built a slab at a time in
the input's dtype (rounded, clipped; k-space held as ``artefacts.working_dtype`` says); the same draw on every frame of a 4-D scan; the label map is left as it is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from augcli import artefacts
from augcli.core.errors import InputError
from augcli.params import Param
from augcli.volume.base import Volume, VolumeOp
from augcli.volume.intensity import frame_shape, per_frame, spacing_zyx

AXES = {"z": 0, "y": 1, "x": 2}


class Motion(VolumeOp):
    """Patient motion during the acquisition: k-space assembled, in segments along z, from
    rigidly moved copies of the volume (``num_transforms`` movements of up to ``degrees``
    about each axis and ``translation`` mm along each).

    As TorchIO's RandomMotion (Shaw et al. 2019): the unmoved copy fills the segment holding
    the centre of k-space, so the anatomy stays in place with ghosted, smeared edges. Rotations
    are about the grid's axes through its centre; angles recorded as [x, y, z] degrees,
    translations as [x, y, z] mm, times as fractions of the z axis.
    """

    name = "motion"
    group = "artefact"
    params = {
        "degrees": Param(
            default=10.0,
            low=0.0,
            high=180.0,
            unit="degrees",
            help="largest rotation about each axis, per movement",
        ),
        "translation": Param(
            default=10.0, low=0.0, unit="mm", help="largest shift along each axis, per movement"
        ),
        "num_transforms": artefacts.MOTION_TRANSFORMS,
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        degrees = self.params["degrees"].draw(self.config["degrees"], rng)
        shift = self.params["translation"].draw(self.config["translation"], rng)
        count = self.params["num_transforms"].draw(self.config["num_transforms"], rng)
        return artefacts.draw_motion(rng, count, degrees, shift, 3)

    def apply(self, data: Volume, params: dict[str, Any]) -> Volume:
        spacing = data.spacing_zyx()
        return per_frame(
            data,
            lambda x: artefacts.motion(
                x,
                spacing,
                params["angles"],
                params["translations"],
                params["times"],
                data.array.dtype,
            ),
            raw=True,
        )


class Ghosting(VolumeOp):
    """Periodic ghosts along the phase-encoding ``axis``: every ``num_ghosts``-th k-space plane
    along it attenuated by ``intensity`` (1 removes them), the centre of k-space kept.

    As TorchIO's RandomGhosting; ``restore`` is the fraction of planes around the centre kept
    (0 keeps the centre plane only, as TorchIO). axis random draws one of z, y, x per output.
    """

    name = "ghosting"
    group = "artefact"
    params = {
        "num_ghosts": artefacts.GHOST_COUNT,
        "axis": Param(
            kind="choice",
            default="random",
            choices=("random", "z", "y", "x"),
            help="phase-encoding axis (numpy z, y, x); random draws one per output",
        ),
        "intensity": artefacts.GHOST_INTENSITY,
        "restore": artefacts.GHOST_RESTORE,
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        if params["axis"] == "random":
            params["axis"] = "zyx"[int(rng.integers(0, 3))]
        return params

    def apply(self, data: Volume, params: dict[str, Any]) -> Volume:
        axis = AXES[params["axis"]]
        return per_frame(
            data,
            lambda x: artefacts.ghosting(
                x,
                params["num_ghosts"],
                axis,
                params["intensity"],
                params["restore"],
                data.array.dtype,
            ),
            raw=True,
        )


class Spike(VolumeOp):
    """Spike (herringbone) artefact: ``num_spikes`` k-space points set to ``intensity`` times
    the spectrum's largest magnitude, at random places.

    As TorchIO's RandomSpike: positions uniform in [0, 1) per axis (recorded as [z, y, x]
    fractions of the k-space grid), one-sided spikes, the real part kept.
    """

    name = "spike"
    group = "artefact"
    params = {
        "num_spikes": artefacts.SPIKE_COUNT,
        "intensity": Param(
            default=[1.0, 3.0],
            low=-10.0,
            high=10.0,
            unit="x largest k-space magnitude",
            help="value of each spike relative to the spectrum's peak",
        ),
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        params["positions"] = artefacts.draw_positions(rng, params["num_spikes"], 3)
        return params

    def apply(self, data: Volume, params: dict[str, Any]) -> Volume:
        return per_frame(
            data,
            lambda x: artefacts.spike(
                x, params["positions"], params["intensity"], data.array.dtype
            ),
            raw=True,
        )


class Gibbs(VolumeOp):
    """Gibbs ringing: k-space truncated to a ball of radius (1 - ``alpha``) times the distance
    to its farthest corner, ripples beside every edge (about 9 % overshoot of a step).

    As MONAI's GibbsNoise (alpha 0 the identity, 1 keeps only the mean); the ball reaches the
    k-space corners at alpha 0, so it is the identity in 3-D too (MONAI's cuts them).
    """

    name = "gibbs"
    group = "artefact"
    params = {
        "alpha": Param(
            default=[0.0, 0.5],
            low=0.0,
            high=1.0,
            unit="fraction",
            help="share of the k-space radius cut away",
        ),
    }

    def apply(self, data: Volume, params: dict[str, Any]) -> Volume:
        return per_frame(
            data, lambda x: artefacts.gibbs(x, params["alpha"], data.array.dtype), raw=True
        )


class Swap(VolumeOp):
    """Patch shuffling: ``num_iterations`` times, two disjoint cubic patches of side
    ``patch_size`` (in ``unit``: voxels or mm) exchanged.

    As TorchIO's RandomSwap, except that the two patches never overlap, so the histogram is
    kept exactly. In mm, the side is converted per axis with the spacing (at least 1 voxel).
    The patch size in voxels ([z, y, x]) and every pair of corners are recorded.
    """

    name = "swap"
    group = "artefact"
    params = {
        "patch_size": Param(
            default=15.0,
            low=0.0,
            low_open=True,
            sampled=False,
            unit="voxels or mm (unit)",
            help="side of the cubic patches",
        ),
        "unit": Param(
            kind="choice", default="voxels", choices=("voxels", "mm"), help="unit of patch_size"
        ),
        "num_iterations": artefacts.SWAP_ITERATIONS,
    }

    def patch(self, info: dict[str, Any]) -> list[int]:
        """The patch size in voxels, (z, y, x), for an input of this ``info``."""
        side = self.config["patch_size"]
        if self.config["unit"] == "voxels":
            return [max(1, round(side))] * 3
        return [max(1, round(side / s)) for s in spacing_zyx(info)]

    def check_input(self, info: dict[str, Any]) -> None:
        shape, patch = frame_shape(info, self.name), self.patch(info)
        if not artefacts.can_swap(shape, patch):
            raise InputError(
                f"swap: two disjoint patches of {patch} voxels (z, y, x) do not fit in this "
                f"{list(shape)} volume; use a patch_size below half its largest side"
            )

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        self.check_input(info)
        shape, patch = frame_shape(info, self.name), self.patch(info)
        count = self.params["num_iterations"].draw(self.config["num_iterations"], rng)
        return {"patch": patch, "pairs": artefacts.draw_swap_pairs(rng, shape, patch, count)}

    def apply(self, data: Volume, params: dict[str, Any]) -> Volume:
        """Swaps in the stored dtype (values are moved, never recomputed)."""
        patch, pairs = params["patch"], params["pairs"]
        if data.array.ndim == 3:
            return data.with_array(artefacts.swap(data.array, patch, pairs))
        return data.with_array(np.stack([artefacts.swap(f, patch, pairs) for f in data.array]))
