"""Outputs that change nothing, for images and audio as for text: retried with new sub-seeds,
then recorded ``unchanged`` and not written; and the implausible settings that cause them,
warned about by ``validate`` and ``preview`` with the recipe's file, line and op path."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile as sf
from conftest import read_manifest, run_augcli, textured, tree_digest, write_recipe

RECIPE = """\
version: 1
seed: 11
input: data
output: {out}
copies: {copies}
image:
{extra}  pipeline:
{ops}"""


def image_data(root: Path, n: int = 4) -> list[str]:
    """``n`` 8-bit images, none symmetric, in two classes; their paths."""
    paths = []
    for i in range(n):
        rel = f"{'ab'[i % 2]}/img{i}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / rel), textured(24, 32, 3, np.uint8, seed=i))
        paths.append(rel)
    return paths


def recipe(tmp: Path, ops: str, copies: int = 2, extra: str = "", out: str = "out") -> Path:
    body = RECIPE.format(out=out, copies=copies, extra=extra, ops=ops)
    return write_recipe(tmp / f"{out}.yaml", body)


def written_images(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))


def counts(out: Path) -> dict[str, int]:
    return json.loads((out / "run.json").read_text())["this_run"]


@pytest.mark.parametrize(
    "ops",
    [
        "    - gaussian_noise: {std: [0.01, 0.05]}\n",  # a fraction where levels are meant
        "    - rotate: {degrees: [-10, 10], p: 0}\n",  # never fires
    ],
)
def test_an_op_that_does_nothing_is_recorded_unchanged_not_written(tmp_path: Path, ops: str):
    sources = image_data(tmp_path / "data")
    proc = run_augcli("expand", str(recipe(tmp_path, ops, extra="  retries: 2\n")))
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    recs = read_manifest(out)
    assert len(recs) == 2 * len(sources)
    for r in recs:
        assert r["status"] == "unchanged" and r["error"] == "identical to its source"
        assert r["attempt"] == 2 and r["sha256"] is None
    assert written_images(out) == []
    assert counts(out)["unchanged"] == 8 and counts(out)["outputs"] == 0
    assert "0 outputs, 0 originals, 8 unchanged" in proc.stderr


def test_a_second_copy_equal_to_the_first_is_unchanged(tmp_path: Path):
    image_data(tmp_path / "data", n=2)
    proc = run_augcli("expand", str(recipe(tmp_path, "    - hflip: {}\n")))
    assert proc.returncode == 0, proc.stderr
    by = {(r["source"], r["copy"]): r for r in read_manifest(tmp_path / "out")}
    for src in ("a/img0.png", "b/img1.png"):
        assert by[src, 0]["status"] == "ok" and "attempt" not in by[src, 0]
        again = by[src, 1]
        assert again["status"] == "unchanged" and again["attempt"] == 3
        assert again["error"] == "identical to another output of the same input"
    assert len(written_images(tmp_path / "out")) == 2


def test_an_op_that_sometimes_does_nothing_changes_on_a_retry(tmp_path: Path):
    """hflip p=0.5: an output it skipped is made again with sub-seeds until it flips; the
    outputs it flipped at once keep today's seeds (the same bytes as with no retries)."""
    sources = image_data(tmp_path / "data", n=8)
    ops = "    - hflip: {p: 0.5}\n"
    assert run_augcli("expand", str(recipe(tmp_path, ops, copies=1))).returncode == 0
    code = run_augcli("expand", str(recipe(tmp_path, ops, 1, "  retries: 0\n", out="none")))
    assert code.returncode == 0
    recs = {r["source"]: r for r in read_manifest(tmp_path / "out")}
    plain = {r["source"]: r for r in read_manifest(tmp_path / "none")}
    retried = [s for s in sources if recs[s].get("attempt")]
    assert retried, "no input needed a retry: choose another seed"
    for src in sources:
        rec = recs[src]
        assert rec["status"] == "ok"
        got = cv2.imread(str(tmp_path / "out" / rec["output"]), cv2.IMREAD_UNCHANGED)
        want = cv2.imread(str(tmp_path / "data" / src), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(got, want[:, ::-1])
        if src in retried:
            assert plain[src]["status"] == "unchanged" and plain[src]["attempt"] == 0
            assert rec["seed"] != plain[src]["seed"]
        else:
            assert plain[src]["sha256"] == rec["sha256"] and plain[src]["seed"] == rec["seed"]


def test_one_or_two_workers_give_the_same_bytes(tmp_path: Path):
    image_data(tmp_path / "data", n=8)
    ops = "    - hflip: {p: 0.5}\n    - gaussian_noise: {std: 0.02, p: 0.5}\n"
    for workers, out in (("1", "w1"), ("2", "w2")):
        proc = run_augcli("expand", str(recipe(tmp_path, ops, out=out)), "--workers", workers)
        assert proc.returncode == 0, proc.stderr
    one, two = tree_digest(tmp_path / "w1"), tree_digest(tmp_path / "w2")
    assert one == two
    statuses = {r["status"] for r in read_manifest(tmp_path / "w1")}
    assert statuses == {"ok", "unchanged"}  # both kinds of record are compared


def test_preview_shows_an_unchanged_output_as_such(tmp_path: Path):
    image_data(tmp_path / "data", n=2)
    sheet = tmp_path / "sheet.png"
    r = recipe(tmp_path, "    - gaussian_noise: {std: 0.01}\n")
    proc = run_augcli("preview", str(r), "--output", str(sheet), "-n", "2")
    assert proc.returncode == 0, proc.stderr  # unchanged is not a failure
    assert "failed" not in proc.stderr and sheet.is_file()
    assert "image.pipeline[0].gaussian_noise" in proc.stderr  # the parameter warning too


# -- validate: implausible settings ------------------------------------------------------------
def test_validate_warns_of_a_noise_std_below_one_level(tmp_path: Path):
    image_data(tmp_path / "data")
    proc = run_augcli(
        "validate", str(recipe(tmp_path, "    - gaussian_noise: {std: [0.01, 0.05]}\n"))
    )
    assert proc.returncode == 0, proc.stderr
    (line,) = [x for x in proc.stdout.splitlines() if "gaussian_noise" in x and "warning" in x]
    assert line.startswith("warning: ") and "out.yaml:8: image.pipeline[0].gaussian_noise:" in line
    assert "std [0.01, 0.05] is in the image's own levels (0..255 for 8-bit)" in line
    assert "0.05 is below one level" in line and "[2.55, 12.8]" in line
    plausible = run_augcli(
        "validate", str(recipe(tmp_path, "    - gaussian_noise: {std: [3, 13]}\n"))
    )
    assert plausible.returncode == 0 and "gaussian_noise:" not in plausible.stdout


def test_validate_warns_of_intensity_ops_on_a_two_valued_16_bit_png(tmp_path: Path):
    mask = np.zeros((32, 32), np.uint16)
    mask[8:24, 4:20] = 1
    (tmp_path / "data/seg").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "data/seg/case.png"), mask)
    ops = "    - hflip: {}\n    - one_of:\n        - gamma: {gamma: 1.2}\n        - rotate: {}\n"
    proc = run_augcli("validate", str(recipe(tmp_path, ops)))
    assert proc.returncode == 0, proc.stderr
    warned = [x for x in proc.stdout.splitlines() if x.startswith("warning: ")]
    assert len(warned) == 1  # gamma; not hflip or rotate (they move pixels, not levels)
    assert "out.yaml:10: image.pipeline[1].one_of[0].gamma:" in warned[0]
    assert "only two values (0 and 1, uint16)" in warned[0] and "'masks:'" in warned[0]
    assert "(seen on seg/case.png)" in warned[0]
    # what it warns of is real: gamma 1.2 erases the mask
    assert (
        run_augcli("expand", str(recipe(tmp_path, "    - gamma: {gamma: 1.2}\n", 1))).returncode
        == 0
    )
    (rec,) = read_manifest(tmp_path / "out")
    out = cv2.imread(str(tmp_path / "out" / rec["output"]), cv2.IMREAD_UNCHANGED)
    assert mask.any() and not out.any()
    # and an image with many levels is not taken for a mask
    cv2.imwrite(str(tmp_path / "data/seg/case.png"), textured(32, 32, 1, np.uint16))
    assert "warning" not in run_augcli("validate", str(recipe(tmp_path, ops))).stdout


# -- audio -------------------------------------------------------------------------------------
AUDIO = """\
version: 1
seed: 4
input: data
output: out
copies: 2
audio:
  pipeline:
{ops}"""


def audio_data(root: Path) -> None:
    (root / "cls").mkdir(parents=True)
    t = np.arange(8000) / 16000
    for i, name in enumerate(("a.wav", "b.wav")):
        x = (0.5 * np.sin(2 * np.pi * (300 + 100 * i) * t)).astype("float32")
        sf.write(str(root / "cls" / name), x, 16000, subtype="PCM_16")


@pytest.mark.parametrize("ops", ["    - gain: {db: 0}\n", "    - gain: {db: [-6, 6], p: 0}\n"])
def test_an_audio_op_that_changes_nothing_is_unchanged(tmp_path: Path, ops: str):
    audio_data(tmp_path / "data")
    r = write_recipe(tmp_path / "r.yaml", AUDIO.format(ops=ops))
    proc = run_augcli("expand", str(r))
    assert proc.returncode == 0, proc.stderr
    recs = read_manifest(tmp_path / "out")
    assert len(recs) == 4 and {r["status"] for r in recs} == {"unchanged"}
    assert {r["attempt"] for r in recs} == {3}
    assert list((tmp_path / "out").rglob("*.wav")) == []
    assert counts(tmp_path / "out")["unchanged"] == 4


def test_validate_warns_of_an_audio_gain_below_one_pcm_step(tmp_path: Path):
    audio_data(tmp_path / "data")
    r = write_recipe(tmp_path / "r.yaml", AUDIO.format(ops="    - gain: {db: [-0.0001, 0.0001]}\n"))
    proc = run_augcli("validate", str(r))
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("warning: ")]
    assert "r.yaml:8: audio.pipeline[0].gain:" in line and "16-bit PCM" in line
    r = write_recipe(tmp_path / "r.yaml", AUDIO.format(ops="    - gain: {db: [-1, 1]}\n"))
    assert "warning" not in run_augcli("validate", str(r)).stdout
