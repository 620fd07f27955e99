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
including satellites, ``r`` adverb):

- the synsets of its SemCor-attested senses (the first ``tagsense_cnt``; only the first sense when
  none is attested), so rare senses do not bring odd synonyms (``car`` gets ``automobile`` but not
  ``gondola``);
- of those synsets' other lemmas, in sense order then synset order: lower-case ones (capitalised
  lemmas are proper nouns and acronyms, and a synset where the lemma itself is capitalised is a
  proper-noun sense), of at most ``MAX_WORDS`` words, each a word token of augcli's tokenizer
  (no digits, dots or slashes), without the lemma itself, repeats or function words, at most
  ``MAX_SYNONYMS``.
- Function words (``FUNCTION_WORDS``: pronouns, determiners, prepositions, conjunctions,
  auxiliaries, modals, negations and a few particles) get no entry: their WordNet entries are
  other words' senses (``I`` is iodine, ``in`` an inch, ``can`` a tin, ``will`` a testament).

The file is ``word<TAB>pos<TAB>syn1|syn2|...`` lines after one ``#`` comment line, sorted by word;
a word's parts of speech come most frequent first (SemCor tag counts, then attested senses, then
n, v, a, r), so the first line is the word's likeliest reading when nothing else is known. A part
of speech with no synonyms is still listed (``stable<TAB>a<TAB>`` before ``stable<TAB>n<TAB>stalls``)
when it outranks one that has some, so that reading is not taken for the word's main one; a word
with no synonyms in any part of speech has no line.
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
    f"scripts/build_lexicon.py: word<TAB>pos<TAB>synonyms; attested senses, "
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


def read_index(path: Path) -> list[tuple[str, list[int], int]]:
    """(lemma, offsets of its attested senses, how many are attested) from an ``index.<pos>``."""
    entries = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("  "):
                continue
            fields = line.split()
            synset_cnt = int(fields[2])
            p_cnt = int(fields[3])
            tagsense_cnt = int(fields[5 + p_cnt])
            offsets = [int(f) for f in fields[6 + p_cnt : 6 + p_cnt + synset_cnt]]
            lemma = fields[0].replace("_", " ")
            entries.append((lemma, offsets[: max(1, tagsense_cnt)], tagsense_cnt))
    return entries


def read_counts(path: Path) -> dict[tuple[str, str], int]:
    """(lemma, pos) -> SemCor tag count over its senses, from ``cntlist.rev``."""
    counts: dict[tuple[str, str], int] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            sense_key, _number, tag_cnt = line.split()
            lemma, rest = sense_key.split("%", 1)
            key = (lemma.replace("_", " ").casefold(), SS_TYPES[rest[0]])
            counts[key] = counts.get(key, 0) + int(tag_cnt)
    return counts


def is_words(text: str) -> bool:
    """True for one to MAX_WORDS word tokens separated by single spaces."""
    tokens = tokenize(text)
    if not tokens or len(tokens) > 2 * MAX_WORDS - 1:
        return False
    return all(t.kind == "word" if k % 2 == 0 else t.text == " " for k, t in enumerate(tokens))


def build(wordnet: Path) -> str:
    """The lexicon as text (before compression)."""
    counts = read_counts(wordnet / "cntlist.rev")
    order = {pos: k for k, pos in enumerate(POS_FILES)}
    readings: dict[str, list[tuple[tuple[int, int, int], str, list[str]]]] = {}
    for pos, name in POS_FILES.items():
        synsets = read_synsets(wordnet / f"data.{name}")
        for lemma, offsets, tagged in read_index(wordnet / f"index.{name}"):
            if lemma in FUNCTION_WORDS or not is_words(lemma):
                continue
            key = lemma.casefold()
            found: list[str] = []
            for offset in offsets:
                members = synsets[offset]
                own = [m for m in members if m.casefold() == key]
                if not own or not any(m == m.lower() for m in own):
                    continue  # a proper-noun sense (Bill, Mars): not this lemma's meaning
                for m in members:
                    if m.casefold() == key or m != m.lower() or m in found:
                        continue
                    if m in FUNCTION_WORDS or not is_words(m):
                        continue
                    found.append(m)
            rank = (-counts.get((key, pos), 0), -tagged, order[pos])
            readings.setdefault(key, []).append((rank, pos, found[:MAX_SYNONYMS]))
    lines = [HEADER]
    for word in sorted(readings):
        ranked = sorted(readings[word])
        while ranked and not ranked[-1][2]:
            ranked.pop()  # nothing to say after the last reading with synonyms
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
