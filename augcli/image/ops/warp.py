"""Warps: geometric ops as 3x3 matrices on pixel centres, and fusing a run of them into one
resampling. Conventions: pixel (x, y) has its centre at integer coordinates; resizing maps
x -> (x + 0.5) * s - 0.5, as cv2.resize does, so fused and step-by-step results agree."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from augcli.image.ops.arrays import border_value, cv_border, cv_interpolation
from augcli.image.ops.base import ImageOp
from augcli.ops import Op

Matrix = np.ndarray


def translate(tx: float, ty: float) -> Matrix:
    return np.array([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]])


def resize_matrix(h: int, w: int, oh: int, ow: int) -> Matrix:
    sx, sy = ow / w, oh / h
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])


def crop_resize_matrix(top: int, left: int, ch: int, cw: int, oh: int, ow: int) -> Matrix:
    return resize_matrix(ch, cw, oh, ow) @ translate(-left, -top)


def warp_image(
    img: np.ndarray,
    m: Matrix,
    out_h: int,
    out_w: int,
    interpolation: str,
    border_mode: str,
    fill: float,
) -> np.ndarray:
    """Resample ``img`` through the forward map ``m`` (input -> output pixel coordinates)."""
    import cv2

    flags = cv_interpolation(interpolation)
    kwargs = {
        "flags": flags,
        "borderMode": cv_border(border_mode),
        "borderValue": border_value(img, fill),
    }
    if np.allclose(m[2], [0.0, 0.0, 1.0]):
        return cv2.warpAffine(img, m[:2], (out_w, out_h), **kwargs)
    return cv2.warpPerspective(img, m, (out_w, out_h), **kwargs)


@dataclass
class _Group:
    """Consecutive warps applied as one: their shared interpolation and border settings."""

    members: list[int]
    interp: str | None
    border: tuple[str, float] | None
    open: bool
    clipped: bool = False  # a crop is in the group: later ops must not look outside it

    def accepts(self, interp: str | None, border: tuple[str, float] | None) -> bool:
        return (
            self.open
            and (interp is None or self.interp is None or interp == self.interp)
            and (border is None or (self.border in (None, border) and not self.clipped))
        )

    def add(
        self, k: int, interp: str | None, border: tuple[str, float] | None, clips: bool
    ) -> None:
        self.members.append(k)
        self.interp = self.interp or interp
        self.border = self.border or border
        self.clipped = self.clipped or clips


class WarpOp(ImageOp):
    """A geometric op that is a matrix on pixel coordinates; consecutive ones are fused.

    Subclasses implement ``warp``; ``interpolation_of`` is None for ops that only move whole
    pixels (flips, rot90, crops without resizing) and ``border_of`` None for ops that never look
    outside the image. Ops are fused while their interpolation and border settings agree, and
    never across a crop followed by an op that would look outside the crop."""

    group = "geometric"
    fusable = True
    clips = False  # True for crops: pixels outside the window are gone for the ops after it

    @abstractmethod
    def warp(self, params: dict[str, Any], h: int, w: int) -> tuple[Matrix, int, int]:
        """The forward matrix and the output (height, width) for an input of (h, w)."""

    def interpolation_of(self, params: dict[str, Any]) -> str | None:
        return params.get("interpolation")

    def border_of(self, params: dict[str, Any]) -> tuple[str, float] | None:
        if "border_mode" in params:
            return (params["border_mode"], float(params.get("fill", 0.0)))
        return None

    def out_info(self, params: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
        _, oh, ow = self.warp(params, info["height"], info["width"])
        return {**info, "height": oh, "width": ow}

    def geometry(self, params: dict[str, Any], info: dict[str, Any]) -> Matrix:
        return self.warp(params, info["height"], info["width"])[0]

    def targets(
        self, ann: Any, params: dict[str, Any], info: dict[str, Any], partners: Any, applier: Any
    ) -> tuple[Any, Any]:
        from augcli.image.annotate import mask_params, move_by_matrix, move_masks

        mask, objects = ann.mask, ann.objects
        if mask is not None:
            mask = self.apply(mask, mask_params(params, applier.mask_fill))
        if objects is not None:
            m, oh, ow = self.warp(params, info["height"], info["width"])
            objects = move_by_matrix(objects, m, oh, ow, applier.flip_pairs)
            objects = move_masks(objects, lambda a: self.apply(a, mask_params(params, 0)))
        return mask, objects

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        m, oh, ow = self.warp(params, data.shape[0], data.shape[1])
        border = self.border_of(params) or ("constant", 0.0)
        interp = self.interpolation_of(params) or "nearest"
        return warp_image(data, m, oh, ow, interp, border[0], border[1])

    @classmethod
    def apply_chain(
        cls, data: Any, chain: list[tuple[Op, dict[str, Any], dict[str, Any]]]
    ) -> tuple[Any, list[int]]:
        groups: list[_Group] = []
        for k, (op, params, _info) in enumerate(chain):
            assert isinstance(op, WarpOp)
            interp, border = op.interpolation_of(params), op.border_of(params)
            last = groups[-1] if groups else None
            if last is not None and interp != "area" and last.accepts(interp, border):
                last.add(k, interp, border, op.clips)
            else:  # area averaging has no warp equivalent: it always stands alone
                groups.append(_Group([k], interp, border, interp != "area", op.clips))
        out: list[int] = [0] * len(chain)
        index = 0
        for group in groups:
            members, interp, border = group.members, group.interp, group.border
            for k in members:
                out[k] = index
            index += 1
            if len(members) == 1:
                op, params, _ = chain[members[0]]
                data = op.apply(data, params)
                continue
            m = np.eye(3)
            h, w = data.shape[:2]
            for k in members:
                op, params, _ = chain[k]
                mk, h, w = op.warp(params, h, w)  # type: ignore[attr-defined]
                m = mk @ m
            b = border or ("constant", 0.0)
            data = warp_image(data, m, h, w, interp or "nearest", b[0], b[1])
        return data, out
