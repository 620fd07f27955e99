"""Hostile recipes and options (issue 13: D13, D18, D21), from the user's side: each is a located
message and exit 2, fast, never a traceback; long names are written or refused before work."""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import run_augcli, textured, write_recipe
from typer.testing import CliRunner

from augcli.cli import app
from augcli.core.atomic import NAME_MAX, TMP_MARK, tmp_name
from augcli.core.errors import RecipeError
from augcli.core.yamlfile import MAX_DEPTH, load_yaml
from augcli.engine import budget

HEAD = "version: 1\ninput: data\noutput: out\n"
PIPE = "image:\n  pipeline: [hflip]\n"


def _limit_memory() -> None:
    """At most 1.5 GB for the child: an alias bomb fails the test instead of the machine."""
    resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))


def refused(tmp_path: Path, text: str | bytes, *args: str) -> str:
    """Run validate on a recipe; assert exit 2 and no traceback; return stderr."""
    path = tmp_path / "r.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    (tmp_path / "data").mkdir(exist_ok=True)
    start = time.monotonic()
    proc = run_augcli("validate", str(path), *args, preexec_fn=_limit_memory)
    assert time.monotonic() - start < 30
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "Error:" not in proc.stderr.split("error:", 1)[-1]
    assert proc.stderr.startswith("augcli: error: "), proc.stderr
    return proc.stderr


# -- D13: the loader ------------------------------------------------------------------------------
LAUGHS = HEAD + "".join(
    f"l{i}: &l{i} [{', '.join(['lol'] * 9 if i == 0 else [f'*l{i - 1}'] * 9)}]\n" for i in range(9)
)


def test_billion_laughs_is_refused_fast_with_its_line(tmp_path: Path) -> None:
    assert len(LAUGHS.encode()) < 600
    err = refused(tmp_path, LAUGHS + PIPE)
    assert "aliases that expand to more than" in err and ":9:" in err, err


@pytest.mark.parametrize(
    ("body", "line"),
    [("a: &a [*a]\n", 4), ("a: &a {b: *a}\n", 4), ("a: &a\n  <<: *a\n", 4)],
    ids=["list", "mapping", "merge"],
)
def test_recursive_alias_is_a_located_error(tmp_path: Path, body: str, line: int) -> None:
    err = refused(tmp_path, HEAD + body + PIPE)
    assert f"r.yaml:{line}: has an alias that contains itself" in err, err
    assert "RecursionError" not in err


def test_one_of_nested_500_deep_is_a_located_error(tmp_path: Path) -> None:
    nest = "".join("    " + "  " * d + "- one_of:\n" for d in range(500))
    err = refused(
        tmp_path, HEAD + "image:\n  pipeline:\n" + nest + "    " + "  " * 500 + "- hflip\n"
    )
    assert f"nests mappings and lists more than {MAX_DEPTH} levels deep" in err, err
    assert "RecursionError" not in err


def test_flow_nesting_and_deep_aliases_are_bounded_too(tmp_path: Path) -> None:
    err = refused(tmp_path, HEAD + "x: " + "[" * 5000 + "]" * 5000 + "\n" + PIPE)
    assert "r.yaml:4: nests" in err, err
    deep = "".join(f"d{i}: &d{i} [*d{i - 1}]\n" for i in range(1, 60))
    err = refused(tmp_path, HEAD + "d0: &d0 [x]\n" + deep + PIPE)
    assert "levels deep" in err, err


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        (HEAD + "seed: 1\x00\n" + PIPE, ["r.yaml:4:", "U+0000", "control character"]),
        (HEAD + "seed: \x1b\n" + PIPE, ["r.yaml:4:", "U+001B"]),
        (HEAD + "x: 2001-13-01\n" + PIPE, ["r.yaml:4:", "'2001-13-01'", "!!timestamp", "month"]),
        (HEAD + "x: !!int abc\n" + PIPE, ["r.yaml:4:", "'abc' as !!int"]),
        (HEAD + "x: !!bool maybe\n" + PIPE, ["r.yaml:4:", "as !!bool"]),
        (HEAD + "x: !!python/object/apply:os.system [ls]\n" + PIPE, ["r.yaml:4:", "constructor"]),
    ],
    ids=["nul", "escape", "bad-date", "bad-int", "bad-bool", "python-tag"],
)
def test_every_loader_error_is_located(tmp_path: Path, text: str, needles: list[str]) -> None:
    err = refused(tmp_path, text)
    for needle in needles:
        assert needle in err, err


def test_aliases_within_the_bounds_still_load() -> None:
    data, _ = load_yaml("a: &a [1, 2]\nb: *a\nc: {<<: {x: 1}, y: 2}\n", "f.yaml")
    assert data == {"a": [1, 2], "b": [1, 2], "c": {"x": 1, "y": 2}}
    with pytest.raises(RecipeError, match=r"f\.yaml:1: nests"):
        load_yaml("x: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "f.yaml")
    load_yaml("x: " + "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2), "f.yaml")


# -- D18: planning limits -------------------------------------------------------------------------
def _dataset(root: Path, classes: dict[str, int]) -> None:
    for cls, n in classes.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for k in range(n):
            cv2.imwrite(str(root / cls / f"{k}.png"), textured(8, 8, 3, np.uint8, k))


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("--copies", "1000000000"), ["--copies option", "out of range [1, 10000]"]),
        (("--copies", "0"), ["--copies option", "[1, 10000]"]),
    ],
)
def test_copies_option_is_capped_like_the_recipe(
    tmp_path: Path, args: tuple[str, ...], needles: list[str]
) -> None:
    _dataset(tmp_path / "data", {"a": 1})
    err = refused(tmp_path, HEAD + PIPE, *args)
    for needle in needles:
        assert needle in err, err


def test_seed_option_is_capped_like_the_recipe(tmp_path: Path) -> None:
    _dataset(tmp_path / "data", {"a": 1})
    path = write_recipe(tmp_path / "r.yaml", HEAD + PIPE)
    for cmd in ("expand", "preview"):
        proc = run_augcli(cmd, str(path), "--seed", str(2**70))
        assert proc.returncode == 2, proc.stderr
        assert f"--seed option: is out of range [0, {2**63 - 1}]" in proc.stderr
    assert not (tmp_path / "out").exists()
    assert run_augcli("validate", str(path)).returncode == 0


@pytest.mark.parametrize(
    ("balance", "needles"),
    [
        (
            "{target: 1000000000}",
            ["r.yaml:6: image.balance", "asks 500000000 outputs of each of 2 inputs (class 'a'",
             "limit is 10000 copies per input", "Lower the target"],
        ),
        ("{copies: {a: 100000}}", ["image.balance.copies.a", "more than 10000 copies", "100000"]),
        ("{target: {a: 99999999999999999999}}", ["class 'a'", "limit is 10000"]),
    ],
)  # fmt: skip
def test_balance_is_capped_before_planning(
    tmp_path: Path, balance: str, needles: list[str]
) -> None:
    _dataset(tmp_path / "data", {"a": 2, "b": 1})
    err = refused(tmp_path, HEAD + f"image:\n  pipeline: [hflip]\n  balance: {balance}\n")
    for needle in needles:
        assert needle in err, err


def test_a_run_that_would_plan_too_many_outputs_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(budget, "MAX_PLANNED", 5)
    _dataset(tmp_path / "data", {"a": 2})
    path = write_recipe(tmp_path / "r.yaml", HEAD + "copies: 3\n" + PIPE)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "would plan 6 outputs; the limit is 5 per run" in result.output
    assert "max_outputs" in result.output
    path.write_text(HEAD + "copies: 3\nmax_outputs: 5\n" + PIPE)
    assert CliRunner().invoke(app, ["validate", str(path)]).exit_code == 0


def _round_robin(counts: dict[str, int], max_outputs: int | None) -> tuple[dict[str, int], int]:
    """The cap as it was first written: rank by rank over the inputs in name order."""
    total = sum(counts.values())
    if max_outputs is None or total <= max_outputs:
        return counts, 0
    kept, left = {p: 0 for p in counts}, max_outputs
    for rank in range(max(counts.values(), default=0)):
        for p in sorted(counts):
            if left and counts[p] > rank:
                kept[p] += 1
                left -= 1
    return kept, total - max_outputs


def test_the_cap_is_the_same_round_robin_in_n_log_n() -> None:
    rng = np.random.default_rng(3)
    for _ in range(3000):
        counts = {f"f{rng.integers(60)}": int(rng.integers(13)) for _ in range(rng.integers(9))}
        cap = None if rng.random() < 0.1 else int(rng.integers(60))
        assert budget.cap(dict(counts), cap) == _round_robin(dict(counts), cap)
    start = time.monotonic()
    kept, _ = budget.cap({f"f{i}": 10_000 for i in range(500)}, 1_234_567)
    assert time.monotonic() - start < 2 and sum(kept.values()) == 1_234_567


# -- D21: long names ------------------------------------------------------------------------------
def test_a_244_character_input_name_is_written(tmp_path: Path) -> None:
    name = "n" * 244
    data = tmp_path / "data"
    data.mkdir()
    cv2.imwrite(str(data / f"{name}.png"), textured(8, 8, 3, np.uint8))
    (data / f"{name}.txt").write_text("the left lobe is clear today\n")
    rows = "".join(json.dumps({"text": f"note {k} is clear and calm"}) + "\n" for k in range(3))
    (data / f"{name[:240]}.jsonl").write_text(rows)
    recipe = HEAD + PIPE + "text:\n  chunk_records: 1\n  pipeline: [random_swap]\n"
    path = write_recipe(tmp_path / "r.yaml", recipe)
    proc = run_augcli("expand", str(path))
    assert proc.returncode == 0, proc.stderr
    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert {f"{name}__aug_0.png", f"{name}__aug_0.txt", f"{name[:240]}.jsonl"} <= written
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name.startswith(TMP_MARK)]


def test_the_temporary_name_fits_and_keeps_the_extension() -> None:
    short = Path("/o/brick__aug_0.png")
    assert tmp_name(short).name.endswith("-brick__aug_0.png")  # unchanged for normal names
    for final in ("x" * 250 + ".png", "x" * 240 + ".nii.gz", "x" * 200 + "." + "e" * 54):
        tmp = tmp_name(Path("/o") / final)
        assert len(tmp.name.encode()) <= NAME_MAX and tmp.name.startswith(TMP_MARK)
    assert tmp_name(Path("/o/" + "x" * 250 + ".png")).suffix == ".png"
    assert tmp_name(Path("/o/" + "x" * 240 + ".nii.gz")).name.endswith(".nii.gz")


def test_an_output_name_over_name_max_is_refused_at_plan_time(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    cv2.imwrite(str(tmp_path / "data" / ("b" * 250 + ".png")), textured(8, 8, 3, np.uint8))
    err = refused(tmp_path, HEAD + PIPE)
    assert "output name too long" in err and f"at most {NAME_MAX} bytes" in err, err
    assert "Shorten the input's name or the node name" in err
    path = tmp_path / "r.yaml"
    assert run_augcli("expand", str(path)).returncode == 2
    assert not (tmp_path / "out").exists()


def test_a_300_character_node_name_is_refused_at_its_line(tmp_path: Path) -> None:
    node = "n" * 300
    err = refused(tmp_path, HEAD + f"image:\n  graph:\n    {node}: {{ops: [hflip]}}\n")
    assert f"r.yaml:6: image.graph.{node}: is not a valid node name" in err, err
    assert "at most 64 characters" in err
