"""The manifest knows what each output was made from: an input edited between runs is made
again on resume (the others are not), and verify reports it."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import cv2
import numpy as np
from conftest import run_augcli, tree_digest, write_recipe

RECIPE = "version: 1\ninput: data\noutput: {out}\ncopies: 2\nkeep_originals: true\n"
RECIPE += "image:\n  pipeline: [hflip, {{rotate: {{degrees: [-20, 20]}}}}]\n"


def _dataset(data: Path, seed: int = 0) -> None:
    data.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in ("a.png", "b.png", "c.png"):
        cv2.imwrite(str(data / name), rng.integers(0, 255, (20, 30, 3), dtype=np.uint8))


def _lines(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]


def _expand(recipe: Path) -> None:
    proc = run_augcli("expand", str(recipe), "--workers", "2")
    assert proc.returncode == 0, proc.stderr


def test_every_line_names_the_digest_of_its_input(tmp_path: Path) -> None:
    _dataset(tmp_path / "data")
    _expand(write_recipe(tmp_path / "r.yaml", RECIPE.format(out="out")))
    for line in _lines(tmp_path / "out"):
        source = (tmp_path / "data" / line["source"]).read_bytes()
        assert line["source_sha256"] == hashlib.sha256(source).hexdigest()


def test_an_edited_input_is_made_again_and_only_it(tmp_path: Path) -> None:
    _dataset(tmp_path / "data")
    recipe = write_recipe(tmp_path / "r.yaml", RECIPE.format(out="out"))
    _expand(recipe)
    rng = np.random.default_rng(99)
    cv2.imwrite(str(tmp_path / "data" / "b.png"), rng.integers(0, 255, (20, 30, 3), np.uint8))
    os.utime(tmp_path / "data" / "a.png")  # touched, same bytes: not made again
    proc = run_augcli("expand", str(recipe), "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert "1 input files changed since their outputs were made, making them again: b.png" in (
        proc.stderr
    )
    info = json.loads((tmp_path / "out" / "run.json").read_text())
    last, dataset = info["this_run"], info["dataset"]
    assert (last["outputs"], last["originals"], last["already_done"]) == (2, 1, 6)
    assert (dataset["outputs"], dataset["originals"], dataset["input_files"]) == (6, 3, 3)
    # the same tree as a fresh run on the edited dataset
    fresh = write_recipe(tmp_path / "fresh.yaml", RECIPE.format(out="fresh"))
    _expand(fresh)
    assert tree_digest(tmp_path / "out") == tree_digest(tmp_path / "fresh")


def test_verify_reports_an_input_changed_since_the_run(tmp_path: Path) -> None:
    _dataset(tmp_path / "data")
    _expand(write_recipe(tmp_path / "r.yaml", RECIPE.format(out="out")))
    assert run_augcli("verify", str(tmp_path / "out")).returncode == 0
    (tmp_path / "data" / "c.png").write_bytes(b"edited")
    proc = run_augcli("verify", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert "source changed: c.png" in proc.stdout
    assert "1 inputs changed" in proc.stdout
