"""Synonym lexicons: the shipped WordNet-derived one, users' CSV/YAML files, and their merge.

- ``Lexicon.default()``: English synonyms derived from WordNet 3.0 (``data/wordnet-synonyms.tsv.gz``,
  licence in ``data/WORDNET-LICENSE``, rebuilt by ``scripts/build_lexicon.py``), loaded on first
  use and cached per process. Entries are lemmas (``car``, not ``cars``), lower case, by part of
  speech: ``n`` noun, ``v`` verb, ``a`` adjective, ``r`` adverb; only a word's dominant sense,
  and only common synonyms whose own everyday sense it is (see the script). Every part of
  speech of a listed word is there, with or without synonyms, for ``augcli.text.senses``.
- ``Lexicon.from_file(path)``: a user lexicon, any part of speech.

  - ``.csv`` (``.tsv``): one row per word, ``word,synonym1,synonym2,...``; no header; blank rows
    and rows whose first cell starts with ``#`` are skipped; empty cells are ignored.
  - ``.yaml`` / ``.yml``: a mapping ``word: [synonym, ...]`` (or ``word: synonym``).

  Keys and synonyms may be phrases. A word defined twice (in any case), a word with no synonyms,
  bad YAML or undecodable UTF-8 is a ``RecipeError`` naming the file and line.
- ``merged(user, default)``: the user's entries replace the default's for the words they define.

Lookups are case-insensitive (``synonyms("Big")``) and return candidates in the file's order
(WordNet's sense order, most frequent sense first), without repeats. With no part of speech given,
only the word's most frequent one is used (SemCor counts), so a noun-only sense does not replace
an adjective. ``match_case`` puts a synonym into its source word's case.
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import io
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from augcli.core.errors import RecipeError

DEFAULT_FILE = "wordnet-synonyms.tsv.gz"
ANY_POS = "*"
_POS_ALIASES = {
    "n": "n",
    "noun": "n",
    "v": "v",
    "verb": "v",
    "a": "a",
    "s": "a",
    "adj": "a",
    "adjective": "a",
    "r": "r",
    "adv": "r",
    "adverb": "r",
}
_EXTENSIONS = {".csv": ",", ".tsv": "\t", ".yaml": None, ".yml": None}

# A layer maps a key to its senses: the shipped file keeps each key's raw "pos\tsyn|syn" lines
# (split on lookup, so loading is one pass over the file); user layers hold parsed tuples.
Senses = tuple[tuple[str, tuple[str, ...]], ...]
Layer = Mapping[str, "str | Senses"]


def key_of(word: str) -> str:
    """The lookup form of a word or phrase: case-folded, curly apostrophes straight, one space."""
    return " ".join(word.casefold().replace("\u2019", "'").split())


def _senses(raw: str | Senses) -> Senses:
    if not isinstance(raw, str):
        return raw
    out = []
    for line in raw.split("\n"):
        pos, syns = line.split("\t")
        out.append((pos, tuple(syns.split("|")) if syns else ()))
    return tuple(out)


class Lexicon:
    """Synonyms by word, case-insensitive, optionally restricted to a part of speech."""

    def __init__(self, layers: tuple[Layer, ...], source: str, fingerprint: str) -> None:
        self._layers = layers
        self.source = source  # what it was loaded from, for messages
        self.fingerprint = fingerprint  # sha256 of the bytes it was built from
        self.memo: dict[Any, list[str]] = {}  # for callers: results per word, made once

    def __repr__(self) -> str:
        return f"Lexicon({self.source!r})"

    @classmethod
    def default(cls) -> Lexicon:
        """The shipped WordNet-derived lexicon (loaded once per process)."""
        return _default()

    @classmethod
    def from_file(cls, path: str | Path, where: str = "") -> Lexicon:
        """A user lexicon from a CSV, TSV or YAML file; ``where`` is the recipe's YAML path."""
        file = Path(path)
        suffix = file.suffix.lower()
        if suffix not in _EXTENSIONS:
            raise RecipeError(
                "lexicon must be a .csv, .tsv, .yaml or .yml file",
                path=where,
                value=str(file),
                fix="Write it as CSV rows 'word,synonym1,synonym2' or a YAML mapping "
                "'word: [synonym, ...]'.",
            )
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise RecipeError(
                f"cannot read the lexicon file ({exc.strerror or exc})",
                path=where,
                value=str(file),
                fix="Check the path; relative paths resolve against the recipe's folder.",
            ) from None
        text = _decode(data, str(file))
        delimiter = _EXTENSIONS[suffix]
        if delimiter is None:
            rows = _yaml_rows(text, str(file))
        else:
            rows = _csv_rows(text, str(file), delimiter)
        layer = _layer(rows, str(file))
        return cls((layer,), str(file), hashlib.sha256(data).hexdigest())

    def synonyms(self, word: str, pos: str | None = None) -> list[str]:
        """Synonyms of ``word``, in a stable order; [] if unknown.

        ``pos=None``: the word's most frequent part of speech only (``stable`` is mostly an
        adjective, which has no synonyms, so not ``horse barn``); ``pos="n"`` (``v``, ``a``,
        ``r``, or ``noun``, ``verb``, ``adj``, ``adv``): that one; ``pos="any"``: all of them,
        most frequent first. A user entry applies to every part of speech.
        """
        want = None if pos is None or pos == "any" else _pos(pos)
        key = key_of(word)
        for layer in self._layers:
            raw = layer.get(key)
            if raw is None:
                continue
            senses = _senses(raw)
            if pos is None:
                senses = senses[:1]
            out: list[str] = []
            for sense_pos, syns in senses:
                if want is None or sense_pos in (want, ANY_POS):
                    out.extend(s for s in syns if s not in out)
            return out
        return []

    def pos_of(self, word: str) -> list[str]:
        """``word``'s parts of speech, most frequent first (``*`` for a user entry)."""
        key = key_of(word)
        for layer in self._layers:
            raw = layer.get(key)
            if raw is not None:
                return [p for p, _ in _senses(raw)]
        return []

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str):
            return False
        key = key_of(word)
        return any(key in layer for layer in self._layers)

    def words(self) -> Iterator[str]:
        """Every key, each once, in no particular order."""
        seen: set[str] = set()
        for layer in self._layers:
            for key in layer:
                if key not in seen:
                    seen.add(key)
                    yield key


def merged(user: Lexicon, default: Lexicon) -> Lexicon:
    """``user``'s entries, then ``default``'s for the words ``user`` does not define."""
    fingerprint = hashlib.sha256(f"{user.fingerprint}+{default.fingerprint}".encode()).hexdigest()
    return Lexicon(user._layers + default._layers, f"{user.source} + {default.source}", fingerprint)


def match_case(template: str, word: str) -> str:
    """``word`` in ``template``'s case: Big→Large, BIG→LARGE; otherwise ``word`` as it is.

    A lower-case or mixed-case template (``big``, ``iPhone``) leaves ``word`` alone, so a
    synonym's own capitals (``CT scan``) survive. A single capital letter counts as capitalised.
    """
    letters = [c for c in template if c.isalpha()]
    if not letters or not letters[0].isupper():
        return word
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return word.upper()
    if all(not c.isupper() for c in letters[1:]):
        return word[:1].upper() + word[1:]
    return word


# -- loading --------------------------------------------------------------------------------------
@functools.cache
def _default() -> Lexicon:
    data = (resources.files("augcli.text") / "data" / DEFAULT_FILE).read_bytes()
    text = gzip.decompress(data).decode("utf-8")
    layer: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        word, rest = line.split("\t", 1)
        prev = layer.get(word)
        layer[word] = rest if prev is None else f"{prev}\n{rest}"
    return Lexicon((layer,), "WordNet 3.0 (shipped)", hashlib.sha256(data).hexdigest())


def _pos(pos: str) -> str:
    try:
        return _POS_ALIASES[pos.lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"unknown part of speech {pos!r}; use n, v, a, r or any") from None


def _decode(data: bytes, file: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RecipeError(
            f"is not UTF-8 text (byte {data[exc.start]:#04x})",
            file=file,
            line=line,
            fix="Save the lexicon as UTF-8.",
        ) from None


# A row: (line, word, synonyms, YAML path for messages).
Row = tuple[int, Any, list[Any], str]


def _csv_rows(text: str, file: str, delimiter: str) -> list[Row]:
    rows: list[Row] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    end = 0  # the line the previous row ended on
    try:
        for cells in reader:
            start, end = end + 1, reader.line_num
            cells = [c.strip() for c in cells]
            if not any(cells) or cells[0].startswith("#"):
                continue
            rows.append((start, cells[0], [c for c in cells[1:] if c], ""))
    except csv.Error as exc:
        raise RecipeError(
            f"is not valid CSV: {exc}",
            file=file,
            line=reader.line_num or end + 1,
            fix="Check the quoting on this line.",
        ) from None
    return rows


def _yaml_rows(text: str, file: str) -> list[Row]:
    import yaml

    from augcli.core.yamlfile import load_yaml  # located syntax and duplicate-key errors

    data, _ = load_yaml(text, file)
    if not isinstance(data, dict):
        raise RecipeError(
            "must be a mapping of word: [synonyms]",
            file=file,
            line=1,
            value=data,
            fix="Write one line per word, e.g. 'tumour: [tumor, neoplasm]'.",
        )
    node = yaml.compose(text, Loader=yaml.SafeLoader)  # for the line of every key and item
    if len(node.value) != len(data):
        raise RecipeError(
            "has keys that YAML merges (<<: or equal numbers)",
            file=file,
            line=1,
            fix="Write each word once, as plain text.",
        )
    rows: list[Row] = []
    for (key_node, value_node), (word, value) in zip(node.value, data.items(), strict=True):
        path = str(key_node.value)
        line = key_node.start_mark.line + 1
        if isinstance(value, list):
            for i, syn in enumerate(value):
                if not isinstance(syn, str):
                    raise RecipeError(
                        "a synonym must be text",
                        file=file,
                        line=value_node.value[i].start_mark.line + 1,
                        path=f"{path}[{i}]",
                        value=syn,
                        fix="Quote it (YAML reads yes/no/on/off as booleans, 1.5 as a number).",
                    )
            syns = value
        elif isinstance(value, str):
            syns = [value]
        else:
            syns = []  # reported as having no synonyms below
        rows.append((line, word, [s.strip() for s in syns if s.strip()], path))
    return rows


def _layer(rows: list[Row], file: str) -> dict[str, Senses]:
    layer: dict[str, Senses] = {}
    first_line: dict[str, int] = {}
    for line, word, syns, path in rows:
        if not isinstance(word, str) or not word.strip():
            raise RecipeError(
                "a lexicon entry needs a word",
                file=file,
                line=line,
                path=path,
                value=word,
                fix="Put the word first (quote it in YAML if it reads as a number or boolean).",
            )
        key = key_of(word)
        if key in first_line:
            raise RecipeError(
                f"word {word!r} is defined twice (first on line {first_line[key]})",
                file=file,
                line=line,
                path=path,
                fix="Keep one entry per word; lookups ignore case.",
            )
        for syn in syns:
            if any(ch in syn for ch in "\n\r\t"):
                raise RecipeError(
                    "a synonym contains a line break or tab",
                    file=file,
                    line=line,
                    path=path,
                    value=syn,
                    fix="Write each synonym on one line.",
                )
        kept: dict[str, str] = {}  # key -> synonym as first written
        for syn in syns:
            if key_of(syn) != key:
                kept.setdefault(key_of(syn), syn)
        if not kept:
            raise RecipeError(
                f"word {word!r} has no synonyms",
                file=file,
                line=line,
                path=path,
                value=syns,
                fix="Write it as 'word,synonym1,synonym2' (YAML: 'word: [synonym1, synonym2]').",
            )
        first_line[key] = line
        layer[key] = ((ANY_POS, tuple(kept.values())),)
    if not layer:
        raise RecipeError(
            "the lexicon has no entries",
            file=file,
            fix="Add rows 'word,synonym1,synonym2' (YAML: 'word: [synonym1, synonym2]').",
        )
    return layer
