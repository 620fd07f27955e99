"""End to end: `augcli expand` on real sample images — outputs, manifest, exit codes, determinism."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ROOT, read_manifest, run_augcli, tree_digest, write_recipe
from typer.testing import CliRunner

from augcli import __version__
from augcli.cli import app

RECIPE = """\
version: 1
seed: 3
input: data
output: out
copies: 2
keep_originals: true
image:
  pipeline:
    - hflip: {p: 0.5}
    - rotate: {degrees: [-20, 20]}
    - random_crop: {scale: [0.6, 1.0], p: 0.5}
    - brightness_contrast: {brightness: [-0.1, 0.1]}
    - one_of:
        - gaussian_blur: {sigma: [0.5, 1.5]}
        - sharpen: {amount: [0.2, 0.8]}
"""

GRAPH = """\
version: 1
seed: 5
input: data
output: out
copies: 2
image:
  graph:
    base: {ops: [{rotate: {degrees: [-10, 10]}}]}
    soft: {after: base, ops: [gaussian_blur]}
    crisp: {after: base, ops: [sharpen]}
"""

runner = CliRunner()


def expand(tmp_path: Path, *args: str, recipe: str = RECIPE) -> tuple[int, str]:
    path = write_recipe(tmp_path / "recipe.yaml", recipe)
    result = runner.invoke(app, ["expand", str(path), "--quiet", *args])
    return result.exit_code, result.output


def test_expand_writes_outputs_and_a_true_manifest(tmp_path: Path, images: Path) -> None:
    n_inputs = sum(1 for p in images.rglob("*") if p.is_file())
    input_before = tree_digest(images)
    code, out = expand(tmp_path, "--workers", "2")
    assert code == 0, out
    dst = tmp_path / "out"
    lines = read_manifest(dst)
    assert len(lines) == n_inputs * 3  # 2 copies + the original
    assert tree_digest(images) == input_before, "inputs are never modified"
    for rec in lines:
        assert rec["status"] == "ok" and rec["error"] is None
        path = dst / rec["output"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == rec["sha256"]
        assert rec["label"] == Path(rec["source"]).parent.name
        assert rec["modality"] == "image"
        if rec["node"] is None:  # the original, copied byte for byte
            assert path.read_bytes() == (images / rec["source"]).read_bytes()
            continue
        stem, ext = os.path.splitext(rec["source"])
        assert rec["output"] == f"{stem}__aug_{rec['copy']}{ext}"
        assert [o["op"] for o in rec["ops"]] == [
            "hflip",
            "rotate",
            "random_crop",
            "brightness_contrast",
            "gaussian_blur",
            "sharpen",
        ]
        assert sum(o["applied"] for o in rec["ops"][4:]) == 1, "one_of applies exactly one"
        rotate = rec["ops"][1]
        assert rotate["applied"] and -20 <= rotate["params"]["degrees"] <= 20
        src = cv2.imread(str(images / rec["source"]), cv2.IMREAD_UNCHANGED)
        got = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert got.dtype == src.dtype and got.ndim == src.ndim, rec["output"]
    # The manifest is sorted, and records 16-bit inputs as 16-bit outputs.
    keys = [
        (r["source"], r["node"] or "", r["copy"] if r["copy"] is not None else -1) for r in lines
    ]
    assert keys == sorted(keys)
    ct = cv2.imread(str(dst / "medical/ct_small_u16__aug_0.png"), cv2.IMREAD_UNCHANGED)
    assert ct.dtype == np.uint16 and ct.max() > 255
    info = json.loads((dst / "run.json").read_text())
    made = {"input_files": n_inputs, "records": 0, "outputs": n_inputs * 2, "originals": n_inputs}
    made |= {"unchanged": 0, "failed": 0}
    assert info["this_run"] == {**made, "already_done": 0} and info["dataset"] == made
    assert info["status"] == "complete" and info["versions"]["augcli"] == __version__
    assert not [p for p in dst.rglob("*") if ".augcli-tmp-" in p.name]


def test_replaying_the_manifest_gives_the_same_pixels(tmp_path: Path, images: Path) -> None:
    """The recorded params are the whole story: applying them again reproduces the output."""
    from augcli.image.io import read_image
    from augcli.image.modality import ImageModality
    from augcli.ops import registry
    from augcli.steps import replay

    code, _ = expand(tmp_path, "--workers", "1")
    assert code == 0
    info = ImageModality({}).info
    checked = 0
    for rec in read_manifest(tmp_path / "out"):
        if rec["node"] is None or not rec["output"].endswith(".png"):
            continue
        img = replay(rec["ops"], read_image(images / rec["source"]), registry("image"), info)
        np.testing.assert_array_equal(img, read_image(tmp_path / "out" / rec["output"]))
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize("recipe", [RECIPE, GRAPH], ids=["pipeline", "graph"])
def test_outputs_are_identical_for_any_worker_count(tmp_path: Path, images: Path, recipe: str):
    digests = []
    for workers in ("1", "3"):
        code, out = expand(
            tmp_path, "--workers", workers, "--output", str(tmp_path / workers), recipe=recipe
        )
        assert code == 0, out
        digests.append(tree_digest(tmp_path / workers))
    assert digests[0] == digests[1]
    assert len(digests[0]) > 20


def test_graph_nodes_share_their_parent(tmp_path: Path, images: Path) -> None:
    code, out = expand(tmp_path, recipe=GRAPH)
    assert code == 0, out
    recs = [r for r in read_manifest(tmp_path / "out") if r["source"] == "scene/astronaut.jpg"]
    assert sorted((r["node"], r["copy"]) for r in recs) == [
        ("crisp", 0),
        ("crisp", 1),
        ("soft", 0),
        ("soft", 1),
    ]
    by = {(r["node"], r["copy"]): r for r in recs}
    for k in (0, 1):
        soft, crisp = by[("soft", k)]["ops"], by[("crisp", k)]["ops"]
        assert soft[0] == crisp[0] and soft[0]["node"] == "base", "one base result per copy"
        assert (soft[1]["op"], crisp[1]["op"]) == ("gaussian_blur", "sharpen")
    assert by[("soft", 0)]["ops"][0] != by[("soft", 1)]["ops"][0], "copies differ"
    assert (tmp_path / "out/scene/astronaut__crisp_1.jpg").is_file()


def test_second_run_skips_completed_work(tmp_path: Path, images: Path) -> None:
    assert expand(tmp_path)[0] == 0
    first = tree_digest(tmp_path / "out")
    code, _ = expand(tmp_path)
    assert code == 0
    assert tree_digest(tmp_path / "out") == first
    info = json.loads((tmp_path / "out/run.json").read_text())
    outputs = [k for k in first if not k.startswith(".augcli/")]  # augcli's state aside
    assert info["this_run"]["outputs"] == 0 and info["this_run"]["already_done"] == len(outputs) - 1


def test_a_changed_recipe_is_refused_unless_overwrite(tmp_path: Path, images: Path) -> None:
    assert expand(tmp_path)[0] == 0
    first = tree_digest(tmp_path / "out")
    code, out = expand(tmp_path, "--seed", "99")
    assert code == 2 and "different recipe" in out and "--overwrite" in out
    assert tree_digest(tmp_path / "out") == first
    code, out = expand(tmp_path, "--seed", "99", "--copies", "1", "--overwrite")
    assert code == 0, out
    after = tree_digest(tmp_path / "out")
    assert not (tmp_path / "out/scene/astronaut__aug_1.jpg").exists(), "old outputs removed"
    assert after["scene/astronaut__aug_0.jpg"] != first["scene/astronaut__aug_0.jpg"]
    assert len(read_manifest(tmp_path / "out")) == (len(first) - 1) * 2 // 3


def test_a_foreign_output_folder_is_refused(tmp_path: Path, images: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "precious.txt").write_text("keep me")
    code, out = expand(tmp_path)
    assert code == 2 and "not written by augcli" in out
    assert (tmp_path / "out" / "precious.txt").read_text() == "keep me"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["precious.txt"]


def test_bad_inputs_fail_alone(tmp_path: Path, images: Path) -> None:
    good = (images / "scene/astronaut.jpg").read_bytes()
    (images / "scene/truncated.jpg").write_bytes(good[: len(good) // 2])
    (images / "scene/empty.png").write_bytes(b"")
    (images / "scene/notes.png").write_text("this is not a picture\n")
    png = (images / "texture/brick.png").read_bytes()
    (images / "texture/cut.png").write_bytes(png[:-40])
    code, _ = expand(tmp_path, "--workers", "2")
    assert code == 1
    recs = read_manifest(tmp_path / "out")
    failed = {r["source"]: r["error"] for r in recs if r["status"] == "failed"}
    assert failed == {
        "scene/truncated.jpg": "truncated JPEG (no end-of-image marker)",
        "scene/empty.png": "empty file (0 bytes)",
        "scene/notes.png": "cannot be decoded as an image (corrupt, or not the format its "
        "extension says)",
        "texture/cut.png": "truncated PNG (no IEND chunk)",
    }
    for name in failed:
        assert not (tmp_path / "out" / name).exists(), "a bad input is not copied as an original"
    assert (tmp_path / "out/scene/astronaut__aug_1.jpg").is_file()
    info = json.loads((tmp_path / "out/run.json").read_text())
    assert info["this_run"]["failed"] == 4
    # Fixing an input and re-running retries only what failed.
    (images / "scene/truncated.jpg").write_bytes(good)
    for name in ("scene/empty.png", "scene/notes.png", "texture/cut.png"):
        (images / name).unlink()
    code, _ = expand(tmp_path)
    assert code == 0
    recs = read_manifest(tmp_path / "out")
    assert all(r["status"] == "ok" for r in recs)
    assert len([r for r in recs if r["source"] == "scene/truncated.jpg"]) == 3


def test_fail_fast_stops_at_the_first_failure(tmp_path: Path, images: Path) -> None:
    (images / "scene/aaa.png").write_bytes(b"")
    code, _ = expand(tmp_path, "--workers", "1", "--fail-fast")
    assert code == 1
    recs = read_manifest(tmp_path / "out")
    assert recs[-1]["status"] == "failed" and recs[-1]["source"] == "scene/aaa.png"
    assert len(recs) == 3 * 3 + 1, "medical/ (3 inputs x 3 outputs), then the failure; no more"


def test_nothing_is_written_outside_the_output_folder(tmp_path: Path, images: Path) -> None:
    weird = images / "scene" / "x..y.jpg"
    shutil.copy(images / "scene/astronaut.jpg", weird)
    shutil.copy(images / "scene/astronaut.jpg", images / "scene" / "spaced name é.jpg")
    write_recipe(tmp_path / "recipe.yaml", RECIPE)
    outside_before = {p for p in tmp_path.rglob("*") if "out" not in p.relative_to(tmp_path).parts}
    code, out = expand(tmp_path)
    assert code == 0, out
    outside_after = {p for p in tmp_path.rglob("*") if "out" not in p.relative_to(tmp_path).parts}
    assert outside_after == outside_before
    assert (tmp_path / "out/scene/x..y__aug_0.jpg").is_file()
    assert (tmp_path / "out/scene/spaced name é__aug_1.jpg").is_file()


def test_output_name_collisions_are_refused(tmp_path: Path, images: Path) -> None:
    shutil.copy(images / "scene/astronaut.jpg", images / "scene/astronaut__aug_0.jpg")
    code, out = expand(tmp_path)
    assert code == 2 and "collision" in out and "astronaut__aug_0.jpg" in out
    assert not (tmp_path / "out").exists()


def test_include_and_exclude_globs(tmp_path: Path, images: Path) -> None:
    recipe = RECIPE.replace(
        "image:\n", "image:\n  include: ['**/*.png']\n  exclude: ['medical/*']\n"
    )
    code, _ = expand(tmp_path, "--copies", "1", recipe=recipe)
    assert code == 0
    sources = {r["source"] for r in read_manifest(tmp_path / "out")}
    assert sources and all(s.endswith(".png") and not s.startswith("medical/") for s in sources)


def test_validate_prints_the_plan_and_writes_nothing(tmp_path: Path, images: Path) -> None:
    path = write_recipe(tmp_path / "recipe.yaml", GRAPH)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    n = sum(1 for p in images.rglob("*") if p.is_file())
    assert f"image: {n} input files -> {n * 4} output files" in result.output
    assert "soft (after base): gaussian_blur" in result.output
    assert "emits: soft, crisp" in result.output
    assert "class medical: 3 input files -> 12 output files" in result.output
    assert not (tmp_path / "out").exists()


def test_ops_lists_every_op_as_json_and_text() -> None:
    from augcli.ops import registry

    result = runner.invoke(app, ["ops", "--json"])
    assert result.exit_code == 0
    listed = {(d["modality"], d["name"]): d for d in json.loads(result.output)}
    from augcli.ops import modalities

    assert set(listed) == {(m, name) for m in modalities() for name in registry(m)}
    assert listed[("image", "rotate")]["params"]["degrees"]["unit"] == "degrees"
    assert listed[("image", "rotate")]["params"]["p"]["default"] == 1.0
    assert listed[("audio", "time_stretch")]["changes"] == ["duration"]
    text = runner.invoke(app, ["ops", "--modality", "image"]).output
    assert "image/gaussian_blur" in text and "sigma = [0.5, 1.5]" in text
    bad = runner.invoke(app, ["ops", "--modality", "smell"])
    assert bad.exit_code == 2 and "unknown modality" in bad.output


def test_entry_point_version_and_quickstart_config(tmp_path: Path) -> None:
    proc = run_augcli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"augcli {__version__}"
    proc = run_augcli(
        "expand",
        str(ROOT / "configs/quickstart.yaml"),
        "--output",
        str(tmp_path / "qs"),
        "--workers",
        "2",
    )
    assert proc.returncode == 0, proc.stderr
    assert "complete:" in proc.stderr and "0 failed" in proc.stderr
    assert len(read_manifest(tmp_path / "qs")) > 20


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys\nfrom augcli.cli import app\n"
        "for argv in (['--help'], ['expand', '--help'], ['ops']):\n"
        "    try:\n        app(argv)\n    except SystemExit:\n        pass\n"
        "heavy = ('cv2', 'audiomentations', 'nlpaug', 'transformers', 'torch', 'scipy', 'dask',\n"
        "    'distributed', 'SimpleITK', 'nibabel')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
