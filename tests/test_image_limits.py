"""Pixel and memory limits count what ops make (issue 13, D17): an op whose declared output is
over ``max_pixels`` or ``max_bytes`` fails that output before it runs (nothing allocated), with
the op, the size and the limit; the other outputs are written, and valid recipes are unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from conftest import read_manifest, run_augcli, textured, write_recipe

from augcli.core.errors import InputError, RecipeError
from augcli.image.modality import ImageModality
from augcli.ops import registry
from augcli.recipe import load_recipe
from augcli.steps import Applier, Ctx, OpStep, replay, run_steps


def run(tmp_path: Path, image: str, *args: str) -> tuple[int, str, dict[str, dict]]:
    """``augcli expand`` of a recipe whose image section is ``image`` on two 40x60 images; the
    exit code, stderr and the manifest by output (or by source for a failed input)."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    cv2.imwrite(str(data / "a.png"), textured(40, 60, 3, np.uint8))
    cv2.imwrite(str(data / "b.png"), textured(40, 60, 1, np.uint16))
    recipe = f"version: 1\nseed: 2\ninput: data\noutput: out\ncopies: 1\nimage:\n{image}"
    proc = run_augcli("expand", str(write_recipe(tmp_path / "r.yaml", recipe)), *args)
    assert "Traceback" not in proc.stderr, proc.stderr
    recs = read_manifest(tmp_path / "out") if (tmp_path / "out/manifest.jsonl").exists() else []
    return proc.returncode, proc.stderr, {r["output"] or r["source"]: r for r in recs}


TWO_BRANCHES = """\
  max_pixels: 5000
  graph:
    big:
      ops:
        - scale: {factor: 4}
    small:
      ops:
        - hflip
"""


def test_an_op_output_too_large_fails_its_outputs_before_allocating(tmp_path: Path) -> None:
    """An output size that depends on the input (scale 4x of 40x60 = 38,400 pixels) is checked
    before the op runs; a fixed one (a pad of 100,000) is refused with the recipe (below)."""
    code, err, recs = run(tmp_path, TWO_BRANCHES, "--workers", "1")
    assert code == 1, err
    for src in ("a", "b"):
        assert recs[f"{src}__small_0.png"]["status"] == "ok"
        error = recs[f"{src}__big_0.png"]["error"]
        assert recs[f"{src}__big_0.png"]["status"] == "failed"
        assert "scale would make a 240x160 image = 38,400 pixels" in error
        assert "over image.max_pixels: 5,000" in error and "(null = no limit)" in error
        assert not (tmp_path / f"out/{src}__big_0.png").exists()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_max_bytes_counts_channels_and_bit_depth(tmp_path: Path, workers: str) -> None:
    """100 x 100 is 30,000 bytes as 8-bit BGR, 20,000 as 16-bit gray: a 25,000-byte limit
    refuses the first and passes the second."""
    body = "  max_bytes: 25000\n  pipeline:\n    - resize: {size: [100, 100]}\n"
    code, err, recs = run(tmp_path, body, "--workers", workers)
    assert code == 1, err
    assert recs["b__aug_0.png"]["status"] == "ok"
    error = recs["a__aug_0.png"]["error"]
    assert "resize would make a 100x100 3-channel 8-bit image = 30,000 bytes" in error
    assert "over image.max_bytes: 25,000" in error


def test_max_bytes_refuses_a_decoded_input_alone(tmp_path: Path) -> None:
    body = "  max_bytes: 5000\n  pipeline: [hflip]\n"  # a: 7,200 bytes; b: 4,800
    code, _, recs = run(tmp_path, body, "--workers", "1")
    assert code == 1
    assert recs["b__aug_0.png"]["status"] == "ok"
    assert recs["a.png"]["status"] == "failed"
    assert "memory limit (image.max_bytes: 5,000)" in recs["a.png"]["error"]
    assert "60x40 3-channel 8-bit image = 7,200 bytes" in recs["a.png"]["error"]


def test_each_op_of_a_fused_run_counts(tmp_path: Path) -> None:
    """scale x16 then resize are one warp, but the limit does not depend on fusion: the 640x960
    step is over 100,000 pixels whether or not it is ever allocated."""
    body = "  max_pixels: 100000\n  pipeline:\n    - scale: {factor: 16}\n"
    body += "    - resize: {size: [10, 10]}\n"
    code, _, recs = run(tmp_path, body, "--workers", "1")
    assert code == 1
    assert "scale would make a 960x640 image = 614,400 pixels" in recs["a__aug_0.png"]["error"]


def test_outputs_at_the_limits_are_written_and_unchanged(tmp_path: Path) -> None:
    """Padded by 3, the 60x40 inputs become 66x46 = 3,036 pixels; as 8-bit BGR, 9,108 bytes."""
    body = "  pipeline:\n    - pad: {pixels: 3}\n    - rotate: {degrees: 5}\n"
    code, err, _ = run(tmp_path, body, "--workers", "1")
    assert code == 0, err
    first = {p.name: p.read_bytes() for p in (tmp_path / "out").glob("*.png")}
    limits = "  max_pixels: 3036\n  max_bytes: 9108\n"
    code, err, _ = run(tmp_path, limits + body, "--workers", "1", "--overwrite")
    assert code == 0, err
    assert first == {p.name: p.read_bytes() for p in (tmp_path / "out").glob("*.png")}


# -- the check itself ---------------------------------------------------------------------------
class Counting(Applier):
    def __init__(self, limit: Any) -> None:
        self.limit = limit
        self.applied: list[str] = []

    def apply(self, op: Any, data: Any, params: Any, info: Any, load: Any) -> Any:
        self.applied.append(op.name)
        return super().apply(op, data, params, info, load)


def refuse_over(pixels: int) -> Any:
    def limit(op: str, info: dict[str, Any]) -> None:
        if info["height"] * info["width"] > pixels:
            raise InputError(f"{op} over")

    return limit


def info_of(img: np.ndarray) -> dict[str, Any]:
    return {"height": img.shape[0], "width": img.shape[1], "channels": 1, "dtype": "uint8"}


def test_the_check_runs_before_the_op_and_in_replay() -> None:
    ops = registry("image")
    img = np.zeros((10, 10), np.uint8)
    step = OpStep(ops["pad"].from_recipe({"pixels": 10}, "pad"), 1.0)
    applier = Counting(refuse_over(200))
    ctx = Ctx(np.random.default_rng(0), info_of, "n", [], applier=applier)
    with pytest.raises(InputError, match="pad over"):
        run_steps([step], img, ctx)
    assert applier.applied == []  # refused before applying
    log = [{"node": "n", "op": "pad", "applied": True, "params": {"pixels": 10}}]
    log[0]["params"].update(border_mode="constant", fill=0.0)
    with pytest.raises(InputError, match="pad over"):
        replay(log, img, ops, info_of, applier=applier)
    assert replay(log, img, ops, info_of, applier=Counting(None)).shape == (30, 30)


# -- recipe time --------------------------------------------------------------------------------
def section(tmp_path: Path, body: str) -> Any:
    (tmp_path / "data").mkdir(exist_ok=True)
    recipe = f"version: 1\ninput: data\noutput: out\nimage:\n{body}"
    return load_recipe(write_recipe(tmp_path / "r.yaml", recipe)).sections["image"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "  pipeline:\n    - pad: {pixels: [5000, 6000]}\n",
            "pad makes at least a 10001x10001",
        ),
        (
            "  max_pixels: 99\n  pipeline:\n    - resize: {size: [10, 10]}\n",
            "resize makes at least",
        ),
        ("  max_bytes: 99\n  pipeline:\n    - center_crop: {size: [10, 10]}\n", "= 100 bytes"),
    ],
)
def test_ops_that_can_never_fit_are_found_from_the_recipe(
    tmp_path: Path, body: str, message: str
) -> None:
    with pytest.raises(RecipeError, match=message):
        section(tmp_path, body)  # loading the recipe calls ImageModality.check_graph


def test_ops_that_may_fit_pass_the_recipe_check(tmp_path: Path) -> None:
    for body in (
        "  pipeline:\n    - pad: {pixels: [0, 100000]}\n",
        "  max_pixels: null\n  pipeline:\n    - pad: {pixels: 100000}\n",
        "  max_pixels: 100\n  pipeline:\n    - resize: {size: [10, 10]}\n    - scale: {factor: 16}\n",
    ):
        s = section(tmp_path, body)
        ImageModality.check_graph(s.settings, s.graph, "image")


def test_validate_refuses_a_pad_that_can_never_fit(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    recipe = (
        "version: 1\ninput: data\noutput: out\nimage:\n  pipeline:\n    - pad: {pixels: 100000}\n"
    )
    proc = run_augcli("validate", str(write_recipe(tmp_path / "r.yaml", recipe)))
    assert proc.returncode == 2 and "pad makes at least a 200001x200001" in proc.stderr
