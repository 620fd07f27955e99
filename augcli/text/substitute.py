"""``substitute``: replace words and phrases found in the user's substitution table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from augcli.params import Param
from augcli.text.base import TextOp
from augcli.text.doc import Piece, TextDoc
from augcli.text.edits import choose, clean, count_of, is_han, replace_spans
from augcli.text.lexicon import match_case
from augcli.text.protect import fold, phrase_key

Key = tuple[str, ...]


def table_keys(table: Mapping[Any, Sequence[str]]) -> dict[Key, list[str]]:
    """The table with every key as folded non-space token texts, and usable replacements only."""
    out: dict[Key, list[str]] = {}
    for key, values in table.items():
        folded = tuple(fold(t) for t in key) if isinstance(key, tuple) else phrase_key(str(key))
        if not folded:
            continue
        kept = out.setdefault(folded, [])
        for value in values:
            text = clean(str(value))
            if text and phrase_key(text) != folded and text not in kept:
                kept.append(text)
    return {k: v for k, v in out.items() if v}


def find_matches(
    pieces: Sequence[Piece], table: dict[Key, list[str]]
) -> list[tuple[int, int, Key]]:
    """Non-overlapping ``(start, stop, key)`` matches, left to right, longest first.

    A key matches whole tokens, whatever the whitespace between them; a match holding a protected
    piece (or a Han ideograph) is skipped.
    """
    by_first: dict[str, list[Key]] = {}
    for key in sorted(table, key=len, reverse=True):
        by_first.setdefault(key[0], []).append(key)
    solid = [i for i, p in enumerate(pieces) if p.kind != "space"]
    folded = [fold(pieces[i].text) for i in solid]
    out: list[tuple[int, int, Key]] = []
    s = 0
    while s < len(solid):
        hit = None
        for key in by_first.get(folded[s], ()):
            end = s + len(key)
            if tuple(folded[s:end]) != key:
                continue
            start, stop = solid[s], solid[end - 1] + 1
            span = pieces[start:stop]
            if any(p.protected or is_han(p.text) for p in span):
                continue
            hit = (start, stop, key)
            s = end
            break
        if hit is None:
            s += 1
        else:
            out.append(hit)
    return out


class Substitute(TextOp):
    """Replace words and phrases listed in the substitution table (``table:`` in the recipe).

    Keys match whole tokens case-insensitively (phrases whatever the whitespace between their
    words); the longest key wins, left to right. ``fraction`` of the matches (rounded, at least
    one) are replaced, each by one of its replacements at random, in the matched text's case.
    Protected words are never part of a replaced match. Params:
    ``{"replace": [[start, stop, "text"], ...]}`` (pieces ``start..stop-1`` become ``text``).
    """

    name = "substitute"
    group = "substitution"
    params = {
        "fraction": Param(
            default=0.5,
            low=0.0,
            high=1.0,
            unit="fraction",
            help="fraction of the table's matches in the text that are replaced",
        )
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        drawn = super().sample(rng, info)
        doc: TextDoc = info["doc"]
        table = table_keys(info.get("substitutions") or {})
        matches = find_matches(doc.pieces, table) if table else []
        replace = []
        for start, stop, key in choose(rng, matches, count_of(0, drawn["fraction"], len(matches))):
            options = table[key]
            text = "".join(p.text for p in doc.pieces[start:stop])
            replace.append(
                [start, stop, match_case(text, options[int(rng.integers(len(options)))])]
            )
        return {**drawn, "replace": replace}

    def apply(self, data: TextDoc, params: dict[str, Any]) -> TextDoc:
        return replace_spans(data, params["replace"])
