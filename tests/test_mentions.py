"""Mention replacement (``mention_replace``, Dai & Adel 2020): each entity span of a record may be
replaced, per output and before the pipeline, by another mention of its label from the same input
file. The new spans slice the new mention exactly, token tags keep their sequence, the draws come
from the output's seed, the setting off changes nothing, and replay rebuilds the same files from
the manifest's ``mentions`` without the pool."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import read_manifest, run_augcli, tree_digest, write_recipe

from augcli.core.errors import InputError
from augcli.text.mentions import draw_mentions, mention_pool, substituted
from augcli.text.spans import (
    Span,
    Spans,
    read_spans,
    read_tags,
    written,
)

NOTES = [
    {"text": "Fever and cough since Monday.", "ents": [[0, 5, "SYM"], [10, 15, "SYM"]]},
    {"text": "Patient reports chills at night.", "ents": [[16, 22, "SYM"]]},
    {"text": "Severe headache in the morning.", "ents": [[7, 15, "SYM"]]},
    {"text": "Seen by Dr Smith today.", "ents": [[8, 16, "PER"]]},  # PER has one text
    {"text": "Mild shortness of breath noted.", "ents": [[5, 24, "SYM"]]},
    {"text": "No fever reported.", "ents": [{"start": 3, "end": 8, "label": "SYM", "id": 9}]},
]
OTHER = [  # another file: its SYM mentions never enter NOTES' pool
    {"text": "Rash on both arms.", "ents": [[0, 4, "SYM"]]},
    {"text": "Itching at night.", "ents": [[0, 7, "SYM"]]},
]
CSV_ROWS = [
    ("A large nodule in the right lung.", [[8, 14, "FINDING"]]),
    ("A small mass in the left lung.", [[8, 12, "FINDING"]]),
    ("An irregular opacity in the apex.", [[13, 20, "FINDING"]]),
]
TOKENS = [  # a run is consecutive tagged tokens: 'left apex' is one (B-SIDE, B-ANAT) run
    {
        "tokens": ["Small", "pleural", "effusion", "noted", "on", "the", "chest", "film", "."],
        "ner_tags": ["O", "B-FIND", "I-FIND", "O", "O", "O", "B-ANAT", "O", "O"],
    },
    {
        "tokens": [
            "Right",
            "lower",
            "lobe",
            "consolidation",
            "seen",
            "on",
            "the",
            "lung",
            "film",
            ".",
        ],
        "ner_tags": ["B-SIDE", "O", "O", "B-FIND", "O", "O", "O", "B-ANAT", "O", "O"],
    },
    {
        "tokens": ["Large", "basal", "pneumothorax", "seen", "in", "the", "left", "apex", "."],
        "ner_tags": ["O", "B-FIND", "I-FIND", "O", "O", "O", "B-SIDE", "B-ANAT", "O"],
    },
    {
        "tokens": ["Left", "lower", "lobe", "collapse", "seen", "."],
        "ner_tags": ["B-SIDE", "O", "O", "B-FIND", "O", "O"],
    },
]
PIPELINE = "  pipeline:\n    - random_swap: {n: 1}\n    - keyboard_typo: {fraction: 0.2}\n"


def jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    jsonl(data / "notes.jsonl", NOTES)
    jsonl(data / "other.jsonl", OTHER)
    with (data / "scans.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "ents"])
        w.writerows([t, json.dumps(e)] for t, e in CSV_ROWS)
    return data


def recipe(tmp_path: Path, data: Path, out: str, extra: str, seed: int = 4) -> Path:
    body = f"input: {data}\noutput: {tmp_path / out}\ncopies: 3\nseed: {seed}\ntext:\n"
    return write_recipe(tmp_path / f"{out}.yaml", body + extra + PIPELINE)


def spans_of(text: str, ents: list) -> list[tuple[str, object]]:
    return [(text[s[0] : s[1]], s[2]) if isinstance(s, list) else
            (text[s["start"] : s["end"]], s["label"]) for s in ents]  # fmt: skip


# -- units --------------------------------------------------------------------------------------
def test_pool_holds_each_labels_distinct_texts_in_first_order() -> None:
    texts = [(r["text"], read_spans(r["ents"], r["text"], "t:1")) for r in NOTES]
    pool = mention_pool(texts)
    assert pool == {
        '"SYM"': ("Fever", "cough", "chills", "headache", "shortness of breath", "fever"),
        '"PER"': ("Dr Smith",),
    }
    joined = [" ".join(r["tokens"]) for r in TOKENS]
    tags = [(t, read_tags(r["ner_tags"], t, "t:1")) for t, r in zip(joined, TOKENS, strict=True)]
    pool = mention_pool(tags)
    assert pool['["B-FIND", "I-FIND"]'] == ("pleural effusion", "basal pneumothorax")
    assert pool['["B-FIND"]'] == ("consolidation", "collapse")  # one token: another pool
    assert pool['["B-SIDE", "B-ANAT"]'] == ("left apex",)


def test_substituted_offsets_are_exact_and_others_shift() -> None:
    text = "Fever and cough since Monday, seen by Dr Smith."
    spans = read_spans(
        [[0, 5, "SYM"], [10, 15, "SYM"], [38, 46, "PER"], [22, 28, "DAY"]], text, "t:1"
    )
    new, moved = substituted(text, spans, [[1, "shortness of breath"], [0, "Rash"]], "t:1")
    assert new == "Rash and shortness of breath since Monday, seen by Dr Smith."
    got = [(new[s.start : s.end], s.label) for s in moved.items]
    assert got == [("Rash", "SYM"), ("shortness of breath", "SYM"), ("Dr Smith", "PER"), ("Monday", "DAY")]  # fmt: skip
    assert substituted(text, spans, [], "t:1") == (text, spans)
    for bad in ([[7, "x"]], [[0, ""]], [["0", "x"]], [[0, "a"], [0, "b"]]):
        with pytest.raises(InputError, match=r"^t:1: "):
            substituted(text, spans, bad, "t:1")


def test_draws_never_keep_the_text_skip_lonely_labels_and_overlaps() -> None:
    text = "Fever in the left lung with Dr Smith."
    spans = Spans(
        "triples",
        (Span(0, 5, "SYM"), Span(13, 22, "ANAT"), Span(18, 22, "ANAT"), Span(28, 36, "PER")),
    )
    pool = {'"SYM"': ("Fever", "cough"), '"ANAT"': ("left lung", "lung", "apex"), '"PER"': ("Dr Smith",)}  # fmt: skip
    for seed in range(50):
        drawn = draw_mentions(spans, text, pool, 1.0, np.random.default_rng(seed))
        assert drawn == [[0, "cough"]]  # ANAT spans overlap, PER has no other text
    assert draw_mentions(spans, text, pool, 0.0, np.random.default_rng(1)) == []


def test_share_replaced_follows_the_probability() -> None:
    text = "a b c d"
    spans = Spans("triples", tuple(Span(k, k + 1, "X") for k in (0, 2, 4, 6)))
    pool = {'"X"': ("a", "b", "c", "d", "e")}
    rng = np.random.default_rng(0)
    draws = [draw_mentions(spans, text, pool, 0.3, rng) for _ in range(2500)]
    share = sum(map(len, draws)) / (4 * len(draws))
    assert abs(share - 0.3) < 0.02
    picks = [m for d in draws for i, m in d if i == 0]
    assert "a" not in picks and {picks.count(m) for m in "bcde"} != {0}
    assert max(picks.count(m) for m in "bcde") / min(picks.count(m) for m in "bcde") < 1.3


# -- end to end ---------------------------------------------------------------------------------
def test_mentions_end_to_end_jsonl_csv_and_replay(tmp_path: Path) -> None:
    data = data_dir(tmp_path)
    r = recipe(tmp_path, data, "out", "  spans_field: ents\n  mention_replace: 0.5\n")
    proc = run_augcli("expand", str(r))
    assert proc.returncode == 0, proc.stderr
    lines = read_manifest(tmp_path / "out")
    made = [x for x in lines if x.get("record") and x["status"] == "ok"]
    files = {"notes.jsonl": NOTES, "other.jsonl": OTHER}
    pools = {
        name: {t for row in rows for t, _ in spans_of(row["text"], row["ents"])}
        for name, rows in files.items()
    }
    pools["scans.csv"] = {t[e[0][0] : e[0][1]] for t, e in CSV_ROWS}
    replaced = total = 0
    for x in made:
        src = files.get(x["source"])
        text, ents = (
            (src[x["record"]["input"]]["text"], src[x["record"]["input"]]["ents"])
            if src
            else (CSV_ROWS[x["record"]["input"]][0], CSV_ROWS[x["record"]["input"]][1])
        )
        before = spans_of(text, ents)
        total += len(before)
        for i, new in x.get("mentions", []):
            replaced += 1
            assert new != before[i][0] and new in pools[x["source"]]  # same file's pool
            assert new != "Dr Smith" and before[i][0] != "Dr Smith"
    assert 0.3 < replaced / total < 0.7, (replaced, total)
    for name in ("notes.jsonl", "other.jsonl"):
        out = [json.loads(s) for s in (tmp_path / "out" / name).read_text().splitlines()]
        by_line = {x["record"]["output"]: x for x in made if x["source"] == name}
        for k, row in enumerate(out):
            got = spans_of(row["text"], row["ents"])
            assert all(t in pools[name] for t, _ in got)
            if k in by_line:
                x = by_line[k]
                src = files[name][x["record"]["input"]]
                want = spans_of(src["text"], src["ents"])
                for i, new in x.get("mentions", []):
                    want[i] = (new, want[i][1])
                assert got == want  # the new mention exactly, the label kept
                for s, old in zip(row["ents"], src["ents"], strict=True):
                    assert type(s) is type(old)  # layout kept, other keys too
                    if isinstance(s, dict):
                        assert s["id"] == old["id"]
    with (tmp_path / "out" / "scans.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            ((s, e, label),) = json.loads(row["ents"])
            assert row["text"][s:e] in pools["scans.csv"] and label == "FINDING"
    again = run_augcli("replay", str(r), "--to", str(tmp_path / "again"))
    assert "0 differ" in again.stdout, again.stdout + again.stderr
    for name in ("notes.jsonl", "other.jsonl", "scans.csv"):
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / "out" / name).read_bytes()


def test_tags_swap_only_runs_of_the_same_tag_sequence(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    jsonl(data / "ner.jsonl", TOKENS)
    extra = "  text_field: tokens\n  tags_field: ner_tags\n  mention_replace: 1.0\n"
    r = recipe(tmp_path, data, "out", extra)
    proc = run_augcli("expand", str(r))
    assert proc.returncode == 0, proc.stderr
    runs = {}
    for row in TOKENS:
        for text, label in entities(row):
            runs.setdefault(label, set()).add(text)
    out = [json.loads(s) for s in (tmp_path / "out" / "ner.jsonl").read_text().splitlines()]
    made = [x for x in read_manifest(tmp_path / "out") if x.get("record")]
    assert len(made) == len(out) == 3 * len(TOKENS)
    changed = 0
    for x in made:
        row, source = out[x["record"]["output"]], TOKENS[x["record"]["input"]]
        assert len(row["tokens"]) == len(row["ner_tags"])
        want = entities(source)
        for i, new in x.get("mentions", []):
            text, label = want[i]
            assert new in runs[label] and new != text and len(new.split()) == len(label)
            want[i] = (new, label)
            changed += 1
        assert entities(row) == want  # same tag sequences, on the new mention's tokens
    # at 1.0 every run whose tag sequence has another text swaps: all but 'left apex'
    assert changed == 3 * 8, changed
    again = run_augcli("replay", str(r), "--to", str(tmp_path / "again"))
    assert "0 differ" in again.stdout, again.stdout + again.stderr


def entities(row: dict) -> list[tuple[str, tuple]]:
    text = " ".join(row["tokens"])
    return [(text[s.start : s.end], s.label) for s in read_tags(row["ner_tags"], text, "t:1").items]


def test_same_seed_same_output_and_off_changes_nothing(tmp_path: Path) -> None:
    data = data_dir(tmp_path)
    on = "  spans_field: ents\n  mention_replace: 0.5\n"
    for out, extra in [("a", on), ("b", on), ("off", "  spans_field: ents\n")]:
        assert run_augcli("expand", str(recipe(tmp_path, data, out, extra))).returncode == 0
    zero = "  spans_field: ents\n  mention_replace: 0.0\n"
    null = "  spans_field: ents\n  mention_replace: null\n"
    for out, extra in [("zero", zero), ("null", null)]:
        assert run_augcli("expand", str(recipe(tmp_path, data, out, extra))).returncode == 0
    skip = ("run.json", "manifest.jsonl")
    a, b = tree_digest(tmp_path / "a", skip), tree_digest(tmp_path / "b", skip)
    assert a == b
    off = tree_digest(tmp_path / "off", skip)
    assert a != off  # it did replace something
    assert off == tree_digest(tmp_path / "zero", skip) == tree_digest(tmp_path / "null", skip)
    manifest = (tmp_path / "off" / "manifest.jsonl").read_text()
    assert "mentions" not in manifest
    assert manifest.replace(str(tmp_path / "off"), "X") == (
        (tmp_path / "zero" / "manifest.jsonl").read_text().replace(str(tmp_path / "zero"), "X")
    )
    # the ops drew the same params: only the source text moved
    seeds = [
        (x["seed"], y["seed"])
        for x, y in zip(read_manifest(tmp_path / "a"), read_manifest(tmp_path / "off"), strict=True)
        if x.get("seed") and y.get("seed")
    ]
    assert len(seeds) > 10 and all(x == y for x, y in seeds)
    other = recipe(tmp_path, data, "c", on, seed=5)
    assert run_augcli("expand", str(other)).returncode == 0
    assert tree_digest(tmp_path / "c", skip) != a


def test_a_label_with_one_mention_text_keeps_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    rows = [
        {"text": "Seen by Dr Smith today.", "ents": [[8, 16, "PER"]]},
        {"text": "Dr Smith called back.", "ents": [[0, 8, "PER"]]},
    ]
    jsonl(data / "n.jsonl", rows)
    r = recipe(tmp_path, data, "out", "  spans_field: ents\n  mention_replace: 1.0\n")
    assert run_augcli("expand", str(r)).returncode == 0
    out = [json.loads(s) for s in (tmp_path / "out" / "n.jsonl").read_text().splitlines()]
    assert len(out) == 6 and all(spans_of(o["text"], o["ents"]) == [("Dr Smith", "PER")] for o in out)  # fmt: skip
    assert not any("mentions" in x for x in read_manifest(tmp_path / "out"))


def test_preview_shows_the_replaced_mentions_expand_writes(tmp_path: Path) -> None:
    data = data_dir(tmp_path)
    r = recipe(tmp_path, data, "out", "  spans_field: ents\n  mention_replace: 1.0\n")
    prev = run_augcli("preview", str(r), "-n", "2", "--output", str(tmp_path / "prev" / "p.png"))
    assert prev.returncode == 0, prev.stderr
    shown = [s.split(": ", 1)[1] for s in prev.stdout.splitlines() if s.startswith("  aug_")]
    assert run_augcli("expand", str(r)).returncode == 0
    rows = [json.loads(s)["text"] for s in (tmp_path / "out" / "notes.jsonl").read_text().splitlines()]  # fmt: skip
    rows += [json.loads(s)["text"] for s in (tmp_path / "out" / "other.jsonl").read_text().splitlines()]  # fmt: skip
    with (tmp_path / "out" / "scans.csv").open(newline="") as f:
        rows += [row["text"] for row in csv.DictReader(f)]
    assert shown and all(t in rows for t in shown)
    assert "Fever" not in " ".join(t for t in shown if "since" in t)  # replaced at 1.0


@pytest.mark.parametrize(
    ("extra", "what"),
    [
        ("  mention_replace: 0.5\n", "names no entities"),
        ("  spans_field: ents\n  mention_replace: 1.5\n", "mention_replace"),
        ("  spans_field: ents\n  mention_replace: yes\n", "mention_replace"),
    ],
)
def test_bad_settings_are_recipe_errors_with_the_path(
    tmp_path: Path, extra: str, what: str
) -> None:
    r = recipe(tmp_path, tmp_path, "out", extra)
    proc = run_augcli("validate", str(r))
    assert proc.returncode == 2 and "text.mention_replace" in proc.stderr, proc.stderr
    assert what in proc.stderr


def test_written_tags_follow_a_replaced_run() -> None:
    text = "Small left , pleural effusion noted ."
    tags = ["O", "B-SIDE", "O", "B-FIND", "I-FIND", "O", "O"]
    spans = read_tags(tags, text, "t:1")
    new, moved = substituted(text, spans, [[1, "basal pneumothorax"], [0, "right"]], "t:1")
    assert new == "Small right , basal pneumothorax noted ."
    assert written(moved, new, "t:1") == tags
