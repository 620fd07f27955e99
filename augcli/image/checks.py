"""The image section's recipe checks: ops whose settings alone make an image over the section's
limits, foreground ops without annotations, reference folders the section does not define;
and the size limits every made image is held to."""

from __future__ import annotations

from typing import Any

import numpy as np

from augcli.core.errors import RecipeError


def check_ops(settings: dict[str, Any], graph: Any, where: str, max_pixels: int) -> None:
    """Refuse ops whose settings alone make an image over the section's limits, whatever
    the input (a fixed pad or resize too large): such a recipe could never write one."""
    limits = settings.get("max_pixels", max_pixels), settings.get("max_bytes")
    _check_foreground_ops(settings, graph, where)
    _check_mask_only_ops(settings, graph, where)
    _check_folders(settings, graph, where)
    physical = settings.get("units") == "physical"
    for op in graph.ops():
        least = op.least_size()
        if least is None or (physical and any(p.quantity for p in op.params.values())):
            continue  # in mm: its pixels are known per input (checked as each is made)
        info = {"height": least[0], "width": least[1], "channels": 1, "dtype": "uint8"}
        over = over_limits(info, *limits)
        if over is not None:
            setting, size = over
            raise RecipeError(
                f"{op.name} makes at least a {size} from any input, over image.{setting}: "
                f"{settings.get(setting):,}",
                path=where,
                fix=f"Make {op.name}'s output smaller, or raise {setting} (null = no limit).",
            )


def _check_foreground_ops(settings: dict[str, Any], graph: Any, where: str) -> None:
    """``keep_foreground`` and ``random_crop: {around: foreground}`` need masks or boxes to
    find the foreground in."""
    cfg = settings.get("annotations")
    if cfg is not None and cfg.active:
        return
    if settings.get("keep_foreground") is not None:
        raise RecipeError(
            "keep_foreground needs annotations to measure the foreground in",
            path=f"{where}.keep_foreground",
            value=settings["keep_foreground"],
            fix="Add image.masks or image.boxes to the section, or remove keep_foreground.",
        )
    for op in graph.ops():
        if op.config.get("around") == "foreground":
            raise RecipeError(
                f"{op.name} around: foreground needs annotations to find the foreground in",
                path=f"{op.where}.around",
                value="foreground",
                fix="Add image.masks or image.boxes to the section, or use around: anywhere.",
            )


def _check_mask_only_ops(settings: dict[str, Any], graph: Any, where: str) -> None:
    """Ops that erase mask objects only (``masks_only``) cannot run where the section reads
    boxes: the boxes (and their keypoints) of an erased object would stay listed."""
    cfg = settings.get("annotations")
    if cfg is None or cfg.boxes is None:
        return
    for op in graph.ops():
        if getattr(op, "masks_only", False):
            raise RecipeError(
                f"{op.name} erases mask objects only, and {where}.boxes gives these images "
                "boxes, which would stay listed over the erased objects",
                path=op.where,
                fix="Use cutout or grid_dropout (they keep boxes true), or remove "
                f"{where}.boxes from this section.",
            )


def over_limits(
    info: dict[str, Any], max_pixels: int | None, max_bytes: int | None
) -> tuple[str, str] | None:
    """The setting an image of ``info``'s size breaks and the size in words, or None."""
    w, h, channels = info["width"], info["height"], info["channels"]
    depth = np.dtype(info["dtype"]).itemsize
    pixels, size = w * h, w * h * channels * depth
    if max_pixels is not None and pixels > max_pixels:
        return "max_pixels", f"{w}x{h} image = {pixels:,} pixels"
    if max_bytes is not None and size > max_bytes:
        return "max_bytes", f"{w}x{h} {channels}-channel {8 * depth}-bit image = {size:,} bytes"
    return None


def _check_folders(settings: dict[str, Any], graph: Any, where: str) -> None:
    """Every op that draws from a folder of references names one of the section's."""
    folders = settings.get("folders") or {}
    for op in graph.ops():
        name = op.config.get("folder") if "folder" in op.params else None
        if name is not None and name not in folders:
            raise RecipeError(
                f"{op.name} draws references from folder {name!r}, which is not one of "
                f"{where}.folders ({', '.join(folders) or 'none defined'})",
                path=f"{where}.folders",
                value=sorted(folders),
                fix=f"Add it, e.g. folders: {{{name}: path/to/reference/images}} (relative to "
                "the recipe).",
            )
