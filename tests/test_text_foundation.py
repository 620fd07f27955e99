"""Text building blocks: lossless tokenizer, protected tokens, the synonym lexicon and its build."""

from __future__ import annotations

import gzip
import importlib.util
import random
import re
import zlib
from pathlib import Path

import pytest

from augcli.core.errors import RecipeError
from augcli.text.lexicon import Lexicon, match_case, merged
from augcli.text.protect import ProtectRules, compile_rules, protected
from augcli.text.tokens import Token, tokenize, words

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "augcli" / "text" / "data"
WORDNET = Path("/usr/share/wordnet")
COPYRIGHT = Path("/usr/share/doc/wordnet-base/copyright")


# -- tokenizer --------------------------------------------------------------------------------------
def check_tokens(text: str) -> list[Token]:
    """Tokenize and check every invariant: exact round trip, offsets, kinds, maximal spaces."""
    tokens = tokenize(text)
    assert "".join(t.text for t in tokens) == text
    pos = 0
    for prev, tok in zip([None, *tokens], tokens, strict=False):
        assert tok.text, "empty token"
        assert tok.start == pos
        assert tok.kind in ("word", "number", "punct", "space", "other")
        assert tok.kind != "space" or tok.text.isspace()
        assert tok.kind == "space" or not any(ch.isspace() for ch in tok.text)
        if prev is not None:
            assert not (prev.kind == tok.kind == "space"), "whitespace runs are one token"
        pos = tok.end
    return tokens


def pairs(text: str) -> list[tuple[str, str]]:
    return [(t.text, t.kind) for t in tokenize(text) if t.kind != "space"]


# Characters that exercise every rule: joiners, decimals, marks, emoji parts, CJK, odd spaces.
ALPHABET = (
    "aZé09 \t\n\r\u00a0\u2028'\u2019-\u2010\u2011.,%/!?;:()\u0301\u0300\u200d\ufe0f\U0001f3fd"
    "\U0001f44d\U0001f1fa\U0001f1f8東京タワー한국어\u03b1βΩمرحबाहिन्दी٣½²°±\x00\x7f\ud800"
)


FUZZ_RULES = ProtectRules(phrases=(("a", "b"),), patterns=(re.compile("[0-9]+"),))
FUZZ_WORDS = ["no", "not", "n't", "4", "mm", "%", "/", "-", ",", ".", " ", "\n", "but", "or", "a"]


def test_round_trip_random_unicode_fuzz() -> None:
    rng = random.Random(5)
    for _ in range(3000):
        roll = rng.random()
        if roll < 0.4:
            text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40)))
        elif roll < 0.7:  # protect's vocabulary, glued and spaced at random
            text = "".join(rng.choice(FUZZ_WORDS) for _ in range(rng.randint(0, 20)))
        else:  # any code point, surrogates included
            text = "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randint(0, 20)))
        tokens = check_tokens(text)
        flags = protected(tokens, FUZZ_RULES)
        assert len(flags) == len(tokens)
        assert not any(f and t.kind == "space" for t, f in zip(tokens, flags, strict=True))


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # the seeded fuzz above still runs
    pass
else:

    @settings(max_examples=500, deadline=None)
    @given(st.text() | st.text(alphabet=ALPHABET))
    def test_round_trip_property(text: str) -> None:
        check_tokens(text)


def test_words_keep_apostrophes_and_hyphens() -> None:
    assert pairs("Don't touch the patient's well-known x-ray.") == [
        ("Don't", "word"),
        ("touch", "word"),
        ("the", "word"),
        ("patient's", "word"),
        ("well-known", "word"),
        ("x-ray", "word"),
        (".", "punct"),
    ]
    assert pairs("isn\u2019t COVID-19 B12 patients' -x") == [
        ("isn\u2019t", "word"),
        ("COVID-19", "word"),
        ("B12", "word"),
        ("patients", "word"),
        ("'", "punct"),
        ("-", "punct"),
        ("x", "word"),
    ]


def test_numbers_and_units_are_separate_tokens() -> None:
    assert pairs("4 mm 3.2cm 1,000 50% 120/80 mmHg 3-4 4.") == [
        ("4", "number"),
        ("mm", "word"),
        ("3.2", "number"),
        ("cm", "word"),
        ("1,000", "number"),
        ("50", "number"),
        ("%", "punct"),
        ("120", "number"),
        ("/", "punct"),
        ("80", "number"),
        ("mmHg", "word"),
        ("3", "number"),
        ("-", "punct"),
        ("4", "number"),
        ("4", "number"),
        (".", "punct"),
    ]


def test_whitespace_is_kept_exactly() -> None:
    text = "Line one.\n\n\tLine  two\r\n"
    tokens = check_tokens(text)
    assert [t.text for t in tokens if t.kind == "space"] == [" ", "\n\n\t", "  ", "\r\n"]
    assert [tokens[i].text for i in words(tokens)] == ["Line", "one", "Line", "two"]


def test_other_scripts_and_emoji() -> None:
    assert pairs("東京タワーに行く") == [  # Han: a word per character; kana: runs
        ("東", "word"),
        ("京", "word"),
        ("タワーに", "word"),
        ("行", "word"),
        ("く", "word"),
    ]
    assert pairs("αβγ مرحبا हिन्दी café") == [
        ("αβγ", "word"),
        ("مرحبا", "word"),
        ("हिन्दी", "word"),  # vowel signs and virama are marks: one word
        ("café", "word"),
    ]
    assert pairs("cafe\u0301 ok") == [("cafe\u0301", "word"), ("ok", "word")]
    assert pairs("👍🏽👨\u200d👩\u200d👧🇺🇸!") == [
        ("👍🏽", "other"),
        ("👨\u200d👩\u200d👧", "other"),
        ("🇺🇸", "other"),
        ("!", "punct"),
    ]


def test_token_is_small_and_frozen() -> None:
    tok = tokenize("hi")[0]
    assert tok == Token("hi", "word", 0) and tok.end == 2
    with pytest.raises(AttributeError):
        tok.text = "x"  # type: ignore[misc]


# -- protected tokens -------------------------------------------------------------------------------
def marked(text: str, rules: ProtectRules | None = None) -> str:
    """The text's non-space tokens, protected ones in brackets."""
    tokens = tokenize(text)
    flags = protected(tokens, rules or ProtectRules())
    assert len(flags) == len(tokens)
    assert not any(f for t, f in zip(tokens, flags, strict=True) if t.kind == "space")
    return " ".join(
        f"[{t.text}]" if f else t.text
        for t, f in zip(tokens, flags, strict=True)
        if t.kind != "space"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("No evidence of pneumothorax.", "[No] [evidence] [of] [pneumothorax] ."),
        (
            "Patient denies chest pain, but reports nausea.",
            "Patient [denies] [chest] [pain] , but reports nausea .",
        ),
        (
            "Patient denies chest pain, reports nausea.",
            "Patient [denies] [chest] [pain] , reports nausea .",
        ),
        (
            "Denies fever, chills or sweats, reports cough.",
            "[Denies] [fever] [,] [chills] [or] [sweats] , reports cough .",
        ),
        ("A 4 mm nodule in the left lobe.", "A [4] [mm] nodule in the left lobe ."),
        ("BP 120/80 mmHg, HR 72 bpm.", "BP [120] [/] [80] [mmHg] , HR [72] [bpm] ."),
        ("Not seen.", "[Not] [seen] ."),
        ("There isn't any fracture.", "There [isn't] [any] [fracture] ."),
        ("There isn\u2019t any fracture.", "There [isn\u2019t] [any] [fracture] ."),
        ("Pneumothorax is not seen.", "[Pneumothorax] [is] [not] [seen] ."),
        ("Cultures negative; fever present.", "[Cultures] [negative] ; fever present ."),
        ("No fever\nCough present", "[No] [fever] Cough present"),
        (
            "no fever or chills or night sweats or weight loss",
            "[no] [fever] [or] [chills] [or] [night] [sweats] [or] [weight] loss",
        ),
        ("Free fluid is seen.", "Free fluid is seen ."),
        ("Free of disease.", "[Free] [of] [disease] ."),
        (
            "Improved, however still without appetite",
            "Improved , however still [without] [appetite]",
        ),
    ],
)
def test_negations_and_their_scope(text: str, expected: str) -> None:
    assert marked(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Given 5 mg/kg daily.", "Given [5] [mg] [/] [kg] daily ."),
        ("Improved 50% in 3-4 days.", "Improved [50] [%] [in] [3] [-] [4] [days] ."),
        ("A 3 x 4 cm mass", "A [3] [x] [4] [cm] mass"),
        ("Temp 38.5°C today", "Temp [38.5] [°] [C] today"),
        ("A 45-year-old man", "A [45] [-] [year-old] man"),
        ("Dose 2x, 4mm, -5 dB", "Dose [2] [x] , [4] [mm] , [-] [5] [dB]"),
        ("Taken twice daily for two weeks", "Taken [twice] daily for [two] [weeks]"),
        ("Vitamin B12 low", "Vitamin [B12] low"),
        ("1,000 units given", "[1,000] [units] given"),
    ],
)
def test_numbers_with_units(text: str, expected: str) -> None:
    assert marked(text) == expected


def test_defaults_off_protects_only_the_recipe_list() -> None:
    rules = compile_rules({"protect_defaults": False, "protect": ["pain"]})
    assert marked("No pain, 4 mm.", rules) == "No [pain] , 4 mm ."
    assert marked("No pain, 4 mm.", compile_rules({"protect_defaults": False})) == (
        "No pain , 4 mm ."
    )


def test_recipe_words_phrases_and_regexes() -> None:
    rules = compile_rules(
        {"protect": ["Chest pain", "re:T[1-4]N[0-3]", "tumour", "re:(?i)left\\s+lobe"]}, "text"
    )
    assert rules.entries == ("Chest pain", "re:T[1-4]N[0-3]", "tumour", "re:(?i)left\\s+lobe")
    assert marked("CHEST  pain with a T2N1 Tumour in the Left lobe", rules) == (
        "[CHEST] [pain] with a [T2N1] [Tumour] in the [Left] [lobe]"
    )
    # whole words only; regexes mark every token they overlap, and are case-sensitive as written
    rules = compile_rules({"protect_defaults": False, "protect": list(rules.entries)})
    assert marked("chest-pain tumours xT2N1x t2n1", rules) == "chest-pain tumours [xT2N1x] t2n1"
    assert marked("a (T2N1) b", rules) == "a ( [T2N1] ) b"


@pytest.mark.parametrize(
    ("values", "path", "words_in_message"),
    [
        ({"protect": ["ok", "re:([a-z"]}, "text.protect[1]", ["not a valid regular expression"]),
        ({"protect": ["re:x*"]}, "text.protect[0]", ["matches empty text"]),
        ({"protect": ["  "]}, "text.protect[0]", ["is empty"]),
        ({"protect": [42]}, "text.protect[0]", ["Quote it"]),
        ({"protect": "tumour"}, "text.protect", ["must be a list"]),
        ({"protect_defaults": "yes"}, "text.protect_defaults", ["true or false"]),
    ],
)
def test_bad_protect_entries_are_recipe_errors(
    values: dict, path: str, words_in_message: list[str]
) -> None:
    with pytest.raises(RecipeError) as info:
        compile_rules(values, "text")
    assert info.value.path == path
    message = str(info.value.located("r.yaml", 9))
    assert message.startswith(f"r.yaml:9: {path}: ")
    for word in words_in_message:
        assert word in message


def test_rules_pickle() -> None:
    import pickle

    rules = compile_rules({"protect": ["chest pain", "re:T[1-4]"]})
    assert pickle.loads(pickle.dumps(rules)) == rules


# -- lexicon ----------------------------------------------------------------------------------------
def test_default_lexicon_knows_common_words() -> None:
    lex = Lexicon.default()
    assert Lexicon.default() is lex  # cached
    assert "large" in lex.synonyms("big")
    assert "automobile" in lex.synonyms("car")
    assert "large" in lex.synonyms("BIG", pos="a")
    assert lex.synonyms("big", pos="n") == []
    assert lex.synonyms("car", pos="noun") == lex.synonyms("car")
    # no part of speech: the word's most frequent one only; every reading is listed
    assert lex.pos_of("doctor") == ["n", "v"] and lex.synonyms("doctor", pos="v") == []
    assert lex.synonyms("big") == lex.synonyms("big", pos="a") == ["large"]
    assert lex.synonyms("big", pos="any") == ["large"] and lex.pos_of("big") == ["a", "r"]
    # the bad senses are gone (stable: horse barn; heart: spunk; mass: batch)
    assert "stable" not in lex and "heart" not in lex and "mass" not in lex
    assert "big" not in lex.synonyms("big")
    syns = lex.synonyms("car")
    assert len(syns) == len(set(syns)) and syns == lex.synonyms("Car")


@pytest.mark.parametrize(
    "word", ["xyzzyq", "", "東京", "مرحبا", "4", "Paris", "  ", "I", "in", "can", "will", "not"]
)
def test_unknown_words_have_no_synonyms(word: str) -> None:
    assert Lexicon.default().synonyms(word) == []


def test_bad_pos_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="part of speech"):
        Lexicon.default().synonyms("big", pos="x")


def test_user_lexicon_takes_precedence(tmp_path: Path) -> None:
    csv_file = tmp_path / "med.csv"
    csv_file.write_text(
        "# medical terms\ntumour,tumor,neoplasm\n\nBig,huge,,Large, big\n"
        '"chest pain","thoracic pain"\n',
        encoding="utf-8",
    )
    user = Lexicon.from_file(csv_file)
    assert user.synonyms("Tumour") == ["tumor", "neoplasm"]
    assert user.synonyms("tumour", pos="n") == ["tumor", "neoplasm"]  # any part of speech
    assert user.synonyms("chest  pain") == ["thoracic pain"]
    both = merged(user, Lexicon.default())
    assert both.synonyms("big") == ["huge", "Large"]  # the user's row replaces WordNet's
    assert "automobile" in both.synonyms("car")  # words the user does not define fall through
    assert both.fingerprint != user.fingerprint

    yaml_file = tmp_path / "med.yaml"
    yaml_file.write_text("tumour: [tumor, neoplasm]\nlesion: growth\n", encoding="utf-8")
    user = Lexicon.from_file(yaml_file)
    assert user.synonyms("lesion") == ["growth"]
    assert user.synonyms("tumour") == ["tumor", "neoplasm"]


@pytest.mark.parametrize(
    ("name", "content", "line", "words_in_message"),
    [
        ("a.csv", "tumour,tumor\ncyst\n", 2, ["'cyst' has no synonyms"]),
        ("a.csv", "tumour,tumor\n\nTumour,growth\n", 3, ["defined twice (first on line 1)"]),
        ("a.csv", 'a,b\n"x\ny",z\nq,"r\n', 4, ["not valid CSV"]),
        ("a.csv", ",tumor\n", 1, ["needs a word"]),
        ("a.tsv", "ok\tfine\nbad\n", 2, ["no synonyms"]),
        ("a.yaml", "tumour: [tumor]\ncyst: [sac, yes]\n", 2, ["synonym must be text"]),
        ("a.yaml", "tumour: [tumor]\ntumour: [x]\n", 2, ["appears twice"]),
        ("a.yaml", "tumour: [tumor]\ncyst: []\n", 2, ["no synonyms"]),
        ("a.yaml", "tumour: [tumor\n", 2, ["not valid YAML"]),
        ("a.yaml", "- tumour\n", 1, ["must be a mapping"]),
    ],
)
def test_bad_user_lexicon_names_file_and_line(
    tmp_path: Path, name: str, content: str, line: int, words_in_message: list[str]
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(RecipeError) as info:
        Lexicon.from_file(path)
    message = str(info.value)
    assert info.value.file == str(path) and info.value.line == line
    assert message.startswith(f"{path}:{line}: ")
    for word in words_in_message:
        assert word in message


def test_user_lexicon_encoding_and_path_errors(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("a,b\ntumeur,néoplasme\n".encode("latin-1"))
    with pytest.raises(RecipeError, match=r"latin1\.csv:2: is not UTF-8"):
        Lexicon.from_file(bad)
    with pytest.raises(RecipeError, match=r"text\.lexicon: cannot read the lexicon file"):
        Lexicon.from_file(tmp_path / "missing.csv", where="text.lexicon")
    with pytest.raises(RecipeError, match=r"must be a \.csv, \.tsv, \.yaml or \.yml"):
        Lexicon.from_file(tmp_path / "words.json")
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffbig,huge\n".encode())
    assert Lexicon.from_file(bom).synonyms("big") == ["huge"]


@pytest.mark.parametrize(
    ("template", "word", "expected"),
    [
        ("Big", "large", "Large"),
        ("BIG", "large", "LARGE"),
        ("big", "large", "large"),
        ("A", "large", "Large"),
        ("big", "CT scan", "CT scan"),
        ("Big", "large intestine", "Large intestine"),
        ("iPhone", "phone", "phone"),
        ("McDonald", "x", "x"),
        ("DON'T", "do not", "DO NOT"),
    ],
)
def test_match_case(template: str, word: str, expected: str) -> None:
    assert match_case(template, word) == expected


def test_shipped_lexicon_is_well_formed() -> None:
    text = gzip.decompress((DATA / "wordnet-synonyms.tsv.gz").read_bytes()).decode("utf-8")
    lines = text.splitlines()
    assert lines[0].startswith("# augcli synonym lexicon, derived from WordNet 3.0")
    words: dict[str, list[tuple[str, list[str]]]] = {}
    for line in lines[1:]:
        word, pos, syns = line.split("\t")
        assert pos in "nvar" and word == word.casefold()
        parts = syns.split("|") if syns else []
        assert len(parts) <= 8 and word not in parts and "" not in parts
        words.setdefault(word, []).append((pos, parts))
    order = [line.split("\t")[0] for line in lines[1:]]
    assert order == sorted(order)  # sorted by word, each word's lines together
    for readings in words.values():
        assert len({pos for pos, _ in readings}) == len(readings)
        assert any(syns for _, syns in readings), "a listed word has synonyms somewhere"
    assert "Princeton University" in (DATA / "WORDNET-LICENSE").read_text(encoding="utf-8")


def load_build_script():
    spec = importlib.util.spec_from_file_location(
        "build_lexicon", ROOT / "scripts" / "build_lexicon.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(
    not (WORDNET / "data.noun").is_file() or not COPYRIGHT.is_file(),
    reason="WordNet database not installed (apt-get install wordnet-base)",
)
def test_shipped_lexicon_is_what_the_build_script_makes() -> None:
    pytest.importorskip("wordfreq", reason="pip install 'augcli[lexicon]' (wordfreq==3.1.1)")
    build = load_build_script()
    text = build.build(WORDNET)
    shipped = (DATA / "wordnet-synonyms.tsv.gz").read_bytes()
    assert gzip.decompress(shipped).decode("utf-8") == text
    assert (DATA / "WORDNET-LICENSE").read_text(encoding="utf-8") == build.license_notice(COPYRIGHT)
    data = build.compress(text)
    assert data == build.compress(text)  # deterministic on this machine
    if data != shipped:  # same text, different deflate output: another zlib build
        pytest.skip(f"gzip bytes differ under zlib {zlib.ZLIB_RUNTIME_VERSION}; content is equal")
    assert data == shipped
