"""Character-level noise: keyboard typos, OCR confusions, swapped, inserted and deleted letters.

Every op touches ``fraction`` of the editable words (rounded, at least one when > 0; words it
cannot change are skipped) and up to ``max_chars`` letters in each (a count from 1 to
``max_chars`` per word). Only letters change: apostrophes, hyphens, digits and case stay as they
were. Params: ``{"replace": [[piece_index, "new word"], ...]}``.

- ``keyboard_typo`` uses nlpaug's English QWERTY neighbour table (``nlpaug/res/char/keyboard/
  en.json``, read once per process), letters only; its augmenters are not used (they draw from
  the global ``random``). Without nlpaug, the same neighbours are derived from the QWERTY rows.
- ``ocr_error`` uses the hand-written ``OCR_CONFUSIONS`` below: nlpaug's OCR table maps mostly
  digits (which are protected numbers here) and has few letter confusions, while OCR errors in
  words are letter ones (``rn``/``m``, ``l``/``1``, ``O``/``0``, ``cl``/``d``, ...).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import string
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from augcli.params import Param
from augcli.text.base import TextOp
from augcli.text.doc import TextDoc
from augcli.text.edits import choose, count_of, replace_spans, usable_words

OCR_CONFUSIONS: dict[str, tuple[str, ...]] = {
    "rn": ("m",),
    "m": ("rn",),
    "cl": ("d",),
    "d": ("cl",),
    "vv": ("w",),
    "w": ("vv",),
    "o": ("0",),
    "O": ("0", "D", "Q"),
    "D": ("O",),
    "l": ("1", "I"),
    "I": ("1", "l"),
    "i": ("1", "l"),
    "s": ("5",),
    "S": ("5",),
    "B": ("8",),
    "b": ("6", "h"),
    "h": ("b",),
    "z": ("2",),
    "Z": ("2",),
    "g": ("9", "q"),
    "q": ("9", "g"),
    "e": ("c",),
    "c": ("e",),
    "u": ("v",),
    "v": ("u",),
    "n": ("h",),
    "E": ("F",),
    "F": ("E",),
    "C": ("G",),
    "G": ("6", "C"),
    "T": ("7",),
    "A": ("4",),
}
_QWERTY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


@functools.cache
def keyboard_neighbours() -> dict[str, tuple[str, ...]]:
    """Lower-case letter -> its neighbouring letters on a QWERTY keyboard."""
    spec = importlib.util.find_spec("nlpaug")
    if spec is not None and spec.origin:
        path = Path(spec.origin).parent / "res" / "char" / "keyboard" / "en.json"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raw = None
        if isinstance(raw, dict):
            table: dict[str, tuple[str, ...]] = {}
            for key, values in raw.items():
                if len(key) == 1 and key.isascii() and key.isalpha():
                    near = [v for v in values if len(v) == 1 and v.isascii() and v.isalpha()]
                    table[key] = tuple(dict.fromkeys(v for v in near if v != key))
            if len(table) == 26:
                return table
    return _qwerty_from_rows()


def _qwerty_from_rows() -> dict[str, tuple[str, ...]]:
    """Neighbours on the staggered rows: same row +-1, the row above at c and c+1, below c-1, c."""
    where = {ch: (r, c) for r, row in enumerate(_QWERTY_ROWS) for c, ch in enumerate(row)}
    near = {(0, -1), (0, 1), (-1, 0), (-1, 1), (1, -1), (1, 0)}
    return {
        ch: tuple(o for o, (r2, c2) in where.items() if (r2 - r, c2 - c) in near)
        for ch, (r, c) in where.items()
    }


def _letters(word: str) -> list[int]:
    return [k for k, ch in enumerate(word) if ch.isalpha()]


def _disjoint(rng: np.random.Generator, spans: list[tuple[int, int, str]], m: int) -> list:
    """Up to ``m`` of the ``(start, stop, new)`` spans, drawn at random, none overlapping."""
    taken: list[tuple[int, int, str]] = []
    for k in rng.permutation(len(spans)):
        start, stop, new = spans[int(k)]
        if all(stop <= s or start >= e for s, e, _ in taken):
            taken.append((start, stop, new))
            if len(taken) == m:
                break
    return taken


def _splice(word: str, spans: list[tuple[int, int, str]]) -> str:
    for start, stop, new in sorted(spans, reverse=True):
        word = word[:start] + new + word[stop:]
    return word


class CharOp(TextOp):
    """Base of the character ops: choose words, then ``edit`` each one (see the module)."""

    group = "character"
    params: ClassVar[dict[str, Param]] = {
        "fraction": Param(
            default=0.1,
            low=0.0,
            high=1.0,
            unit="fraction",
            help="fraction of the editable words touched (rounded, at least 1 when > 0)",
        ),
        "max_chars": Param(
            kind="int",
            default=1,
            low=1,
            high=20,
            unit="characters",
            help="most characters changed in one word (each word: 1 to max_chars)",
        ),
    }

    @abstractmethod
    def can_edit(self, word: str) -> bool:
        """Whether this op can change ``word`` at all."""

    @abstractmethod
    def edit(self, word: str, m: int, rng: np.random.Generator) -> str:
        """``word`` with ``m`` character edits drawn from ``rng``."""

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        drawn = super().sample(rng, info)
        doc: TextDoc = info["doc"]
        editable = usable_words(doc)
        cands = [i for i in editable if self.can_edit(doc.pieces[i].text)]
        replace = []
        for i in choose(rng, cands, count_of(0, drawn["fraction"], len(editable))):
            m = int(rng.integers(1, drawn["max_chars"] + 1))
            word = doc.pieces[i].text
            new = self.edit(word, m, rng)
            if new != word:
                replace.append([i, new])
        return {**drawn, "replace": replace}

    def apply(self, data: TextDoc, params: dict[str, Any]) -> TextDoc:
        return replace_spans(data, params["replace"])


class KeyboardTypo(CharOp):
    """Replace letters by a neighbouring key on a QWERTY keyboard (nlpaug's table), keeping case."""

    name = "keyboard_typo"

    def _spots(self, word: str) -> list[int]:
        table = keyboard_neighbours()
        return [k for k in _letters(word) if table.get(word[k].lower())]

    def can_edit(self, word: str) -> bool:
        return bool(self._spots(word))

    def edit(self, word: str, m: int, rng: np.random.Generator) -> str:
        table = keyboard_neighbours()
        chars = list(word)
        for k in choose(rng, self._spots(word), m):
            near = table[chars[k].lower()]
            new = near[int(rng.integers(len(near)))]
            chars[k] = new.upper() if chars[k].isupper() else new
        return "".join(chars)


class OcrError(CharOp):
    """Swap in characters OCR confuses (``rn``→``m``, ``l``→``1``, ``O``→``0``, ``cl``→``d``, ...)."""

    name = "ocr_error"

    @staticmethod
    def _spans(word: str) -> list[tuple[int, int, tuple[str, ...]]]:
        out = []
        for key, values in OCR_CONFUSIONS.items():
            start = word.find(key)
            while start >= 0:
                out.append((start, start + len(key), values))
                start = word.find(key, start + 1)
        return sorted(out, key=lambda s: (s[0], s[1]))

    def can_edit(self, word: str) -> bool:
        return bool(self._spans(word))

    def edit(self, word: str, m: int, rng: np.random.Generator) -> str:
        spans = self._spans(word)
        taken = _disjoint(rng, [(s, e, "") for s, e, _ in spans], m)
        options = {(s, e): values for s, e, values in spans}
        edits = []
        for s, e, _ in sorted(taken):
            values = options[(s, e)]
            edits.append((s, e, values[int(rng.integers(len(values)))]))
        return _splice(word, edits)


class CharSwap(CharOp):
    """Swap two neighbouring (different) letters."""

    name = "char_swap"

    @staticmethod
    def _pairs(word: str) -> list[tuple[int, int, str]]:
        return [
            (k, k + 2, word[k + 1] + word[k])
            for k in range(len(word) - 1)
            if word[k].isalpha() and word[k + 1].isalpha() and word[k] != word[k + 1]
        ]

    def can_edit(self, word: str) -> bool:
        return bool(self._pairs(word))

    def edit(self, word: str, m: int, rng: np.random.Generator) -> str:
        return _splice(word, _disjoint(rng, self._pairs(word), m))


class CharInsert(CharOp):
    """Insert letters after the first one: a random a-z in Latin words, else one of the word's
    own letters; upper case in an all-capitals word."""

    name = "char_insert"

    def can_edit(self, word: str) -> bool:
        return len(_letters(word)) >= 2

    def edit(self, word: str, m: int, rng: np.random.Generator) -> str:
        letters = [word[k] for k in _letters(word)]
        pool = string.ascii_lowercase if all(ch.isascii() for ch in letters) else "".join(letters)
        upper = word.isupper()
        edits = []
        for gap in choose(rng, list(range(1, len(word) + 1)), m):
            ch = pool[int(rng.integers(len(pool)))]
            edits.append((gap, gap, ch.upper() if upper else ch.lower()))
        return _splice(word, edits)


class CharDelete(CharOp):
    """Delete letters, never all of a word's letters."""

    name = "char_delete"

    def can_edit(self, word: str) -> bool:
        return len(_letters(word)) >= 2

    def edit(self, word: str, m: int, rng: np.random.Generator) -> str:
        letters = _letters(word)
        return _splice(
            word, [(k, k + 1, "") for k in choose(rng, letters, min(m, len(letters) - 1))]
        )
