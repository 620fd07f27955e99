"""EDA word ops (Wei and Zou, 2019): synonym replacement, insertion, swap, deletion, and word
and sentence shuffles. Their edits are the primitives in ``augcli.text.edits``."""

from __future__ import annotations

from typing import Any

import numpy as np

from augcli.params import Param
from augcli.text.base import TextOp
from augcli.text.doc import TextDoc
from augcli.text.edits import (
    _FRACTION_HELP,
    _N_HELP,
    can_insert_before,
    choose,
    count_of,
    delete_words,
    insert_words,
    lexicon_of,
    permutation,
    place_pieces,
    reorder_sentences,
    replace_spans,
    sentence_spans,
    swap_pieces,
    synonyms_at,
    usable_words,
)
from augcli.text.lexicon import Lexicon


def _fraction_param(default: Any) -> Param:
    return Param(default=default, low=0.0, high=1.0, unit="fraction", help=_FRACTION_HELP)


def _n_param() -> Param:
    return Param(kind="int", default=0, low=0, high=1000, unit="words", help=_N_HELP)


class _SynonymWordOp(TextOp):
    """Shared by the ops that use the lexicon's synonyms on ``n`` (when > 0), else ``fraction``
    of the editable words: their params and the start of their draw."""

    group = "eda"
    params = {"fraction": _fraction_param(0.1), "n": _n_param()}

    def draw_words(
        self, rng: np.random.Generator, info: dict[str, Any]
    ) -> tuple[dict[str, Any], TextDoc, Lexicon, list[int], int]:
        """The drawn params, the doc, the lexicon, the editable words and how many to edit."""
        drawn = super().sample(rng, info)
        doc: TextDoc = info["doc"]
        lex = lexicon_of(info)
        editable = usable_words(doc)
        return drawn, doc, lex, editable, count_of(drawn["n"], drawn["fraction"], len(editable))


# -- ops ------------------------------------------------------------------------------------------
class SynonymReplace(_SynonymWordOp):
    """Replace editable words by a synonym from the lexicon, in the word's case.

    EDA's synonym replacement: ``n`` words (when > 0), else ``fraction`` of the editable words,
    chosen among the editable words the lexicon has synonyms for (stop words excluded); each gets
    one of its synonyms at random. Synonyms are for the word's reading in its sentence: its part
    of speech from the neighbouring words, and the shipped lexicon keeps only a word's dominant
    sense and common synonyms (README: Offline synonyms). Unknown, ambiguous and inflected words
    (and non-English text) are left alone. Params: ``{"replace": [[piece_index, "synonym"],
    ...]}``.
    """

    name = "synonym_replace"

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        drawn, doc, lex, editable, count = self.draw_words(rng, info)
        cands = [(i, syns) for i in editable if (syns := synonyms_at(lex, doc.pieces, i))]
        replace = [[i, syns[int(rng.integers(len(syns)))]] for i, syns in choose(rng, cands, count)]
        return {**drawn, "replace": replace}

    def apply(self, data: TextDoc, params: dict[str, Any]) -> TextDoc:
        return replace_spans(data, params["replace"])


class RandomInsert(_SynonymWordOp):
    """Insert synonyms of the text's own words at random places.

    EDA's random insertion: ``n`` times (when > 0), else ``fraction`` of the editable words
    (rounded, at least one), a synonym of a random editable word (for its reading in its
    sentence, as in ``synonym_replace``) goes before a random word (after
    a space, not at a sentence start, never between two protected words), followed by one space.
    Params: ``{"insert": [[before_index, "word"], ...]}``.
    """

    name = "random_insert"

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        drawn, doc, lex, editable, count = self.draw_words(rng, info)
        sources = [s for i in editable if (s := synonyms_at(lex, doc.pieces, i, cased=False))]
        spots = [k for k in range(len(doc)) if can_insert_before(doc.pieces, k)]
        insert: list[list[Any]] = []
        if sources and spots:
            for _ in range(count):
                syns = sources[int(rng.integers(len(sources)))]
                word = syns[int(rng.integers(len(syns)))]
                insert.append([spots[int(rng.integers(len(spots)))], word])
        insert.sort(key=lambda edit: edit[0])
        return {**drawn, "insert": insert}

    def apply(self, data: TextDoc, params: dict[str, Any]) -> TextDoc:
        return insert_words(data, params["insert"])


class RandomSwap(TextOp):
    """Swap two random editable words, ``n`` times (EDA's random swap).

    Words keep their own case and punctuation stays in place; protected words never move.
    Params: ``{"swap": [[i, j], ...]}``, applied in order.
    """

    name = "random_swap"
    group = "eda"
    params = {
        "n": Param(kind="int", default=1, low=1, high=1000, unit="swaps", help="swaps to make")
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        drawn = super().sample(rng, info)
        editable = usable_words(info["doc"])
        swaps: list[list[int]] = []
        if len(editable) >= 2:
            for _ in range(drawn["n"]):
                a, b = rng.choice(len(editable), size=2, replace=False)
                swaps.append([editable[int(a)], editable[int(b)]])
        return {**drawn, "swap": swaps}

    def apply(self, data: TextDoc, params: dict[str, Any]) -> TextDoc:
        return swap_pieces(data, params["swap"])


class RandomDelete(TextOp):
    """Delete each editable word with probability ``fraction`` (EDA's random deletion).

    One adjacent space goes with each deleted word, so no double spaces appear; line breaks are
    kept. Never deletes every word: if the draw would, one of the drawn words is kept.
    Params: ``{"delete": [piece_index, ...]}``.
    """

    name = "random_delete"
    group = "eda"
    params = {
        "fraction": Param(
            default=0.1,
            low=0.0,
            high=1.0,
            unit="probability",
            help="probability that each editable word is deleted",
        )
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        drawn = super().sample(rng, info)
        doc: TextDoc = info["doc"]
        editable = usable_words(doc)
        hits = rng.random(len(editable)) < drawn["fraction"]
        delete = [i for i, hit in zip(editable, hits, strict=True) if hit]
        if delete and len(delete) >= len(doc.words()):
            delete.pop(int(rng.integers(len(delete))))
        return {**drawn, "delete": delete}

    def apply(self, data: TextDoc, params: dict[str, Any]) -> TextDoc:
        return delete_words(data, params["delete"])


class WordShuffle(TextOp):
    """Shuffle the editable words of each sentence among their own positions.

    Protected words, punctuation and whitespace stay where they are. Params:
    ``{"place": [[to, from], ...]}`` (only the positions that change).
    """

    name = "word_shuffle"
    group = "eda"
    params = {}

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        doc: TextDoc = info["doc"]
        place: list[list[int]] = []
        words = set(usable_words(doc))
        for start, stop in sentence_spans(doc.pieces):
            slots = [i for i in range(start, stop) if i in words]
            perm = permutation(rng, len(slots))
            place.extend([slots[k], slots[p]] for k, p in enumerate(perm) if k != p)
        return {"place": place}

    def apply(self, data: TextDoc, params: dict[str, Any]) -> TextDoc:
        return place_pieces(data, params["place"])


class SentenceShuffle(TextOp):
    """Reorder whole sentences; the whitespace between them stays in place.

    Sentences split at ``.`` ``!`` ``?`` followed by whitespace, not after abbreviations
    (``Dr. Smith``, ``e.g.``) or initials, nor before a lower-case word; decimals never split.
    A sentence moves as a whole, protected words included (its text is unchanged). Params:
    ``{"order": [sentence_index, ...]}``.
    """

    name = "sentence_shuffle"
    group = "eda"
    params = {}

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        return {"order": permutation(rng, len(sentence_spans(info["doc"].pieces)))}

    def apply(self, data: TextDoc, params: dict[str, Any]) -> TextDoc:
        return reorder_sentences(data, params["order"])
