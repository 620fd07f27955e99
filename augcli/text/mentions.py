"""Mention replacement (``mention_replace``; Dai & Adel 2020): before the ops, an output's
source record has some entity spans swapped for other mentions of the same label in the same
file, drawn from the output's seed. What was swapped is recorded as ``[[span index, new text],
...]``, so ``replay`` puts the same text in place without the file's pool."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from augcli.core.errors import InputError
from augcli.text.doc import TextDoc
from augcli.text.spans import Span, Spans


@dataclass
class Source:
    """One output's source record: the record (its mentions replaced, if any), its spans at
    their offsets in it, its parsed text, and the replacements (``[[span index, text], ...]``)."""

    record: Any
    spans: Spans | None
    doc: TextDoc | None
    mentions: list[list[Any]] = field(default_factory=list)


def label_key(label: Any) -> str:
    """What pools a span's mentions: its label as JSON (a tags run's label is its tag tuple, so
    only runs of the same tag sequence, hence the same token count, share a pool)."""
    return json.dumps(label, sort_keys=True, ensure_ascii=False)


def mention_pool(texts: list[tuple[str, Spans]]) -> dict[str, tuple[str, ...]]:
    """The distinct mention texts of each label (``label_key``) over ``texts`` ((text, spans)
    of every record of one file), in the order they first occur."""
    pool: dict[str, dict[str, None]] = {}
    for text, spans in texts:
        for s in spans.items:
            pool.setdefault(label_key(s.label), {})[text[s.start : s.end]] = None
    return {k: tuple(v) for k, v in pool.items()}


def draw_mentions(
    spans: Spans, text: str, pool: dict[str, tuple[str, ...]], p: float, rng: Any
) -> list[list[Any]]:
    """``[[span index, new text], ...]``: each span (one that overlaps no other span) replaced
    with probability ``p`` by a mention of its label drawn uniformly from ``pool``, never its
    own text; a span whose label has no other mention text stays. ``rng``: a numpy Generator."""
    out: list[list[Any]] = []
    for i, s in enumerate(spans.items):
        current = text[s.start : s.end]
        others = [m for m in pool.get(label_key(s.label), ()) if m != current]
        if not others or _overlaps(spans, i) or rng.random() >= p:
            continue
        out.append([i, others[int(rng.integers(len(others)))]])
    return out


def _overlaps(spans: Spans, i: int) -> bool:
    a = spans.items[i]
    return any(k != i and b.start < a.end and a.start < b.end for k, b in enumerate(spans.items))


def substituted(
    text: str, spans: Spans, mentions: list[list[Any]], where: str
) -> tuple[str, Spans]:
    """``text`` with each ``[span index, new text]`` of ``mentions`` put in its span's place,
    and the spans at their new offsets (the replaced ones cover the new text exactly, the
    others shift); InputError naming ``where`` for a replacement that does not fit."""
    new = _checked(spans, mentions, where)
    delta = {i: len(m) - (spans.items[i].end - spans.items[i].start) for i, m in new.items()}
    out, at = [], 0
    for i in sorted(new, key=lambda k: spans.items[k].start):
        s = spans.items[i]
        out += [text[at : s.start], new[i]]
        at = s.end
    out.append(text[at:])
    items = []
    for k, s in enumerate(spans.items):
        shift = sum(d for i, d in delta.items() if spans.items[i].end <= s.start)
        end = s.end + shift + delta.get(k, 0)
        items.append(Span(s.start + shift, end, s.label, s.extra))
    return "".join(out), replace(spans, items=tuple(items))


def _checked(spans: Spans, mentions: Any, where: str) -> dict[int, str]:
    """``mentions`` as {span index: new text}, each a span that overlaps no other."""
    new: dict[int, str] = {}
    for entry in mentions if isinstance(mentions, list) else [mentions]:
        ok = isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], str)
        i = entry[0] if ok else None
        if not ok or not isinstance(i, int) or not 0 <= i < len(spans.items) or not entry[1]:
            raise InputError(
                f"{where}: mention replacement {json.dumps(entry)[:80]} is not [span index, "
                f"new text] for one of the record's {len(spans.items)} span(s)"
            )
        if _overlaps(spans, i) or i in new:
            raise InputError(f"{where}: span {i} overlaps another span; it cannot be replaced")
        new[i] = entry[1]
    return new
