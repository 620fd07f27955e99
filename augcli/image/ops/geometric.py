"""Geometric image ops that are matrices (flips, rotations, affine, perspective, crops, resizes,
padding). Alpha moves with the pixels; consecutive ones are fused into one warp (see warp.py)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from augcli.core.errors import InputError, RecipeError
from augcli.image.ops.arrays import border_value, cv_border, resize
from augcli.image.ops.base import BORDER_MODE, FILL, INTERPOLATION, INTERPOLATION_AUTO
from augcli.image.ops.warp import Matrix, WarpOp, crop_resize_matrix, resize_matrix, translate
from augcli.params import Param

SIZE = Param(
    kind="size", default=None, help="output [height, width] in pixels; null keeps the input size"
)


def _size_of(size: Any) -> tuple[int, int] | None:
    return None if size is None else (int(size[0]), int(size[1]))


def _resolve_auto(interpolation: str, h: int, w: int, oh: int, ow: int) -> str:
    if interpolation != "auto":
        return interpolation
    return "area" if oh * ow < h * w else "linear"


class HFlip(WarpOp):
    """Mirror left to right."""

    name = "hflip"

    def warp(self, params: dict[str, Any], h: int, w: int) -> tuple[Matrix, int, int]:
        return np.array([[-1.0, 0.0, w - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), h, w

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        import cv2

        return cv2.flip(data, 1)


class VFlip(WarpOp):
    """Mirror top to bottom."""

    name = "vflip"

    def warp(self, params: dict[str, Any], h: int, w: int) -> tuple[Matrix, int, int]:
        return np.array([[1.0, 0.0, 0.0], [0.0, -1.0, h - 1.0], [0.0, 0.0, 1.0]]), h, w

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        import cv2

        return cv2.flip(data, 0)


class Rot90(WarpOp):
    """Rotate by ``k`` quarter turns counter-clockwise (exact; height and width swap for odd k)."""

    name = "rot90"
    keeps_size = False
    params = {
        "k": Param(
            kind="int",
            default=[1, 3],
            low=0,
            high=3,
            unit="quarter turns",
            help="number of 90-degree counter-clockwise turns",
        ),
    }

    def warp(self, params: dict[str, Any], h: int, w: int) -> tuple[Matrix, int, int]:
        m = np.eye(3)
        for _ in range(params["k"]):
            m = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, w - 1.0], [0.0, 0.0, 1.0]]) @ m
            h, w = w, h
        return m, h, w

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        return np.ascontiguousarray(np.rot90(data, params["k"]))


class Rotate(WarpOp):
    """Rotate about the centre by ``degrees`` (counter-clockwise positive); size is kept.

    Corners uncovered by the rotation are filled per border_mode.
    """

    name = "rotate"
    params = {
        "degrees": Param(
            default=[-15.0, 15.0],
            low=-360.0,
            high=360.0,
            unit="degrees",
            help="rotation angle, counter-clockwise",
        ),
        "interpolation": INTERPOLATION,
        "border_mode": BORDER_MODE,
        "fill": FILL,
    }

    def warp(self, params: dict[str, Any], h: int, w: int) -> tuple[Matrix, int, int]:
        import cv2

        m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), params["degrees"], 1.0)
        return np.vstack([m, [0.0, 0.0, 1.0]]), h, w


class Affine(WarpOp):
    """Rotate, scale, translate and shear about the centre in one transform; size is kept.

    ``translate`` is a fraction of the width (x) and height (y), drawn separately per axis;
    ``shear`` is drawn separately for x and y, in degrees.
    """

    name = "affine"
    params = {
        "degrees": Param(
            default=[-10.0, 10.0],
            low=-360.0,
            high=360.0,
            unit="degrees",
            help="rotation, counter-clockwise",
        ),
        "scale": Param(
            default=[0.9, 1.1], low=0.0, low_open=True, high=16.0, unit="x", help="zoom factor"
        ),
        "translate": Param(
            default=[-0.05, 0.05],
            low=-1.0,
            high=1.0,
            unit="fraction of size",
            quantity="extent",
            help="shift, drawn per axis (x, y)",
        ),
        "shear": Param(
            default=0.0, low=-80.0, high=80.0, unit="degrees", help="shear angle, drawn per axis"
        ),
        "interpolation": INTERPOLATION,
        "border_mode": BORDER_MODE,
        "fill": FILL,
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = self.draw(rng)
        spec_t, spec_s = self.params["translate"], self.params["shear"]
        params["translate"] = [params["translate"], spec_t.draw(self.config["translate"], rng)]
        params["shear"] = [params["shear"], spec_s.draw(self.config["shear"], rng)]
        return self.finish(params, info)

    def warp(self, params: dict[str, Any], h: int, w: int) -> tuple[Matrix, int, int]:
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
        a = math.radians(params["degrees"])
        s = params["scale"]
        rot = np.array(
            [[math.cos(a), math.sin(a), 0.0], [-math.sin(a), math.cos(a), 0.0], [0, 0, 1]]
        )
        shx, shy = (math.tan(math.radians(v)) for v in params["shear"])
        shear = np.array([[1.0, shx, 0.0], [shy, 1.0, 0.0], [0.0, 0.0, 1.0]])
        tx, ty = params["translate"]
        m = translate(cx + tx * w, cy + ty * h) @ rot @ np.diag([s, s, 1.0]) @ shear
        return m @ translate(-cx, -cy), h, w


class Perspective(WarpOp):
    """Move each corner by up to ``distortion`` of the image size and warp to match; size is
    kept."""

    name = "perspective"
    params = {
        "distortion": Param(
            default=[0.05, 0.1],
            low=0.0,
            high=0.45,
            unit="fraction of size",
            help="how far each corner may move",
        ),
        "interpolation": INTERPOLATION,
        "border_mode": BORDER_MODE,
        "fill": FILL,
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        d = params["distortion"]
        params["offsets"] = [round(float(v), 6) for v in rng.uniform(-d, d, size=8)]
        return params

    def warp(self, params: dict[str, Any], h: int, w: int) -> tuple[Matrix, int, int]:
        import cv2

        src = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float32)
        off = np.array(params["offsets"], dtype=np.float64).reshape(4, 2) * [w, h]
        dst = (src + off).astype(np.float32)
        return cv2.getPerspectiveTransform(src, dst).astype(np.float64), h, w


class Scale(WarpOp):
    """Resize by ``factor`` (both sides); the output size changes."""

    name = "scale"
    keeps_size = False
    params = {
        "factor": Param(
            default=[0.8, 1.2], low=0.0, low_open=True, high=16.0, unit="x", help="size multiplier"
        ),
        "interpolation": INTERPOLATION_AUTO,
    }

    def _size(self, params: dict[str, Any], h: int, w: int) -> tuple[int, int]:
        f = params["factor"]
        return max(1, round(h * f)), max(1, round(w * f))

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        h, w = info["height"], info["width"]
        oh, ow = self._size(params, h, w)
        params["interpolation"] = _resolve_auto(params["interpolation"], h, w, oh, ow)
        return params

    def warp(self, params: dict[str, Any], h: int, w: int) -> tuple[Matrix, int, int]:
        oh, ow = self._size(params, h, w)
        return resize_matrix(h, w, oh, ow), oh, ow

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        h, w = data.shape[:2]
        oh, ow = self._size(params, h, w)
        return resize(data, oh, ow, params["interpolation"])


class Resize(WarpOp):
    """Resize to a fixed ``size`` [height, width]."""

    name = "resize"
    keeps_size = False
    params = {
        "size": Param(kind="size", default=None, help="output [height, width] in pixels"),
        "interpolation": INTERPOLATION_AUTO,
    }

    def check_config(self, path: str) -> None:
        if self.config["size"] is None:
            raise RecipeError(
                "resize needs 'size'", path=path, fix="Add 'size: [height, width]' in pixels."
            )

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        oh, ow = params["size"]
        params["interpolation"] = _resolve_auto(
            params["interpolation"], info["height"], info["width"], oh, ow
        )
        return params

    def warp(self, params: dict[str, Any], h: int, w: int) -> tuple[Matrix, int, int]:
        oh, ow = params["size"]
        return resize_matrix(h, w, oh, ow), oh, ow

    def least_size(self) -> tuple[int, int] | None:
        return _size_of(self.config["size"])

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        oh, ow = params["size"]
        return resize(data, oh, ow, params["interpolation"])


class CropOp(WarpOp):
    """Shared by crops: a window (top, left, crop_height, crop_width) resized to ``size``."""

    keeps_size = False
    clips = True

    def interpolation_of(self, params: dict[str, Any]) -> str | None:
        same = (params["crop_height"], params["crop_width"]) == tuple(params["size"])
        return None if same else params["interpolation"]

    def border_of(self, params: dict[str, Any]) -> tuple[str, float] | None:
        return None

    def least_size(self) -> tuple[int, int] | None:
        return _size_of(self.config["size"])  # None: the input's size

    def warp(self, params: dict[str, Any], h: int, w: int) -> tuple[Matrix, int, int]:
        oh, ow = params["size"]
        m = crop_resize_matrix(
            params["top"], params["left"], params["crop_height"], params["crop_width"], oh, ow
        )
        return m, oh, ow

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        t, left = params["top"], params["left"]
        crop = data[t : t + params["crop_height"], left : left + params["crop_width"]]
        oh, ow = params["size"]
        if crop.shape[:2] == (oh, ow):
            return np.ascontiguousarray(crop)
        return resize(np.ascontiguousarray(crop), oh, ow, params["interpolation"])

    @staticmethod
    def window(
        params: dict[str, Any], rng: np.random.Generator, h: int, w: int, ch: int, cw: int
    ) -> dict[str, Any]:
        ch, cw = min(max(1, ch), h), min(max(1, cw), w)
        params["top"] = int(rng.integers(0, h - ch + 1))
        params["left"] = int(rng.integers(0, w - cw + 1))
        params["crop_height"], params["crop_width"] = ch, cw
        out = params["size"] or [h, w]
        params["size"] = [int(out[0]), int(out[1])]
        return params


class RandomCrop(CropOp):
    """Crop a random window holding ``scale`` of the area (same aspect ratio), then resize it to
    the input's size, or to ``size`` [height, width] when given.

    `around: foreground` centres the window on a foreground pixel drawn at random (every mask
    pixel > 0 equally likely; without a mask, the centre of a box drawn at random), clamped
    inside the image, so the window always holds some of the lesion; an image with no
    foreground falls back to anywhere. The drawn pixel is recorded (`pixel`: [x, y]). Such a
    crop is never fused with the warps before it: its draw needs the mask as it is."""

    name = "random_crop"
    params = {
        "scale": Param(
            default=[0.5, 1.0],
            low=0.0,
            low_open=True,
            high=1.0,
            unit="area fraction",
            help="fraction of the image area the crop keeps",
        ),
        "size": SIZE,
        "interpolation": INTERPOLATION,
        "around": Param(
            kind="choice",
            default="anywhere",
            choices=("anywhere", "foreground"),
            sampled=False,
            help="anywhere, or centred on a random foreground pixel (needs image.masks or "
            "image.boxes)",
        ),
    }

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        if config.get("around") == "foreground":
            self.fusable = False  # type: ignore[misc]  # it samples from the current mask

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        h, w = info["height"], info["width"]
        side = math.sqrt(params["scale"])
        ch, cw = round(h * side), round(w * side)
        if params.pop("around") != "foreground":
            return self.window(params, rng, h, w, ch, cw)
        pixel = foreground_pixel(rng, info)
        params = self.window({**params, "around": "foreground", "pixel": pixel}, rng, h, w, ch, cw)
        if pixel is not None:  # the window centred on it, clamped inside the image
            ch, cw = params["crop_height"], params["crop_width"]
            params["left"] = int(np.clip(pixel[0] - cw // 2, 0, w - cw))
            params["top"] = int(np.clip(pixel[1] - ch // 2, 0, h - ch))
        return params


def foreground_pixel(rng: np.random.Generator, info: dict[str, Any]) -> list[int] | None:
    """[x, y] of a random foreground pixel: one of the mask's pixels > 0, or (no mask) the
    centre of one of the boxes with an area; None when there is none."""
    mask, boxes = info.get("mask"), info.get("boxes")
    if mask is not None:
        hits = np.flatnonzero(mask > 0)
        if not hits.size:
            return None
        y, x = divmod(int(hits[int(rng.integers(hits.size))]), mask.shape[1])
        return [x, y]
    if boxes is None:
        return None
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    boxes = boxes[(boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])]
    if not len(boxes):
        return None
    x0, y0, x1, y1 = boxes[int(rng.integers(len(boxes)))]
    x = min(max(int((x0 + x1) / 2), 0), info["width"] - 1)
    y = min(max(int((y0 + y1) / 2), 0), info["height"] - 1)
    return [x, y]


class RandomResizedCrop(CropOp):
    """Crop a window of random area (``scale``) and aspect ratio (``ratio``, width/height, drawn
    log-uniformly), then resize it to ``size`` (default: the input size), as in Inception/torchvision.

    If no window fits after 10 tries, the largest centred window within ``ratio`` is used.
    """

    name = "random_resized_crop"
    params = {
        "scale": Param(
            default=[0.08, 1.0],
            low=0.0,
            low_open=True,
            high=1.0,
            unit="area fraction",
            help="fraction of the image area the crop keeps",
        ),
        "ratio": Param(
            default=[0.75, 1.3333333],
            low=0.0,
            low_open=True,
            high=100.0,
            unit="width/height",
            help="aspect ratio of the crop",
        ),
        "size": SIZE,
        "interpolation": INTERPOLATION,
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = {
            k: spec.draw(self.config[k], rng)
            for k, spec in self.params.items()
            if k not in ("scale", "ratio")
        }
        h, w = info["height"], info["width"]
        scale, ratio = self.config["scale"], self.config["ratio"]
        lo, hi = scale if isinstance(scale, tuple) else (scale, scale)
        rlo, rhi = ratio if isinstance(ratio, tuple) else (ratio, ratio)
        for _ in range(10):
            area = h * w * float(rng.uniform(lo, hi)) if hi > lo else h * w * lo
            aspect = (
                math.exp(float(rng.uniform(math.log(rlo), math.log(rhi)))) if rhi > rlo else rlo
            )
            cw, ch = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
            if 0 < cw <= w and 0 < ch <= h:
                params["scale"], params["ratio"] = round(area / (h * w), 6), round(aspect, 6)
                return self.window(params, rng, h, w, ch, cw)
        aspect = min(max(w / h, rlo), rhi)
        cw, ch = (w, round(w / aspect)) if w / h < aspect else (round(h * aspect), h)
        params["scale"], params["ratio"] = 1.0, round(aspect, 6)
        params = self.window(params, rng, h, w, ch, cw)
        params["top"], params["left"] = (
            (h - params["crop_height"]) // 2,
            (w - params["crop_width"]) // 2,
        )
        return params


class CenterCrop(CropOp):
    """Cut the centred window of ``size`` [height, width]; larger than the image is a per-file
    error (pad first)."""

    name = "center_crop"
    params = {
        "size": Param(
            kind="size",
            default=None,
            quantity="length",
            help="[height, width] of the window in pixels",
        ),
        "interpolation": INTERPOLATION,
    }

    def check_config(self, path: str) -> None:
        if self.config["size"] is None:
            raise RecipeError(
                "center_crop needs 'size'", path=path, fix="Add 'size: [height, width]' in pixels."
            )

    def check_input(self, info: dict[str, Any]) -> None:
        super().check_input(info)
        ch, cw = self.config["size"]
        if ch > info["height"] or cw > info["width"]:
            raise InputError(
                f"center_crop {ch}x{cw} is larger than the {info['height']}x{info['width']} "
                "image; put a pad op before it, or crop smaller"
            )

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        ch, cw = params["size"]
        params.update(
            top=(info["height"] - ch) // 2,
            left=(info["width"] - cw) // 2,
            crop_height=ch,
            crop_width=cw,
        )
        return params


class Pad(WarpOp):
    """Add ``pixels`` on every side (the output grows), filled per border_mode."""

    name = "pad"
    keeps_size = False
    params = {
        "pixels": Param(
            kind="int",
            default=16,
            low=0,
            high=100_000,
            unit="px",
            quantity="length",
            help="border added on each side",
        ),
        "border_mode": BORDER_MODE,
        "fill": FILL,
    }

    def interpolation_of(self, params: dict[str, Any]) -> str | None:
        return None

    def least_size(self) -> tuple[int, int] | None:
        pixels = self.config["pixels"]
        n = min(pixels) if isinstance(pixels, tuple) else pixels
        return 1 + 2 * n, 1 + 2 * n  # around a 1x1 input

    def warp(self, params: dict[str, Any], h: int, w: int) -> tuple[Matrix, int, int]:
        n = params["pixels"]
        return translate(n, n), h + 2 * n, w + 2 * n

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        import cv2

        n = params["pixels"]
        return cv2.copyMakeBorder(
            data,
            n,
            n,
            n,
            n,
            cv_border(params["border_mode"]),
            value=border_value(data, params["fill"]),
        )
