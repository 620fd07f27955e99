"""One vocabulary of counts: validate, expand, report and run.json say the same numbers in the
same nouns (README, "Counts"), for a dataset mixing text documents and record files."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from conftest import ROOT, run_augcli


def test_validate_expand_report_and_run_json_count_in_the_same_nouns(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "sample_data/text", tmp_path / "text")
    recipe = (ROOT / "configs/text.yaml").read_text(encoding="utf-8")
    (tmp_path / "r.yaml").write_text(re.sub(r"(?m)^input: .*$", "input: text", recipe), "utf-8")
    out = str(tmp_path / "out")
    validated = run_augcli("validate", str(tmp_path / "r.yaml"), "--output", out)
    assert validated.returncode == 0, validated.stderr
    planned = re.search(
        r"text: (\d+) input files \((\d+) records in (\d+) record", validated.stdout
    )
    assert planned, validated.stdout
    files, records = int(planned[1]), int(planned[2])

    ran = run_augcli("expand", str(tmp_path / "r.yaml"), "--output", out)
    assert ran.returncode == 0, ran.stderr
    info = json.loads((tmp_path / "out/run.json").read_text())
    d = info["dataset"]
    assert (d["input_files"], d["records"]) == (files, records)
    assert d["outputs"] > 0 and d["unchanged"] > 0 and d["originals"] > 0  # the sample has all
    assert info["this_run"] == {**d, "already_done": 0}
    said = (
        f"{d['outputs']} outputs, {d['originals']} originals, {d['unchanged']} unchanged, "
        f"0 failed, 0 already done, from {files} input files ({records} records)"
    )
    assert said in ran.stderr
    lines = [json.loads(x) for x in (tmp_path / "out/manifest.jsonl").read_text().splitlines()]
    written = [x for x in lines if x["status"] == "ok" and x["node"] is not None]
    assert d["outputs"] == len([x for x in written if "records" not in x])

    shown = run_augcli("report", out)
    assert shown.returncode == 0, shown.stderr
    assert (
        f"text: {files} input files, {records} records, {d['outputs']} outputs, "
        f"{d['originals']} originals, {d['unchanged']} unchanged, 0 failed" in shown.stdout
    )

    again = run_augcli("expand", str(tmp_path / "r.yaml"), "--output", out)
    assert again.returncode == 0, again.stderr
    info = json.loads((tmp_path / "out/run.json").read_text())
    assert info["dataset"] == d, "a no-op re-run still describes the whole folder"
    assert info["this_run"]["outputs"] == 0 and info["this_run"]["already_done"] > 0
    assert f"now holds {d['outputs']} outputs" in again.stderr
