"""The symmetries of the square that move whole pixels: ``transpose`` and ``d4`` (any of the
eight: quarter turns, with or without a mirror), exact on every dtype, as matrices so they
fuse with other warps and move masks, boxes and keypoints."""

from __future__ import annotations

from typing import Any

import numpy as np

from augcli.image.ops.warp import Matrix, WarpOp
from augcli.params import Param

D4_ELEMENTS = ("e", "r90", "r180", "r270", "t", "hflip", "transverse", "vflip")
# each element as (hflip first?, quarter turns counter-clockwise after it)
_AS_TURNS = {
    "e": (False, 0),
    "r90": (False, 1),
    "r180": (False, 2),
    "r270": (False, 3),
    "hflip": (True, 0),
    "t": (True, 1),  # mirror left-right, then a quarter turn: the main-diagonal transpose
    "vflip": (True, 2),
    "transverse": (True, 3),  # the anti-diagonal
}


def _turns(k: int, mirror: bool, h: int, w: int) -> tuple[Matrix, int, int]:
    """The matrix of a left-right mirror (if ``mirror``) then ``k`` counter-clockwise turns,
    as ``np.rot90(np.fliplr(x), k)`` moves pixels; and the output (height, width)."""
    m = np.array([[-1.0, 0.0, w - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) if mirror else np.eye(3)
    for _ in range(k):
        m = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, w - 1.0], [0.0, 0.0, 1.0]]) @ m
        h, w = w, h
    return m, h, w


def _move(data: np.ndarray, k: int, mirror: bool) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(data[:, ::-1] if mirror else data, k))


class Transpose(WarpOp):
    """Swap rows and columns (the main-diagonal mirror): pixel (x, y) goes to (y, x).

    Height and width swap. A mirror (its determinant is -1): ``no_mirror`` classes refuse it and
    ``mirror_classes`` move its outputs to the partner class; on a DICOM the laterality swaps.
    """

    name = "transpose"
    keeps_size = False

    def warp(self, params: dict[str, Any], h: int, w: int) -> tuple[Matrix, int, int]:
        return np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), w, h

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        return np.ascontiguousarray(np.swapaxes(data, 0, 1))


class D4(WarpOp):
    """One of the eight symmetries of the square, drawn uniformly from ``elements``.

    As Albumentations' D4: ``e`` (identity), ``r90``/``r180``/``r270`` (counter-clockwise
    quarter turns), ``hflip``, ``vflip``, ``t`` (transpose) and ``transverse`` (the
    anti-diagonal mirror). The drawn element is recorded. The four mirrors flip laterality
    (``no_mirror``, ``mirror_classes``); list only turns in ``elements`` to keep sides.
    """

    name = "d4"
    keeps_size = False
    params = {
        "elements": Param(
            kind="texts",
            default=list(D4_ELEMENTS),
            help="the elements to draw from: " + ", ".join(D4_ELEMENTS),
        ),
    }

    def check_config(self, path: str) -> None:
        from augcli.core.errors import RecipeError

        bad = [e for e in self.config["elements"] if e not in D4_ELEMENTS]
        if bad:
            raise RecipeError(
                "names no element of the square's symmetry group",
                path=f"{path}.elements",
                value=bad,
                fix="Use some of: " + ", ".join(D4_ELEMENTS) + ".",
            )

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        elements = self.config["elements"]
        return {"element": elements[int(rng.integers(len(elements)))]}

    def warp(self, params: dict[str, Any], h: int, w: int) -> tuple[Matrix, int, int]:
        mirror, k = _AS_TURNS[params["element"]]
        return _turns(k, mirror, h, w)

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        mirror, k = _AS_TURNS[params["element"]]
        return _move(data, k, mirror)
