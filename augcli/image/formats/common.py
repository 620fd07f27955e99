"""Annotation file formats, as pure functions: YOLO ``.txt`` and Pascal VOC ``.xml`` sidecars and
the COCO JSON, read into and written from ``targets.Objects``. No knowledge of ops or the engine.

The formats live in ``yolo.py``, ``voc.py`` and ``coco.py``; this module names them all (imported
on first use, so loading it costs nothing) and holds what they share.

Shared conventions:

- ``Objects.boxes`` are continuous pixel coordinates (pixel i spans [i, i + 1); a full W x H box is
  (0, 0, W, H)). Each reader converts to them, each writer back.
- **Rounding at the border never fails a file.** A box that pokes outside the image by at most
  the format's tolerance is clipped to it; further out is an error naming the file and line (or
  JSON path), the bad value and the fix. YOLO: 1e-3 of the image size or half a pixel, whichever
  is larger. VOC and COCO (pixel formats): 1e-3 of the image size or one pixel, whichever is
  larger (VOC files from 0-based tools start boxes at 0, one pixel outside the 1-based image).
- **A no-op round trip keeps the annotations identical** (and, for YOLO and VOC, the text): each
  object remembers what it was read from in ``Objects.extra`` (``yolo_text``, ``voc_xml``,
  ``coco_bbox``), and a writer reuses the original numbers when the object's values still equal
  them (within 1e-9). Changed values are written with 6 decimals (integers for VOC files that
  used integers).
- Errors are ``InputError``: the file fails, the run goes on (a COCO file's structural problems
  fail every image that needs it; the caller reports them once).
- Writers refuse (``InputError``) an object with no area inside the image: it should have been
  dropped (``min_visibility``) before writing, and a written file must read back.
"""

from __future__ import annotations

import importlib
import math
from typing import TYPE_CHECKING, Any

from augcli.core.errors import InputError, show

if TYPE_CHECKING:  # the real imports are lazy (``__getattr__``): yolo/voc/coco import this module
    from augcli.image.formats.coco import CocoIndex, coco_document, coco_objects, load_coco
    from augcli.image.formats.voc import read_voc, write_voc
    from augcli.image.formats.yolo import read_yolo, write_yolo

_HOME = {
    "read_yolo": "yolo",
    "write_yolo": "yolo",
    "read_voc": "voc",
    "write_voc": "voc",
    "CocoIndex": "coco",
    "load_coco": "coco",
    "coco_objects": "coco",
    "coco_document": "coco",
}
__all__ = [
    "CocoIndex",
    "coco_document",
    "coco_objects",
    "load_coco",
    "read_voc",
    "read_yolo",
    "write_voc",
    "write_yolo",
]

SAME = 1e-9  # values this close to what was read are written as they were read


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"augcli.image.formats.{_HOME[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def error(where: str, what: str, value: Any = ..., fix: str = "") -> InputError:
    """``<where>: <what>; got <value>. <fix>`` — ``where`` is ``file:line`` or ``file: json.path``."""
    msg = f"{where}: {what}"
    if value is not ...:
        msg += f"; got {show(value)}"
    msg += "."
    if fix:
        msg += f" {fix}"
    return InputError(msg)


def read_bytes(path: Any) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the annotation file ({exc.strerror})") from None


def tolerance(size: int, pixels: float) -> float:
    """How far (in pixels) a box may reach outside an image side of ``size`` pixels and still be
    clipped rather than refused: 1e-3 of the side, or ``pixels``, whichever is larger."""
    return max(1e-3 * size, pixels)


def number(value: float) -> str:
    """A coordinate with 6 decimals, trailing zeros dropped (``12``, ``0.25``, ``47.123457``)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    if float(text) == 0.0 and value != 0.0:  # never write a tiny non-zero value as 0
        text = f"{value:.6g}"
    return text


def finite(token: str) -> float | None:
    """``token`` as a finite float, or None."""
    try:
        value = float(token)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def same(a: float, b: float) -> bool:
    return abs(a - b) <= SAME
