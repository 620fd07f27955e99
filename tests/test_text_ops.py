"""The op contract for every text op, exact outputs for fixed params, and protected tokens."""

from __future__ import annotations

import json
import pickle

import pytest
from rows_text import TEXT_ROWS

import augcli.text.chars as chars
import augcli.text.eda as eda
import augcli.text.substitute  # noqa: F401 - registers substitute
from augcli.core.seeding import generator
from augcli.ops import _REGISTRY, MODALITY_MODULES, registry
from augcli.text.doc import TextDoc
from augcli.text.lexicon import Lexicon
from augcli.text.protect import ProtectRules

RULES = ProtectRules()
TEXTS = {
    "clinical": "The patient reports severe chest pain and a small nodule. Dr. Smith saw him on "
    "Monday, e.g. at 3.5 pm. No evidence of pneumothorax. A 4 mm nodule was seen.",
    "nothing_editable": "No fever or chills. 4 mm.",
    "non_english": "Ο ασθενής έχει πυρετό. 患者发烧。Пациент жалуется на кашель.",  # noqa: RUF001
    "whitespace": "Patient stable.\n\tMild  cough, no fever.\n\nFollow up  in 2 weeks.\r\nDone",
}
TABLE = {
    "chest pain": ["thoracic pain"],
    "nodule": ["lesion", "mass"],
    ("follow", "up"): ["review"],
    "pneumothorax": ["collapsed lung"],
    "mm": ["millimetres"],
    "fever": ["pyrexia"],
}
SEEDS = [0, 1, 7]


def text_ops() -> dict:
    """The text ops that need no model (model ops: tests/test_text_models.py)."""
    ops = (
        registry("text") if "text" in MODALITY_MODULES else dict(sorted(_REGISTRY["text"].items()))
    )
    return {n: c for n, c in ops.items() if not getattr(c, "loads_model", False)}


def build(name: str, params: dict | None = None):
    cls = text_ops()[name]
    return cls.from_recipe(dict(TEXT_ROWS[name] if params is None else params), f"test.{name}")


def parse(text: str) -> TextDoc:
    return TextDoc.parse(text, RULES)


def info(doc: TextDoc, lexicon: Lexicon | None = None) -> dict:
    return {"doc": doc, "lexicon": lexicon or Lexicon.default(), "substitutions": TABLE}


def run(op, text: str, seed: int = 0) -> tuple[TextDoc, dict, TextDoc]:
    doc = parse(text)
    params = op.sample(generator(seed), info(doc))
    return doc, params, op.apply(doc, params)


def protected_texts(doc: TextDoc) -> list[str]:
    return [p.text for p in doc.pieces if p.protected]


def in_order(parts: list[str], text: str) -> bool:
    pos = 0
    for part in parts:
        pos = text.find(part, pos)
        if pos < 0:
            return False
        pos += len(part)
    return True


# -- the contract -----------------------------------------------------------------------------
def test_every_op_has_a_table_row():
    assert set(TEXT_ROWS) == set(text_ops()), "add a row to rows_text.py for every new text op"
    assert all(cls.group in ("eda", "substitution", "character") for cls in text_ops().values())


def test_inputs_cover_the_hard_cases():
    assert parse(TEXTS["clinical"]).editable()
    assert eda.usable_words(parse(TEXTS["nothing_editable"])) == []
    assert "  " in TEXTS["whitespace"] and "\t" in TEXTS["whitespace"]


@pytest.mark.parametrize("name", sorted(TEXT_ROWS))
@pytest.mark.parametrize("key", sorted(TEXTS))
@pytest.mark.parametrize("seed", SEEDS)
def test_op_contract(name: str, key: str, seed: int) -> None:
    op = build(name)
    doc = parse(TEXTS[key])
    pieces_before = doc.pieces
    params = op.sample(generator(seed), info(doc))
    assert params == op.sample(generator(seed), info(doc)), "sample depends only on the generator"
    assert json.loads(json.dumps(params)) == params, "params must be JSON-safe"

    out = op.apply(doc, params)
    assert op.apply(doc, params) == out, "apply must be pure"
    assert op.apply(doc, json.loads(json.dumps(params))) == out, "the manifest's params replay it"
    assert doc.pieces == pieces_before and doc.text == TEXTS[key], "apply must not modify its input"
    assert isinstance(out, TextDoc)
    assert out.text == "".join(p.text for p in out.pieces)

    before = protected_texts(doc)
    if name == "sentence_shuffle":
        assert sorted(protected_texts(out)) == sorted(before)
        for start, stop in eda.sentence_spans(doc.pieces):
            assert "".join(p.text for p in doc.pieces[start:stop]) in out.text
    else:
        assert protected_texts(out) == before, "protected pieces unchanged, in order"
        assert in_order(before, out.text)
    assert out.text.count("  ") <= doc.text.count("  "), "no new double spaces"
    if key == "nothing_editable" and name != "sentence_shuffle":
        assert out.text == doc.text
    if key == "non_english" and name in ("synonym_replace", "random_insert", "substitute"):
        assert out.text == doc.text, "words the lexicon does not know are left alone"


@pytest.mark.parametrize("name", sorted(TEXT_ROWS))
def test_op_pickles_and_describes(name: str) -> None:
    op = build(name)
    clone = pickle.loads(pickle.dumps(op))
    doc = parse(TEXTS["clinical"])
    params = op.sample(generator(3), info(doc))
    assert clone.apply(doc, params) == op.apply(doc, params)
    desc = type(op).describe()
    assert desc["summary"] and "p" in desc["params"]
    json.dumps(desc)


@pytest.mark.parametrize("name", sorted(TEXT_ROWS))
def test_output_pieces_are_well_formed(name: str) -> None:
    """New text is tokenized: a later op in the chain sees words, spaces and punctuation."""
    op = build(name, {"fraction": 1.0} if "fraction" in text_ops()[name].params else {})
    for seed in SEEDS:
        _, _, out = run(op, TEXTS["clinical"], seed)
        assert [(p.text, p.kind) for p in out.pieces] == [
            (p.text, p.kind) for p in parse(out.text).pieces
        ]


# -- protection -------------------------------------------------------------------------------
def all_out(name: str) -> dict:
    params = {k: v for k, v in TEXT_ROWS[name].items() if k != "n"}
    if "fraction" in text_ops()[name].params:
        params["fraction"] = 1.0
    if name in ("random_swap", "random_insert"):
        params["n"] = 10
    if "max_chars" in params:
        params["max_chars"] = 3
    return params


@pytest.mark.parametrize("name", sorted(TEXT_ROWS))
@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("No evidence of pneumothorax.", "No evidence of pneumothorax"),
        ("A 4 mm nodule.", "4 mm"),
        (
            "The large nodule shows no evidence of pneumothorax today.",
            "no evidence of pneumothorax",
        ),
        ("Chest pain, a 4 mm nodule and a large mass.", "4 mm"),
    ],
)
def test_protected_words_survive_every_op(name: str, text: str, kept: str) -> None:
    op = build(name, all_out(name))
    for seed in range(12):
        _, _, out = run(op, text, seed)
        assert kept in out.text, f"{name} seed {seed}: {out.text!r}"


@pytest.mark.parametrize("text", ["Big dog.", "Hello", "The big dog barked loudly at night."])
def test_random_delete_never_deletes_everything(text: str) -> None:
    op = build("random_delete", {"fraction": 1.0})
    for seed in range(20):
        _, _, out = run(op, text, seed)
        assert out.words(), f"seed {seed}: {out.text!r}"
        assert "  " not in out.text and out.text == out.text.strip()


def test_sentence_shuffle_keeps_abbreviations_and_decimals():
    text = "Dr. Smith saw the patient, e.g. at 3.5 pm. The nodule is small. Dr. Jones agreed!"
    doc = parse(text)
    sentences = [
        "".join(p.text for p in doc.pieces[a:b]) for a, b in eda.sentence_spans(doc.pieces)
    ]
    assert sentences == [
        "Dr. Smith saw the patient, e.g. at 3.5 pm.",
        "The nodule is small.",
        "Dr. Jones agreed!",
    ]
    op = build("sentence_shuffle")
    seen = set()
    for seed in range(10):
        _, _, out = run(op, text, seed)
        assert "Dr. Smith" in out.text and "Dr. Jones" in out.text
        assert sorted(out.text.split(" ")) == sorted(text.split(" "))
        seen.add(out.text)
    assert len(seen) > 1


def test_sentence_spans_cjk_and_quotes():
    doc = parse('He said "stop." Then left. 患者发烧。咳嗽。')
    sentences = [
        "".join(p.text for p in doc.pieces[a:b]) for a, b in eda.sentence_spans(doc.pieces)
    ]
    assert sentences == ['He said "stop."', "Then left.", "患者发烧。", "咳嗽。"]


# -- exact outputs for fixed params -----------------------------------------------------------
DOG = "The big dog barked."  # pieces: 0 The, 2 big, 4 dog, 6 barked, 7 .


def test_synonym_replace_exact_and_case(tmp_path):
    op = build("synonym_replace")
    assert op.apply(parse(DOG), {"replace": [[2, "large"]]}).text == "The large dog barked."
    lex_file = tmp_path / "lex.csv"
    lex_file.write_text("big,large\nbarked,yapped\n", encoding="utf-8")
    lex = Lexicon.from_file(lex_file)
    doc = parse("BIG dog. Big dog barked.")
    params = build("synonym_replace", {"fraction": 1.0}).sample(generator(0), info(doc, lex))
    assert params["replace"] == [[0, "LARGE"], [5, "Large"], [9, "yapped"]]
    assert op.apply(doc, params).text == "LARGE dog. Large dog yapped."


def test_synonym_replace_n_overrides_fraction(tmp_path):
    lex_file = tmp_path / "lex.csv"
    lex_file.write_text("big,large\ndog,hound\nbarked,yapped\n", encoding="utf-8")
    op = build("synonym_replace", {"fraction": 1.0, "n": 1})
    params = op.sample(generator(0), info(parse(DOG), Lexicon.from_file(lex_file)))
    assert len(params["replace"]) == 1


def test_synonym_replace_phrase_synonym_is_tokenized():
    out = build("synonym_replace").apply(parse(DOG), {"replace": [[4, "domestic dog"]]})
    assert out.text == "The big domestic dog barked."
    assert [p.kind for p in out.pieces[4:7]] == ["word", "space", "word"]


def test_random_insert_exact_and_forbidden_places():
    op = build("random_insert")
    assert op.apply(parse(DOG), {"insert": [[4, "large"]]}).text == "The big large dog barked."
    assert op.apply(parse(DOG), {"insert": [[4, "a"], [4, "b"]]}).text == "The big a b dog barked."
    nodule = parse("A 4 mm nodule.")  # 0 A, 2 4, 4 mm, 6 nodule
    assert op.apply(nodule, {"insert": [[2, "small"]]}).text == "A small 4 mm nodule."
    for k in (0, 4, 5):  # the text's start, inside "4 mm", a space
        with pytest.raises(ValueError):
            op.apply(nodule, {"insert": [[k, "small"]]})
    with pytest.raises(ValueError):  # a sentence start
        op.apply(parse("Cough. Big dog."), {"insert": [[4, "x"]]})


def test_random_insert_uses_synonyms_of_the_text(tmp_path):
    lex_file = tmp_path / "lex.csv"
    lex_file.write_text("big,large\n", encoding="utf-8")
    op = build("random_insert", {"n": 3})
    params = op.sample(generator(0), info(parse(DOG), Lexicon.from_file(lex_file)))
    assert len(params["insert"]) == 3 and {w for _, w in params["insert"]} == {"large"}


def test_random_swap_exact():
    op = build("random_swap")
    assert op.apply(parse(DOG), {"swap": [[2, 4]]}).text == "The dog big barked."
    assert op.apply(parse(DOG), {"swap": [[2, 4], [4, 6]]}).text == "The dog barked big."
    with pytest.raises(ValueError):
        op.apply(parse("No fever today."), {"swap": [[0, 4]]})  # "No" is protected


@pytest.mark.parametrize(
    ("text", "delete", "expected"),
    [
        (DOG, [2], "The dog barked."),
        (DOG, [6], "The big dog."),
        (DOG, [2, 4], "The barked."),
        (DOG, [0], "big dog barked."),
        ("a  b c", [2], "a  c"),
        ("a b\nc", [2], "a\nc"),
        ("a\nb c", [2], "a\nc"),
        ("x,\tb.", [3], "x,."),
        ("(b c)", [1], "(c)"),
    ],
)
def test_random_delete_exact(text: str, delete: list, expected: str):
    assert build("random_delete").apply(parse(text), {"delete": delete}).text == expected


def test_word_shuffle_exact_and_within_sentences():
    op = build("word_shuffle")
    out = op.apply(parse(DOG), {"place": [[0, 6], [6, 0]]})
    assert out.text == "barked big dog The."
    with pytest.raises(ValueError):
        op.apply(parse(DOG), {"place": [[0, 6]]})  # not a permutation
    text = "Big red dog. Small cat ran."
    for seed in range(5):
        _, _, out = run(op, text, seed)
        first, _ = out.text.split(". ")
        assert sorted(first.split()) == ["Big", "dog", "red"]


def test_sentence_shuffle_exact():
    op = build("sentence_shuffle")
    doc = parse("Dr. Smith came. He left!  Bye.")
    assert op.apply(doc, {"order": [2, 0, 1]}).text == "Bye. Dr. Smith came.  He left!"
    assert op.apply(parse("  One. Two.\n"), {"order": [1, 0]}).text == "  Two. One.\n"
    with pytest.raises(ValueError):
        op.apply(doc, {"order": [0, 0, 1]})


def test_substitute_exact_phrases_and_case():
    op = build("substitute", {"fraction": 1.0})
    doc = parse("Chest  pain and CHEST PAIN, a nodule. Follow up.")
    params = op.sample(generator(0), info(doc))
    out = op.apply(doc, params)
    assert out.text.startswith("Thoracic pain and THORACIC PAIN, a ")
    assert out.text.endswith(". Review.")
    assert out.text.split(", a ")[1].split(".")[0] in ("lesion", "mass")
    fixed = op.apply(parse("a chest pain"), {"replace": [[2, 5, "thoracic pain"]]})
    assert fixed.text == "a thoracic pain"


def test_substitute_never_touches_protected_words():
    op = build("substitute", {"fraction": 1.0})
    for text in ("No evidence of pneumothorax.", "A 4 mm nodule.", "Denies fever."):
        _, params, out = run(op, text)
        assert "pneumothorax" not in json.dumps(params["replace"]) or "pneumothorax" in out.text
    _, params, out = run(op, "A 4 mm nodule.")
    assert out.text in ("A 4 mm lesion.", "A 4 mm mass.")
    with pytest.raises(ValueError):
        op.apply(parse("A 4 mm nodule."), {"replace": [[2, 5, "four millimetre"]]})


def test_char_ops_exact():
    word = parse("Cat sat.")  # 0 Cat, 2 sat
    for name in ("keyboard_typo", "ocr_error", "char_swap", "char_insert", "char_delete"):
        assert build(name).apply(word, {"replace": [[2, "sta"]]}).text == "Cat sta."
        with pytest.raises(ValueError):
            build(name).apply(parse("No cat."), {"replace": [[0, "Np"]]})


def test_char_swap_and_delete_on_two_letters():
    swap = build("char_swap", {"fraction": 1.0, "max_chars": 3})
    assert run(swap, "ab")[2].text == "ba"
    delete = build("char_delete", {"fraction": 1.0, "max_chars": 5})
    for seed in range(6):
        assert run(delete, "ab cd", seed)[2].text in ("a c", "a d", "b c", "b d")


def test_keyboard_typo_uses_neighbours_and_keeps_case():
    op = build("keyboard_typo", {"fraction": 1.0, "max_chars": 1})
    table = chars.keyboard_neighbours()
    assert set(table) == set("abcdefghijklmnopqrstuvwxyz")
    for seed in range(10):
        out = run(op, "Cat", seed)[2].text
        diff = [(a, b) for a, b in zip("Cat", out, strict=True) if a != b]
        assert len(diff) == 1
        a, b = diff[0]
        assert b.lower() in table[a.lower()] and a.isupper() == b.isupper()


def test_ocr_error_uses_the_confusion_table():
    op = build("ocr_error", {"fraction": 1.0, "max_chars": 1})
    outs = {run(op, "rn", seed)[2].text for seed in range(20)}
    assert outs <= {"m", "rh", "kn"} | {"rn"}
    assert "m" in outs


def test_char_insert_keeps_the_first_letter_and_case():
    op = build("char_insert", {"fraction": 1.0, "max_chars": 2})
    for seed in range(10):
        out = run(op, "CT scan", seed)[2].text
        first, second = out.split(" ")
        assert first.startswith("C") and first.isupper() and len(first) in (3, 4)
        assert second.startswith("s") and second.islower() and len(second) in (5, 6)


FIXED_SEED_OUTPUTS = {
    "char_delete": "T pate repors ver ht pan. No evidence of pneumothorax.",
    "char_insert": "Thzes patihentv rtepsortsw swevere checst pakin. No evidence of pneumothorax.",
    "char_swap": "hTe apteint erpotrs sevree chset pian. No evidence of pneumothorax.",
    "keyboard_typo": "Tmd patoenh felortx xevere chwst psin. No evidence of pneumothorax.",
    "ocr_error": "7hc patleht rcport5 seuere ehcst pa1h. No evidence of pneumothorax.",
    "random_delete": ". No evidence of pneumothorax.",
    # no sense-safe synonym for these words (was "hard terrible ... pain sensation pectus pain")
    "random_insert": "The patient reports severe chest pain. No evidence of pneumothorax.",
    "random_swap": "severe chest reports The patient pain. No evidence of pneumothorax.",
    "sentence_shuffle": "No evidence of pneumothorax. The patient reports severe chest pain.",
    "substitute": "The patient reports severe thoracic pain. No evidence of pneumothorax.",
    "synonym_replace": "The patient reports severe chest pain. No evidence of pneumothorax.",
    "word_shuffle": "severe reports pain chest The patient. No evidence of pneumothorax.",
}


def test_fixed_seed_outputs():
    """Exact outputs for seed 0 with every word eligible: a change here changes the text datasets
    augcli makes (the manifest's params still replay old ones)."""
    text = "The patient reports severe chest pain. No evidence of pneumothorax."
    got = {name: run(build(name, all_out(name)), text, 0)[2].text for name in sorted(TEXT_ROWS)}
    assert got == FIXED_SEED_OUTPUTS
