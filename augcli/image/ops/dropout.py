"""Dropout on a grid and of whole labelled objects: ``grid_dropout`` blanks a square of each
cell of a regular grid (as Albumentations' GridDropout); ``mask_dropout`` erases whole objects
of the mask from the image and the mask (as Albumentations' MaskDropout). What they blank is
drawn in ``sample`` and recorded, so ``apply`` is pure and ``replay`` needs nothing else."""

from __future__ import annotations

from typing import Any

import numpy as np

from augcli.core.errors import InputError
from augcli.image import rle
from augcli.image.ops.arrays import max_value
from augcli.image.ops.base import ImageOp
from augcli.params import Param


def _fill(params: dict[str, Any], data: np.ndarray) -> int:
    return round(min(max(params["fill"], 0.0), max_value(data.dtype)))


def _color(out: np.ndarray) -> np.ndarray:
    """The colour channels of ``out`` as a view (alpha is kept: a hole is not transparent)."""
    return out[..., :3] if out.ndim == 3 and out.shape[2] == 4 else out


FILL = Param(
    default=0.0,
    sampled=False,
    unit="intensity",
    quantity="level",
    help="value written into the dropped pixels, in the image's own units (clipped to its range)",
)


class GridDropout(ImageOp):
    """Blank a square hole in every cell of a grid of ``unit``-sized cells.

    ``unit`` is the cell's side as a fraction of the image's shorter side, ``ratio`` the hole's
    side as a fraction of the cell's; with ``random_offset`` the grid starts at a random place
    within one cell, else at the top left. Recorded in pixels: ``unit_px``, ``hole_px`` and the
    grid's ``offset`` [y, x]. The mask is left as it is (the objects are still there).
    """

    name = "grid_dropout"
    group = "noise"
    params = {
        "ratio": Param(
            default=0.5,
            low=0.0,
            low_open=True,
            high=1.0,
            unit="fraction of a cell",
            help="side of the hole in each cell",
        ),
        "unit": Param(
            default=[0.1, 0.2],
            low=0.0,
            low_open=True,
            high=1.0,
            unit="fraction of the shorter side",
            help="side of each grid cell",
        ),
        "random_offset": Param(kind="bool", default=True, help="start the grid at a random place"),
        "fill": FILL,
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        unit = max(2, round(params["unit"] * min(info["height"], info["width"])))
        params["unit_px"] = unit
        params["hole_px"] = max(1, min(unit, round(params["ratio"] * unit)))
        params["offset"] = (
            [int(rng.integers(0, unit)), int(rng.integers(0, unit))]
            if params["random_offset"]
            else [0, 0]
        )
        return params

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        out = data.copy()
        unit, hole = params["unit_px"], params["hole_px"]
        dy, dx = params["offset"]
        rows = (np.arange(data.shape[0]) - dy) % unit < hole
        cols = (np.arange(data.shape[1]) - dx) % unit < hole
        _color(out)[np.ix_(rows, cols)] = _fill(params, data)
        return out


class MaskDropout(ImageOp):
    """Erase up to ``max_objects`` whole objects of the mask: their pixels become ``fill`` in
    the image and 0 (background) in the mask.

    An object is a connected region of one non-zero mask value (8-connected). How many are
    dropped is drawn in [1, ``max_objects``] (at most the objects there are), which ones
    uniformly; the erased region is recorded as an RLE (``region``). It works on the section's
    ``masks``: an image without a mask, or whose mask has no object, is left unchanged
    (``objects: 0``). Boxes and keypoints would stay listed over an erased object, so a
    section with ``boxes`` is refused when the recipe is checked (``masks_only``), and an
    image with them when it is read.
    """

    name = "mask_dropout"
    group = "noise"
    masks_only = True
    changes_levels = False  # it blanks regions, it does not re-level the image
    params = {
        "max_objects": Param(
            kind="int", default=1, low=1, high=1000, unit="objects", help="most objects erased"
        ),
        "fill": FILL,
    }

    def check_input(self, info: dict[str, Any]) -> None:
        super().check_input(info)
        if info.get("boxes") is not None:
            raise InputError(
                "mask_dropout erases mask objects only; this image also has boxes or "
                "keypoints, which would stay listed; use cutout or grid_dropout for it"
            )

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        import cv2

        params = super().sample(rng, info)
        mask = info.get("mask")
        if mask is None:  # no mask: nothing to erase
            mask = np.zeros((info["height"], info["width"]), np.uint8)
        parts = []
        for value in np.unique(mask[mask != 0]):
            n, labels = cv2.connectedComponents((mask == value).astype(np.uint8), connectivity=8)
            parts += [labels == k for k in range(1, n)]
        region = np.zeros(mask.shape, np.uint8)
        if parts:
            most = min(params["max_objects"], len(parts))
            count = int(rng.integers(1, most + 1))
            for k in sorted(rng.choice(len(parts), size=count, replace=False).tolist()):
                region[parts[k]] = 1
            params["objects"] = count
        else:
            params["objects"] = 0
        params["region"] = rle.encode(region)
        return params

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        out = data.copy()
        _color(out)[rle.decode(params["region"]) != 0] = _fill(params, data)
        return out

    def targets(
        self, ann: Any, params: dict[str, Any], info: dict[str, Any], partners: Any, applier: Any
    ) -> tuple[Any, Any]:
        mask = ann.mask
        if mask is not None:
            mask = mask.copy()
            mask[rle.decode(params["region"]) != 0] = 0
        return mask, ann.objects
