"""The text modality end to end: record files keep every other field, protected words survive,
duplicates are not written, bad files fail alone, and outputs do not depend on worker count."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from conftest import ROOT, run_augcli, tree_digest, write_recipe
from typer.testing import CliRunner

from augcli.cli import app

runner = CliRunner()

RECIPE = """\
version: 1
seed: 3
input: data
output: {out}
copies: 2
keep_originals: true
text:
{extra}  pipeline:
    - synonym_replace: {{fraction: 0.5}}
    - random_swap: {{n: 1, p: 0.5}}
"""

SENTENCES = [
    ("The big dog ran quickly across the green field.", "animal", 1),
    ("No evidence of pneumothorax.", "negative", 2),
    ("A 4 mm nodule was seen in the small lung.", "finding", 3),
]


def expand(tmp_path: Path, extra: str = "", out: str = "out", *args: str) -> tuple[int, str]:
    recipe = write_recipe(tmp_path / f"{out}.yaml", RECIPE.format(out=out, extra=extra))
    result = runner.invoke(app, ["expand", str(recipe), "-q", *args])
    return result.exit_code, result.output


def manifest(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]


def jsonl_dataset(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "notes.jsonl"
    path.write_text(
        "".join(
            json.dumps({"text": t, "label": lab, "id": i, "meta": {"k": [i]}}) + "\n"
            for t, lab, i in SENTENCES
        )
    )
    return path


def test_jsonl_records_keep_fields_and_originals(tmp_path: Path) -> None:
    jsonl_dataset(tmp_path / "data")
    code, out = expand(tmp_path)
    assert code == 0, out
    rows = [json.loads(x) for x in (tmp_path / "out/notes.jsonl").read_text().splitlines()]
    originals = [r for r in rows if r["text"] in {t for t, _, _ in SENTENCES}]
    assert rows[0] == {"text": SENTENCES[0][0], "label": "animal", "id": 1, "meta": {"k": [1]}}
    for row in rows:
        source = next(s for s in SENTENCES if s[2] == row["id"])
        assert row["label"] == source[1] and row["meta"] == {"k": [source[2]]}
    assert len(originals) >= 3
    lines = manifest(tmp_path / "out")
    per_record = [r for r in lines if r.get("record")]
    summary = [r for r in lines if "records" in r]
    assert len(summary) == 1 and summary[0]["records"]["output"] == len(rows)
    assert len(per_record) == 3 * 2
    for rec in per_record:
        assert rec["output"] == "notes.jsonl" and rec["modality"] == "text"
        assert rec["label"] == SENTENCES[rec["record"]["input"]][1]
        if rec["status"] == "ok":
            written = rows[rec["record"]["output"]]
            assert written["id"] == SENTENCES[rec["record"]["input"]][2]
            assert written["text"] != SENTENCES[rec["record"]["input"]][0]
        else:
            assert rec["status"] == "unchanged" and rec["error"]
    # The negated sentence is fully protected: nothing can change, so nothing is written twice.
    negated = [r for r in per_record if r["record"]["input"] == 1]
    assert all(r["status"] == "unchanged" for r in negated)
    assert sum(r["text"] == "No evidence of pneumothorax." for r in rows) == 1
    # Protected words of the nodule sentence survive in every output.
    for rec in per_record:
        if rec["record"]["input"] == 2 and rec["status"] == "ok":
            assert "4 mm" in rows[rec["record"]["output"]]["text"]


def test_csv_with_quotes_and_newlines_round_trips(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    body = io.StringIO(newline="")
    writer = csv.writer(body, lineterminator="\n")
    writer.writerow(["id", "text", "note"])
    writer.writerow(["1", 'He said "big", then left,\nquickly.', "a, b"])
    writer.writerow(["2", "The small cat sat on the warm mat.", 'q "x"'])
    (tmp_path / "data/t.csv").write_text(body.getvalue())
    code, out = expand(tmp_path)
    assert code == 0, out
    rows = list(csv.reader(io.StringIO((tmp_path / "out/t.csv").read_text(), newline="")))
    assert rows[0] == ["id", "text", "note"]
    assert rows[1] == ["1", 'He said "big", then left,\nquickly.', "a, b"]
    assert all(r[2] in ("a, b", 'q "x"') and len(r) == 3 for r in rows[1:])
    assert len(rows) > 3


def test_txt_lines_and_whole_documents(tmp_path: Path) -> None:
    (tmp_path / "data/docs").mkdir(parents=True)
    (tmp_path / "data/lines").mkdir(parents=True)
    (tmp_path / "data/docs/a.txt").write_text("The big dog ran quickly.\nIt was a happy dog.\n")
    code, out = expand(tmp_path)
    assert code == 0, out
    assert (tmp_path / "out/docs/a__aug_0.txt").is_file() and (
        tmp_path / "out/docs/a.txt"
    ).is_file()
    text = (tmp_path / "out/docs/a__aug_1.txt").read_text()
    assert text.count("\n") == 2, "line breaks are kept as they were"
    (tmp_path / "data2").mkdir()
    (tmp_path / "data2/l.txt").write_text("The big dog ran.\nThe small cat sat.\n")
    recipe = RECIPE.format(out="out2", extra="  unit: line\n").replace(
        "input: data", "input: data2"
    )
    path = write_recipe(tmp_path / "l.yaml", recipe)
    result = runner.invoke(app, ["expand", str(path), "-q"])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "out2/l.txt").read_text().splitlines()
    assert lines[0] == "The big dog ran." and len(lines) > 2


def test_outputs_do_not_depend_on_worker_count(tmp_path: Path) -> None:
    jsonl_dataset(tmp_path / "data")
    (tmp_path / "data/more").mkdir()
    for k in range(4):
        (tmp_path / f"data/more/d{k}.txt").write_text(
            f"The big dog number {k} ran across the field."
        )
    digests = []
    for w in ("1", "3"):
        code, out = expand(tmp_path, "", f"o{w}", "--workers", w)
        assert code == 0, out
        digests.append(tree_digest(tmp_path / f"o{w}"))
    assert digests[0] == digests[1]


def test_bad_files_fail_alone_with_file_and_line(tmp_path: Path) -> None:
    jsonl_dataset(tmp_path / "data")
    (tmp_path / "data/bad.jsonl").write_text('{"text": "fine"}\n{"text": broken}\n')
    (tmp_path / "data/latin.jsonl").write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    (tmp_path / "data/nofield.jsonl").write_text('{"body": "x"}\n')
    (tmp_path / "data/short.csv").write_text('text,label\n"The big dog.",a\n"The cat."\n')
    code, _ = expand(tmp_path)
    assert code == 1
    failed = {
        r["source"]: r["error"] for r in manifest(tmp_path / "out") if r["status"] == "failed"
    }
    assert "bad.jsonl:2: not valid JSON" in failed["bad.jsonl"]
    assert "latin.jsonl:2: cannot be decoded as utf-8" in failed["latin.jsonl"]
    assert "encoding:" in failed["latin.jsonl"]
    assert "no text field 'text'" in failed["nofield.jsonl"] and "body" in failed["nofield.jsonl"]
    assert "short.csv:3: 1 fields, but the header has 2" in failed["short.csv"]
    assert (tmp_path / "out/notes.jsonl").is_file()
    assert not (tmp_path / "out/bad.jsonl").exists()


def test_max_change_and_resume(tmp_path: Path) -> None:
    jsonl_dataset(tmp_path / "data")
    code, out = expand(tmp_path, "  max_change: 0.01\n  retries: 1\n")
    assert code == 0, out
    recs = [r for r in manifest(tmp_path / "out") if r.get("record")]
    assert recs and all(r["status"] == "unchanged" for r in recs)
    assert any("over max_change" in r["error"] for r in recs)
    first = tree_digest(tmp_path / "out")
    code, _ = expand(tmp_path, "  max_change: 0.01\n  retries: 1\n")
    assert code == 0 and tree_digest(tmp_path / "out") == first
    info = json.loads((tmp_path / "out/run.json").read_text())
    assert info["this_run"]["outputs"] == 0 and info["this_run"]["already_done"] == 1


@pytest.mark.parametrize("entry", ["re:(", ""])
def test_bad_protect_entries_are_recipe_errors(tmp_path: Path, entry: str) -> None:
    jsonl_dataset(tmp_path / "data")
    code, out = expand(tmp_path, f"  protect: [{json.dumps(entry)}]\n")
    assert code == 2 and "text.protect[0]" in out


def test_the_text_sample_config_runs(tmp_path: Path) -> None:
    proc = run_augcli("expand", str(ROOT / "configs/text.yaml"), "--output", str(tmp_path / "t"))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in (tmp_path / "t/clinical_notes.jsonl").read_text().splitlines()]
    assert len(rows) > 40 and all(set(r) == {"text", "label"} for r in rows)


@pytest.mark.parametrize("kind", ["jsonl", "csv", "lines"])
def test_chunking_and_workers_do_not_change_the_output(tmp_path: Path, kind: str) -> None:
    (tmp_path / "data").mkdir()
    texts = [f"The big dog number {k} ran quickly across the small field." for k in range(23)]
    texts[7] = texts[16] = "No."  # nothing to change: unchanged records, in two chunks
    if kind == "jsonl":
        name = "n.jsonl"
        (tmp_path / "data" / name).write_text(
            "".join(json.dumps({"text": t, "i": k}) + "\n" for k, t in enumerate(texts))
        )
    elif kind == "csv":
        name = "n.csv"
        (tmp_path / "data" / name).write_text(
            "i,text\n" + "".join(f'{k},"{t}"\n' for k, t in enumerate(texts))
        )
    else:
        name = "n.txt"
        (tmp_path / "data" / name).write_text("\n".join(texts))  # no final newline
    extra = "  unit: line\n" if kind == "lines" else ""
    digests = []
    for chunk, workers in (("100", "1"), ("5", "1"), ("4", "3")):
        out = f"o{chunk}_{workers}"
        code, msg = expand(
            tmp_path, f"{extra}  chunk_records: {chunk}\n", out, "--workers", workers
        )
        assert code == 0, msg
        digests.append(tree_digest(tmp_path / out))
    assert digests[0] == digests[1] == digests[2]
    lines = manifest(tmp_path / "o4_3")
    files = [r for r in lines if "records" in r]
    assert len(files) == 1 and files[0]["records"]["input"] == 23
    outs = sorted(r["record"]["output"] for r in lines if r.get("record") and r["status"] == "ok")
    assert len(outs) == len(set(outs)) and max(outs) < files[0]["records"]["output"]
    unchanged = [r["record"] for r in lines if r["status"] == "unchanged"]
    assert unchanged and all("chunk" not in r for r in unchanged), "chunking left its mark"
    assert not [p for p in (tmp_path / "o4_3").rglob("*") if ".augcli-tmp-" in p.name]


def test_a_document_that_cannot_change_is_recorded_not_written(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data/neg.txt").write_text("No evidence of pneumothorax.\n")
    (tmp_path / "data/ok.txt").write_text("The big dog ran quickly across the green field.\n")
    code, out = expand(tmp_path)
    assert code == 0, out
    lines = manifest(tmp_path / "out")
    neg = [r for r in lines if r["source"] == "neg.txt" and r["node"]]
    assert len(neg) == 2 and all(r["status"] == "unchanged" for r in neg)
    assert not (tmp_path / "out/neg__aug_0.txt").exists()
    assert (tmp_path / "out/neg.txt").is_file()  # the kept original
    ok = [r for r in lines if r["source"] == "ok.txt" and r["node"]]
    assert all(r["status"] == "ok" for r in ok)
    texts = {(tmp_path / "out" / r["output"]).read_text() for r in ok}
    assert len(texts) == 2 and "The big dog ran quickly across the green field.\n" not in texts
