"""The audio section's preview: a PNG with, per input, the original then N outputs, each tile a
waveform over a log-magnitude spectrogram (numpy STFT, drawn with OpenCV), and the outputs
themselves written by the modality's ``write`` (the same bytes ``expand`` writes) into
``<sheet stem>_audio/``."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
import numpy as np

from augcli.core.atomic import atomic_path
from augcli.drawing import (
    MIN_CELL_WIDTH,
    blank_sheet,
    caption,
    caption_lines,
    cell_origin,
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
AUDIO_TILE_WIDTH = max(MIN_CELL_WIDTH, 256)
WAVE_HEIGHT = 72
SPEC_HEIGHT = 112
AUDIO_TILE_HEIGHT = WAVE_HEIGHT + SPEC_HEIGHT
WAVE_COLOUR = (120, 220, 120)
DYNAMIC_RANGE_DB = 80.0


@dataclass
class Clip:
    title: str
    audio: Any = None  # Audio as written (read back), or the input as read
    path: Path | None = None  # the file written beside the sheet
    captions: list[str] = field(default_factory=list)
    error: str | None = None
    unchanged: bool = False  # expand records it as unchanged (``error`` says why)


def stft_db(samples: np.ndarray, rate: int, n_fft: int = 512) -> np.ndarray:
    """Log-magnitude spectrogram (dB, frequency bins x frames) of mono ``samples``."""
    n_fft = int(min(n_fft, max(16, 2 ** int(np.log2(max(len(samples), 16))))))
    hop = n_fft // 4
    x = np.asarray(samples, np.float64)
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    frames = 1 + (len(x) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * np.hanning(n_fft)[None, :], axis=1)).T
    return 20.0 * np.log10(spec + 1e-10)


def audio_tile(audio: Any, width: int = AUDIO_TILE_WIDTH) -> np.ndarray:
    """Waveform (min/max per pixel column, channels mixed) over a log-magnitude spectrogram."""
    mono = np.asarray(audio.samples, np.float64).mean(axis=0)
    out = np.empty((AUDIO_TILE_HEIGHT, width, 3), np.uint8)
    out[:] = (24, 24, 24)
    mid = WAVE_HEIGHT // 2
    cv2.line(out, (0, mid), (width - 1, mid), (70, 70, 70), 1)
    bins = (
        np.array_split(mono, width)
        if len(mono) >= width
        else [mono[i : i + 1] for i in range(len(mono))]
    )
    scale = (WAVE_HEIGHT // 2 - 2) / max(1.0, float(np.max(np.abs(mono))) if len(mono) else 1.0)
    for x, b in enumerate(bins):
        if not len(b):
            continue
        lo, hi = float(b.min()), float(b.max())
        y0, y1 = round(mid - hi * scale), round(mid - lo * scale)
        cv2.line(out, (x, y0), (x, y1), WAVE_COLOUR, 1)
    db = stft_db(mono, audio.rate)
    top = float(db.max())
    level = np.clip((db - (top - DYNAMIC_RANGE_DB)) / DYNAMIC_RANGE_DB, 0.0, 1.0)
    gray = np.rint(level[::-1] * 255).astype(np.uint8)  # low frequencies at the bottom
    gray = cv2.resize(gray, (width, SPEC_HEIGHT), interpolation=cv2.INTER_AREA)
    out[WAVE_HEIGHT:] = cv2.applyColorMap(gray, cv2.COLORMAP_MAGMA)
    return out


def audio_row(task: Any, req: Request, folder: Path) -> Row:
    """The input and its first ``n`` outputs, made by ``Modality.make`` and written by the
    modality's ``write`` into ``folder`` exactly as ``expand`` writes them, then read back."""
    modality, job = req.handler, req.job
    source = job.input_root / task.source
    suffix = modality.output_suffix(PurePosixPath(task.source).suffix)

    def keep(clip: Clip, data: Any) -> None:
        kept = folder / task.source
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, kept)
        clip.audio, clip.path = data, kept

    def done(clip: Clip, made: Any) -> None:
        out_rel = req.output_name(task.source, made.node, made.copy, suffix)
        meta = {"matrix": made.matrix, "ops": made.log, "output": out_rel, "seed": made.seed}
        dest = folder / out_rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(dest, None) as tmp:
            modality.write(made.result, tmp, source, meta)
        clip.path = dest
        clip.audio = modality.read(dest)

    return make_row(task, job, req.n, lambda title, _made: Clip(title), keep, done)


def render_audio(rows: list[Row], header: str) -> np.ndarray:
    """The sheet: per row the original and its outputs, each a waveform over a spectrogram."""
    n_cols = 1 + max((len(r.outputs) for r in rows), default=0)
    cell_w, height = AUDIO_TILE_WIDTH, AUDIO_TILE_HEIGHT
    shots = [(r, c, clip, _tokens(clip, c)) for r, c, _row, clip in iter_shots(rows)]
    n_lines = max((len(caption_lines(s[2].title, s[3], cell_w)) for s in shots), default=1)
    sheet = blank_sheet(len(rows), n_cols, cell_w, height, header, n_lines)
    for r, c, clip, tokens in shots:
        y, x = cell_origin(r, c, cell_w, height, n_lines)
        if clip.error is not None:
            draw_failed(sheet, y, x, (height, cell_w), clip.title, clip.error, 6, clip.unchanged)
            continue
        sheet[y : y + height, x : x + cell_w] = audio_tile(clip.audio, cell_w)
        caption(sheet, x, y + height, cell_w, clip.title, tokens)
    return sheet


def _tokens(clip: Clip, col: int) -> list[str]:
    """A clip's caption: the original's format, an output's ops (or that it failed)."""
    if clip.error is not None:
        return ["failed"]
    if col == 0:
        a = clip.audio
        return [f"{a.seconds:.2f}s {a.rate}Hz {a.channels}ch"]
    return list(clip.captions or ["no op fired"])


def preview(req: Request) -> Shown:
    """Write the audio sheet at ``req.dest`` and the clips in ``<dest stem>_audio/``."""
    require_inputs(req)
    folder = req.dest.with_name(f"{req.dest.stem}_audio")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    chosen = pick(req.tasks, req.per_class)
    rows = [audio_row(t, req, folder) for t in chosen]
    header = f"audio  |  {len(chosen)} inputs: original, then " + header_outputs(req.graph, req.n)
    write_png(render_audio(rows, header), req.dest)
    return Shown([req.dest, folder], failures(rows))
