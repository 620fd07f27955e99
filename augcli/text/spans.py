"""Entity spans of a record (``spans_field``): character offsets into its text, kept aligned
through every text op. The spanned text is protected (``TextDoc.parse(..., keep=ranges)``), so
ops never change it; after the ops each span is found again in the new text (the k-th time
its text occurs there, if it was the k-th time in the source), and written back in the layout
it came in: ``[{"start": 10, "end": 25, "label": "FINDING", ...}]`` (other keys kept) or
``[[10, 25, "FINDING"], ...]``, or as a tag per token (``tags_field``: a record of ``tokens``
and ``ner_tags``, BIO or any other scheme, strings or class numbers): each run of tagged tokens
is a span, and its tags go back onto the same tokens of the output. A span that cannot be found
the same way (an op added or took away another copy of its text) fails that output, naming the
record's file and line. ``mention_replace`` (``augcli.text.mentions``) swaps spans for other
mentions of their label before the ops."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

from augcli.core.errors import InputError


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    label: Any
    extra: tuple[tuple[str, Any], ...] = ()  # a dict span's other keys, in order


@dataclass(frozen=True)
class Spans:
    layout: str  # dicts | triples | tags
    items: tuple[Span, ...]
    encoded: bool = False  # read from a JSON string (a CSV cell): written back as one
    outside: Any = None  # tags: the tag of a token outside every entity ("O" or 0)

    def ranges(self) -> list[tuple[int, int]]:
        return [(s.start, s.end) for s in self.items]


def read_spans(value: Any, text: str, where: str) -> Spans:
    """The spans of one record (``value``: the field's value, or a CSV cell's JSON text);
    InputError naming ``where`` (file:line) for anything that is not a span of ``text``."""
    encoded = isinstance(value, str)
    if encoded:
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: the spans are not JSON: {exc.msg}") from None
    if not isinstance(value, list):
        raise InputError(f"{where}: the spans must be a list; got {type(value).__name__}")
    if all(isinstance(v, dict) for v in value):
        items = [_from_dict(v, where) for v in value]
        layout = "dicts"
    elif all(isinstance(v, list) and len(v) == 3 for v in value):
        items = [Span(v[0], v[1], v[2]) for v in value]
        layout = "triples"
    else:
        raise InputError(
            f'{where}: spans must be [{{"start": s, "end": e, "label": L}}, ...] or '
            "[[s, e, L], ...]; got a mix or another shape"
        )
    for s in items:
        _check(s, text, where)
    return Spans(layout, tuple(items), encoded)


def read_tags(tags: Any, text: str, where: str) -> Spans:
    """The entity runs of a token record's tags (one per token of ``text``, the tokens joined
    by spaces): each run of tokens not tagged outside (``"O"``, or ``0`` for class numbers) is
    a span whose label is its tags, in order."""
    words = _words(text)
    if not isinstance(tags, list) or len(tags) != len(words):
        got = f"{len(tags)} tags" if isinstance(tags, list) else type(tags).__name__
        raise InputError(
            f"{where}: the tags must be a list of one per token ({len(words)}); got {got}"
        )
    if all(isinstance(t, str) for t in tags):
        outside: Any = "O"
    elif all(isinstance(t, int) and not isinstance(t, bool) for t in tags):
        outside = 0
    else:
        raise InputError(f"{where}: tags must be all text (O, B-X, I-X) or all class numbers")
    items, run = [], []
    for (start, end), tag in [*zip(words, tags, strict=True), ((0, 0), outside)]:
        if tag != outside:
            run.append((start, end, tag))
        elif run:
            items.append(Span(run[0][0], run[-1][1], tuple(t for _, _, t in run)))
            run = []
    return Spans("tags", tuple(items), outside=outside)


def _words(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(r"\S+", text)]


def _tags_of(spans: Spans, text: str, where: str) -> list[Any]:
    """One tag per whitespace token of ``text``: each span's tags on the tokens it covers."""
    words = _words(text)
    tags = [spans.outside] * len(words)
    for s in spans.items:
        inside = [k for k, (a, b) in enumerate(words) if s.start <= a and b <= s.end]
        whole = inside and words[inside[0]][0] == s.start and words[inside[-1]][1] == s.end
        if not whole or len(inside) != len(s.label):
            raise InputError(
                f"{where}: the tagged tokens {text[s.start : s.end]!r} are no longer "
                f"{len(s.label)} whole token(s) in the output"
            )
        for k, tag in zip(inside, s.label, strict=True):
            tags[k] = tag
    return tags


def _from_dict(v: dict[str, Any], where: str) -> Span:
    if "start" not in v or "end" not in v:
        raise InputError(f"{where}: a span needs 'start' and 'end'; got {json.dumps(v)[:80]}")
    extra = tuple((k, x) for k, x in v.items() if k not in ("start", "end", "label"))
    return Span(v["start"], v["end"], v.get("label"), extra)


def _check(s: Span, text: str, where: str) -> None:
    ok = all(isinstance(x, int) and not isinstance(x, bool) for x in (s.start, s.end))
    if not ok or not 0 <= s.start < s.end <= len(text):
        raise InputError(
            f"{where}: span [{s.start}, {s.end}) ({s.label!r}) is not within the text's "
            f"{len(text)} characters; offsets are 0-based, end exclusive"
        )


def realign(spans: Spans, source: str, output: str, where: str) -> Spans:
    """The spans in ``output``: each found again at the same occurrence of its text."""
    moved = []
    for s in spans.items:
        piece = source[s.start : s.end]
        before = _starts(source, piece)
        after = _starts(output, piece)
        if len(after) != len(before):
            raise InputError(
                f"{where}: span [{s.start}, {s.end}) {piece!r} ({s.label!r}) can no longer be "
                f"aligned: its text occurs {len(before)} time(s) in the source and "
                f"{len(after)} in the output"
            )
        k = before.index(s.start)
        moved.append(Span(after[k], after[k] + len(piece), s.label, s.extra))
    return replace(spans, items=tuple(moved))


def _starts(text: str, piece: str) -> list[int]:
    out, k = [], text.find(piece)
    while k >= 0:
        out.append(k)
        k = text.find(piece, k + 1)
    return out


def written(spans: Spans, text: str = "", where: str = "") -> Any:
    """The spans as the record holds them: the layout they came in (JSON text in a CSV; a tag
    per token of ``text``, the output, for tags)."""
    if spans.layout == "tags":
        return _tags_of(spans, text, where)
    if spans.layout == "dicts":
        value: Any = [
            {"start": s.start, "end": s.end, "label": s.label, **dict(s.extra)} for s in spans.items
        ]
    else:
        value = [[s.start, s.end, s.label] for s in spans.items]
    return json.dumps(value, ensure_ascii=False) if spans.encoded else value


def of_record(rf: Any, record: Any, name: str | None, where: str) -> Spans | None:
    """The spans of a record of a JSONL or CSV/TSV file (``rf``) in field or column ``name``;
    None without one (no ``spans_field``, another kind of file, or a record without the
    field)."""
    if name is None or rf.kind not in ("jsonl", "csv", "tsv"):
        return None
    if rf.kind == "jsonl":
        value = record.row.get(name) if isinstance(record.row, dict) else None
    else:  # reading the file made sure the column is there
        value = record.row[rf.header.index(name)]
    return None if value is None else read_spans(value, record.text, where)


def of_tags(rf: Any, record: Any, name: str, where: str) -> Spans | None:
    """The entity runs of a JSONL token record's ``name`` field (``tags_field``), or None
    without the field (reading the file made sure it is JSONL with token records)."""
    if not isinstance(record.row[rf.text_key], list):
        raise InputError(
            f"{where}: tags_field needs the text field {rf.text_key!r} to be a list of tokens"
        )
    value = record.row.get(name)
    return None if value is None else read_tags(value, record.text, where)


def with_spans(rf: Any, row: Any, name: str, spans: Spans, text: str = "", where: str = "") -> Any:
    """An output row (of new text ``text``) with its spans field replaced."""
    if rf.kind == "jsonl":
        return {**row, name: written(spans, text, where)}
    row = list(row)
    row[rf.header.index(name)] = written(spans, text, where)
    return row
