"""Interrupted runs (kill -9, Ctrl-C) resume to the same tree, byte for byte, with nothing left over."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, start_expand, tree_digest, wait_for_lines, write_recipe

RECIPE = """\
version: 1
seed: 1
input: data
output: {out}
copies: 3
keep_originals: true
image:
  pipeline:
    - rotate: {{degrees: [-30, 30]}}
    - gaussian_blur: {{sigma: [6, 8]}}
    - sharpen: {{amount: 0.5, sigma: 4}}
"""


@pytest.fixture
def many(tmp_path: Path) -> Path:
    """60 inputs (the sample photos under several names), enough to interrupt mid-run."""
    data = tmp_path / "data"
    for src in sorted((ROOT / "sample_data/images").rglob("*")):
        if src.is_file():
            rel = src.relative_to(ROOT / "sample_data/images")
            for k in range(5):
                dst = data / rel.parent / f"{src.stem}_{k}{src.suffix}"
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(src, dst)
    return data


def _no_process_left(group: int) -> None:
    """The run's workers (and fork server) are gone soon after it stopped: no orphans."""
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    pytest.fail("worker processes outlived the run")


def _reference(tmp_path: Path) -> dict[str, str]:
    recipe = write_recipe(tmp_path / "ref.yaml", RECIPE.format(out="ref"))
    proc = subprocess.run(
        [sys.executable, "-m", "augcli", "expand", str(recipe), "-q", "--workers", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return tree_digest(tmp_path / "ref")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("how", "workers"),
    [("kill", 2), ("kill", 1), ("interrupt", 2), ("terminate", 2), ("terminate", 1)],
)
def test_interrupted_run_resumes_to_the_same_tree(
    tmp_path: Path, many: Path, how: str, workers: int
) -> None:
    recipe = write_recipe(tmp_path / "r.yaml", RECIPE.format(out="out"))
    out = tmp_path / "out"
    proc = start_expand(recipe, "--workers", str(workers))
    wait_for_lines(out / "manifest.jsonl", 20, proc)
    if how == "kill":
        os.killpg(proc.pid, signal.SIGKILL)  # parent and workers, no chance to clean up
        proc.wait()
    else:
        if how == "interrupt":
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal reaches the whole group
        else:
            os.kill(proc.pid, signal.SIGTERM)  # a process manager stops the parent only
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == (130 if how == "interrupt" else 143), err
        assert "Traceback" not in err
        assert not [p for p in out.rglob("*") if ".augcli-tmp-" in p.name]
        assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
        _no_process_left(proc.pid)
    done = (out / "manifest.jsonl").read_text().count("\n")
    assert 20 <= done < 60 * 4, "the run was really interrupted"

    resumed = subprocess.run(
        [sys.executable, "-m", "augcli", "expand", str(recipe), "--workers", "2", "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "complete"
    assert info["this_run"]["already_done"] >= 20 - workers, "completed outputs were not redone"
    assert not [p for p in out.rglob("*") if ".augcli-tmp-" in p.name]
    assert tree_digest(out) == _reference(tmp_path)
    # run.json counts the folder as it stands: the same as an uninterrupted run's
    reference = json.loads((tmp_path / "ref/run.json").read_text())
    assert info["dataset"] == reference["dataset"]
    assert reference["this_run"] == {**reference["dataset"], "already_done": 0}
    assert info["dataset"]["outputs"] > info["this_run"]["outputs"], "the resume made only the rest"


@pytest.mark.slow
def test_a_torn_manifest_line_is_tolerated(tmp_path: Path, many: Path) -> None:
    recipe = write_recipe(tmp_path / "r.yaml", RECIPE.format(out="out"))
    subprocess.run(
        [sys.executable, "-m", "augcli", "expand", str(recipe), "-q"], check=True, timeout=300
    )
    manifest = tmp_path / "out/manifest.jsonl"
    lines = manifest.read_text().splitlines(keepends=True)
    victim = json.loads(lines[-1])["output"]
    (tmp_path / "out" / victim).unlink()
    manifest.write_text("".join(lines[:-1]) + lines[-1][:25])  # a half-written last line
    (tmp_path / "out" / "scene" / ".augcli-tmp-123-x.jpg").write_bytes(b"partial")
    proc = subprocess.run(
        [sys.executable, "-m", "augcli", "expand", str(recipe), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "out/run.json").read_text())["this_run"]["outputs"] == 1
    assert tree_digest(tmp_path / "out") == _reference(tmp_path)


@pytest.mark.slow
def test_a_killed_chunked_text_run_resumes_to_the_same_tree(tmp_path: Path) -> None:
    """Record files in chunks: parts of an unfinished file are swept and the file is redone."""
    import json as _json

    data = tmp_path / "data"
    data.mkdir()
    for k in range(6):
        rows = [
            {"text": f"The big dog number {i} ran quickly across the small field {k}.", "i": i}
            for i in range(300)
        ]
        (data / f"f{k}.jsonl").write_text("".join(_json.dumps(r) + "\n" for r in rows))
    recipe_text = (
        "version: 1\nseed: 2\ninput: data\noutput: {out}\ncopies: 3\n"
        "keep_originals: true\ntext:\n  chunk_records: 50\n  pipeline:\n"
        "    - synonym_replace: {{fraction: 0.5}}\n    - random_swap: {{n: 1}}\n"
    )
    recipe = write_recipe(tmp_path / "r.yaml", recipe_text.format(out="out"))
    proc = start_expand(recipe, "--workers", "2")
    wait_for_lines(tmp_path / "out/manifest.jsonl", 400, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    resumed = subprocess.run(
        [sys.executable, "-m", "augcli", "expand", str(recipe), "--workers", "2", "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    ref = write_recipe(tmp_path / "ref.yaml", recipe_text.format(out="ref"))
    subprocess.run(
        [sys.executable, "-m", "augcli", "expand", str(ref), "-q", "--workers", "1"],
        check=True,
        timeout=300,
    )
    assert tree_digest(tmp_path / "out") == tree_digest(tmp_path / "ref")
    assert not [p for p in (tmp_path / "out").rglob("*") if ".augcli-tmp-" in p.name]
