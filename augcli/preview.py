"""``augcli preview``: a contact sheet of what ``expand`` would write for a few inputs per class.

Each row is one input: its original, then N augmented versions, which are exactly the images
``expand`` writes for that (input, node, copy): the same seeds, graph run, applier, partner
loading, fusion setting, annotation clean-up (``finish``) and encoding (lossy formats are encoded
and decoded again). Only the display is added: 16-bit windowing, gray and alpha shown as such,
a common tile height, captions, and optionally the annotations drawn on top."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np

from augcli.core.atomic import atomic_path
from augcli.core.errors import InputError, UsageError
from augcli.drawing import (
    BACKGROUND,
    CAPTION_HEIGHT,
    CAPTION_LINES,
    DEGREE,
    FAILED,
    GAP,
    HEADER_HEIGHT,
    LINE_HEIGHT,
    MARGIN,
    MIN_CELL_WIDTH,
    TEXT,
    TILE_HEIGHT,
    TITLE,
    Window,
    _ascii,
    _width,
    draw_annotations,
    put_text,
    tile,
    window_of,
    wrap,
)
from augcli.engine.plan import Job, Task, output_name
from augcli.engine.run import Options, prepare
from augcli.graph import Emitter, Graph
from augcli.image import dicom
from augcli.image.annotate import finish
from augcli.image.targets import Annotated
from augcli.ops import Op
from augcli.recipe import Recipe

MODALITY = "image"
DEFAULT_OUTPUT = "augcli-preview.png"


@dataclass
class PreviewOptions:
    n: int = 4
    per_class: int = 2
    output: Path | None = None  # the sheet; default ./augcli-preview.png
    draw_annotations: bool = False
    input: Path | None = None


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

    @property
    def image(self) -> np.ndarray | None:
        return self.data.image if isinstance(self.data, Annotated) else self.data


@dataclass
class Row:
    task: Task
    original: Shot
    outputs: list[Shot]


@dataclass
class Sheet:
    image: np.ndarray  # BGR uint8
    rows: list[Row]
    tiles: dict[tuple[int, int], tuple[int, int, int, int]]  # (row, col) -> y, x, h, w

    @property
    def failed(self) -> list[str]:
        out = []
        for row in self.rows:
            for shot in (row.original, *row.outputs):
                if shot.error is not None:
                    out.append(f"{row.task.source} {shot.title}: {shot.error}")
        return out


# -- choosing what to show ---------------------------------------------------------------------
def pick(tasks: list[Task], per_class: int) -> list[Task]:
    """The first ``per_class`` inputs by path in every class (top-level inputs first)."""
    by_class: dict[str | None, list[Task]] = {}
    for t in sorted(tasks, key=lambda t: t.source):
        by_class.setdefault(t.label, []).append(t)
    order = sorted(by_class, key=lambda lab: (lab is not None, lab or ""))
    return [t for lab in order for t in by_class[lab][:per_class]]


def outputs_for(graph: Graph, n: int) -> list[tuple[Emitter, int]]:
    """The first ``n`` outputs in plan order: copy 0 of every emitter, then copy 1, ..."""
    m = len(graph.emitters)
    return [(graph.emitters[j % m], j // m) for j in range(n)]


# -- making the outputs, as ``expand`` does ------------------------------------------------------
def _reason(exc: Exception) -> str:
    if isinstance(exc, InputError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"


def make_row(task: Task, job: Job, n: int) -> Row:
    """The input and its first ``n`` outputs, in memory, made by ``Modality.make`` exactly as
    ``expand`` makes them."""
    modality = job.modalities[task.modality]
    source = job.input_root / task.source
    graph = job.graphs[modality.name]
    suffix = modality.output_suffix(PurePosixPath(task.source).suffix)
    try:
        data = modality.read(source)
    except Exception as exc:  # the whole input fails, as in engine/worker.run_task
        return Row(task, Shot(task.source, error=_reason(exc)), [])
    original = _as_kept(modality, data, task)

    wanted = [SimpleNamespace(node=e.id, copy=c) for e, c in outputs_for(graph, n)]
    shots = []
    for made in modality.make(task, job, data, wanted):
        emitter = graph.emitter(made.node)
        shot = Shot(f"{made.node}_{made.copy}", node=made.node, copy=made.copy, seed=made.seed)
        try:
            if made.error is not None:
                raise made.error
            shot.log = made.log
            shot.captions = captions(made.log, _leaf_ops(graph, emitter))
            out_rel = output_name(task.source, made.node, made.copy, suffix)
            shot.data, shot.dropped = as_written(modality, made.result, source, out_rel)
        except Exception as exc:  # an op or encoding failure fails only this output
            shot.error = _reason(exc)
        shots.append(shot)
    return Row(task, original, shots)


def _as_kept(modality: Any, data: Any, task: Task) -> Shot:
    shot = Shot(task.source, data)
    if isinstance(data, Annotated):
        shot.data, dropped = finish(data, _min_visibility(modality))
        shot.dropped = len(dropped)
    return shot


def _min_visibility(modality: Any) -> float:
    boxes = modality.annotations.boxes
    return boxes.min_visibility if boxes is not None else 0.0


def as_written(modality: Any, result: Any, source: Path, out_rel: str) -> tuple[Any, int]:
    """What ``ImageModality.write`` puts in the file for ``result``, decoded again: annotations
    after ``finish`` (the min_visibility drop), pixels through the same encoder and settings.
    DICOM outputs keep their pixels exactly and are returned as they are."""
    dropped: list[Any] = []
    if isinstance(result, Annotated):
        result, dropped = finish(result, _min_visibility(modality))
    image = result.image if isinstance(result, Annotated) else result
    if not dicom.is_dicom(source):
        image = decode(modality.encode(image, PurePosixPath(out_rel).suffix))
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


# -- captions --------------------------------------------------------------------------------
def _leaf_ops(graph: Graph, emitter: Emitter) -> list[Op]:
    """Every leaf op on the emitter's path, in order: one per op-log entry."""
    return [
        leaf.op
        for name in emitter.path
        for step in graph.nodes[name].steps
        for leaf in step.leaves()
    ]


def _num(v: Any) -> str:
    if isinstance(v, (bool, int, str)):
        return str(v)
    if isinstance(v, float):
        a = abs(v)
        if a >= 1000:
            return f"{v:.0f}"
        if a >= 10:
            return f"{v:.1f}"
        return f"{v:.3g}" if a >= 1 else f"{v:.2g}"
    if isinstance(v, (list, tuple)):
        return ",".join(_num(x) for x in v)
    return str(v)


def _short_keys(keys: list[str]) -> dict[str, str]:
    """One ranged param keeps its name; several get their shortest unique prefixes
    (brightness_contrast b=0.05 c=-0.1)."""
    if len(keys) <= 1:
        return {k: k for k in keys}
    out = {}
    for k in keys:
        n = 1
        while n < len(k) and any(o != k and o.startswith(k[:n]) for o in keys):
            n += 1
        out[k] = k[:n]
    return out


def _drawn(cls: type[Op], key: str, value: Any) -> bool:
    """Whether the recipe gave this param as a range (drawn per output)."""
    spec = cls.params.get(key)
    return spec is not None and spec.kind in ("float", "int") and isinstance(value, tuple)


def captions(log: list[dict[str, Any]], ops: list[Op]) -> list[str]:
    """Each op that fired, with the values drawn for the params the recipe gave as ranges:
    ``rotate 12.3°``, ``hflip``, ``gaussian_blur sigma=1.1``, ``mixup w=0.62``."""
    pairs: list[tuple[dict[str, Any], Op | None]] = list(
        zip(log, ops if len(ops) == len(log) else [None] * len(log), strict=True)
    )
    out = []
    for entry, op in pairs:
        if not entry["applied"]:
            continue
        params = entry["params"] or {}
        bits = [entry["op"]]
        if op is not None:
            ranged = [k for k, v in op.config.items() if _drawn(type(op), k, v) and k in params]
            short = _short_keys(ranged)
            for key in ranged:  # fixed values are left out: the recipe says them already
                spec = type(op).params.get(key)
                text = _num(params[key])
                if spec is not None and spec.unit == "degrees":
                    text = text.replace(",", f"{DEGREE},") + DEGREE
                    bits.append(text if key == "degrees" else f"{short[key]}={text}")
                else:
                    bits.append(f"{short[key]}={text}")
        if params.get("weights"):
            bits.append(f"w={_num(float(params['weights'][0]))}")
        out.append(" ".join(bits))
    return out


def render(
    rows: list[Row], header: str, annotations: bool = False, height: int = TILE_HEIGHT
) -> Sheet:
    """Lay the rows out: a header line, then per row the original and its outputs, each tile
    ``height`` tall with a caption strip below it."""
    tiles: dict[tuple[int, int], np.ndarray] = {}
    texts: dict[tuple[int, int], tuple[str, list[str], bool]] = {}
    for r, row in enumerate(rows):
        base = row.original.image
        window = window_of(base) if base is not None else None
        for c, shot in enumerate((row.original, *row.outputs)):
            if shot.error is not None:
                texts[r, c] = (shot.title, [f"failed: {shot.error}"], True)
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
    cell_h = height + CAPTION_HEIGHT
    sheet_w = 2 * MARGIN + n_cols * cell_w + (n_cols - 1) * GAP
    sheet_h = 2 * MARGIN + HEADER_HEIGHT + len(rows) * cell_h + max(0, len(rows) - 1) * GAP
    sheet = np.empty((sheet_h, sheet_w, 3), np.uint8)
    sheet[:] = BACKGROUND
    for line in wrap([header], sheet_w - 2 * MARGIN, 1):
        put_text(sheet, line, MARGIN, MARGIN + LINE_HEIGHT, TEXT)
    boxes: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    for (r, c), (title, lines, failed) in texts.items():
        y = MARGIN + HEADER_HEIGHT + r * (cell_h + GAP)
        x = MARGIN + c * (cell_w + GAP)
        if failed:
            sheet[y : y + height, x : x + cell_w] = FAILED
            for i, line in enumerate(wrap(lines, cell_w - 8, height // LINE_HEIGHT - 1)):
                put_text(sheet, line, x + 4, y + (i + 1) * LINE_HEIGHT + 4, TEXT)
            lines = ["failed"]
        else:
            t = tiles[r, c]
            sheet[y : y + t.shape[0], x : x + t.shape[1]] = t
            boxes[r, c] = (y, x, t.shape[0], t.shape[1])
        _caption(sheet, x, y + height, cell_w, title, lines)
    return Sheet(sheet, rows, boxes)


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


def _fit_left(text: str, width: int) -> str:
    """``text``, cut from the left with '...' to fit ``width`` px (paths keep their ends)."""
    if _width(text) <= width:
        return text
    while len(text) > 1 and _width("..." + text) > width:
        text = text[1:]
    return "..." + text


def _caption(sheet: np.ndarray, x: int, y: int, width: int, title: str, tokens: list[str]) -> None:
    """Title (highlighted) then the tokens, wrapped into CAPTION_LINES lines under a tile."""
    first = _fit_left(f"{_ascii(title)}:", width)
    indent = _width(first) + 4
    put_text(sheet, first, x, y + LINE_HEIGHT + 2, TITLE)
    for i, line in enumerate(wrap(tokens, width, CAPTION_LINES, indent)):
        put_text(sheet, line, x + (indent if i == 0 else 0), y + (i + 1) * LINE_HEIGHT + 2, TEXT)


# -- end to end --------------------------------------------------------------------------------
def check_destination(path: Path, job: Job) -> Path:
    """The sheet's path, resolved; never inside the input or output folder, and a .png."""
    out = path.expanduser().resolve()
    for root, what in ((job.output_root, "output"), (job.input_root, "input")):
        if out == root or out.is_relative_to(root):
            raise UsageError(
                f"--output: the preview sheet {out} would be inside the recipe's {what} folder "
                f"{root}; a preview is written nowhere near the dataset. Pass --output with a "
                "path elsewhere, e.g. --output /tmp/preview.png"
            )
    if out.suffix.lower() != ".png":
        raise UsageError(f"--output: the preview sheet is a PNG; got {path}. Name it '*.png'")
    if out.is_dir():
        raise UsageError(f"--output: {path} is a folder; give the sheet's file name")
    return out


def build(
    recipe: Recipe, opts: PreviewOptions, log: Callable[[str], None] = lambda _msg: None
) -> tuple[Sheet, Path]:
    """Plan as ``expand`` does, pick the inputs, make their outputs, render; nothing is written.
    Returns the sheet and where it is to be written (already checked)."""
    if MODALITY not in recipe.sections:
        raise UsageError(
            f"preview shows the image section, and {recipe.file} has none. Add 'image:' with a "
            "pipeline or graph"
        )
    job, _inputs, _ignored, tasks = prepare(recipe, Options(input=opts.input))
    dest = check_destination(opts.output or Path(DEFAULT_OUTPUT), job)
    modality = job.modalities[MODALITY]
    if opts.draw_annotations and not modality.annotations.active:
        raise UsageError(
            "--draw-annotations: the recipe's image section has no annotations to draw. "
            "Configure them in the image section, e.g. 'boxes: {format: yolo}' (YOLO .txt "
            "beside each image), 'boxes: {format: coco, file: instances.json}' or "
            "'masks: {dir: ../masks, suffix: _mask}', or leave out --draw-annotations"
        )
    chosen = pick([t for t in tasks if t.modality == MODALITY], opts.per_class)
    if not chosen:
        raise UsageError(
            f"no image inputs found in {job.input_root} (check 'include'/'exclude' and the "
            "file extensions); there is nothing to preview"
        )
    graph = job.graphs[MODALITY]
    if opts.n > recipe.copies * len(graph.emitters):
        log(
            f"augcli: note: the recipe writes {recipe.copies} copies per node; tiles past copy "
            f"{recipe.copies - 1} show what --copies {-(-opts.n // len(graph.emitters))} would add"
        )
    rows = [make_row(t, job, opts.n) for t in chosen]
    classes = len({t.label for t in chosen})
    header = (
        f"{recipe.file.name}  seed {recipe.seed}  |  {len(chosen)} "
        f"{'input' if len(chosen) == 1 else 'inputs'} from {classes} "
        f"{'class' if classes == 1 else 'classes'}: original, then "
        + ", ".join(f"{e.id}_{k}" for e, k in outputs_for(graph, opts.n))
    )
    return render(rows, header, opts.draw_annotations), dest


def write_sheet(sheet: Sheet, dest: Path) -> None:
    ok, blob = cv2.imencode(".png", sheet.image)
    if not ok:
        raise UsageError(f"could not encode the preview sheet for {dest}")
    with atomic_path(dest) as tmp:
        tmp.write_bytes(blob.tobytes())


def preview(
    recipe: Recipe, opts: PreviewOptions, log: Callable[[str], None] = lambda _msg: None
) -> tuple[Path, list[str]]:
    """Build and write the sheet; return its path and the outputs that failed (shown on it)."""
    sheet, dest = build(recipe, opts, log)
    write_sheet(sheet, dest)
    return dest, sheet.failed


def iter_shots(rows: list[Row]) -> Iterator[tuple[int, int, Row, Shot]]:
    """(row, column, row, shot) for every tile, column 0 being the original."""
    for r, row in enumerate(rows):
        for c, shot in enumerate((row.original, *row.outputs)):
            yield r, c, row, shot


def preview_all(
    recipe: Recipe,
    opts: PreviewOptions,
    log: Callable[[str], None] = lambda _msg: None,
    echo: Callable[[str], None] = lambda _msg: None,
) -> tuple[list[Path], list[str]]:
    """Preview every section the recipe has: the image sheet (``--output``), the audio sheet
    (``--output`` too without images, else ``<stem>-audio.png``) with its clips in
    ``<sheet stem>_audio/``, and the text page ``<stem>.html`` (its plain text goes to ``echo``).
    Returns the files written and the outputs that failed."""
    from augcli import preview_media

    media = [m for m in ("audio", "text") if m in recipe.sections]
    if MODALITY not in recipe.sections and not media:
        raise UsageError(
            f"preview shows the image, audio and text sections, and {recipe.file} has none"
        )
    written: list[Path] = []
    failed: list[str] = []
    if MODALITY in recipe.sections:
        path, bad = preview(recipe, opts, log)
        written.append(path)
        failed += bad
    if not media:
        return written, failed
    job, _inputs, _ignored, tasks = prepare(recipe, Options(input=opts.input))
    dest = check_destination(opts.output or Path(DEFAULT_OUTPUT), job)
    if "audio" in recipe.sections:
        sheet = (
            dest if MODALITY not in recipe.sections else dest.with_name(f"{dest.stem}-audio.png")
        )
        if not any(t.modality == "audio" for t in tasks):
            raise UsageError(f"no audio inputs found in {job.input_root}; nothing to preview")
        failed += preview_media.audio_preview(job, tasks, opts.n, opts.per_class, sheet)
        written += [sheet, sheet.with_name(f"{sheet.stem}_audio")]
    if "text" in recipe.sections:
        page = dest.with_suffix(".html")
        if not any(t.modality == "text" for t in tasks):
            raise UsageError(f"no text inputs found in {job.input_root}; nothing to preview")
        plain, bad = preview_media.text_preview(
            job, tasks, opts.n, opts.per_class, page, f"{recipe.file.name} seed {recipe.seed}"
        )
        echo(plain)
        failed += bad
        written.append(page)
    return written, failed
