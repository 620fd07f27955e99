"""Hostile text inputs and manifests (issue 13: D7, D12, D16, D19), from the user's side: a file
that cannot be read fails alone with its line, augcli reads back its own output, the word-change
measure stays fast on long repetitive text, and `report` reads any manifest."""

from __future__ import annotations

import difflib
import json
import random
import time
from pathlib import Path

import pytest
from conftest import read_manifest, run_augcli, write_recipe

from augcli.text import change as text_change
from augcli.text.change import changed_share
from augcli.text.records import MAX_JSON_DEPTH, read_records

RECIPE = """\
version: 1
seed: 3
input: {input}
output: {output}
copies: 2
text:
  label_field: label
{extra}  pipeline:
    - random_swap: {{n: 1}}
"""


def recipe(tmp_path: Path, input: str = "data", output: str = "out", extra: str = "") -> Path:
    body = RECIPE.format(input=input, output=output, extra=extra)
    return write_recipe(tmp_path / f"{output}.yaml", body)


def jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")


# -- D7: a JSONL line nested 100,000 deep --------------------------------------------------------
@pytest.mark.parametrize("depth", [100_000, MAX_JSON_DEPTH + 50])
def test_a_deeply_nested_line_fails_its_file_only(tmp_path: Path, depth: int) -> None:
    jsonl(tmp_path / "data/good.jsonl", [{"text": "the small dog ran home fast"}])
    deep = '{"text": "a b c", "x": ' + "[" * depth + "]" * depth + "}\n"
    (tmp_path / "data/deep.jsonl").write_text('{"text": "one two three"}\n' + deep)
    path = recipe(tmp_path)
    proc = run_augcli("validate", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "warning: text: deep.jsonl will fail:" in proc.stdout
    assert f"deep.jsonl:2: JSON nested more than {MAX_JSON_DEPTH} levels deep" in proc.stdout
    proc = run_augcli("expand", str(path))
    assert proc.returncode == 1, proc.stderr
    assert "RecursionError" not in proc.stderr and "Traceback" not in proc.stderr
    lines = read_manifest(tmp_path / "out")
    failed = [r for r in lines if r["status"] == "failed"]
    assert [r["source"] for r in failed] == ["deep.jsonl"]
    assert "deep.jsonl:2: JSON nested more than" in failed[0]["error"]
    assert (tmp_path / "out/good.jsonl").is_file()


# -- D12: lines end at \n only ---------------------------------------------------------------------
ODD = ["line\u2028separator", "next\x85line", "para\u2029graph", "form\x0cfeed", "rec\x1esep"]


def test_augcli_reads_back_its_own_jsonl(tmp_path: Path) -> None:
    rows = [{"text": f"the {w} word is here now", "label": "a"} for w in ODD]
    jsonl(tmp_path / "data/notes.jsonl", rows)
    proc = run_augcli("expand", str(recipe(tmp_path)))
    assert proc.returncode == 0, proc.stderr
    written = (tmp_path / "out/notes.jsonl").read_text("utf-8")
    assert "\u2028" in written  # our writer keeps it raw (ensure_ascii=False)
    (tmp_path / "back").mkdir()
    (tmp_path / "back/notes.jsonl").write_text(written, "utf-8")
    proc = run_augcli("expand", str(recipe(tmp_path, input="back", output="again")))
    assert proc.returncode == 0, proc.stderr
    again = read_manifest(tmp_path / "again")
    assert all(r["status"] != "failed" for r in again), again
    assert sum(1 for r in again if r.get("record")) == 2 * 2 * len(ODD)
    assert len(read_records(tmp_path / "back/notes.jsonl", "jsonl", {}).records) == 2 * len(ODD)


def test_record_formats_split_lines_as_their_specs_say(tmp_path: Path) -> None:
    """JSONL and TXT lines: at \\n only (a CRLF's \\r is JSON whitespace; a line keeps it).
    CSV/TSV: the csv module's rules (\\n, \\r, \\r\\n outside quotes; anything inside)."""
    crlf = tmp_path / "crlf.jsonl"
    crlf.write_bytes(b'{"text": "a\\u2028b"}\r\n{"text": "c\xe2\x80\xa8d"}\r\n')
    assert [r.text for r in read_records(crlf, "jsonl", {}).records] == ["a\u2028b", "c\u2028d"]
    lines = tmp_path / "notes.txt"
    lines.write_text("one\u2028still one\x85too\nsecond\n", "utf-8")
    assert len(read_records(lines, "lines", {}).records) == 2
    table = tmp_path / "t.csv"
    table.write_text('text,label\n"a\u2028b\nc",x\nd\x85e,y\n', "utf-8", newline="")
    got = read_records(table, "csv", {"text_column": "text"}).records
    assert [r.text for r in got] == ["a\u2028b\nc", "d\x85e"]


# -- D16: the word-change measure is bounded ------------------------------------------------------
def test_a_one_line_200_kb_text_expands_in_seconds(tmp_path: Path) -> None:
    unit = "the cat sat on the mat and the dog ate the hat "
    (tmp_path / "data").mkdir()
    (tmp_path / "data/one.txt").write_text((unit * (200_000 // len(unit) + 1))[:200_000])
    extra = "  max_change: 0.5\n"
    path = write_recipe(
        tmp_path / "r.yaml",
        RECIPE.format(input="data", output="out", extra=extra).replace("copies: 2", "copies: 1"),
    )
    start = time.monotonic()
    proc = run_augcli("expand", str(path), "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - start < 60  # was over 300 s
    assert [r["status"] for r in read_manifest(tmp_path / "out")] == ["ok"]


def _edited(words: list[str], rng: random.Random, share: float) -> list[str]:
    out: list[str] = []
    for w in words:
        r = rng.random()
        out += (
            [w + "x"]
            if r < share / 3
            else [w, "new"]
            if r < 2 * share / 3
            else []
            if r < share
            else [w]
        )
    return out


def _lcs_dp(a: list[str], b: list[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def test_changed_share_is_difflib_on_normal_texts() -> None:
    rng = random.Random(5)
    vocab = "the a dog cat ran sat on mat no fever left lobe clear 4 mm"
    vocab_words = vocab.split(" ")
    for _ in range(300):
        src = [rng.choice(vocab_words) for _ in range(rng.randint(0, 400))]
        out = _edited(src, rng, rng.random() * 0.5)
        if not src and not out:
            continue
        m = difflib.SequenceMatcher(a=src, b=out, autojunk=False)
        same = sum(b.size for b in m.get_matching_blocks())
        assert changed_share(src, out) == 1.0 - same / max(len(src), len(out))


def test_the_fallback_is_the_longest_common_subsequence(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(8)
    for _ in range(200):
        a = [rng.choice("abcde") for _ in range(rng.randint(0, 60))]
        b = [rng.choice("abcdef") for _ in range(rng.randint(0, 60))]
        assert text_change._lcs(a, b) == _lcs_dp(a, b)
    monkeypatch.setattr(text_change, "MAX_PAIRS", 0)
    src = [rng.choice("abcdefgh") for _ in range(300)]
    out = _edited(src, rng, 0.2)
    assert changed_share(src, out) == 1.0 - _lcs_dp(src, out) / max(len(src), len(out))
    monkeypatch.setattr(text_change, "CHUNK_WORDS", 50)  # chunks, re-aligned at each cut
    words = [f"w{rng.randrange(5000)}" for _ in range(4000)]
    edited = _edited(words, rng, 0.1)
    exact = 1.0 - _lcs_dp(words[:800], edited[:800]) / 800
    assert abs(changed_share(words[:800], edited[:800]) - exact) < 0.02


def test_changed_share_on_16_mb_of_repetitive_words_is_linear() -> None:
    unit = "the cat sat on the mat and the dog ate the hat "
    words = unit.split(" ")[:-1] * 300_000  # ~16 MB
    edited = _edited(words, random.Random(2), 0.1)
    start = time.monotonic()
    share = changed_share(words, edited)
    assert time.monotonic() - start < 30
    assert 0.05 < share < 0.1


# -- D19: report reads any manifest -------------------------------------------------------------
def test_report_counts_labels_that_are_objects_lists_and_numbers(tmp_path: Path) -> None:
    labels = [{"kind": "a"}, ["x", "y"], 0, 1, None, True, "plain", 2.5]
    rows = [
        {"text": f"the dog ran home number {k} today", "label": v} for k, v in enumerate(labels)
    ]
    jsonl(tmp_path / "data/notes.jsonl", rows)
    assert run_augcli("expand", str(recipe(tmp_path))).returncode == 0
    proc = run_augcli("report", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    for shown in ('text/{"kind": "a"}', 'text/["x", "y"]', "text/0 ", "text/1 ", "text/true"):
        assert shown in proc.stdout, proc.stdout
    assert "text/(no class)" in proc.stdout and "text/2.5" in proc.stdout


ODD_LINES = [
    {"source": ["a"], "modality": {"m": 1}, "label": [1], "status": "ok", "node": "aug"},
    {"source": "b", "ops": "hflip", "status": "failed", "error": ["e"]},
    {"source": "b2", "record": "zero", "output": "o", "status": "ok"},
    {"source": "c", "record": {"no": "input"}, "ops": {"op": "x"}, "status": 3},
    {"source": "d", "ops": [1, None, {"op": ["x"], "applied": 1, "params": [1, 2]}]},
    {"source": "e", "ops": [{"op": "r", "node": "aug", "applied": True, "params": {"v": 1e308}}]},
    {"source": "f", "ops": [{"op": "r", "node": "aug", "applied": True, "params": {"v": -1e308}}]},
    {"source": "g", "label": "", "modality": None, "ops": None, "error": None, "status": "failed"},
]


@pytest.mark.parametrize("run_json", ['["not", "a", "mapping"]', '{"this_run": [1, 2]}', "7"])
def test_report_reads_a_manifest_of_odd_lines(tmp_path: Path, run_json: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    deep = '{"source": "h", "x": ' + "[" * 100_000 + "]" * 100_000 + "}\n"
    body = "".join(json.dumps(r) + "\n" for r in ODD_LINES) + deep + '[1, 2]\n"text"\n{torn'
    (out / "manifest.jsonl").write_text(body)
    (out / "run.json").write_text(run_json)
    proc = run_augcli("report", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert (out / "report.html").is_file()
    assert "(no reason recorded)" in proc.stdout and '["e"]' in proc.stdout
