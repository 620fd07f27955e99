"""Quality filters for generated text (back-translation, paraphrase), on by default: an output
must keep the source's protected words (but stop words), stay within length bounds, differ from the source by
more than case, spacing or punctuation, and stay on topic (a similarity floor)."""

from __future__ import annotations

import re
from collections import Counter

from augcli.text.doc import TextDoc
from augcli.text.edits import STOP_WORDS
from augcli.text.protect import BOTH_CUES, PRE_CUES, fold
from augcli.text.tokens import tokenize

_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019", "`": "`"}


class Rejected(Exception):
    """A generated text failed a quality filter; the record is retried, then left unchanged."""


def clean_output(text: str, source: str) -> str:
    """Strip what models wrap around an answer: surrounding space and quotes and, for a
    one-line source, any lead-in line ending in ':' ("Here is a paraphrase:") and lines after
    the first."""
    text = text.strip()
    if "\n" not in source.strip():
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        while len(lines) > 1 and lines[0].endswith(":"):
            lines.pop(0)
        text = lines[0] if lines else ""
    if len(text) >= 2 and _QUOTES.get(text[0]) == text[-1] and text[0] not in text[1:-1]:
        text = text[1:-1].strip()
    return text


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", fold(text)))


def similarity(a: str, b: str) -> float:
    """Dice coefficient of the character-trigram multisets of the two texts (case-folded,
    words only): 1 for the same words, near 0 for unrelated text."""

    def grams(text: str) -> Counter[str]:
        t = f" {_norm(text)} "
        return Counter(t[i : i + 3] for i in range(len(t) - 2))

    ga, gb = grams(a), grams(b)
    total = sum(ga.values()) + sum(gb.values())
    return 2 * sum((ga & gb).values()) / total if total else 1.0


def _cue_words() -> frozenset[str]:
    return frozenset(c for c in (*PRE_CUES, *BOTH_CUES) if " " not in c)


NEGATION_WORDS = _cue_words()


def protected_words(doc: TextDoc) -> list[str]:
    """The source's protected words that a rewrite must keep, folded, in order, without
    repeats: numbers, negation cues, and the other protected words except stop words (a
    paraphrase may say "There is no pneumonia" for "No evidence of pneumonia"; "of" and "is"
    carry nothing a label depends on, "no" and "pneumonia" do)."""
    seen: dict[str, None] = {}
    for p in doc.pieces:
        if not p.protected or p.kind not in ("word", "number"):
            continue
        word = fold(p.text)
        if p.kind == "word" and word in STOP_WORDS and word not in NEGATION_WORDS:
            continue
        seen.setdefault(word)
    return list(seen)


def check(
    source: TextDoc,
    output: str,
    *,
    min_length_ratio: float,
    max_length_ratio: float,
    min_similarity: float,
    keep_protected: bool,
) -> None:
    """Raise ``Rejected`` with the reason when ``output`` fails a filter."""
    if not output.strip():
        raise Rejected("the model returned no text")
    src = source.text
    if _norm(output) == _norm(src):
        raise Rejected("same as the source apart from case, spacing or punctuation")
    ratio = len(output.strip()) / max(1, len(src.strip()))
    if not min_length_ratio <= ratio <= max_length_ratio:
        raise Rejected(
            f"length {ratio:.2f}x the source's, outside "
            f"[min_length_ratio {min_length_ratio}, max_length_ratio {max_length_ratio}]"
        )
    if keep_protected:
        have = {fold(t.text) for t in tokenize(output)}
        lost = [w for w in protected_words(source) if w not in have]
        if lost:
            shown = ", ".join(repr(w) for w in lost[:5])
            raise Rejected(f"lost protected words {shown} (keep_protected)")
    sim = similarity(src, output)
    if sim < min_similarity:
        raise Rejected(
            f"similarity {sim:.2f} to the source is under min_similarity {min_similarity}"
        )
