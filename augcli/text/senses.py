"""Which reading of a word its sentence means: the part of speech in context, and inflected forms.

The shipped lexicon lists every part of speech of a word that has synonyms, most frequent first
(``doctor``: noun, verb). ``reading`` picks one from the neighbouring words, with
rules on closed word classes (no tagger model, nothing downloaded):

- after a determiner or possessive (``the``, ``a``, ``his``, ``no``): a noun, unless the word
  is mostly an adjective and a content word follows (``a stable patient``, but ``the mass
  measures``); after a preposition: the same;
- after a copula or a degree adverb (``is``, ``remains``, ``very``, ``more``): an adjective;
- after a modal, ``to``, or a subject pronoun (``will``, ``to``, ``we``): a verb;
- before a determiner (``improve the``): a verb;
- otherwise the word's most frequent part of speech, but a verb only after such a cue (``left
  lower lobe``: ``lower`` is not ``take down`` there).

A context that asks for a part of speech the word does not have (a noun after ``very``) gives no
reading, so the word is left alone.

Inflected forms are not in the lexicon (``scripts/build_lexicon.py`` leaves out lemmas that are
also another word's inflection, ``arms``, ``noted``, ``wound``), so they are left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from augcli.text.protect import fold


class _Piece(Protocol):
    text: str
    kind: str


class _Readings(Protocol):
    def pos_of(self, word: str) -> list[str]: ...


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


DETERMINERS = _words(
    """
    a an the this that these those my your his her its our their no each every some any another
    either neither such what which whose
    """
)
PREPOSITIONS = _words(
    """
    of in on at with for from by into onto upon over under about above below after before
    between among through during against across along around behind beyond near within without
    toward towards via per
    """
)
COPULAS = _words(
    """
    is are was were be been being am remains remain remained remaining seems seem seemed appears
    appear appeared looks look looked become became becomes stays stay stayed
    """
)
DEGREE = _words(
    """
    very quite rather more most less least too so fairly relatively extremely slightly mildly
    moderately highly somewhat markedly increasingly how
    """
)
VERB_CUES = _words(
    """
    to will would shall should can could may might must cannot i we you they he she who
    does did do don't doesn't didn't won't
    """
)
CONJUNCTIONS = _words("and or but nor than as if because while although when where")
FUNCTION_WORDS = DETERMINERS | PREPOSITIONS | COPULAS | VERB_CUES | CONJUNCTIONS
SOLID = ("word", "number")


def _neighbour(pieces: Sequence[_Piece], i: int, step: int) -> str | None:
    """The folded word next to ``i`` across spaces; None at punctuation or the text's edge."""
    k = i + step
    while 0 <= k < len(pieces) and pieces[k].kind == "space":
        k += step
    if not 0 <= k < len(pieces) or pieces[k].kind not in SOLID:
        return None
    return fold(pieces[k].text)


def reading(pieces: Sequence[_Piece], i: int, lex: _Readings) -> str | None:
    """The part of speech (``n``, ``v``, ``a``, ``r``) of word ``i`` here, among the lexicon's
    readings of it; None when the lexicon does not know it or it is an inflected form."""
    word = pieces[i].text
    readings = [p for p in lex.pos_of(word) if p in "nvar"]
    if not readings:
        return None
    prev, nxt = _neighbour(pieces, i, -1), _neighbour(pieces, i, 1)
    guess = _by_context(prev, nxt, readings)
    if guess is not None:
        return guess if guess in readings else None  # the context wants another reading
    if readings[0] == "v" and len(readings) > 1:
        return readings[1]  # a verb needs a cue (``will lower``), else ``lower lobe``
    return readings[0]


def _by_context(prev: str | None, nxt: str | None, readings: list[str]) -> str | None:
    if prev in DETERMINERS or prev in PREPOSITIONS:
        modifies = nxt is not None and nxt not in FUNCTION_WORDS
        return "a" if readings[0] == "a" and modifies else "n"
    if prev in COPULAS or prev in DEGREE:
        return "a" if "a" in readings else "r"
    if prev in VERB_CUES:
        return "v"
    if nxt in DETERMINERS:
        return "v"
    return None
