"""The image section's preview: a contact sheet of what ``expand`` would write for a few inputs
per class.

Each row is one input: its original, then N augmented versions, which are exactly the images
``expand`` writes for that (input, node, copy): the same seeds, graph run, applier, partner
loading, fusion setting, annotation clean-up (``finish``) and encoding (lossy formats are encoded
and decoded again). Only the display is added: 16-bit windowing, gray and alpha shown as such,
a common tile height, captions, and optionally the annotations drawn on top."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
import numpy as np

from augcli.core.errors import InputError, UsageError
from augcli.drawing import (
    LINE_HEIGHT,
    MIN_CELL_WIDTH,
    TILE_HEIGHT,
    Window,
    blank_sheet,
    caption,
    caption_lines,
    cell_origin,
    draw_annotations,
    draw_failed,
    tile,
    window_of,
    write_png,
)
from augcli.image import dicom
from augcli.image.annotate import finish
from augcli.image.targets import Annotated
from augcli.preview_kit import (
    SHEET,
    Request,
    Row,
    Shown,
    failures,
    header_outputs,
    make_row,
    pick,
)

SUFFIX = SHEET


@dataclass
class Shot:
    """One tile: an image as ``expand`` writes it (or the input as read, for the original)."""

    title: str
    data: Any = None  # ndarray, or Annotated after ``finish``
    node: str | None = None
    copy: int | None = None
    seed: int | None = None
    log: list[dict[str, Any]] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)  # ops that fired, short
    dropped: int = 0  # objects ``finish`` dropped (under min_visibility)
    error: str | None = None
    unchanged: bool = False  # expand records it as unchanged (``error`` says why)

    @property
    def image(self) -> np.ndarray | None:
        return self.data.image if isinstance(self.data, Annotated) else self.data


@dataclass
class Sheet:
    image: np.ndarray  # BGR uint8
    rows: list[Row]
    tiles: dict[tuple[int, int], tuple[int, int, int, int]]  # (row, col) -> y, x, h, w
    captions: dict[tuple[int, int], list[str]] = field(default_factory=dict)  # lines as drawn

    @property
    def failed(self) -> list[str]:
        return failures(self.rows)


# -- making the outputs, as ``expand`` does ------------------------------------------------------
def _shot(title: str, made: Any) -> Shot:
    if made is None:
        return Shot(title)
    return Shot(title, node=made.node, copy=made.copy, seed=made.seed, log=made.log)


def image_row(task: Any, job: Any, n: int) -> Row:
    """The input and its first ``n`` outputs, in memory, as ``expand`` writes them."""
    modality = job.modalities[task.modality]
    source = job.input_root / task.source
    suffix = modality.output_suffix(PurePosixPath(task.source).suffix)

    def keep(shot: Shot, data: Any) -> None:
        shot.data = data
        if isinstance(data, Annotated):
            shot.data, dropped = finish(data, _min_visibility(modality))
            shot.dropped = len(dropped)

    def done(shot: Shot, made: Any) -> None:
        shot.data, shot.dropped = as_written(modality, made.result, source, suffix)

    return make_row(task, job, n, _shot, keep, done)


def _min_visibility(modality: Any) -> float:
    boxes = modality.annotations.boxes
    return boxes.min_visibility if boxes is not None else 0.0


def as_written(modality: Any, result: Any, source: Path, suffix: str) -> tuple[Any, int]:
    """What ``ImageModality.write`` puts in a ``suffix`` file for ``result``, decoded again:
    annotations after ``finish`` (the min_visibility drop), pixels through the same encoder and
    settings. DICOM outputs keep their pixels exactly and are returned as they are."""
    dropped: list[Any] = []
    if isinstance(result, Annotated):
        result, dropped = finish(result, _min_visibility(modality))
    image = result.image if isinstance(result, Annotated) else result
    if not dicom.is_dicom(source):
        image = decode(modality.encode(image, suffix))
    if isinstance(result, Annotated):
        return replace(result, image=image), len(dropped)
    return image, 0


def decode(blob: bytes) -> np.ndarray:
    """Decode bytes as a reader of the written file sees them (``cv2.imread`` unchanged)."""
    img = cv2.imdecode(np.frombuffer(blob, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError("the encoded output could not be decoded again")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    return img


# -- the sheet ---------------------------------------------------------------------------------
def render(
    rows: list[Row], header: str, annotations: bool = False, height: int = TILE_HEIGHT
) -> Sheet:
    """Lay the rows out: a header line, then per row the original and its outputs, each tile
    ``height`` tall with a caption strip below it."""
    tiles: dict[tuple[int, int], np.ndarray] = {}
    texts: dict[tuple[int, int], tuple[str, list[str], bool]] = {}
    unchanged: set[tuple[int, int]] = set()
    for r, row in enumerate(rows):
        base = row.original.image
        window = window_of(base) if base is not None else None
        for c, shot in enumerate((row.original, *row.outputs)):
            if shot.error is not None:
                texts[r, c] = (shot.title, [shot.error], True)
                if shot.unchanged:
                    unchanged.add((r, c))
                continue
            img = shot.image
            assert img is not None
            same = base is not None and img.dtype == base.dtype
            t = tile(img, window if same else None, height)
            if annotations and isinstance(shot.data, Annotated):
                t = draw_annotations(t, shot.data)
            tiles[r, c] = t
            texts[r, c] = (shot.title, _describe(row, shot, c, window), False)
    n_cols = 1 + max((len(row.outputs) for row in rows), default=0)
    cell_w = max([MIN_CELL_WIDTH, *(t.shape[1] for t in tiles.values())])
    drawn = {
        key: caption_lines(title, ["failed"] if failed else bits, cell_w)
        for key, (title, bits, failed) in texts.items()
    }
    n_lines = max((len(lines) for lines in drawn.values()), default=1)
    sheet = blank_sheet(len(rows), n_cols, cell_w, height, header, n_lines)
    boxes: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    for (r, c), (title, lines, failed) in texts.items():
        y, x = cell_origin(r, c, cell_w, height, n_lines)
        if failed:
            room = height // LINE_HEIGHT - 1
            draw_failed(sheet, y, x, (height, cell_w), title, lines[0], room, (r, c) in unchanged)
            continue
        t = tiles[r, c]
        sheet[y : y + t.shape[0], x : x + t.shape[1]] = t
        boxes[r, c] = (y, x, t.shape[0], t.shape[1])
        caption(sheet, x, y + height, cell_w, title, lines)
    return Sheet(sheet, rows, boxes, drawn)


def _describe(row: Row, shot: Shot, col: int, window: Window | None) -> list[str]:
    if col > 0:
        bits = list(shot.captions or ["no op fired"])
        base, img = row.original.image, shot.image
        if base is not None and img is not None and img.shape[:2] != base.shape[:2]:
            bits.append(f"now {img.shape[1]}x{img.shape[0]}")
        if shot.dropped:
            bits.append(f"dropped {shot.dropped}")
        return bits
    img = shot.image
    assert img is not None
    ch = 1 if img.ndim == 2 else img.shape[2]
    kind = {1: "gray", 3: "BGR", 4: "BGRA"}.get(ch, f"{ch}ch")
    bits = [f"{img.shape[1]}x{img.shape[0]} {kind} {img.dtype.itemsize * 8}-bit"]
    if window is not None:
        bits.append(f"window {window[0]:.0f}..{window[1]:.0f}")
    if shot.dropped:
        bits.append(f"dropped {shot.dropped}")
    return bits


# -- end to end --------------------------------------------------------------------------------
def build(req: Request) -> Sheet:
    """Pick the inputs, make their outputs as ``expand`` does, render; nothing is written."""
    modality, graph, job = req.handler, req.graph, req.job
    if req.draw_annotations and not modality.annotations.active:
        raise UsageError(
            "--draw-annotations: the recipe's image section has no annotations to draw. "
            "Configure them in the image section, e.g. 'boxes: {format: yolo}' (YOLO .txt "
            "beside each image), 'boxes: {format: coco, file: instances.json}' or "
            "'masks: {dir: ../masks, suffix: _mask}', or leave out --draw-annotations"
        )
    chosen = pick(req.tasks, req.per_class)
    if not chosen:
        raise UsageError(
            f"no image inputs found in {job.input_root} (check 'include'/'exclude' and the "
            "file extensions); there is nothing to preview"
        )
    if req.n > job.copies * len(graph.emitters):
        req.log(
            f"augcli: note: the recipe writes {job.copies} copies per node; tiles past copy "
            f"{job.copies - 1} show what --copies {-(-req.n // len(graph.emitters))} would add"
        )
    rows = [image_row(t, job, req.n) for t in chosen]
    classes = len({t.label for t in chosen})
    header = (
        f"{req.recipe_name}  seed {job.seed}  |  {len(chosen)} "
        f"{'input' if len(chosen) == 1 else 'inputs'} from {classes} "
        f"{'class' if classes == 1 else 'classes'}: original, then " + header_outputs(graph, req.n)
    )
    return render(rows, header, req.draw_annotations)


def preview(req: Request) -> Shown:
    """Build and write the sheet at ``req.dest``."""
    sheet = build(req)
    write_png(sheet.image, req.dest)
    return Shown([req.dest], sheet.failed)
