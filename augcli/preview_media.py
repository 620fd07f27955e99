"""``augcli preview`` for the audio and text sections.

Audio: a PNG with, per input, the original then N outputs, each tile a waveform over a
log-magnitude spectrogram (numpy STFT, drawn with OpenCV), and the outputs themselves written by
the modality's ``write`` (the same bytes ``expand`` writes) into ``<sheet stem>_audio/``.

Text: an HTML page (``<sheet stem>.html``) and plain text showing each original record (or
document) and its N augmented versions, changed words marked. Records are made with the text
modality's own per-record logic (``TextModality._one``, seed key ``<source>#<index>``), documents
with key = source, in ``expand``'s order, so a preview equals what ``expand`` writes."""

from __future__ import annotations

import difflib
import html
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np

from augcli.core.atomic import atomic_path
from augcli.drawing import (
    BACKGROUND,
    CAPTION_HEIGHT,
    FAILED,
    GAP,
    HEADER_HEIGHT,
    LINE_HEIGHT,
    MARGIN,
    MIN_CELL_WIDTH,
    TEXT,
    put_text,
    wrap,
)
from augcli.engine.plan import Job, Task, output_name
from augcli.preview import _caption, _reason, outputs_for, pick

AUDIO_TILE_WIDTH = max(MIN_CELL_WIDTH, 256)
WAVE_HEIGHT = 72
SPEC_HEIGHT = 112
AUDIO_TILE_HEIGHT = WAVE_HEIGHT + SPEC_HEIGHT
WAVE_COLOUR = (120, 220, 120)
DYNAMIC_RANGE_DB = 80.0


# -- audio ---------------------------------------------------------------------------------------
@dataclass
class Clip:
    title: str
    audio: Any = None  # Audio as written (read back), or the input as read
    path: Path | None = None  # the file written beside the sheet
    captions: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class AudioRow:
    task: Task
    original: Clip
    outputs: list[Clip]


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


def make_audio_row(task: Task, job: Job, n: int, folder: Path) -> AudioRow:
    """The input and its first ``n`` outputs, made by ``Modality.make`` and written by the
    modality's ``write`` into ``folder`` exactly as ``expand`` writes them, then read back."""
    from augcli.preview import _leaf_ops, captions

    modality = job.modalities["audio"]
    source = job.input_root / task.source
    graph = job.graphs["audio"]
    suffix = modality.output_suffix(PurePosixPath(task.source).suffix)
    try:
        data = modality.read(source)
    except Exception as exc:
        return AudioRow(task, Clip(task.source, error=_reason(exc)), [])
    kept = folder / task.source
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, kept)
    original = Clip(task.source, data, kept)
    wanted = [SimpleNamespace(node=e.id, copy=c) for e, c in outputs_for(graph, n)]
    clips = []
    for made in modality.make(task, job, data, wanted):
        clip = Clip(f"{made.node}_{made.copy}")
        try:
            if made.error is not None:
                raise made.error
            clip.captions = captions(made.log, _leaf_ops(graph, graph.emitter(made.node)))
            out_rel = output_name(task.source, made.node, made.copy, suffix)
            meta = {"matrix": made.matrix, "ops": made.log, "output": out_rel, "seed": made.seed}
            dest = folder / out_rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(dest) as tmp:
                modality.write(made.result, tmp, source, meta)
            clip.path = dest
            clip.audio = modality.read(dest)
        except Exception as exc:
            clip.error = _reason(exc)
        clips.append(clip)
    return AudioRow(task, original, clips)


def render_audio(rows: list[AudioRow], header: str) -> np.ndarray:
    n_cols = 1 + max((len(r.outputs) for r in rows), default=0)
    cell_w, height = AUDIO_TILE_WIDTH, AUDIO_TILE_HEIGHT
    cell_h = height + CAPTION_HEIGHT
    sheet_w = 2 * MARGIN + n_cols * cell_w + (n_cols - 1) * GAP
    sheet_h = 2 * MARGIN + HEADER_HEIGHT + len(rows) * cell_h + max(0, len(rows) - 1) * GAP
    sheet = np.empty((sheet_h, sheet_w, 3), np.uint8)
    sheet[:] = BACKGROUND
    for line in wrap([header], sheet_w - 2 * MARGIN, 1):
        put_text(sheet, line, MARGIN, MARGIN + LINE_HEIGHT, TEXT)
    for r, row in enumerate(rows):
        for c, clip in enumerate((row.original, *row.outputs)):
            y = MARGIN + HEADER_HEIGHT + r * (cell_h + GAP)
            x = MARGIN + c * (cell_w + GAP)
            if clip.error is not None:
                sheet[y : y + height, x : x + cell_w] = FAILED
                for i, line in enumerate(wrap([f"failed: {clip.error}"], cell_w - 8, 6)):
                    put_text(sheet, line, x + 4, y + (i + 1) * LINE_HEIGHT + 4, TEXT)
                _caption(sheet, x, y + height, cell_w, clip.title, ["failed"])
                continue
            sheet[y : y + height, x : x + cell_w] = audio_tile(clip.audio, cell_w)
            a = clip.audio
            if c == 0:
                tokens = [f"{a.seconds:.2f}s {a.rate}Hz {a.channels}ch"]
            else:
                tokens = list(clip.captions or ["no op fired"])
            _caption(sheet, x, y + height, cell_w, clip.title, tokens)
    return sheet


def audio_preview(job: Job, tasks: list[Task], n: int, per_class: int, dest: Path) -> list[str]:
    """Write the audio sheet at ``dest`` and the clips in ``<dest stem>_audio/``; return the
    outputs that failed."""
    folder = dest.with_name(f"{dest.stem}_audio")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    chosen = pick([t for t in tasks if t.modality == "audio"], per_class)
    rows = [make_audio_row(t, job, n, folder) for t in chosen]
    graph = job.graphs["audio"]
    header = f"audio  |  {len(chosen)} inputs: original, then " + ", ".join(
        f"{e.id}_{k}" for e, k in outputs_for(graph, n)
    )
    _ok, blob = cv2.imencode(".png", render_audio(rows, header))
    with atomic_path(dest) as tmp:
        tmp.write_bytes(blob.tobytes())
    return [
        f"{row.task.source} {clip.title}: {clip.error}"
        for row in rows
        for clip in (row.original, *row.outputs)
        if clip.error is not None
    ]


# -- text ----------------------------------------------------------------------------------------
@dataclass
class Version:
    title: str
    text: str | None  # None: unchanged or failed (see note)
    note: str = ""


@dataclass
class Entry:
    name: str  # source, or source#index for a record
    label: Any
    original: str
    versions: list[Version]


def _version(line: dict[str, Any]) -> Version:
    title = f"{line['node']}_{line['copy']}"
    if line["status"] == "ok":
        return Version(title, line["text"])
    return Version(title, None, f"{line['status']}: {line.get('error') or ''}".rstrip(": "))


def _wanted(graph: Any, n: int, copies: int) -> list[tuple[Any, int]]:
    """Expand's record order (emitters, then copies) for in-plan copies, then the extra ones."""
    want = outputs_for(graph, n)
    need = max((c for _e, c in want), default=-1) + 1
    order = [(e, c) for e in graph.emitters for c in range(min(copies, need))]
    order += [(e, c) for c in range(copies, need) for e in graph.emitters]
    keys = {(e.id, c) for e, c in want}
    return [(e, c, (e.id, c) in keys) for e, c in order]


def text_entries(job: Job, tasks: list[Task], n: int, per_class: int) -> list[Entry]:
    from augcli.text.doc import TextDoc
    from augcli.text.records import read_records

    modality = job.modalities["text"]
    graph = job.graphs["text"]
    rules = modality.config["rules"]
    unique = {t.source: t for t in tasks if t.modality == "text"}
    by_class: dict[Any, list[Task]] = {}
    for t in sorted(unique.values(), key=lambda t: t.source):
        by_class.setdefault(t.label, []).append(t)
    entries: list[Entry] = []
    for label in sorted(by_class, key=lambda lab: (lab is not None, lab or "")):
        taken = 0
        for task in by_class[label]:
            if taken >= per_class:
                break
            source = job.input_root / task.source
            kind = modality.kind(task.source)
            try:
                if kind is None:
                    doc = modality.read(source)
                    items = [(task.source, doc, task.label)]
                else:
                    rf = read_records(source, kind, modality.config)
                    items = [
                        (
                            f"{task.source}#{i}",
                            TextDoc.parse(rec.text, rules),
                            rec.label if rec.label is not None else task.label,
                        )
                        for i, rec in enumerate(rf.records[: per_class - taken])
                    ]
            except Exception as exc:
                entries.append(
                    Entry(task.source, task.label, "", [Version("", None, _reason(exc))])
                )
                taken += 1
                continue
            if kind is None:
                order = [(e, c, True) for e, c in outputs_for(graph, n)]
            else:
                order = _wanted(graph, n, job.copies)

            def versions(
                items: list[Any] = items, order: list[Any] = order, task: Task = task
            ) -> list[Entry]:
                made_entries = []
                for key, doc, lab in items:
                    seen = {doc.text}
                    made = {}
                    for e, c, keep in order:
                        line = modality._one(task, job, graph, e, c, key, doc, seen, lab)
                        if keep:
                            made[e.id, c] = _version(line)
                    shown = [made[e.id, c] for e, c in outputs_for(graph, n)]
                    made_entries.append(Entry(key, lab, doc.text, shown))
                return made_entries

            made_entries = modality.settled(versions)  # model requests of the file batched
            entries.extend(made_entries)
            taken += len(made_entries)
    return entries


_TOKEN = re.compile(r"\s+|\S+")


def diff_html(original: str, new: str) -> str:
    """``new`` as HTML, the words difflib finds changed (on the word lists) in ``<mark>``."""
    a = [t for t in _TOKEN.findall(original) if not t.isspace()]
    tokens = _TOKEN.findall(new)
    b_idx = [i for i, t in enumerate(tokens) if not t.isspace()]
    b = [tokens[i] for i in b_idx]
    changed: set[int] = set()
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, _i1, _i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            changed.update(b_idx[j1:j2])
    return "".join(
        f"<mark>{html.escape(t)}</mark>" if i in changed else html.escape(t)
        for i, t in enumerate(tokens)
    )


def text_plain(entries: list[Entry]) -> str:
    lines = []
    for ent in entries:
        lab = f"  [{ent.label}]" if ent.label is not None else ""
        lines.append(f"{ent.name}{lab}")
        lines.append(f"  original: {ent.original}")
        for v in ent.versions:
            lines.append(f"  {v.title}: {v.text if v.text is not None else '(' + v.note + ')'}")
        lines.append("")
    return "\n".join(lines)


def text_html(entries: list[Entry], title: str) -> str:
    parts = [
        "<!doctype html>",
        '<html><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "section{border-top:1px solid #ccc;padding:.5em 0}"
        "mark{background:#ffe066}.orig{color:#333}.note{color:#888}"
        "dt{font-weight:bold;margin-top:.4em}dd{margin-left:1.5em;white-space:pre-wrap}</style>",
        f"</head><body><h1>{html.escape(title)}</h1>",
    ]
    for ent in entries:
        lab = f" <small>[{html.escape(str(ent.label))}]</small>" if ent.label is not None else ""
        parts.append(f"<section><h2>{html.escape(ent.name)}{lab}</h2><dl>")
        parts.append(f'<dt>original</dt><dd class="orig">{html.escape(ent.original)}</dd>')
        for v in ent.versions:
            body = (
                diff_html(ent.original, v.text)
                if v.text is not None
                else f'<span class="note">({html.escape(v.note)})</span>'
            )
            parts.append(f"<dt>{html.escape(v.title)}</dt><dd>{body}</dd>")
        parts.append("</dl></section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def text_preview(
    job: Job, tasks: list[Task], n: int, per_class: int, dest: Path, title: str
) -> tuple[str, list[str]]:
    """Write the HTML page at ``dest``; return the plain text and the failed versions."""
    entries = text_entries(job, tasks, n, per_class)
    with atomic_path(dest) as tmp:
        tmp.write_text(text_html(entries, title), encoding="utf-8")
    failed = [
        f"{e.name} {v.title}: {v.note}"
        for e in entries
        for v in e.versions
        if v.text is None and not v.note.startswith("unchanged")
    ]
    return text_plain(entries), failed
