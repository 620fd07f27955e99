"""How much of a text an output changed (``max_change``): the share of words that differ,
by difflib on normal texts and by a linear longest-common-subsequence on long or repetitive
ones, where difflib is quadratic."""

from __future__ import annotations

import difflib
from collections import Counter

MAX_PAIRS = 2_000_000  # word comparisons difflib may make for one output (about half a second)
CHUNK_WORDS = 4096  # words per chunk when a text is too long or repetitive for difflib
ANCHOR, REACH, TRIES = 4, 512, 64  # words that agree at a cut; how far off in the output; tries


def changed_share(source: list[str], output: list[str]) -> float:
    """The share of words that differ: 1 - matched words / the longer list. Matched are the
    words of difflib's matching blocks; when difflib would compare more than ``MAX_PAIRS``
    pairs of equal words (it is quadratic on long or repetitive text), the exact longest
    common subsequence of each pair of aligned ``CHUNK_WORDS``-word chunks instead (linear in
    the text's length)."""
    if not source and not output:
        return 0.0
    if _equal_pairs(source, output) <= MAX_PAIRS:
        matcher = difflib.SequenceMatcher(a=source, b=output, autojunk=False)
        same = sum(block.size for block in matcher.get_matching_blocks())
    else:
        same = _chunked_lcs(source, output)
    return 1.0 - same / max(len(source), len(output))


def _chunked_lcs(a: list[str], b: list[str]) -> int:
    """The sum of ``_lcs`` over aligned chunks of about ``CHUNK_WORDS`` words: each cut is
    placed where ``ANCHOR`` words agree in both lists (near the cut's share of the rest),
    else at that share."""
    if not a or not b:
        return 0
    k = -(-max(len(a), len(b)) // CHUNK_WORDS)
    same = start_a = start_b = 0
    for c in range(1, k):
        cut = max(start_a, c * len(a) // k)
        guess = start_b + (cut - start_a) * len(b) // len(a)
        cut_a, cut_b = _align(a, b, cut, min(guess, len(b)), start_b)
        same += _lcs(a[start_a:cut_a], b[start_b:cut_b])
        start_a, start_b = cut_a, cut_b
    return same + _lcs(a[start_a:], b[start_b:])


def _align(a: list[str], b: list[str], cut: int, guess: int, low: int) -> tuple[int, int]:
    """A cut in ``a`` at or just after ``cut`` and one in ``b`` near ``guess`` (not before
    ``low``) where the next ``ANCHOR`` words are the same; ``(cut, guess)`` if there is none."""
    grams: dict[tuple[str, ...], int] = {}
    for j in range(max(low, guess - REACH), min(len(b) - ANCHOR, guess + REACH) + 1):
        key = tuple(b[j : j + ANCHOR])
        if key not in grams or abs(j - guess) < abs(grams[key] - guess):
            grams[key] = j
    for off in range(min(TRIES, len(a) - cut - ANCHOR + 1)):
        j = grams.get(tuple(a[cut + off : cut + off + ANCHOR]))
        if j is not None:
            return cut + off, j
    return cut, guess


def _equal_pairs(a: list[str], b: list[str]) -> int:
    """How many (i, j) have a[i] == b[j]: what difflib's longest-match search walks."""
    counts = Counter(b)
    return sum(n * counts[w] for w, n in Counter(a).items())


def _lcs(a: list[str], b: list[str]) -> int:
    """The length of the longest common subsequence, bit-parallel (Hyyrö 2004): one pass over
    ``a`` with ``len(b)``-bit integers."""
    masks: dict[str, int] = {}
    for j, w in enumerate(b):
        masks[w] = masks.get(w, 0) | (1 << j)
    full = (1 << len(b)) - 1
    v = full
    for w in a:
        m = masks.get(w)
        if m:
            u = v & m
            v = ((v + u) | (v - u)) & full
    return len(b) - v.bit_count()
