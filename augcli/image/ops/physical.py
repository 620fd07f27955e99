"""The image section's ``units: physical``: parameters a recipe gives in millimetres and in the
scanner's units (HU on a CT) turned into the pixels and stored levels ops work in, per input.

A parameter says what it measures by its ``Param.quantity``: a ``length`` (px, through the
DICOM's PixelSpacing, or ImagerPixelSpacing on a projection radiograph, at the image's
current scale: a resize before it changes the pixel size), an ``extent`` ([x, y] mm as
fractions of the width and height), a ``level`` (an intensity:
(value - RescaleIntercept) / RescaleSlope, plus the offset the reader adds to signed data) or a
``difference`` of levels (a noise std: value / |RescaleSlope|). The modality puts what it read
from the file in ``info["physical"]`` (``ImageModality.context``); ops call ``to_stored`` on
their drawn params, which keep the values as given under ``physical``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from augcli.core.errors import InputError
from augcli.params import Param

SQUARE = 0.01  # pixel sides that differ by more than this share are not square


def to_stored(
    name: str, specs: dict[str, Param], params: dict[str, Any], info: dict[str, Any]
) -> dict[str, Any]:
    """``params`` with every physical quantity in pixels and stored levels, the values as given
    kept under ``params["physical"]``; unchanged unless the section says ``units: physical``."""
    if info.get("units") != "physical":
        return params
    given = {k: v for k, v in params.items() if k in specs and specs[k].quantity and v is not None}
    if not given:
        return params
    source = info.get("physical")
    if source is None:
        raise InputError(
            f"{name}: the section says units: physical, but this input is not a DICOM, so it has "
            "no pixel spacing or rescale to convert mm and HU with; use units: stored for it "
            "(another section), or convert it to DICOM"
        )
    out = dict(params)
    for k, v in given.items():
        out[k] = _convert(name, k, specs[k], v, source, info)
    out["physical"] = given
    return out


def _convert(
    name: str, key: str, spec: Param, value: Any, source: dict[str, Any], info: dict[str, Any]
) -> Any:
    if spec.quantity == "extent":  # [x, y] in mm -> fractions of the width and the height
        row, col = _spacing(name, key, source, info)
        return [value[0] / (col * info["width"]), value[1] / (row * info["height"])]
    if spec.quantity == "length":
        row, col = _spacing(name, key, source, info)
        if spec.kind == "size":
            return [max(1, round(value[0] / row)), max(1, round(value[1] / col))]
        if abs(row - col) > SQUARE * max(row, col):
            raise InputError(
                f"{name}.{key} is one length for both axes, but this image's pixels are "
                f"{row:g} x {col:g} mm (not square), so no single pixel count is {value} mm; "
                "resample it to square pixels, or give this op in pixels (units: stored)"
            )
        return _within(name, key, spec, value / row, value)
    slope, intercept, offset = source["slope"], source["intercept"], source["offset"]
    if spec.quantity == "level":
        return float((value - intercept) / slope + offset)
    return _within(name, key, spec, value / abs(slope), value)


def _spacing(
    name: str, key: str, source: dict[str, Any], info: dict[str, Any]
) -> tuple[float, float]:
    """(between rows, between columns) in mm of the image as the op sees it: the file's
    spacing through the ops so far (``info["matrix"]``: source pixel -> current pixel)."""
    spacing = source.get("spacing")
    if spacing is None:
        raise InputError(
            f"{name}.{key} is a length in mm under units: physical, but this DICOM has no "
            "PixelSpacing or ImagerPixelSpacing; give it in pixels (units: stored)"
        )
    dy, dx = spacing
    matrix = info.get("matrix")
    if matrix is None:
        return dy, dx
    inv = np.linalg.inv(np.asarray(matrix, dtype=np.float64))[:2, :2]  # current -> source
    col = float(np.hypot(inv[0, 0] * dx, inv[1, 0] * dy))  # one step along x, in mm
    row = float(np.hypot(inv[0, 1] * dx, inv[1, 1] * dy))  # one step along y
    return row, col


def _within(name: str, key: str, spec: Param, value: float, given: Any) -> float | int:
    """A converted number, rounded as the param's kind, within the op's bounds (in pixels or
    levels) or the input fails with both values."""
    if spec.kind == "int":
        value = round(value)
    too_low = spec.low is not None and (value <= spec.low if spec.low_open else value < spec.low)
    if too_low or (spec.high is not None and value > spec.high):
        raise InputError(
            f"{name}.{key}: {given} (physical units) is {value:g} {spec.unit or 'levels'} on this "
            f"image, outside the op's range {spec.bounds_text()}; choose a value that fits this "
            "image's pixel size and rescale"
        )
    return int(value) if spec.kind == "int" else float(value)
