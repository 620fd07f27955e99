"""Entity spans (spans_field, or tags_field on token records) stay aligned: the spanned text is protected through every text
op, offsets are recomputed (a property test over random texts, spans, ops and seeds), each
layout round-trips, bad spans and spans that cannot be aligned fail their record alone."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from conftest import read_manifest, run_augcli, write_recipe
from test_text_ops import TABLE, all_out, text_ops

from augcli.core.errors import InputError
from augcli.core.seeding import generator
from augcli.text.doc import TextDoc
from augcli.text.lexicon import Lexicon
from augcli.text.protect import ProtectRules
from augcli.text.spans import Span, Spans, read_spans, read_tags, realign, written

WORDS = [
    "the",
    "patient",
    "has",
    "a",
    "small",
    "nodule",
    "in",
    "left",
    "lung",
    "and",
    "mild",
    "fever",
    "with",
    "cough",
    "today",
]


def random_case(rng: random.Random) -> tuple[str, Spans]:
    words = [rng.choice(WORDS) for _ in range(rng.randint(4, 14))]
    text = " ".join(words) + rng.choice([".", "", ". Stable."])
    starts, at = [], 0
    for w in words:
        starts.append((at, at + len(w)))
        at += len(w) + 1
    picks = sorted(rng.sample(range(len(words)), k=min(len(words), rng.randint(1, 3))))
    items = []
    for k in picks:
        j = min(len(words) - 1, k + rng.randint(0, 1))
        if items and items[-1].end > starts[k][0]:
            continue
        items.append(Span(starts[k][0], starts[j][1], rng.choice(["FINDING", "ANATOMY"])))
    return text, Spans("dicts", tuple(items))


@pytest.mark.parametrize("name", sorted(text_ops()))
def test_spans_always_slice_the_same_text_after_every_op(name: str) -> None:
    op = text_ops()[name].from_recipe(all_out(name), f"test.{name}")
    rng = random.Random(name)
    aligned = 0
    for case in range(40):
        text, spans = random_case(rng)
        doc = TextDoc.parse(text, ProtectRules(), spans.ranges())
        params = op.sample(
            generator(case), {"doc": doc, "lexicon": Lexicon.default(), "substitutions": TABLE}
        )
        out = op.apply(doc, params).text
        try:
            moved = realign(spans, text, out, "t.jsonl:1")
        except InputError as exc:
            assert "can no longer be aligned" in str(exc)
            continue
        aligned += 1
        for a, b in zip(spans.items, moved.items, strict=True):
            assert out[b.start : b.end] == text[a.start : a.end] and a.label == b.label
    # 15 words repeat a lot here: a span whose text also occurs unprotected elsewhere fails
    # (never a wrong offset) when an op edits that other copy
    assert aligned >= 20, f"{name}: only {aligned} of 40 aligned"


def test_both_layouts_round_trip_and_bad_spans_are_named() -> None:
    text = "Small left pleural effusion."
    dicts = [{"start": 11, "end": 27, "label": "FINDING", "id": 7}]
    spans = read_spans(dicts, text, "a.jsonl:3")
    assert written(spans) == dicts
    triples = read_spans('[[6, 10, "SIDE"]]', text, "a.csv:2")
    assert written(triples) == '[[6, 10, "SIDE"]]'
    for bad, what in [
        ([{"start": 5, "end": 99}], "not within the text's 28 characters"),
        ([[1, 2]], "must be"),
        ("{", "not JSON"),
        ({"start": 1}, "must be a list"),
    ]:
        with pytest.raises(InputError, match=what) as err:
            read_spans(bad, text, "a.jsonl:3")
        assert str(err.value).startswith("a.jsonl:3:")


def test_a_span_whose_text_another_copy_now_shares_fails_to_align() -> None:
    spans = read_spans([[0, 5, "X"]], "fever and cough", "t:1")
    with pytest.raises(InputError, match="occurs 1 time\\(s\\) in the source and 2"):
        realign(spans, "fever and cough", "fever and fever cough", "t:1")


def test_spans_end_to_end_in_jsonl_and_csv(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    rows = [
        {
            "text": "Small left pleural effusion and mild cough today.",
            "ents": [{"start": 11, "end": 27, "label": "FINDING"}],
        },
        {"text": "Patient reports fever and chills at night.", "ents": [[16, 21, "SYMPTOM"]]},
        {"text": "Bad offsets here.", "ents": [[3, 99, "X"]]},
    ]
    (data / "notes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (data / "notes.csv").write_text(
        'text,ents\n"A large nodule in the right lung today.","[[8, 14, ""FINDING""]]"\n'
    )
    recipe = write_recipe(
        tmp_path / "r.yaml",
        f"input: {data}\noutput: {tmp_path / 'out'}\ncopies: 3\nseed: 4\ntext:\n  spans_field: ents\n"
        "  pipeline:\n    - random_swap: {n: 2}\n    - keyboard_typo: {fraction: 0.3}\n",
    )
    proc = run_augcli("expand", str(recipe))
    assert proc.returncode == 1, proc.stderr  # the bad record fails, alone
    lines = read_manifest(tmp_path / "out")
    failed = [x for x in lines if x["status"] == "failed"]
    assert failed and all("notes.jsonl:3" in x["error"] for x in failed)
    out = [json.loads(x) for x in (tmp_path / "out" / "notes.jsonl").read_text().splitlines()]
    assert len(out) >= 4
    for row in out:
        for s in row["ents"]:
            start, end = (s["start"], s["end"]) if isinstance(s, dict) else s[:2]
            assert row["text"][start:end] in ("pleural effusion", "fever")
    import csv

    with (tmp_path / "out" / "notes.csv").open(newline="") as f:
        made = list(csv.DictReader(f))
    assert made and all(r["text"][slice(*json.loads(r["ents"])[0][:2])] == "nodule" for r in made)
    replayed = run_augcli("replay", str(recipe), "--to", str(tmp_path / "again"))
    assert "0 differ" in replayed.stdout, replayed.stdout + replayed.stderr  # spans moved too


# -- token records: tokens + ner_tags (tags_field) ---------------------------------------------
def random_tokens(rng: random.Random) -> tuple[list[str], list]:
    tokens = [rng.choice(WORDS) for _ in range(rng.randint(4, 14))] + ["."]
    numbers = rng.random() < 0.5
    tags: list = [0 if numbers else "O"] * len(tokens)
    for k in sorted(rng.sample(range(len(tokens) - 1), k=rng.randint(1, 3))):
        tags[k] = rng.choice([1, 3]) if numbers else rng.choice(["B-FINDING", "B-ANAT"])
        if k + 1 < len(tokens) - 1 and rng.random() < 0.5:
            tags[k + 1] = 2 if numbers else "I-FINDING"
    return tokens, tags


def entities(tokens: list[str], tags: list) -> list[tuple[str, object]]:
    outside = 0 if isinstance(tags[0], int) else "O"
    return [(t, g) for t, g in zip(tokens, tags, strict=True) if g != outside]


@pytest.mark.parametrize("name", sorted(text_ops()))
def test_token_tags_stay_on_their_tokens_after_every_op(name: str) -> None:
    op = text_ops()[name].from_recipe(all_out(name), f"test.{name}")
    rng = random.Random("tags" + name)
    aligned = 0
    for case in range(40):
        tokens, tags = random_tokens(rng)
        text = " ".join(tokens)
        spans = read_tags(tags, text, "t.jsonl:1")
        doc = TextDoc.parse(text, ProtectRules(), spans.ranges())
        params = op.sample(
            generator(case), {"doc": doc, "lexicon": Lexicon.default(), "substitutions": TABLE}
        )
        out = op.apply(doc, params).text
        try:
            new_tags = written(realign(spans, text, out, "t.jsonl:1"), out, "t.jsonl:1")
        except InputError as exc:
            assert "can no longer be aligned" in str(exc) or "whole token" in str(exc)
            continue
        aligned += 1
        assert len(new_tags) == len(out.split())
        assert entities(out.split(), new_tags) == entities(tokens, tags), (text, out)
    assert aligned >= 20, f"{name}: only {aligned} of 40 aligned"


def test_tags_round_trip_and_bad_tags_are_named() -> None:
    text = "Small left pleural effusion ."
    tags = ["O", "B-SIDE", "B-FINDING", "I-FINDING", "O"]
    spans = read_tags(tags, text, "a.jsonl:2")
    assert [text[s.start : s.end] for s in spans.items] == ["left pleural effusion"]
    assert written(spans, text) == tags
    assert written(read_tags([0, 0, 5, 6, 0], text, "a:1"), text) == [0, 0, 5, 6, 0]
    for bad, what in [
        (tags[:-1], "one per token \\(5\\); got 4 tags"),
        (["O", 1, "O", "O", "O"], "all text"),
    ]:
        with pytest.raises(InputError, match=what) as err:
            read_tags(bad, text, "a.jsonl:2")
        assert str(err.value).startswith("a.jsonl:2:")
    with pytest.raises(InputError, match="no longer 2 whole token"):
        spans = read_tags(["O", "B-X", "I-X", "O", "O"], text, "a:1")
        written(spans, "Small leftpleural effusion .", "a:1")


TOKENS = [
    {
        "id": 1,
        "tokens": [
            "Small",
            "left",
            "pleural",
            "effusion",
            "noted",
            "on",
            "the",
            "chest",
            "film",
            ".",
        ],
        "ner_tags": ["O", "B-SIDE", "B-FINDING", "I-FINDING", "O", "O", "O", "B-ANAT", "O", "O"],
    },
    {
        "id": 2,
        "tokens": [
            "The",
            "patient",
            "reports",
            "a",
            "big",
            "cough",
            "and",
            "mild",
            "fever",
            "today",
            ".",
        ],
        "ner_tags": [0, 0, 0, 0, 0, 3, 0, 0, 3, 0, 0],
    },
]
SPACED = {"id": 3, "tokens": ["two", "words here"], "ner_tags": ["O", "O"]}


def test_token_records_end_to_end_and_replayed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "ner.jsonl").write_text("".join(json.dumps(r) + "\n" for r in TOKENS))
    (data / "bad.jsonl").write_text(json.dumps(TOKENS[0]) + "\n" + json.dumps(SPACED) + "\n")
    recipe = write_recipe(
        tmp_path / "r.yaml",
        f"input: {data}\noutput: {tmp_path / 'out'}\ncopies: 4\nseed: 5\ntext:\n"
        "  text_field: tokens\n  tags_field: ner_tags\n  pipeline:\n"
        "    - synonym_replace: {fraction: 0.5}\n    - random_insert: {n: 1, p: 0.5}\n"
        "    - random_delete: {fraction: 0.2}\n",
    )
    proc = run_augcli("expand", str(recipe))
    assert proc.returncode == 1, proc.stderr  # the record with a spaced token fails, alone
    failed = [x for x in read_manifest(tmp_path / "out") if x["status"] == "failed"]
    assert len(failed) == 4 and all(x["record"]["line"] == 2 for x in failed)
    assert all("bad.jsonl:2: token 1 of 'tokens'" in x["error"] for x in failed)
    rest = [json.loads(x) for x in (tmp_path / "out" / "bad.jsonl").read_text().splitlines()]
    assert len(rest) == 4 and all(r["id"] == 1 for r in rest)  # record 1's outputs are written
    out = [json.loads(x) for x in (tmp_path / "out" / "ner.jsonl").read_text().splitlines()]
    assert len(out) == 4 * len(TOKENS) and any(
        r["tokens"] != TOKENS[r["id"] - 1]["tokens"] for r in out
    )
    for row in out:
        source = TOKENS[row["id"] - 1]
        assert len(row["ner_tags"]) == len(row["tokens"])
        assert entities(row["tokens"], row["ner_tags"]) == entities(
            source["tokens"], source["ner_tags"]
        )
    replayed = run_augcli("replay", str(recipe), "--to", str(tmp_path / "again"))
    assert "0 differ" in replayed.stdout, replayed.stdout + replayed.stderr
    again = (tmp_path / "again" / "ner.jsonl").read_text()
    assert again == (tmp_path / "out" / "ner.jsonl").read_text()


def test_preview_shows_the_good_records_of_a_file_with_a_bad_one(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "bad.jsonl").write_text(json.dumps(TOKENS[0]) + "\n" + json.dumps(SPACED) + "\n")
    recipe = write_recipe(
        tmp_path / "r.yaml",
        f"input: {data}\noutput: {tmp_path / 'out'}\nseed: 5\ntext:\n  text_field: tokens\n"
        "  tags_field: ner_tags\n  pipeline:\n    - synonym_replace: {fraction: 0.5}\n",
    )
    sheet = tmp_path / "p.png"  # a text section writes p.html beside it
    proc = run_augcli("preview", str(recipe), "-n", "2", "--output", str(sheet))
    assert proc.returncode == 1, proc.stderr
    first, second = proc.stdout.split("bad.jsonl#1")
    assert "bad.jsonl#0" in first and "aug_0: " in first and "(failed" not in first
    assert second.count("(failed: ") == 2 and "bad.jsonl:2: token 1 of 'tokens'" in second
    assert "bad.jsonl#1 aug_0: failed" in proc.stderr and sheet.with_suffix(".html").exists()


def test_spans_field_and_tags_field_are_one_or_the_other(tmp_path: Path) -> None:
    recipe = write_recipe(
        tmp_path / "r.yaml",
        f"input: {tmp_path}\noutput: {tmp_path / 'out'}\ntext:\n  spans_field: ents\n"
        "  tags_field: ner_tags\n  pipeline:\n    - random_swap: {n: 1}\n",
    )
    proc = run_augcli("validate", str(recipe))
    assert proc.returncode == 2 and "text.tags_field" in proc.stderr and "give one" in proc.stderr


@pytest.mark.parametrize(
    ("setting", "name", "content", "says"),
    [
        (
            "tags_field: ner_tags",
            "a.csv",
            "text,label\nFever today.,x\nCough.,y\n",
            "not a CSV file",
        ),
        (
            "tags_field: ner_tags",
            "a.jsonl",
            '{"text": "Fever today."}\n{"text": "Cough."}\n',
            "no record's 'text' is a list of tokens",
        ),
        ("spans_field: ents", "a.tsv", "text\tlabel\nFever today.\tx\n", "'ents' is not a column"),
    ],
)
def test_a_file_the_entity_field_cannot_apply_to_fails_once(
    tmp_path: Path, setting: str, name: str, content: str, says: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / name).write_text(content)
    (data / "ok.jsonl").write_text(json.dumps(TOKENS[0]) + "\n")
    recipe = write_recipe(
        tmp_path / "r.yaml",
        f"input: {data}\noutput: {tmp_path / 'out'}\ncopies: 3\ntext:\n  text_field: tokens\n"
        f"  {setting}\n  pipeline:\n    - synonym_replace: {{fraction: 0.5}}\n",
    )
    if name.endswith(".jsonl"):  # its records hold text, not tokens
        recipe.write_text(recipe.read_text().replace("  text_field: tokens\n", ""))
        (data / "ok.jsonl").unlink()
    checked = run_augcli("validate", str(recipe))
    assert (
        checked.returncode == 0 and f"{name} will fail" in checked.stdout and says in checked.stdout
    )
    proc = run_augcli("expand", str(recipe))
    assert proc.returncode == 1, proc.stderr
    failed = [x for x in read_manifest(tmp_path / "out") if x["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["source"] == name and says in failed[0]["error"]
    assert not (tmp_path / "out" / name).exists()
