"""`augcli report`: text summary and HTML charts agree with the manifest they were made from."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from conftest import read_manifest, write_recipe
from typer.testing import CliRunner

from augcli.cli import app

RECIPE = """\
version: 1
seed: 11
input: data
output: out
copies: 2
keep_originals: true
image:
  pipeline:
    - hflip: {p: 0.5}
    - rotate: {degrees: [-20, 20]}
    - random_crop: {scale: [0.6, 1.0], p: 0.5}
"""

runner = CliRunner()


def expand(tmp_path: Path) -> Path:
    recipe = write_recipe(tmp_path / "recipe.yaml", RECIPE)
    result = runner.invoke(app, ["expand", str(recipe), "--quiet", "--workers", "1"])
    assert result.exit_code in (0, 1), result.output
    return tmp_path / "out"


def class_row(printed: str, label: str) -> list[int]:
    m = re.search(
        rf"^image/{re.escape(label)}\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", printed, re.M
    )
    assert m, f"no row for class {label} in:\n{printed}"
    return [int(x) for x in m.groups()]


def test_report_matches_the_manifest(tmp_path: Path, images: Path) -> None:
    (images / "scene" / "broken.png").write_bytes(b"")
    (images / "texture" / "also_broken.png").write_bytes(b"")
    out = expand(tmp_path)
    recs = read_manifest(out)

    result = runner.invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    printed = result.output

    labels = {r["label"] for r in recs}
    assert labels == {"medical", "scene", "texture"}
    for label in labels:
        mine = [r for r in recs if r["label"] == label]
        expected = [
            len({r["source"] for r in mine}),
            sum(r["status"] == "ok" and r["node"] is None for r in mine),
            sum(r["status"] == "ok" and r["node"] is not None for r in mine),
            sum(r["status"] == "unchanged" for r in mine),
            sum(r["status"] == "failed" for r in mine),
        ]
        assert class_row(printed, label) == expected
    assert class_row(printed, "scene")[4] == 1  # the empty file failed and is counted

    fired: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for r in recs:
        for step in r["ops"]:
            seen[step["op"]] += 1
            fired[step["op"]] += bool(step["applied"])
    assert set(seen) == {"hflip", "rotate", "random_crop"}
    for op in seen:
        m = re.search(rf"^image/{op}\s+aug\s+(\d+)\s+(\d+)\s", printed, re.M)
        assert m, printed
        assert (int(m.group(1)), int(m.group(2))) == (fired[op], seen[op])
    assert fired["rotate"] == seen["rotate"] > 0
    assert 0 < fired["hflip"] < seen["hflip"]

    # both empty inputs fail for the same reason: one group, counted twice
    reasons = Counter(r["error"] for r in recs if r["status"] == "failed")
    assert len(reasons) == 1 and sum(reasons.values()) == 2
    (reason,) = reasons
    assert re.search(rf"^\s+2  {re.escape(reason)}$", printed, re.M), printed

    page = (out / "report.html").read_text(encoding="utf-8")
    # one bar chart plus a histogram per numeric sampled param of an applied op
    numeric = {
        (s["op"], k)
        for r in recs
        for s in r["ops"]
        if s["applied"]
        for k, v in (s["params"] or {}).items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    assert ("rotate", "degrees") in numeric
    assert page.count("<svg") == 1 + len(numeric)
    assert "image/rotate.degrees" in page
    for op in seen:
        assert op in page
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert f"<td>{reason}</td><td>2</td>" in page.replace("&#x27;", "'")
    # the bar chart's after-bar for scene is inputs + outputs
    scene = class_row(printed, "scene")
    assert f"image/scene: {scene[0] + scene[2]}</title>" in page


def test_report_html_option_and_torn_last_line(tmp_path: Path, images: Path) -> None:
    out = expand(tmp_path)
    before = runner.invoke(app, ["report", str(out), "--html", str(tmp_path / "a.html")])
    with open(out / "manifest.jsonl", "a", encoding="utf-8") as f:
        f.write('{"output": "images/torn')  # a killed run's half-written line
    target = tmp_path / "elsewhere" / "r.html"
    result = runner.invoke(app, ["report", str(out), "--html", str(target)])
    assert result.exit_code == 0, result.output
    assert target.is_file() and not (out / "report.html").exists()
    assert result.output.replace(str(target), "X") == before.output.replace(
        str(tmp_path / "a.html"), "X"
    )


def test_report_without_manifest_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert "no manifest.jsonl; run augcli expand first" in result.output
    assert not (tmp_path / "report.html").exists()
