"""The edit primitives every text op applies: concrete, replayable edits on a TextDoc's pieces.

Every text op's ``sample`` returns concrete edits on the input ``TextDoc``'s pieces, and its
``apply`` performs exactly those edits (no lexicon, no RNG), so the manifest replays outputs.
The edit formats (all indices refer to ``doc.pieces`` of the op's input):

- ``replace``: ``[[i, "text"], ...]`` (piece ``i`` becomes ``text``) or ``[[start, stop, "text"],
  ...]`` (pieces ``start..stop-1`` become ``text``); spans do not overlap.
- ``insert``: ``[[k, "text"], ...]``: ``text`` and one space go before piece ``k`` (several at
  one ``k`` go in list order).
- ``delete``: ``[i, ...]``: word pieces to remove, with one adjacent space (see ``delete_words``).
- ``swap``: ``[[i, j], ...]``: exchange pieces ``i`` and ``j``, one pair after the other.
- ``place``: ``[[to, from], ...]``: position ``to`` gets the piece at ``from`` (a permutation of
  the listed positions; unlisted pieces stay).
- ``order``: ``[s0, s1, ...]``: the sentences (``sentence_spans``) in their new order; the
  whitespace between sentences stays where it was.

Only editable pieces (unprotected words) are replaced, deleted or moved, and nothing is inserted
between two protected pieces: ``apply`` raises ``ValueError`` on params that would. New text is
tokenized into unprotected pieces, so later ops see words, spaces and punctuation as usual.
Words made of Han ideographs (the tokenizer makes each one a word; no segmentation or negation
rules exist for Chinese or Japanese) are left alone by every op.

Counts: ``fraction`` is of the editable words, rounded, at least one when ``fraction > 0`` (EDA's
``max(1, int(alpha * n))``), capped by the words the op can use; a non-zero ``n`` overrides
``fraction``. ``random_delete``'s ``fraction`` is instead each word's probability (as in EDA).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from augcli.text.doc import Piece, TextDoc
from augcli.text.lexicon import ANY_POS, Lexicon, key_of, match_case
from augcli.text.protect import fold
from augcli.text.senses import reading
from augcli.text.tokens import tokenize


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# EDA's stop words (Wei and Zou's list, after NLTK's): never a source of synonyms.
STOP_WORDS = _words(
    """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom
    this that these those am is are was were be been being have has had having do does did
    doing a an the and but if or because as until while of at by for with about against
    between into through during before after above below to from up down in out on off over
    under again further then once here there when where why how all any both each few more
    most other some such no nor not only own same so than too very s t can will just don
    should now
    """
)
# A "." after one of these (or after a single letter: initials, e.g., i.e.) does not end a sentence.
ABBREVIATIONS = _words(
    """
    dr mr mrs ms mx prof sr jr st mt vs etc eg ie cf al fig figs approx ca dept inc ltd co corp
    jan feb mar apr jun jul aug sep sept oct nov dec pt pts hx dx tx rx sx fx resp est ref vol
    pp ed eds gen gov sgt capt col lt rev
    """
)
SENTENCE_ENDERS = frozenset(".!?\u2026\u3002\uff01\uff1f")  # and CJK full stop, ! and ?
CJK_ENDERS = frozenset("\u3002\uff01\uff1f")
CLOSERS = frozenset("\"')]}\u201d\u2019\u00bb")

_FRACTION_HELP = "fraction of the editable words (rounded, at least 1 when > 0)"
_N_HELP = "number of words; 0 uses fraction instead"


# -- shared helpers ------------------------------------------------------------------------------
def is_han(text: str) -> bool:
    """A word made of CJK ideographs (each one a token of its own). ASCII words are answered
    at once: this runs for every word of every record."""
    return not text.isascii() and any(unicodedata.name(ch, "").startswith("CJK ") for ch in text)


def usable(pieces: Sequence[Piece], i: int) -> bool:
    """Piece ``i`` is an editable word the ops touch: not a Han ideograph, not part of a dotted
    abbreviation (``Dr.``, ``e.g.``) and not glued to a neighbour by punctuation (``and/or``)."""
    piece = pieces[i]
    if not piece.editable or is_han(piece.text):
        return False
    n = len(pieces)
    nxt = pieces[i + 1] if i + 1 < n else None
    if nxt is not None and nxt.text == "." and fold(piece.text) in ABBREVIATIONS:
        return False
    glued_after = (
        nxt is not None and nxt.kind == "punct" and i + 2 < n and pieces[i + 2].kind == "word"
    )
    glued_before = i >= 2 and pieces[i - 1].kind == "punct" and pieces[i - 2].kind == "word"
    return not (glued_after or glued_before)


def usable_words(doc: TextDoc) -> list[int]:
    """Indices of the words ops may edit (see ``usable``); worked out once per doc (a doc never
    changes), since every op and every attempt asks."""
    known = doc.__dict__.get("_usable")
    if known is None:
        pieces = doc.pieces
        known = tuple(i for i, p in enumerate(pieces) if p.kind == "word" and usable(pieces, i))
        object.__setattr__(doc, "_usable", known)  # a cache on a frozen dataclass
    return list(known)


def count_of(n: int, fraction: float, total: int) -> int:
    """How many of ``total`` editable words to touch (see the module docstring)."""
    if n > 0:
        return min(n, total)
    if fraction <= 0 or total == 0:
        return 0
    return min(total, max(1, round(fraction * total)))


def choose(rng: np.random.Generator, items: Sequence[Any], k: int) -> list[Any]:
    """``k`` distinct items in a random draw, returned in their original order."""
    k = min(k, len(items))
    if k <= 0:
        return []
    picks = sorted(int(x) for x in rng.choice(len(items), size=k, replace=False))
    return [items[i] for i in picks]


def clean(text: str) -> str:
    """A replacement with single spaces (synonym and table entries may have odd whitespace)."""
    return " ".join(text.split())


def new_pieces(text: str) -> list[Piece]:
    """Unprotected pieces for text an op adds."""
    return [Piece(t.text, t.kind, False) for t in tokenize(text)]


def lexicon_of(info: dict[str, Any]) -> Lexicon:
    lex = info.get("lexicon")
    return lex if lex is not None else Lexicon.default()


def synonyms_at(lex: Lexicon, pieces: Sequence[Piece], i: int, cased: bool = True) -> list[str]:
    """The lexicon's synonyms of word ``i`` (in its case, unless ``cased`` is false), for the reading its sentence gives it
    (``augcli.text.senses``: part of speech in context, inflected forms left alone), other
    than the word itself; a user lexicon's entry applies whatever the reading. Worked out once
    per word and reading."""
    word = pieces[i].text
    if len(word) < 2 or fold(word) in STOP_WORDS:
        return []
    readings = lex.pos_of(word)
    pos = ANY_POS if readings[:1] == [ANY_POS] else reading(pieces, i, lex)
    if pos is None:
        return []
    if not cased:
        word = word.lower()
    known = lex.memo.get((word, pos))
    if known is None:
        known = lex.memo[(word, pos)] = _synonyms_of(lex, word, pos)
    return list(known)


def _synonyms_of(lex: Lexicon, word: str, pos: str) -> list[str]:
    own = key_of(word)
    out: list[str] = []
    for syn in lex.synonyms(word, "any" if pos == ANY_POS else pos):
        syn = clean(syn)
        if syn and key_of(syn) != own:
            cased = match_case(word, syn)
            if cased not in out:
                out.append(cased)
    return out


def _index(value: Any, n: int, what: str, end_ok: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be a piece index, got {value!r}")
    if not 0 <= value < n + (1 if end_ok else 0):
        raise ValueError(f"{what} {value} is outside the text's {n} pieces")
    return value


def _need_editable(pieces: Sequence[Piece], i: int, what: str) -> None:
    if not pieces[i].editable:
        raise ValueError(f"{what}: piece {i} ({pieces[i].text!r}) is not an editable word")


def replace_spans(doc: TextDoc, edits: Iterable[Sequence[Any]]) -> TextDoc:
    """Apply ``replace`` edits: ``[i, text]`` or ``[start, stop, text]``, no protected piece."""
    pieces = doc.pieces
    n = len(pieces)
    spans: list[tuple[int, int, str]] = []
    for edit in edits:
        if len(edit) == 2:
            i = _index(edit[0], n, "replace")
            _need_editable(pieces, i, "replace")
            spans.append((i, i + 1, str(edit[1])))
        elif len(edit) == 3:
            start = _index(edit[0], n, "replace start")
            stop = _index(edit[1], n, "replace stop", end_ok=True)
            if stop <= start:
                raise ValueError(f"replace span [{start}, {stop}) is empty")
            if any(p.protected for p in pieces[start:stop]):
                raise ValueError(f"replace span [{start}, {stop}) holds a protected piece")
            spans.append((start, stop, str(edit[2])))
        else:
            raise ValueError(f"a replace edit is [index, text] or [start, stop, text]: {edit!r}")
    spans.sort()
    out: list[Piece] = []
    pos = 0
    for start, stop, text in spans:
        if start < pos:
            raise ValueError("replace spans overlap")
        out.extend(pieces[pos:start])
        out.extend(new_pieces(text))
        pos = stop
    out.extend(pieces[pos:])
    return TextDoc.of(out)


def _prev_solid(pieces: Sequence[Piece], k: int) -> int | None:
    """The last non-space piece before ``k``."""
    k -= 1
    while k >= 0 and pieces[k].kind == "space":
        k -= 1
    return k if k >= 0 else None


def can_insert_before(pieces: Sequence[Piece], k: int) -> bool:
    """A word may go before piece ``k``: a word or number after a space, not starting a sentence,
    and not between two protected pieces."""
    if not 0 < k < len(pieces) or pieces[k - 1].kind != "space":
        return False
    if pieces[k].kind not in ("word", "number") or is_han(pieces[k].text):
        return False
    prev = _prev_solid(pieces, k)
    if prev is None or pieces[prev].text in SENTENCE_ENDERS:
        return False
    return not (pieces[k].protected and pieces[prev].protected)


def insert_words(doc: TextDoc, edits: Iterable[Sequence[Any]]) -> TextDoc:
    """Apply ``insert`` edits: ``[k, text]`` puts ``text`` and one space before piece ``k``."""
    pieces = doc.pieces
    at: dict[int, list[str]] = {}
    for edit in edits:
        if len(edit) != 2:
            raise ValueError(f"an insert edit is [before_index, text]: {edit!r}")
        k = _index(edit[0], len(pieces), "insert")
        if not can_insert_before(pieces, k):
            raise ValueError(f"insert: nothing may be inserted before piece {k}")
        at.setdefault(k, []).append(clean(str(edit[1])))
    out: list[Piece] = []
    for k, piece in enumerate(pieces):
        for text in at.get(k, ()):
            out.extend(new_pieces(text))
            out.append(Piece(" ", "space", False))
        out.append(piece)
    return TextDoc.of(out)


def delete_words(doc: TextDoc, indices: Iterable[Any]) -> TextDoc:
    """Apply ``delete``: remove the words and one adjacent space.

    Words deleted next to each other go with the spaces between them. Of the spaces around what
    was removed, one is kept (the one with a line break, else the one before); a lone space
    between the removed words and punctuation or the end of the text goes too, unless it holds a
    line break.
    """
    pieces = doc.pieces
    n = len(pieces)
    gone: set[int] = set()
    for value in indices:
        i = _index(value, n, "delete")
        _need_editable(pieces, i, "delete")
        gone.add(i)
    drop: set[int] = set()
    i = 0
    while i < n:
        if i not in gone:
            i += 1
            continue
        j = i + 1  # the run of deleted words (and the spaces between them) is [i, j)
        while True:
            k = j
            while k < n and pieces[k].kind == "space":
                k += 1
            if k < n and k in gone:
                j = k + 1
            else:
                break
        drop.update(range(i, j))
        before = i - 1 if i > 0 and pieces[i - 1].kind == "space" else None
        after = j if j < n and pieces[j].kind == "space" else None
        if before is not None and after is not None:
            keep_after = "\n" in pieces[after].text and "\n" not in pieces[before].text
            drop.add(before if keep_after else after)
        elif before is not None or after is not None:
            lone = before if before is not None else after
            assert lone is not None
            if "\n" not in pieces[lone].text:
                drop.add(lone)
        i = j
    return TextDoc.of([p for k, p in enumerate(pieces) if k not in drop])


def swap_pieces(doc: TextDoc, pairs: Iterable[Sequence[Any]]) -> TextDoc:
    """Apply ``swap``: exchange editable pieces ``i`` and ``j``, pair after pair."""
    pieces = list(doc.pieces)
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"a swap is [i, j]: {pair!r}")
        i = _index(pair[0], len(pieces), "swap")
        j = _index(pair[1], len(pieces), "swap")
        _need_editable(pieces, i, "swap")
        _need_editable(pieces, j, "swap")
        pieces[i], pieces[j] = pieces[j], pieces[i]
    return TextDoc.of(pieces)


def place_pieces(doc: TextDoc, moves: Iterable[Sequence[Any]]) -> TextDoc:
    """Apply ``place``: position ``to`` gets the piece at ``from`` (a permutation)."""
    pieces = doc.pieces
    out = list(pieces)
    tos: list[int] = []
    froms: list[int] = []
    for move in moves:
        if len(move) != 2:
            raise ValueError(f"a move is [to, from]: {move!r}")
        to = _index(move[0], len(pieces), "place")
        src = _index(move[1], len(pieces), "place")
        _need_editable(pieces, to, "place")
        _need_editable(pieces, src, "place")
        tos.append(to)
        froms.append(src)
        out[to] = pieces[src]
    if sorted(tos) != sorted(froms) or len(set(tos)) != len(tos):
        raise ValueError("place moves must be a permutation of their positions")
    return TextDoc.of(out)


def sentence_spans(pieces: Sequence[Piece]) -> list[tuple[int, int]]:
    """``[start, stop)`` piece spans of the sentences; only whitespace lies between them.

    A sentence ends at ``.`` ``!`` ``?`` ``…`` (with any closing quotes and brackets after them)
    followed by whitespace or the end, unless the next word starts in lower case, or the end is
    one ``.`` after an abbreviation (``Dr.``, ``e.g.``, ``approx.``, see ``ABBREVIATIONS``) or a
    single letter (initials); the CJK full stop, ``!`` and ``?`` (U+3002, U+FF01, U+FF1F) end one without a space. Decimals are one number token and never split. Line breaks alone do
    not end a sentence.
    """
    n = len(pieces)
    spans: list[tuple[int, int]] = []
    start: int | None = None
    i = 0
    while i < n:
        piece = pieces[i]
        if start is None:
            if piece.kind == "space":
                i += 1
                continue
            start = i
        if piece.kind == "punct" and piece.text in SENTENCE_ENDERS:
            e = i + 1
            while (
                e < n
                and pieces[e].kind == "punct"
                and (pieces[e].text in SENTENCE_ENDERS or pieces[e].text in CLOSERS)
            ):
                e += 1
            if _ends_sentence(pieces, i, e):
                spans.append((start, e))
                start = None
            i = e
            continue
        i += 1
    if start is not None:
        stop = n
        while pieces[stop - 1].kind == "space":
            stop -= 1
        spans.append((start, stop))
    return spans


def _ends_sentence(pieces: Sequence[Piece], i: int, e: int) -> bool:
    n = len(pieces)
    if e < n and pieces[e].kind != "space":
        return pieces[e - 1].text in CJK_ENDERS  # Chinese and Japanese put no space after

    if pieces[i].text == "." and (e == i + 1 or pieces[i + 1].text not in SENTENCE_ENDERS):
        prev = pieces[i - 1] if i > 0 else None
        if prev is not None and prev.kind == "word":
            word = fold(prev.text)
            if word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                return False
    k = e
    while k < n and pieces[k].kind == "space":
        k += 1
    return not (k < n and pieces[k].text[:1].islower())


def reorder_sentences(doc: TextDoc, order: Sequence[Any]) -> TextDoc:
    """Apply ``order``: sentence ``order[k]`` goes to slot ``k``; the gaps stay in place."""
    pieces = doc.pieces
    spans = sentence_spans(pieces)
    if sorted(order) != list(range(len(spans))) or any(isinstance(s, bool) for s in order):
        raise ValueError(f"order must be a permutation of the {len(spans)} sentences: {order!r}")
    if not spans:
        return doc
    out: list[Piece] = list(pieces[: spans[0][0]])
    for slot, src in enumerate(order):
        start, stop = spans[src]
        out.extend(pieces[start:stop])
        gap_end = spans[slot + 1][0] if slot + 1 < len(spans) else len(pieces)
        out.extend(pieces[spans[slot][1] : gap_end])
    return TextDoc.of(out)


def permutation(rng: np.random.Generator, n: int) -> list[int]:
    """A random permutation of ``range(n)``, not the identity when ``n > 1`` (a few tries)."""
    perm = list(range(n))
    for _ in range(8):
        perm = [int(x) for x in rng.permutation(n)]
        if n < 2 or perm != sorted(perm):
            break
    return perm
