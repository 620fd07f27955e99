"""Every recipe error names the file, line, YAML path and bad value, and says how to fix it."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_augcli, write_recipe

from augcli.core.errors import RecipeError
from augcli.recipe import load_recipe

HEAD = "version: 1\ninput: data\noutput: out\n"

# (name, recipe text, substrings the message must contain, line the message must name)
CASES = [
    (
        "unknown op",
        HEAD + "image:\n  pipeline:\n    - rotat: {degrees: 5}\n",
        [
            "image.pipeline[0]",
            "unknown image op",
            "'rotat'",
            "Did you mean 'rotate'?",
            "augcli ops",
        ],
        6,
    ),
    (
        "unknown param",
        HEAD + "image:\n  pipeline:\n    - rotate: {degree: 5}\n",
        ["image.pipeline[0].rotate.degree", "unknown parameter", "Did you mean 'degrees'?"],
        6,
    ),
    (
        "inverted range",
        HEAD + "image:\n  pipeline:\n    - hflip\n    - rotate:\n        degrees: [30, 10]\n",
        ["image.pipeline[1].rotate.degrees", "inverted", "got [30, 10]", "[10, 30]"],
        8,
    ),
    (
        "empty range",
        HEAD + "image:\n  pipeline:\n    - gaussian_blur: {sigma: []}\n",
        ["gaussian_blur.sigma", "range is empty", "got []"],
        6,
    ),
    (
        "p out of range",
        HEAD + "image:\n  pipeline:\n    - hflip: {p: 1.5}\n",
        ["image.pipeline[0].hflip.p", "out of range [0, 1]", "got 1.5"],
        6,
    ),
    (
        "wrong type",
        HEAD + "image:\n  pipeline:\n    - gaussian_blur: {sigma: big}\n",
        ["gaussian_blur.sigma", "must be a finite number", "got 'big'"],
        6,
    ),
    (
        "bad choice",
        HEAD + "image:\n  pipeline:\n    - rotate: {border_mode: wrap}\n",
        ["rotate.border_mode", "not a known choice", "constant, reflect, replicate"],
        6,
    ),
    (
        "cycle",
        HEAD + "image:\n  graph:\n    a: {after: b, ops: [hflip]}\n"
        "    b: {after: a, ops: [vflip]}\n",
        ["image.graph.b.after", "cycle", "a -> b -> a"],
        7,
    ),
    (
        "dangling after",
        HEAD + "image:\n  graph:\n    base: {ops: [hflip]}\n"
        "    blur: {after: bse, ops: [gaussian_blur]}\n",
        ["image.graph.blur.after", "does not exist", "'bse'", "Did you mean 'base'?"],
        7,
    ),
    (
        "unknown top-level key",
        HEAD + "copis: 3\nimage:\n  pipeline: [hflip]\n",
        ["copis", "unknown top-level key", "Did you mean 'copies'?"],
        4,
    ),
    (
        "copies zero",
        HEAD + "copies: 0\nimage:\n  pipeline: [hflip]\n",
        ["copies", "out of range", "got 0"],
        4,
    ),
    (
        "version",
        "version: 2\ninput: d\noutput: o\nimage:\n  pipeline: [hflip]\n",
        ["version", "out of range [1, 1]", "got 2"],
        1,
    ),
    (
        "duplicate key",
        HEAD + "seed: 1\nseed: 2\nimage:\n  pipeline: [hflip]\n",
        ["seed", "appears twice", "first on line 4"],
        5,
    ),
    (
        "invalid yaml",
        HEAD + "image:\n  pipeline:\n    - rotate: {degrees: [1, 2}\n",
        ["is not valid YAML"],
        6,
    ),
    (
        "pipeline and graph",
        HEAD + "image:\n  pipeline: [hflip]\n  graph: {a: {ops: [vflip]}}\n",
        ["image", "exactly one of 'pipeline'", "['graph', 'pipeline']"],
        4,
    ),
    ("no section", HEAD + "seed: 3\n", ["no modality section", "Add one of: image, text"], None),
    (
        "some_of n too big",
        HEAD + "image:\n  pipeline:\n    - some_of:\n        n: 3\n        ops: [hflip, vflip]\n",
        ["image.pipeline[0].some_of.n", "more ops than the 2 listed", "got 3"],
        7,
    ),
    (
        "one_of weights",
        HEAD + "image:\n  pipeline:\n    - one_of:\n        ops: [hflip, vflip]\n"
        "        weights: [1]\n",
        ["image.pipeline[0].one_of.weights", "one weight per op (2)"],
        8,
    ),
    (
        "combinator child",
        HEAD + "image:\n  pipeline:\n    - one_of:\n        - hflip\n        - blurr\n",
        ["image.pipeline[0].one_of[1]", "unknown image op", "'blurr'"],
        8,
    ),
    (
        "section key",
        HEAD + "image:\n  jpeg_qualty: 90\n  pipeline: [hflip]\n",
        ["image.jpeg_qualty", "Did you mean 'jpeg_quality'?"],
        5,
    ),
    (
        "two ops in one item",
        HEAD + "image:\n  pipeline:\n    - {hflip: {}, vflip: {}}\n",
        ["image.pipeline[0]", "each list item must be one op"],
        6,
    ),
    (
        "workers",
        HEAD + "workers: -2\nimage:\n  pipeline: [hflip]\n",
        ["workers", "positive whole number or 'auto'", "got -2"],
        4,
    ),
    (
        "size",
        HEAD + "image:\n  pipeline:\n    - random_crop: {size: [10]}\n",
        ["random_crop.size", "[height, width]", "got [10]"],
        6,
    ),
]


@pytest.mark.parametrize(("name", "text", "needles", "line"), CASES, ids=[c[0] for c in CASES])
def test_recipe_error_message(
    tmp_path: Path, name: str, text: str, needles: list[str], line: int | None
) -> None:
    path = write_recipe(tmp_path / "recipe.yaml", text)
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    msg = str(err.value)
    assert msg.startswith(str(path)), msg
    if line is not None:
        assert msg.startswith(f"{path}:{line}:"), msg
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"


def test_valid_recipes_load():
    root = Path(__file__).resolve().parent.parent / "configs"
    for path in sorted(root.glob("*.yaml")):
        r = load_recipe(path)
        assert r.sections, path


def test_cli_reports_recipe_errors_with_exit_2_and_no_traceback(tmp_path: Path) -> None:
    path = write_recipe(
        tmp_path / "r.yaml", HEAD + "image:\n  pipeline:\n    - rotate: {degrees: [30, 10]}\n"
    )
    for cmd in ("expand", "validate"):
        proc = run_augcli(cmd, str(path))
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert f"{path}:6: image.pipeline[0].rotate.degrees: range is inverted" in proc.stderr


@pytest.mark.parametrize(
    ("paths", "needles"),
    [
        ("input: missing\noutput: out\n", ["input folder does not exist", ":2: input", "missing"]),
        (
            "input: data\noutput: data/out\n",
            ["output folder is inside the input folder", ":3: output"],
        ),
        ("input: out/data\noutput: out\n", ["input folder is inside the output folder"]),
    ],
)
def test_path_errors_before_anything_is_written(tmp_path: Path, paths: str, needles: list[str]):
    (tmp_path / "data").mkdir()
    (tmp_path / "out" / "data").mkdir(parents=True)
    path = write_recipe(
        tmp_path / "r.yaml", "version: 1\n" + paths + "image:\n  pipeline: [hflip]\n"
    )
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    proc = run_augcli("expand", str(path))
    assert proc.returncode == 2
    for needle in needles:
        assert needle in proc.stderr, proc.stderr
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
