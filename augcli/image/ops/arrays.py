"""Small array helpers shared by image ops: alpha handling, dtype ranges, safe rounding."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

INTERPOLATIONS = ("nearest", "linear", "cubic", "area", "lanczos")
BORDER_MODES = ("constant", "reflect", "replicate")


def max_value(dtype: np.dtype) -> int:
    return int(np.iinfo(dtype).max)


def full_scale(img: np.ndarray) -> int:
    """The image's full-scale intensity: 255 for 8-bit; for 16-bit, the smallest 2**b - 1 that
    covers its maximum, so 12-bit scans stored in 16 bits have full scale 4095, not 65535."""
    if img.dtype == np.uint8:
        return 255
    top = int(img.max()) if img.size else 0
    return max(255, (1 << max(1, top.bit_length())) - 1)


def to_dtype(x: np.ndarray, dtype: np.dtype, top: int | None = None) -> np.ndarray:
    """Round to nearest and clip into [0, top] (default: ``dtype``'s maximum); never wraps."""
    return np.clip(np.rint(x), 0, max_value(dtype) if top is None else top).astype(dtype)


def on_color(img: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply ``fn`` to the colour channels only; a 4th (alpha) channel is passed through untouched."""
    if img.ndim == 3 and img.shape[2] == 4:
        out = np.empty_like(img)
        out[..., :3] = fn(np.ascontiguousarray(img[..., :3]))
        out[..., 3] = img[..., 3]
        return out
    return fn(img)


def cv_interpolation(name: str) -> int:
    import cv2

    return {
        "nearest": cv2.INTER_NEAREST,
        "linear": cv2.INTER_LINEAR,
        "cubic": cv2.INTER_CUBIC,
        "area": cv2.INTER_AREA,
        "lanczos": cv2.INTER_LANCZOS4,
    }[name]


def cv_border(name: str) -> int:
    import cv2

    return {
        "constant": cv2.BORDER_CONSTANT,
        "reflect": cv2.BORDER_REFLECT_101,
        "replicate": cv2.BORDER_REPLICATE,
    }[name]


def border_value(img: np.ndarray, fill: float) -> tuple[float, ...]:
    """``fill`` for colour channels; invented pixels of an alpha channel are transparent (0)."""
    channels = 1 if img.ndim == 2 else img.shape[2]
    value = float(min(max(fill, 0.0), max_value(img.dtype)))
    return (value, value, value, 0.0) if channels == 4 else (value,) * channels


def resize(img: np.ndarray, height: int, width: int, interpolation: str) -> np.ndarray:
    import cv2

    if interpolation == "auto":
        shrinking = height * width < img.shape[0] * img.shape[1]
        interpolation = "area" if shrinking else "linear"
    return cv2.resize(img, (width, height), interpolation=cv_interpolation(interpolation))
