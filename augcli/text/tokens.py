"""A lossless tokenizer: words, numbers, punctuation, whitespace and the rest, joined back exactly.

``"".join(t.text for t in tokenize(s)) == s`` for every string ``s``. The rules, by Unicode
category of each character:

- **space**: a maximal run of whitespace (spaces, tabs, newlines, NBSP, ...), kept as it was.
- **word**: a letter followed by letters, combining marks and digits, with an apostrophe
  (``'``, U+2019) or hyphen (``-``, U+2010, U+2011) inside it when a letter or digit follows: ``don't``,
  ``patient's``, ``well-known``, ``x-ray``, ``COVID-19``, ``B12`` are one word each. A trailing or
  leading apostrophe or hyphen is punctuation (``patients'`` is ``patients`` + ``'``).
- **number**: digits, with ``.`` or ``,`` inside when a digit follows: ``4``, ``3.2``, ``1,000``.
  Signs, ``%``, ``/`` and units are separate tokens (``50%`` is ``50`` + ``%``, ``4mm`` is ``4`` +
  ``mm``, ``120/80`` is ``120`` ``/`` ``80``); ``augcli.text.protect`` joins a number to its
  units, so the tokenizer needs no list of units.
- **punct**: one punctuation character per token (``...`` is three tokens).
- **other**: one symbol, emoji, control or unassigned character, with the marks, skin-tone
  modifiers, tag characters and zero-width-joined characters that follow it (``👍🏽`` and ``👨‍👩‍👧``
  are one token each, a flag's two regional indicators too); a combining mark with no letter or
  digit before it is one as well.
- **CJK**: each Han ideograph is a word of its own (as BERT's basic tokenizer does): Chinese and
  Japanese have no spaces between words and no dictionary segmentation is attempted. Kana,
  Hangul and every other script form letter runs like Latin (Korean puts spaces between words;
  Thai, Lao, Khmer and kana runs become long words that the English lexicon does not know, so
  word-level ops leave them alone).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["word", "number", "punct", "space", "other"]

_APOSTROPHES = frozenset("'\u2019")
_HYPHENS = frozenset("-\u2010\u2011")
_JOINERS = _APOSTROPHES | _HYPHENS
_DECIMAL = frozenset(".,")

# Character classes: L letter, H Han ideograph, M combining mark, N number, S space,
# P punctuation, O anything else.
_HAN_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2EBEF),
    (0x2F800, 0x2FA1F),
    (0x30000, 0x323AF),
)
_classes: dict[str, str] = {}


def _char_class(ch: str) -> str:
    cls = _classes.get(ch)
    if cls is not None:
        return cls
    if ch.isspace():
        cls = "S"
    else:
        cat = unicodedata.category(ch)
        major = cat[0]
        if major == "L":
            code = ord(ch)
            cls = "H" if any(lo <= code <= hi for lo, hi in _HAN_RANGES) else "L"
        elif major in "MNP":
            cls = major
        else:
            cls = "O"
    if len(_classes) < 65536:
        _classes[ch] = cls
    return cls


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its exact text, its kind and where it starts in the source string."""

    text: str
    kind: Kind
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens that join back to exactly ``text`` (see the module docstring)."""
    out: list[Token] = []
    n = len(text)
    classes = [_char_class(ch) for ch in text]
    i = 0
    while i < n:
        cls = classes[i]
        j = i + 1
        if cls == "S":
            while j < n and classes[j] == "S":
                j += 1
            kind: Kind = "space"
        elif cls == "H":
            while j < n and classes[j] == "M":
                j += 1
            kind = "word"
        elif cls == "L":
            while j < n:
                c = classes[j]
                if c in "LMN":
                    j += 1
                elif text[j] in _JOINERS and j + 1 < n and classes[j + 1] in "LN":
                    j += 2
                else:
                    break
            kind = "word"
        elif cls == "N":
            while j < n:
                c = classes[j]
                if c in "NM":
                    j += 1
                elif text[j] in _DECIMAL and j + 1 < n and classes[j + 1] == "N":
                    j += 2
                else:
                    break
            kind = "number"
        elif cls == "P":
            kind = "punct"
        else:  # O, or a mark with nothing to attach to
            j = _symbol_end(text, classes, i)
            kind = "other"
        out.append(Token(text[i:j], kind, i))
        i = j
    return out


def _symbol_end(text: str, classes: list[str], i: int) -> int:
    """End of the symbol or emoji cluster starting at ``i``."""
    n = len(text)
    j = i + 1
    if 0x1F1E6 <= ord(text[i]) <= 0x1F1FF and j < n and 0x1F1E6 <= ord(text[j]) <= 0x1F1FF:
        j += 1  # a flag: two regional indicators
    while j < n:
        code = ord(text[j])
        if classes[j] == "M" or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F:
            j += 1
        elif code == 0x200D and j + 1 < n and classes[j + 1] != "S":
            j += 2
        else:
            break
    return j


def words(tokens: Sequence[Token]) -> list[int]:
    """Indices of the word tokens, in order."""
    return [i for i, t in enumerate(tokens) if t.kind == "word"]
