"""Rebuild augcli's shipped synonym lexicon (and its licence notice) from the WordNet 3.0 database.

Usage: ``python scripts/build_lexicon.py [--wordnet /usr/share/wordnet] [--out augcli/text/data]``
(Debian/Ubuntu: ``apt-get install wordnet-base``). The output is byte-identical on every run:
sorted lines, gzip with no file name and mtime 0.

The database files are parsed here directly (format: wndb(5)); nothing else is needed.

- ``index.<pos>``: ``lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt
  synset_offset...``; the offsets are in WordNet's sense order, most frequent first, and the first
  ``tagsense_cnt`` of them are the senses seen in the SemCor sense-tagged corpus.
- ``data.<pos>``: ``synset_offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] ...``
  with ``w_cnt`` in hexadecimal; adjectives may carry a syntactic marker (``(a)``, ``(p)``,
  ``(ip)``); ``_`` stands for a space.
- ``cntlist.rev``: ``sense_key sense_number tag_cnt``, where ``sense_key`` is
  ``lemma%ss_type:...`` (``ss_type`` 1 noun, 2 verb, 3 adjective, 4 adverb, 5 satellite): how often
  each sense was tagged in SemCor, summed here per lemma and part of speech.

What is kept, for each lemma and part of speech (``n`` noun, ``v`` verb, ``a`` adjective,
including satellites, ``r`` adverb), so that a synonym keeps the word's everyday meaning:

- one sense only, the most frequent (WordNet's first), and only when SemCor shows it dominant:
  tagged at least ``MIN_TAGS`` times and at least ``DOMINANCE`` of the lemma's tags in that part
  of speech (``mass``: 35 of 84 tags, no synonyms; ``chest``, 34 of 35: the thorax sense). A
  lemma never tagged (rare and technical words: ``effusion``) gets none: nothing says which
  sense is the everyday one;
- of that synset's other lemmas, in synset order: lower-case ones (capitalised lemmas are proper
  nouns and acronyms, and a synset where the lemma itself is capitalised is a proper-noun
  sense), of at most ``MAX_WORDS`` words, each a word token of augcli's tokenizer (no digits,
  dots or slashes), without the lemma itself, repeats or function words;
- for which this synset is one of their own first ``OWN_SENSES`` senses, their first and
  dominant one when SemCor tagged them, in their own main part of speech (``bosom`` is no
  synonym of ``heart``, the inner self; ``wicked`` means evil first; ``minor`` is mostly an
  adjective, so no noun for ``child``);
- that are common: a Zipf frequency of at least ``MIN_ZIPF`` in ``wordfreq`` 3.1.1 (English;
  3 is once per million words) and at most ``MAX_ZIPF_DROP`` below the word's own, so rare and
  archaic words drop (``pectus``, ``ebullition``, ``knifelike``); at most
  ``MAX_SYNONYMS``.
- a lemma that is also an inflected form of another (``arms``: weapons, or two arms;
  ``noted``, ``lower``, ``wound``; regular endings, and the irregular forms of WordNet's
  ``*.exc`` lists) gets none: the text most likely means the inflection. Such forms are no
  synonyms either (``stalls`` for ``stable``), nor are clippings and abbreviations (``doc`` for ``doctor``, ``hr``),
  nor phrases for a single word (``small fry`` for ``child``).
- Function words (``FUNCTION_WORDS``: pronouns, determiners, prepositions, conjunctions,
  auxiliaries, modals, negations and a few particles) get no entry: their WordNet entries are
  other words' senses (``I`` is iodine, ``in`` an inch, ``can`` a tin, ``will`` a testament).

The file is ``word<TAB>pos<TAB>syn1|syn2|...`` lines after one ``#`` comment line, sorted by word;
a word's parts of speech come most frequent first (SemCor tag counts, then attested senses, then
n, v, a, r). Every part of speech of a word that has synonyms in one of them is listed, with no
synonyms where it has none (``stable<TAB>a<TAB>`` and ``stable<TAB>n<TAB>``): the tagger in
``augcli.text.senses`` reads them to tell the readings apart in context. A word with no synonyms
in any part of speech has no line.

Needs ``wordfreq`` 3.1.1 (``pip install 'augcli[lexicon]'``) besides Debian's ``wordnet-base``;
augcli itself never imports it: the frequencies are applied here, once.
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from augcli.text.tokens import tokenize  # noqa: E402

WORDNET = Path("/usr/share/wordnet")
COPYRIGHT = Path("/usr/share/doc/wordnet-base/copyright")
OUT = ROOT / "augcli" / "text" / "data"
LEXICON_NAME = "wordnet-synonyms.tsv.gz"
LICENSE_NAME = "WORDNET-LICENSE"
POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
SS_TYPES = {"1": "n", "2": "v", "3": "a", "4": "r", "5": "a"}
MAX_SYNONYMS = 8
MAX_WORDS = 3
MIN_TAGS = 3  # SemCor tags the first sense needs
DOMINANCE = 0.5  # its share of the lemma's tags in that part of speech
OWN_SENSES = 2  # the synset is among a synonym's own first senses
MIN_ZIPF = 3.0  # wordfreq Zipf frequency of a synonym (3: once per million words)
MAX_ZIPF_DROP = 2.5  # and at most this much below the word's own (year 5.96, twelvemonth)
EXCEPTIONS = ("noun.exc", "verb.exc", "adj.exc", "adv.exc")
FUNCTION_WORDS = frozenset(
    str.split(
        """
    a an the this that these those some any each every either neither both all no none not nor
    never i me my mine myself we us our ours ourselves you your yours yourself yourselves he him
    his himself she her hers herself it its itself they them their theirs themselves one ones
    what which who whom whose when where why how whatever whichever whoever there here
    and or but if then than so as because while although though whereas unless until since yet
    in on at by for from to of with without into onto upon over under up down out off about above
    below after before between among through during against across along around behind beyond
    near inside outside within toward towards via per
    be is am are was were been being have has had having do does did done doing
    can could will would shall should may might must ought
    also too very just only even still well much more most less least few many such same own
    other else again ever like
    """
    )
)
HEADER = (
    f"# augcli synonym lexicon, derived from WordNet 3.0 (see {LICENSE_NAME}) by "
    f"scripts/build_lexicon.py: word<TAB>pos<TAB>synonyms; the first sense when SemCor "
    f"shows it dominant (>= {MIN_TAGS} tags, >= {DOMINANCE:.0%}), synonyms for which it is "
    f"one of their first {OWN_SENSES} senses, wordfreq 3.1.1 Zipf >= {MIN_ZIPF} and within "
    f"{MAX_ZIPF_DROP} of the word's, "
    f"at most {MAX_SYNONYMS} synonyms of at most {MAX_WORDS} words"
)


def _lemma(raw: str) -> str:
    """A data-file lemma as text: adjective marker dropped, underscores to spaces."""
    if raw.endswith(")") and "(" in raw:
        raw = raw[: raw.index("(")]
    return raw.replace("_", " ")


def read_synsets(path: Path) -> dict[int, list[str]]:
    """synset offset -> its lemmas, in file order, from one ``data.<pos>`` file."""
    synsets: dict[int, list[str]] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("  "):  # the licence header
                continue
            fields = line.split(" ")
            count = int(fields[3], 16)
            synsets[int(fields[0])] = [_lemma(fields[4 + 2 * k]) for k in range(count)]
    return synsets


def read_index(path: Path) -> dict[str, list[int]]:
    """lemma -> the offsets of its senses in WordNet's sense order, from an ``index.<pos>``."""
    entries: dict[str, list[int]] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("  "):
                continue
            fields = line.split()
            synset_cnt = int(fields[2])
            p_cnt = int(fields[3])
            offsets = [int(f) for f in fields[6 + p_cnt : 6 + p_cnt + synset_cnt]]
            entries[fields[0].replace("_", " ")] = offsets
    return entries


def read_counts(path: Path) -> dict[tuple[str, str], dict[int, int]]:
    """(lemma, pos) -> {sense number: SemCor tag count}, from ``cntlist.rev``."""
    counts: dict[tuple[str, str], dict[int, int]] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            sense_key, number, tag_cnt = line.split()
            lemma, rest = sense_key.split("%", 1)
            key = (lemma.replace("_", " ").casefold(), SS_TYPES[rest[0]])
            senses = counts.setdefault(key, {})
            senses[int(number)] = senses.get(int(number), 0) + int(tag_cnt)
    return counts


def is_words(text: str) -> bool:
    """True for one to MAX_WORDS word tokens separated by single spaces."""
    tokens = tokenize(text)
    if not tokens or len(tokens) > 2 * MAX_WORDS - 1:
        return False
    return all(t.kind == "word" if k % 2 == 0 else t.text == " " for k, t in enumerate(tokens))


def dominant(tags: dict[int, int]) -> bool:
    """The first sense is the everyday one: tagged often enough, and most of the tags."""
    first, total = tags.get(1, 0), sum(tags.values())
    return first >= MIN_TAGS and first >= DOMINANCE * total


def zipf(word: str) -> float:
    """How common ``word`` is in English today (wordfreq's Zipf scale)."""
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


def read_inflections(wordnet: Path) -> set[str]:
    """The irregular inflected forms WordNet's exception lists name (``wound``, ``given``)."""
    forms: set[str] = set()
    for name in EXCEPTIONS:
        with (wordnet / name).open(encoding="utf-8") as fh:
            forms.update(line.split()[0].replace("_", " ") for line in fh if line.strip())
    return forms


def stems(word: str) -> set[str]:
    """What a regular inflection (-s, -es, -ies, -ed, -ing, -er, -est) could come from."""
    out: set[str] = set()
    if word.endswith("ies"):
        out.add(word[:-3] + "y")
    if word.endswith("es"):
        out.add(word[:-2])
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        out.add(word[:-1])
    for suffix in ("ed", "ing", "er", "est"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[: -len(suffix)]
            out |= {stem, stem + "e"}
            if stem[-1] == stem[-2]:
                out.add(stem[:-1])  # stopped, bigger
    return out - {word}


class WordNet:
    """The three files the build reads, per part of speech."""

    def __init__(self, wordnet: Path) -> None:
        self.counts = read_counts(wordnet / "cntlist.rev")
        self.synsets = {p: read_synsets(wordnet / f"data.{n}") for p, n in POS_FILES.items()}
        self.index = {p: read_index(wordnet / f"index.{n}") for p, n in POS_FILES.items()}
        self.irregular = read_inflections(wordnet)

    def inflected(self, key: str) -> bool:
        """``key`` is also an inflected form of another lemma (``arms``, ``noted``, ``lower``,
        ``wound``): a text most likely means the inflection, whose sense the lemma's synonyms
        do not carry."""
        if key in self.irregular or " " in key:
            return key in self.irregular
        return any(stem in index for stem in stems(key) for index in self.index.values())

    def own_sense(self, lemma: str, pos: str, offset: int) -> bool:
        """``offset`` is ``lemma``'s own everyday sense in ``pos``: among its first OWN_SENSES,
        the first when SemCor tagged it (and then dominant), and ``pos`` its main part of
        speech (``minor`` is mostly an adjective, so not a noun for ``child``)."""
        key = lemma.casefold()
        offsets = self.index[pos].get(key, [])
        if offset not in offsets[:OWN_SENSES]:
            return False
        tags = self.counts.get((key, pos), {})
        if tags and (offsets[0] != offset or not dominant(tags)):
            return False
        here = sum(tags.values())
        return all(sum(self.counts.get((key, p), {}).values()) <= here for p in POS_FILES)

    def synonyms(self, key: str, pos: str) -> list[str]:
        """The synonyms kept for ``key`` in ``pos`` (see the module docstring)."""
        tags = self.counts.get((key, pos), {})
        offsets = self.index[pos][key]
        if not dominant(tags):
            return []
        members = self.synsets[pos][offsets[0]]
        own = [m for m in members if m.casefold() == key]
        if not own or not any(m == m.lower() for m in own):
            return []  # a proper-noun sense (Bill, Mars): not this lemma's meaning
        floor = max(MIN_ZIPF, zipf(key) - MAX_ZIPF_DROP)
        found: list[str] = []
        for m in members:
            if m.casefold() == key or m != m.lower() or m in found:
                continue
            if m in FUNCTION_WORDS or not is_words(m) or m.count(" ") > key.count(" "):
                continue
            if key.startswith(m) or self.inflected(m) or not set(m) & set("aeiou"):
                continue  # a clipping (doc), an abbreviation (hr) or an inflection (stalls)
            if self.own_sense(m, pos, offsets[0]) and zipf(m) >= floor:
                found.append(m)
        return found[:MAX_SYNONYMS]


def build(wordnet: Path) -> str:
    """The lexicon as text (before compression)."""
    wn = WordNet(wordnet)
    order = {pos: k for k, pos in enumerate(POS_FILES)}
    readings: dict[str, list[tuple[tuple[int, int, int], str, list[str]]]] = {}
    for pos in POS_FILES:
        for lemma in wn.index[pos]:
            if lemma in FUNCTION_WORDS or not is_words(lemma):
                continue
            key = lemma.casefold()
            tags = wn.counts.get((key, pos), {})
            rank = (-sum(tags.values()), -len(tags), order[pos])
            syns = [] if wn.inflected(key) else wn.synonyms(key, pos)
            readings.setdefault(key, []).append((rank, pos, syns))
    lines = [HEADER]
    for word in sorted(readings):
        ranked = sorted(readings[word])
        if any(syns for _, _, syns in ranked):
            lines.extend(f"{word}\t{pos}\t{'|'.join(syns)}" for _, pos, syns in ranked)
    return "\n".join(lines) + "\n"


def compress(text: str) -> bytes:
    """gzip with no name and mtime 0, so the same text gives the same bytes."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    return buf.getvalue()


def license_notice(copyright_file: Path) -> str:
    """The WordNet 3.0 licence paragraph of Debian's copyright file, unindented."""
    lines = copyright_file.read_text(encoding="utf-8").splitlines()
    start = lines.index("License: WordNet3.0") + 1
    body = []
    for line in lines[start:]:
        if not line.startswith(" "):
            break
        body.append("" if line.strip() == "." else line[1:])
    title = "WordNet Release 3.0\n\n" + (
        "augcli's synonym lexicon (wordnet-synonyms.tsv.gz) is derived from WordNet 3.0,\n"
        "https://wordnet.princeton.edu/, under the following licence.\n\n"
    )
    return title + "\n".join(body).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wordnet", type=Path, default=WORDNET, help="WordNet dict folder")
    parser.add_argument("--copyright", type=Path, default=COPYRIGHT, help="its licence file")
    parser.add_argument("--out", type=Path, default=OUT, help="folder to write into")
    args = parser.parse_args(argv)
    if not (args.wordnet / "data.noun").is_file():
        parser.error(f"{args.wordnet}: no WordNet data.noun here; apt-get install wordnet-base")
    data = compress(build(args.wordnet))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / LEXICON_NAME).write_bytes(data)
    (args.out / LICENSE_NAME).write_text(license_notice(args.copyright), encoding="utf-8")
    print(f"wrote {args.out / LEXICON_NAME} ({len(data)} bytes) and {LICENSE_NAME}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
