"""Class balancing reaches its targets exactly, max_outputs caps the run, splits choose what runs."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import textured, write_recipe
from typer.testing import CliRunner

from augcli.cli import app
from augcli.core.errors import RecipeError
from augcli.recipe import load_recipe

runner = CliRunner()


def dataset(root: Path, sizes: dict[str, int], prefix: str = "") -> None:
    for cls, n in sizes.items():
        folder = root / prefix / cls
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(n):
            cv2.imwrite(str(folder / f"{k}.png"), textured(12, 16, 3, np.uint8, k))


def run(
    tmp_path: Path, extra_top: str = "", extra_image: str = "", graph: bool = False
) -> tuple[int, str, list[dict]]:
    # noise after the flip: every copy differs (a second copy of a flip alone is unchanged)
    ops = (
        "  graph:\n    a: {ops: [hflip, gaussian_noise]}\n    b: {ops: [vflip, gaussian_noise]}\n"
        if graph
        else "  pipeline: [hflip, gaussian_noise]\n"
    )
    recipe = write_recipe(
        tmp_path / "r.yaml",
        f"input: data\noutput: out\ncopies: 2\n"
        f"keep_originals: true\n{extra_top}image:\n{extra_image}{ops}",
    )
    result = runner.invoke(app, ["expand", str(recipe)])
    lines = []
    if (tmp_path / "out/manifest.jsonl").is_file():
        lines = [json.loads(x) for x in (tmp_path / "out/manifest.jsonl").read_text().splitlines()]
    return result.exit_code, result.output, lines


def per_class(lines: list[dict]) -> Counter:
    return Counter(r["label"] for r in lines if r["status"] == "ok")


@pytest.mark.parametrize("graph", [False, True], ids=["pipeline", "graph"])
def test_match_largest_lands_every_class_on_the_largest(tmp_path: Path, graph: bool) -> None:
    dataset(tmp_path / "data", {"big": 6, "mid": 4, "small": 1})
    code, out, lines = run(tmp_path, extra_image="  balance: match_largest\n", graph=graph)
    assert code == 0, out
    per = 6 * (1 + 2 * (2 if graph else 1))
    assert per_class(lines) == {"big": per, "mid": per, "small": per}
    # spread evenly: within a class, inputs differ by at most one output
    made = Counter(r["source"] for r in lines if r["node"] and r["label"] == "mid")
    assert max(made.values()) - min(made.values()) <= 1


def test_targets_and_per_class_copies(tmp_path: Path) -> None:
    dataset(tmp_path / "data", {"cat": 3, "dog": 5})
    code, out, lines = run(tmp_path, extra_image="  balance: {target: {cat: 10, dog: 7}}\n")
    assert code == 0, out
    assert per_class(lines) == {"cat": 10, "dog": 7}
    (tmp_path / "out").rename(tmp_path / "first")
    code, out, lines = run(tmp_path, extra_image="  balance: {copies: {cat: 3, dog: 0}}\n")
    assert code == 0, out
    assert per_class(lines) == {"cat": 3 + 9, "dog": 5}


def test_max_outputs_cuts_round_robin_and_says_so(tmp_path: Path) -> None:
    dataset(tmp_path / "data", {"a": 3, "b": 2})
    code, out, lines = run(tmp_path, extra_top="max_outputs: 7\n")
    assert code == 0, out
    augmented = [r for r in lines if r["node"]]
    assert len(augmented) == 7
    made = Counter(r["source"] for r in augmented)
    assert sorted(made.values()) == [1, 1, 1, 2, 2]  # everyone's first output comes first
    assert "max_outputs 7 cuts 3 of 10 planned outputs" in out
    shown = runner.invoke(app, ["validate", str(tmp_path / "r.yaml")])
    assert "max_outputs 7 cuts 3 of 10 planned outputs" in shown.output
    assert "image: 5 input files -> 7 output files" in shown.output


def test_splits_default_to_train_and_refuse_test(tmp_path: Path) -> None:
    dataset(tmp_path / "data", {"cat": 2}, "train")
    dataset(tmp_path / "data", {"cat": 2}, "test")
    code, out, lines = run(tmp_path)
    assert code == 0, out
    assert {r["source"].split("/")[0] for r in lines} == {"train"}
    assert "left out: test" in out
    with pytest.raises(RecipeError, match="test/validation split"):
        path = write_recipe(
            tmp_path / "t.yaml",
            "input: data\noutput: o\nsplits: [train, test]\nimage:\n  pipeline: [hflip]\n",
        )
        load_recipe(path)
    path = write_recipe(
        tmp_path / "t2.yaml",
        "input: data\noutput: o\nsplits: [train, test]\n"
        "allow_test_split: true\nimage:\n  pipeline: [hflip]\n",
    )
    assert load_recipe(path).splits == ("train", "test")


@pytest.mark.parametrize(
    "bad", ["balance: fair\n", "balance: {target: -1}\n", "balance: {copies: 3}\n"]
)
def test_bad_balance_is_a_located_recipe_error(tmp_path: Path, bad: str) -> None:
    path = write_recipe(
        tmp_path / "r.yaml", f"input: d\noutput: o\nimage:\n  {bad}  pipeline: [hflip]\n"
    )
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    assert f"{path}:4: image.balance" in str(err.value)


def test_validate_warns_about_imbalance_and_test_splits(tmp_path: Path) -> None:
    dataset(tmp_path / "data", {"big": 7, "small": 2})
    dataset(tmp_path / "data", {"x": 1}, "test")
    path = write_recipe(
        tmp_path / "v.yaml", "input: data\noutput: out\nimage:\n  pipeline: [hflip]\n"
    )
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "balance: match_largest" in result.output
    assert "splits: [train]" in result.output
    assert not (tmp_path / "out").exists()
