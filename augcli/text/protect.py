"""Protected tokens: negations and their scope, numbers with their units, and the recipe's list.

Text ops must never replace, delete or move a protected token. ``protected(tokens, rules)`` says
which tokens are protected (whitespace never is). What is protected:

- **Negations** (``protect_defaults``): a cue (``no``, ``not``, ``without``, ``never``, ``none``,
  ``neither``, ``nor``, ``cannot``, any word ending in ``n't``, ``denies``, ``free of``,
  ``negative``, ``absent``, ``rule out``, ... see ``PRE_CUES`` and ``BOTH_CUES``) and its scope:
  the tokens after it, up to ``SCOPE_WORDS`` = 5 words (NegEx's window; ``and``/``or``/``nor``
  are not counted), ending early at ``.`` ``;`` ``:`` ``!`` ``?``, a line break, a terminator
  (``but``, ``however``, ``although``, ``except``, ``which``, ... see ``TERMINATORS``), or a
  comma, unless the clause after the comma has an ``and``/``or``/``nor`` in it: a negated list
  stays negated ("denies fever, chills or sweats") while "denies pain, reports nausea" ends at
  the comma. Cues often written after what they negate (``absent``, ``negative``, ``none``,
  ``excluded``, ``ruled out``, and ``not``/``n't`` followed by ``seen``, ``identified``,
  ``present``, ...) also protect the same window before them: "pneumothorax is not seen" and
  "cultures negative" keep their subject. Over-protecting costs only variety; a missed scope
  can flip a label, so the rules lean towards protecting.
- **Numbers with their units** (``protect_defaults``): every token with a digit in it (``4``,
  ``3.2``, ``1,000``, ``B12``, ``COVID-19``), written-out numbers (``two``, ``twice``,
  ``third``), a sign glued before a number (``-5``, ``<3``, ``±2``), and what follows it:
  ranges and ratios (``3-4``, ``120/80``, ``3 x 4``, ``2 to 3``), units (``mm``, ``mg``, ``%``,
  ``mmHg``, ``bpm``, ``days``, ... see ``UNITS``), compound units (``mg/kg``, ``mL per min``),
  a word glued to the number (``4mm``, ``2x``, ``10th``) and hyphenated compounds
  (``45-year-old``).
- **The recipe's ``protect:`` list**: a word or phrase matches whole tokens, case-insensitively,
  whatever the whitespace between them (``chest pain`` matches ``Chest  pain``, not
  ``chest-pain``); an entry written ``re:PATTERN`` is a Python regular expression searched in
  the raw text, as written (case-sensitive unless it says ``(?i)``), and every token a match
  overlaps is protected.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from augcli.core.errors import RecipeError
from augcli.text.tokens import Token, tokenize


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


SCOPE_WORDS = 5
REGEX_PREFIX = "re:"

PRE_CUES = (
    "no", "not", "without", "never", "neither", "nor", "cannot", "nothing", "nobody", "nowhere",
    "deny", "denies", "denied", "denying", "free of", "absence of", "lack", "lacks", "lacking",
    "fails to", "failed to", "unable to", "w/o",
)  # fmt: skip
BOTH_CUES = (
    "none", "absent", "negative", "excluded", "rule out", "rules out", "ruled out", "r/o",
)  # fmt: skip
POST_VERBS = _words(
    "seen identified present visualized visualised detected appreciated demonstrated found "
    "noted evident observed"
)
TERMINATORS = (
    "but", "however", "although", "though", "except", "yet", "whereas", "which", "who",
    "apart from", "aside from",
)  # fmt: skip
HARD_STOPS = frozenset(".;:!?")
CONJUNCTIONS = frozenset(("and", "or", "nor"))

UNITS = _words(
    """
    mm cm m km dm µm μm um nm in inch inches ft foot feet
    mg g kg mcg µg μg ug ng pg lb lbs oz gram grams kilogram kilograms milligram milligrams
    microgram micrograms ml l dl cl µl μl ul cc liter liters litre litres milliliter milliliters
    millilitre millilitres mmhg hg mmol mol meq mosm iu u unit units kcal cal
    bpm hz db h hr hrs hour hours min mins minute minutes s sec secs second seconds ms
    d day days wk wks week weeks mo mos month months y yr yrs year years yo
    x times fold percent gy cgy mgy sv msv hu t
    tab tabs tablet tablets cap caps capsule capsules puff puffs drop drops dose doses
    breaths beats pack packs
    """
)
UNIT_SYMBOLS = frozenset("%\u2030\u00b0\u2032\u2033")  # % per-mille degree prime double-prime
DEGREE_SCALES = frozenset("cfk")
SIGNS = frozenset("+-\u2212\u00b1~\u2248<>\u2264\u2265=$\u20ac\u00a3#.")  # minus ± ≈ ≤ ≥ € £
RANGE_SEPARATORS = frozenset(("-", "\u2013", "/", "x", "\u00d7", "to", "by", ":"))  # en dash, times
NUMBER_WORDS = _words(
    """
    zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
    fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty
    ninety hundred thousand million billion once twice thrice half
    first second third fourth fifth sixth seventh eighth ninth tenth
    """
)
_SUPERSCRIPTS = "0123456789²³"


DOMAINS = ("general", "clinical")
CLINICAL_TERMS = "clinical-terms.tsv"  # augcli/text/data, built by scripts/build_clinical_terms.py


@dataclass(frozen=True)
class ProtectRules:
    """What to protect: the built-ins (``defaults``), the recipe's words, phrases and regexes,
    and a domain's vocabulary (``domain``: ``clinical`` protects findings, anatomy, devices,
    drugs, abbreviations and the words of certainty, severity and side)."""

    defaults: bool = True
    phrases: tuple[tuple[str, ...], ...] = ()  # each: folded non-space token texts
    patterns: tuple[re.Pattern[str], ...] = ()
    entries: tuple[str, ...] = ()  # the recipe's list as written
    domain: str = "general"


def fold(text: str) -> str:
    """The form tokens are compared in: case-folded, curly apostrophes made straight."""
    return text.casefold().replace("\u2019", "'")


def phrase_key(text: str) -> tuple[str, ...]:
    """A word or phrase as the folded texts of its non-space tokens."""
    return tuple(fold(t.text) for t in tokenize(text) if t.kind != "space")


def compile_rules(values: Mapping[str, Any], path: str = "text") -> ProtectRules:
    """``protect_defaults`` and ``protect`` from a recipe section; RecipeError on a bad entry."""
    defaults = values.get("protect_defaults", True)
    domain = values.get("domain", "general")
    if domain not in DOMAINS:
        raise RecipeError(
            "is not a known domain",
            path=f"{path}.domain",
            value=domain,
            fix="Write domain: clinical (findings, anatomy, drugs, devices, hedges protected) "
            "or domain: general.",
        )
    if not isinstance(defaults, bool):
        raise RecipeError(
            "must be true or false",
            path=f"{path}.protect_defaults",
            value=defaults,
            fix="Write protect_defaults: true (negations and numbers protected) or false.",
        )
    raw = values.get("protect")
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise RecipeError(
            "must be a list of words, phrases or re:patterns",
            path=f"{path}.protect",
            value=raw,
            fix="Write it as a list, e.g. protect: [tumour, chest pain, 're:T[1-4]N[0-3]'].",
        )
    phrases: list[tuple[str, ...]] = []
    patterns: list[re.Pattern[str]] = []
    for i, entry in enumerate(raw):
        where = f"{path}.protect[{i}]"
        if not isinstance(entry, str):
            raise RecipeError(
                "must be a word, a phrase or re:PATTERN (a string)",
                path=where,
                value=entry,
                fix="Quote it, e.g. '42' or 'yes'.",
            )
        if entry.startswith(REGEX_PREFIX):
            patterns.append(_compile_pattern(entry[len(REGEX_PREFIX) :], where, entry))
            continue
        key = phrase_key(entry)
        if not key:
            raise RecipeError(
                "is empty",
                path=where,
                value=entry,
                fix="Write a word or phrase to protect, or remove the entry.",
            )
        phrases.append(key)
    return ProtectRules(defaults, tuple(phrases), tuple(patterns), tuple(raw), domain)


def _compile_pattern(source: str, where: str, entry: str) -> re.Pattern[str]:
    try:
        pattern = re.compile(source)
    except re.error as exc:
        raise RecipeError(
            f"is not a valid regular expression: {exc.msg} at position {exc.pos}",
            path=where,
            value=entry,
            fix="Fix the pattern (Python re syntax), or drop the 're:' prefix to protect "
            "the text literally.",
        ) from None
    if pattern.fullmatch("") is not None:
        raise RecipeError(
            "is a regular expression that matches empty text",
            path=where,
            value=entry,
            fix="Make it match at least one character, e.g. 're:T[1-4]' rather than 're:T*'.",
        )
    return pattern


# -- matching -----------------------------------------------------------------------------------
def _cue_table() -> dict[str, list[tuple[tuple[str, ...], bool]]]:
    """First token -> (cue, whether it also looks backward)."""
    table: dict[str, list[tuple[tuple[str, ...], bool]]] = {}
    for cue in PRE_CUES + BOTH_CUES:
        key = phrase_key(cue)
        table.setdefault(key[0], []).append((key, cue in BOTH_CUES))
    return table


_CUES = _cue_table()
_TERMINATOR_KEYS = tuple(phrase_key(c) for c in TERMINATORS)
_TERMINATOR_WORDS = frozenset(key[0] for key in _TERMINATOR_KEYS) | frozenset(
    key[-1] for key in _TERMINATOR_KEYS
)


class _View:
    """The non-space tokens of a text, folded, with where line breaks and spaces fall."""

    def __init__(self, tokens: Sequence[Token]) -> None:
        self.index: list[int] = []  # position in tokens of each content token
        self.folded: list[str] = []
        self.kinds: list[str] = []
        self.spaced: list[bool] = []  # whitespace before this content token
        self.broken: list[bool] = []  # a line break before this content token
        space = ""
        for i, tok in enumerate(tokens):
            if tok.kind == "space":
                space += tok.text
                continue
            self.index.append(i)
            self.folded.append(fold(tok.text))
            self.kinds.append(tok.kind)
            self.spaced.append(bool(space))
            self.broken.append("\n" in space or "\r" in space or "\u2028" in space)
            space = ""

    def __len__(self) -> int:
        return len(self.folded)

    def matches(self, k: int, key: tuple[str, ...]) -> bool:
        return tuple(self.folded[k : k + len(key)]) == key

    def ends_with(self, k: int, key: tuple[str, ...]) -> bool:
        start = k - len(key) + 1
        return start >= 0 and tuple(self.folded[start : k + 1]) == key


def protected(tokens: Sequence[Token], rules: ProtectRules) -> list[bool]:
    """One flag per token: True where an op must not replace, delete or move the token."""
    view = _View(tokens)
    hit = [False] * len(view)
    if rules.defaults:
        _negations(view, hit)
        _quantities(view, hit)
    if rules.phrases:
        _mark(view, _by_first(rules.phrases), hit)
    if rules.domain != "general":
        _mark(view, domain_table(rules.domain), hit)
    out = [False] * len(tokens)
    for k, flag in enumerate(hit):
        if flag:
            out[view.index[k]] = True
    if rules.patterns:
        _regexes(tokens, rules.patterns, out)
    return out


def _mark(view: _View, by_first: Mapping[str, Sequence[tuple[str, ...]]], hit: list[bool]) -> None:
    """Protect every place a phrase of ``by_first`` (first word -> phrases) matches."""
    for k, word in enumerate(view.folded):
        for key in by_first.get(word, ()):
            if view.matches(k, key):
                hit[k : k + len(key)] = [True] * len(key)


@functools.cache
def domain_terms(domain: str) -> dict[str, str]:
    """A domain's vocabulary, term -> category, as shipped (``clinical``: 7,700 terms)."""
    from importlib.resources import files

    text = (files("augcli.text") / "data" / CLINICAL_TERMS).read_text(encoding="utf-8")
    rows = (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    return {term: category for term, category in rows} if domain == "clinical" else {}


@functools.cache
def domain_table(domain: str) -> dict[str, list[tuple[str, ...]]]:
    """First word -> the domain's phrases as folded words, with their plural, and hyphen and
    space spellings (``ground-glass``, ``ground glass``; ``effusions``), loaded once."""
    table: dict[str, list[tuple[str, ...]]] = {}
    seen: set[tuple[str, ...]] = set()
    for term in domain_terms(domain):
        for variant in _spellings(term):
            key = tuple(variant.split())
            if key not in seen:
                seen.add(key)
                table.setdefault(key[0], []).append(key)
    return table


def _spellings(term: str) -> list[str]:
    """A term, its plural (last word), and its hyphens as spaces and spaces as hyphens."""
    forms = {term, term.replace("-", " ")}
    if " " in term and len(term.split()) == 2:
        forms.add(term.replace(" ", "-"))
    for form in list(forms):
        head, _, last = form.rpartition(" ")
        for plural in _plurals(last):
            forms.add(f"{head} {plural}".strip())
    return sorted(forms)


def _plurals(word: str) -> list[str]:
    if len(word) < 3 or not word.isalpha():
        return []
    if word.endswith("is"):
        return [word[:-2] + "es"]  # metastasis, metastases
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return [word + "es"]
    if word.endswith("y") and word[-2] not in "aeiou":
        return [word[:-1] + "ies"]
    return [word + "s"]


@functools.lru_cache(maxsize=64)
def _by_first(phrases: tuple[tuple[str, ...], ...]) -> dict[str, list[tuple[str, ...]]]:
    table: dict[str, list[tuple[str, ...]]] = {}
    for key in phrases:
        table.setdefault(key[0], []).append(key)
    return table


def _regexes(tokens: Sequence[Token], patterns: Sequence[re.Pattern[str]], out: list[bool]) -> None:
    """Protect every non-space token that a match of a pattern overlaps."""
    text = "".join(t.text for t in tokens)
    ends = list(itertools.accumulate(len(t.text) for t in tokens))
    for pattern in patterns:
        for m in pattern.finditer(text):
            lo, hi = m.span()
            i = bisect.bisect_right(ends, lo)  # the first token ending after lo
            while lo < hi and i < len(tokens) and ends[i] - len(tokens[i].text) < hi:
                if tokens[i].kind != "space":
                    out[i] = True
                i += 1


def _negations(view: _View, hit: list[bool]) -> None:
    for k in range(len(view)):
        word = view.folded[k]
        for key, backward in _CUES.get(word, ()):
            if view.matches(k, key):
                end = k + len(key)
                hit[k:end] = [True] * len(key)
                _scope_forward(view, end, hit)
                if backward:
                    _scope_backward(view, k - 1, hit)
        if view.kinds[k] == "word" and word.endswith("n't"):
            hit[k] = True
            _scope_forward(view, k + 1, hit)
        if (
            (word == "not" or word.endswith("n't"))
            and k + 1 < len(view)
            and view.folded[k + 1] in POST_VERBS
        ):
            _scope_backward(view, k - 1, hit)


def _hard_stop(view: _View, k: int, forward: bool) -> bool:
    """A scope never crosses a line break, ``.`` ``;`` ``:`` ``!`` ``?`` or a terminator word."""
    if view.broken[k if forward else k + 1]:
        return True
    if view.kinds[k] == "punct" and view.folded[k] in HARD_STOPS:
        return True
    if view.folded[k] not in _TERMINATOR_WORDS:
        return False
    if forward:
        return any(view.matches(k, key) for key in _TERMINATOR_KEYS)
    return any(view.ends_with(k, key) for key in _TERMINATOR_KEYS)


def _is_comma(view: _View, k: int) -> bool:
    return view.kinds[k] == "punct" and view.folded[k] == ","


def _list_follows(view: _View, k: int) -> bool:
    """True when the clause after the comma at ``k`` has an ``and``/``or``/``nor`` in it."""
    for j in range(k + 1, len(view)):
        if _hard_stop(view, j, forward=True):
            return False
        if view.folded[j] in CONJUNCTIONS:
            return True
    return False


def _scope_forward(view: _View, k: int, hit: list[bool]) -> None:
    count = 0
    while k < len(view) and count < SCOPE_WORDS:
        if _hard_stop(view, k, forward=True):
            return
        if _is_comma(view, k) and not _list_follows(view, k):
            return
        hit[k] = True
        count += view.kinds[k] in ("word", "number") and view.folded[k] not in CONJUNCTIONS
        k += 1


def _scope_backward(view: _View, k: int, hit: list[bool]) -> None:
    count = 0
    conjunction = False  # between the cue and here: "fever, chills or sweats absent"
    while k >= 0 and count < SCOPE_WORDS:
        if _hard_stop(view, k, forward=False):
            return
        if _is_comma(view, k) and not conjunction:
            return
        hit[k] = True
        conjunction = conjunction or view.folded[k] in CONJUNCTIONS
        count += view.kinds[k] in ("word", "number") and view.folded[k] not in CONJUNCTIONS
        k -= 1


def _is_number(view: _View, k: int) -> bool:
    return view.kinds[k] == "number" or view.folded[k] in NUMBER_WORDS


def _is_unit(view: _View, k: int) -> bool:
    text = view.folded[k]
    if view.kinds[k] == "word":
        return text.rstrip(_SUPERSCRIPTS) in UNITS
    return text in UNIT_SYMBOLS


def _quantities(view: _View, hit: list[bool]) -> None:
    n = len(view)
    for k in range(n):
        if any(ch.isdigit() for ch in view.folded[k]):
            hit[k] = True
        if not _is_number(view, k):
            continue
        hit[k] = True
        if k > 0 and not view.spaced[k] and view.folded[k - 1] in SIGNS:
            hit[k - 1] = True
        end = _quantity_end(view, k + 1)
        hit[k:end] = [True] * (end - k)


def _quantity_end(view: _View, k: int) -> int:
    """Past the ranges, units and glued words that follow a number ending before ``k``."""
    n = len(view)
    while k < n and not view.broken[k]:
        text = view.folded[k]
        glued = not view.spaced[k]
        if glued and view.kinds[k] == "word":  # 4mm, 2x, 10th
            k += 1
        elif glued and text == "-" and k + 1 < n and not view.spaced[k + 1]:
            k += 2  # 45-year-old, 3-4
        elif text in RANGE_SEPARATORS and k + 1 < n and _is_number(view, k + 1):
            k += 2  # 120/80, 3 x 4, 2 to 3
        elif _is_unit(view, k):
            k += 1
            if (
                text == "\u00b0"
                and k < n
                and not view.spaced[k]
                and view.folded[k] in DEGREE_SCALES
            ):
                k += 1
        elif text in ("/", "per") and k + 1 < n and _is_unit(view, k + 1):
            k += 2  # mg/kg, per day
        else:
            break
    return k
