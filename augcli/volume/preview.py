"""The volume section's preview: a PNG with, per input, the original then N outputs, each tile
the three mid-planes (axial, coronal, sagittal) of the volume as ``expand`` makes it, drawn at
their physical aspect (spacing taken into account), windowed for display (CT: a soft-tissue
window, level 40 HU, width 400; other data: its 0.5-99.5 percentiles), and with
``--draw-annotations`` the label map's outlines in a colour per label value. A 4-D volume shows
its first frame. Nothing is written
but the sheet (the outputs are lossless: what is drawn is what ``expand`` writes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from augcli.core.errors import UsageError
from augcli.drawing import (
    MIN_CELL_WIDTH,
    WINDOW_PERCENTILES,
    blank_sheet,
    caption,
    caption_lines,
    cell_origin,
    colour_for,
    draw_failed,
    write_png,
)
from augcli.preview_kit import (
    SHEET,
    Request,
    Row,
    Shown,
    failures,
    header_outputs,
    iter_shots,
    make_row,
    pick,
    require_inputs,
)

SUFFIX = SHEET
PLANE_HEIGHT = 128  # px of each mid-plane
PLANE_GAP = 4
CT_WINDOW = (40.0 - 200.0, 40.0 + 200.0)  # soft tissue: level 40 HU, width 400 HU


@dataclass
class Shot:
    title: str
    volume: Any = None  # the Volume as made (or the input as read)
    captions: list[str] = field(default_factory=list)
    error: str | None = None
    unchanged: bool = False


def hounsfield(vol: Any) -> np.ndarray:
    """The first frame in its real units (``stored * slope + intercept`` when scaled)."""
    frame = vol.array[0] if vol.array.ndim == 4 else vol.array
    scale = vol.meta.get("scale")
    if scale is None:
        return frame.astype(np.float32)
    return frame.astype(np.float32) * np.float32(scale[0]) + np.float32(scale[1])


def window_for(values: np.ndarray) -> tuple[float, float]:
    """A soft-tissue CT window when the data looks like CT (air near -1000 HU), else its
    0.5-99.5 percentiles."""
    lo = float(values.min()) if values.size else 0.0
    if -1100.0 <= lo <= -900.0 and values.dtype.kind in "iuf":
        return CT_WINDOW
    a, b = (float(v) for v in np.percentile(values, WINDOW_PERCENTILES))
    return (a, b if b > a else a + 1.0)


def planes(vol: Any) -> list[tuple[np.ndarray, np.ndarray | None, float, float]]:
    """(values, label, height mm, width mm) of the axial, coronal and sagittal mid-planes, the
    last two with slice index rising upwards."""
    values = hounsfield(vol)
    z, y, x = values.shape
    sx, sy, sz = vol.spacing
    lab = vol.label
    cut = [
        (values[z // 2], None if lab is None else lab[z // 2], y * sy, x * sx),
        (
            values[:, y // 2, :][::-1],
            None if lab is None else lab[:, y // 2, :][::-1],
            z * sz,
            x * sx,
        ),
        (
            values[:, :, x // 2][::-1],
            None if lab is None else lab[:, :, x // 2][::-1],
            z * sz,
            y * sy,
        ),
    ]
    return cut


def plane_tile(
    values: np.ndarray,
    label: np.ndarray | None,
    mm: tuple[float, float],
    window: tuple[float, float],
) -> np.ndarray:
    """One plane as BGR at ``PLANE_HEIGHT`` px, its width from the physical aspect, with the
    label's outlines (a voxel whose neighbour has another value) drawn over it."""
    h_mm, w_mm = mm
    width = int(np.clip(round(PLANE_HEIGHT * w_mm / max(h_mm, 1e-6)), 16, 2 * PLANE_HEIGHT))
    lo, hi = window
    gray = np.clip(np.rint((values - lo) * (255.0 / (hi - lo))), 0, 255).astype(np.uint8)
    gray = cv2.resize(gray, (width, PLANE_HEIGHT), interpolation=cv2.INTER_LINEAR)
    out = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    if label is None:
        return out
    lab = cv2.resize(label.astype(np.int32), (width, PLANE_HEIGHT), interpolation=cv2.INTER_NEAREST)
    edge = np.zeros(lab.shape, bool)
    edge[:-1] |= lab[:-1] != lab[1:]
    edge[1:] |= lab[1:] != lab[:-1]
    edge[:, :-1] |= lab[:, :-1] != lab[:, 1:]
    edge[:, 1:] |= lab[:, 1:] != lab[:, :-1]
    edge &= lab != 0
    for value in np.unique(lab[edge]):
        out[edge & (lab == value)] = colour_for(int(value))
    return out


def volume_tile(vol: Any, window: tuple[float, float], labels: bool = False) -> np.ndarray:
    """The three mid-planes side by side, with the label map's outlines when ``labels``."""
    tiles = [plane_tile(v, lab if labels else None, (h, w), window) for v, lab, h, w in planes(vol)]
    gap = np.zeros((PLANE_HEIGHT, PLANE_GAP, 3), np.uint8)
    parts: list[np.ndarray] = []
    for t in tiles:
        parts += [t, gap]
    return np.hstack(parts[:-1])


def _tokens(shot: Shot, col: int, window: tuple[float, float]) -> list[str]:
    if shot.error is not None:
        return ["failed"]
    v = shot.volume
    if col == 0:
        x, y, z = reversed(v.shape)
        sx, sy, sz = v.spacing
        frames = f" x{v.frames}" if v.array.ndim == 4 else ""
        dicom = v.meta.get("dicom") or {}
        kind = {"series": f"DICOM series of {len(dicom.get('files', []))} slices"}.get(
            dicom.get("kind", ""), "multi-frame DICOM" if dicom else ""
        )
        return [
            *([kind] if kind else []),
            f"{x}x{y}x{z}{frames} {v.array.dtype}",
            f"{sx:.2g}x{sy:.2g}x{sz:.2g}mm",
            f"window {window[0]:.0f}..{window[1]:.0f}",
        ]
    return list(shot.captions or ["no op fired"])


def render(rows: list[Row], header: str, labels: bool = False) -> np.ndarray:
    """The sheet: per row the original then its outputs, each the three mid-planes, in the
    original's window (so intensity changes show), label outlines drawn when ``labels``."""
    windows = {
        id(r): window_for(hounsfield(r.original.volume)) for r in rows if r.original.error is None
    }
    tiles = {}
    for r, c, row, shot in iter_shots(rows):
        if shot.error is None:
            tiles[r, c] = volume_tile(shot.volume, windows[id(row)], labels)
    cell_w = max([MIN_CELL_WIDTH, *(t.shape[1] for t in tiles.values())])
    n_cols = 1 + max((len(r.outputs) for r in rows), default=0)
    tokens = {
        (r, c): _tokens(shot, c, windows.get(id(row), (0.0, 1.0)))
        for r, c, row, shot in iter_shots(rows)
    }
    titles = {(r, c): shot.title for r, c, _row, shot in iter_shots(rows)}
    n_lines = max((len(caption_lines(titles[k], tokens[k], cell_w)) for k in tokens), default=1)
    sheet = blank_sheet(len(rows), n_cols, cell_w, PLANE_HEIGHT, header, n_lines)
    for r, c, _row, shot in iter_shots(rows):
        y, x = cell_origin(r, c, cell_w, PLANE_HEIGHT, n_lines)
        if shot.error is not None:
            draw_failed(
                sheet, y, x, (PLANE_HEIGHT, cell_w), shot.title, shot.error, 6, shot.unchanged
            )
            continue
        t = tiles[r, c]
        sheet[y : y + t.shape[0], x : x + t.shape[1]] = t
        caption(sheet, x, y + PLANE_HEIGHT, cell_w, shot.title, tokens[r, c])
    return sheet


def preview(req: Request) -> Shown:
    """Write the volume sheet at ``req.dest``."""
    require_inputs(req)
    if req.draw_annotations and req.handler.labels is None:
        raise UsageError(
            "--draw-annotations: the recipe's volume section has no label maps to draw. Name "
            "them in the volume section, e.g. 'labels: {suffix: _seg}' (brain_seg.nii.gz beside "
            "brain.nii.gz) or 'labels: {dir: ../labels}', or leave out --draw-annotations"
        )
    chosen = pick(req.tasks, req.per_class)

    def keep(shot: Shot, data: Any) -> None:
        shot.volume = data

    def done(shot: Shot, made: Any) -> None:
        shot.volume = made.result

    rows = [
        make_row(t, req.job, req.n, lambda title, _made: Shot(title), keep, done) for t in chosen
    ]
    header = (
        f"volume  |  {len(chosen)} inputs (axial, coronal, sagittal mid-planes): original, then "
        + header_outputs(req.graph, req.n)
    )
    write_png(render(rows, header, req.draw_annotations), req.dest)
    return Shown([req.dest], failures(rows))
