"""The text section's preview: an HTML page (``<sheet stem>.html``) and plain text showing each
original record (or document) and its N augmented versions, changed words marked. Records and
documents are made by the text modality's own ``make_record`` (seed key ``record_key``, or the
source for a document), in ``expand``'s order, so a preview equals what ``expand`` writes."""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass
from typing import Any

from augcli.core.atomic import atomic_path
from augcli.core.errors import InputError
from augcli.preview_kit import Request, Shown, by_class, outputs_for, reason, require_inputs, wanted
from augcli.text.modality import record_key

SUFFIX = ".html"


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
    kept_html: str = ""  # the original as HTML, protected words underlined
    kept: tuple[str, ...] = ()  # the runs of protected words, in order


def kept_runs(doc: Any) -> tuple[tuple[str, ...], str]:
    """The runs of protected words of a parsed text (negations with their scope, numbers,
    the recipe's and the domain's terms, entity spans), and the text as HTML with each
    protected word underlined."""
    parts = []
    for piece in doc.pieces:
        escaped = html.escape(piece.text)
        keep = piece.protected and piece.kind != "space"
        parts.append(f'<u class="kept">{escaped}</u>' if keep else escaped)
    text = doc.text
    return tuple(text[s:e] for s, e in doc.protected_runs()), "".join(parts)


def _version(made: Any) -> Version:
    rec = made.record
    title = f"{rec.node}_{rec.copy}"
    if made.text is not None:
        return Version(title, made.text)
    return Version(title, None, f"{rec.status}: {rec.error or ''}".rstrip(": "))


def _wanted(graph: Any, n: int, copies: int) -> list[tuple[Any, int, bool]]:
    """Expand's record order (emitters, then copies) for in-plan copies, then the extra ones;
    each with whether it is one of the first ``n`` outputs shown."""
    want = outputs_for(graph, n)
    need = max((c for _e, c in want), default=-1) + 1
    order = [(e, c) for e in graph.emitters for c in range(min(copies, need))]
    order += [(e, c) for c in range(copies, need) for e in graph.emitters]
    keys = {(e.id, c) for e, c in want}
    return [(e, c, (e.id, c) in keys) for e, c in order]


def _texts(modality: Any, job: Any, task: Any, room: int, outputs: Any) -> list[Text]:
    """A document, or a record file's first ``room`` records (their mentions replaced as
    ``expand`` does; a record that cannot be read, with why, as expand fails its outputs)."""
    source = job.input_root / task.source
    if modality.kind(task.source) is None:
        return [Text(task.source, modality.read(source), task.label)]
    rf = modality.record_file(source)
    texts = []
    for i, rec in enumerate(rf.records[:room]):
        where, key = f"{task.source}:{rec.line}", record_key(task.source, i)
        label = rec.label if rec.label is not None else task.label
        try:
            own = modality.sources_of(rf, rec, where)
            docs = [s.doc for s in modality.sources(job, rf, key, own, outputs, where)]
        except InputError as exc:
            texts.append(Text(key, None, label, error=str(exc), original=rec.text))
            continue
        texts.append(Text(key, own.doc, label, docs))
    return texts


@dataclass
class Text:
    """One text to preview: its seed key, parsed text, label and each output's source doc
    (None: the text itself); or, when it cannot be read, ``error`` and its ``original``."""

    key: str
    doc: Any
    label: Any
    docs: list[Any] | None = None
    error: str = ""
    original: str = ""


def _entries_of(modality: Any, job: Any, task: Any, n: int, room: int) -> list[Entry]:
    """One input's entries (at most ``room``), each with its first ``n`` outputs."""
    graph = job.graphs[modality.name]
    shown = outputs_for(graph, n)
    if modality.kind(task.source) is None:
        order = [(e, c, True) for e, c in shown]
    else:
        order = _wanted(graph, n, job.copies)
    outputs = wanted((e, c) for e, c, _keep in order)
    try:
        texts = _texts(modality, job, task, room, outputs)
    except Exception as exc:
        return [Entry(task.source, task.label, "", [Version("", None, reason(exc))])]

    def run() -> list[Entry]:
        entries = []
        for t in texts:
            if t.error:
                failed = [Version(f"{e.id}_{c}", None, f"failed: {t.error}") for e, c in shown]
                entries.append(Entry(t.key, t.label, t.original, failed, html.escape(t.original)))
                continue
            lines = modality.make_record(task, job, t.key, t.doc, t.label, outputs, t.docs)
            made = {
                (e.id, c): _version(line)
                for (e, c, keep), line in zip(order, lines, strict=True)
                if keep
            }
            kept, marked = kept_runs(t.doc)
            versions = [made[e.id, c] for e, c in shown]
            entries.append(Entry(t.key, t.label, t.doc.text, versions, marked, kept))
        return entries

    return modality.settled(run)  # model requests of the file batched


def text_entries(req: Request) -> list[Entry]:
    """Per class, the first ``per_class`` records or documents by path, with their outputs."""
    unique = {t.source: t for t in req.tasks}  # a chunked record file is one input
    entries: list[Entry] = []
    for group in by_class(unique.values()):
        taken = 0
        for task in group:
            if taken >= req.per_class:
                break
            made = _entries_of(req.handler, req.job, task, req.n, req.per_class - taken)
            entries.extend(made)
            taken += len(made)
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
        if ent.kept:
            lines.append(f"  protected: {' | '.join(ent.kept)}")
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
        "u.kept{text-decoration:underline 2px #2a7;text-underline-offset:3px}"
        "dt{font-weight:bold;margin-top:.4em}dd{margin-left:1.5em;white-space:pre-wrap}</style>",
        f"</head><body><h1>{html.escape(title)}</h1>",
    ]
    for ent in entries:
        lab = f" <small>[{html.escape(str(ent.label))}]</small>" if ent.label is not None else ""
        parts.append(f"<section><h2>{html.escape(ent.name)}{lab}</h2><dl>")
        original = ent.kept_html or html.escape(ent.original)
        parts.append(f'<dt>original</dt><dd class="orig">{original}</dd>')
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


def preview(req: Request) -> Shown:
    """Write the HTML page at ``req.dest``; the plain text goes to stdout."""
    require_inputs(req)
    entries = text_entries(req)
    title = f"{req.recipe_name} seed {req.job.seed}"
    with atomic_path(req.dest, None) as tmp:
        tmp.write_text(text_html(entries, title), encoding="utf-8")
    failed = [
        f"{e.name} {v.title}: {v.note}"
        for e in entries
        for v in e.versions
        if v.text is None and not v.note.startswith("unchanged")
    ]
    return Shown([req.dest], failed, text_plain(entries))
