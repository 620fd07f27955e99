"""The volume section from the user's side: the CLI on real files (the shipped sample volumes,
nibabel's test data, volumes made here) — names, geometry, dtype and headers kept, label maps
moved with their image, byte identity across worker counts and on replay, bad cases failing
alone with their reason, and the missing extra refused before any input is read."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, read_manifest, run_augcli, tree_digest, write_recipe
from volumes import blob_volume, write_case, write_sitk

nib = pytest.importorskip("nibabel")
sitk = pytest.importorskip("SimpleITK")

from augcli.volume.io import read_volume  # noqa: E402

SAMPLES = ROOT / "sample_data" / "volume"
CONFIG = ROOT / "configs" / "volume.yaml"


def _recipe(tmp_path: Path, data: Path, body: str, copies: int = 2, keep: bool = False) -> Path:
    return write_recipe(
        tmp_path / "r.yaml",
        f"version: 1\nseed: 3\ninput: {data}\noutput: {tmp_path / 'out'}\ncopies: {copies}\n"
        f"keep_originals: {str(keep).lower()}\nvolume:\n{body}",
    )


def _lines(out: Path) -> list[dict]:
    return [r for r in read_manifest(out) if r.get("modality") == "volume"]


# -- the shipped config ----------------------------------------------------------------------
def test_shipped_config_same_bytes_for_1_and_2_workers_and_on_replay(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for out, workers in ((one, "1"), (two, "2")):
        proc = run_augcli("expand", str(CONFIG), "--output", str(out), "--workers", workers)
        assert proc.returncode == 0, proc.stderr
        assert "0 failed" in proc.stderr
    assert tree_digest(one) == tree_digest(two)
    names = set(tree_digest(one))
    assert {"ct/case01__aug_0.nii.gz", "ct/case01__aug_0_seg.nii.gz"} <= names
    assert {"mr/case02__aug_1.nrrd", "mr/case03__aug_0_seg.mha"} <= names
    replayed = run_augcli("replay", str(CONFIG), "--output", str(one), "--to", str(tmp_path / "r"))
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "6 byte-identical, 0 differ" in replayed.stdout
    for rel in ("ct/case01__aug_1_seg.nii.gz", "mr/case02__aug_0_seg.nrrd"):
        assert (tmp_path / "r" / rel).read_bytes() == (one / rel).read_bytes()
    verify = run_augcli("verify", str(one))
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_outputs_keep_geometry_dtype_header_and_label_values(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_augcli("expand", str(CONFIG), "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    lines = [r for r in _lines(out) if r["node"]]
    assert len(lines) == 6
    for rec in lines:
        src, made = read_volume(SAMPLES / rec["source"]), read_volume(out / rec["output"])
        assert made.array.dtype == src.array.dtype and made.array.shape == src.array.shape
        assert (made.spacing, made.origin, made.direction) == (
            src.spacing,
            src.origin,
            src.direction,
        )
        stem = rec["source"].rsplit(".", 2 if rec["source"].endswith(".gz") else 1)[0]
        ext = rec["source"][len(stem) :]
        seg_src = read_volume(SAMPLES / f"{stem}_seg{ext}")
        seg = read_volume(out / rec["label_map"])
        assert rec["label_map"] == rec["output"].replace(ext, f"_seg{ext}")
        assert seg.array.dtype == seg_src.array.dtype
        assert set(np.unique(seg.array)) <= set(np.unique(seg_src.array))
        assert rec["files"][rec["label_map"]]  # its digest, for verify
    ct = nib.load(str(out / "ct/case01__aug_0.nii.gz")).header
    src = nib.load(str(SAMPLES / "ct/case01.nii.gz")).header
    for key in (
        "qform_code",
        "sform_code",
        "xyzt_units",
        "descrip",
        "pixdim",
        "srow_x",
        "quatern_b",
    ):
        assert np.array_equal(ct[key], src[key]), key
    seg = nib.load(str(out / "ct/case01__aug_0_seg.nii.gz")).header
    assert seg.get_intent()[0] == "label"
    nrrd = (out / "mr/case02__aug_0.nrrd").read_bytes().split(b"\n\n")[0]
    assert b"acquisition:=synthetic T1-like phantom" in nrrd and b"encoding: gzip" in nrrd
    four = sitk.ReadImage(str(out / "mr/case03__aug_0.mha"))
    assert four.GetDimension() == 4 and four.GetSpacing()[3] == 2.5


def test_the_label_is_aligned_with_the_image_after_affine_flip_and_elastic(tmp_path: Path) -> None:
    data = tmp_path / "data"
    vol = blob_volume(
        spacing=(0.7, 0.7, 5.0), shape_zyx=(12, 64, 64), centre_offset_mm=(6, -5, 8), radius_mm=9
    )
    vol = vol.with_array(vol.array, label=((vol.array > -300) * 3).astype(np.uint8))
    write_case(vol, data, "case")
    recipe = _recipe(
        tmp_path,
        data,
        "  labels: {suffix: _seg}\n  pipeline:\n    - flip: {axes: [LR]}\n"
        "    - affine: {rotate_z: [-20, 20], translate_x: [-6, 6]}\n"
        "    - elastic: {max_displacement_mm: 3, control_points: 5}\n",
        copies=3,
    )
    proc = run_augcli("expand", str(recipe))
    assert proc.returncode == 0, proc.stderr
    for rec in _lines(tmp_path / "out"):
        image = read_volume(tmp_path / "out" / rec["output"]).array > -300
        label = read_volume(tmp_path / "out" / rec["label_map"]).array
        assert set(np.unique(label)) == {0, 3}
        dice = 2 * (image & (label == 3)).sum() / (image.sum() + (label == 3).sum())
        assert dice > 0.9, (rec["output"], dice)


def test_detached_headers_and_kept_originals_bring_their_data_files(tmp_path: Path) -> None:
    """A detached MetaImage (.mhd + .raw) and nibabel's 4-D NIfTI through a flip: the output
    .mhd names its own data file, written beside it; the kept original brings its .raw; the
    NIfTI output keeps the input's header bytes (and extensions) exactly."""
    import gzip

    from nibabel.testing import data_path

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(Path(data_path) / "example4d.nii.gz", data / "fmri.nii.gz")
    vol = blob_volume(shape_zyx=(6, 20, 24), centre_offset_mm=(4, 0, 0))
    write_sitk(vol, data / "ct.mhd", compress=False)
    recipe = _recipe(tmp_path, data, "  pipeline:\n    - flip: {axes: x}\n", copies=1, keep=True)
    proc = run_augcli("expand", str(recipe))
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    files = set(tree_digest(out))
    assert {"ct.mhd", "ct.raw", "ct__aug_0.mhd", "ct__aug_0.raw", "fmri__aug_0.nii.gz"} <= files
    assert not any(".augcli-tmp" in f for f in files)
    assert b"ElementDataFile = ct__aug_0.raw" in (out / "ct__aug_0.mhd").read_bytes()
    assert np.array_equal(read_volume(out / "ct__aug_0.mhd").array, vol.array[:, :, ::-1])
    assert (out / "ct.raw").read_bytes() == (data / "ct.raw").read_bytes()
    src = gzip.decompress((data / "fmri.nii.gz").read_bytes())
    made = gzip.decompress((out / "fmri__aug_0.nii.gz").read_bytes())
    offset = int(nib.load(str(data / "fmri.nii.gz")).header["vox_offset"])
    assert made[:offset] == src[:offset] and made != src
    rec = next(r for r in _lines(out) if r["output"] == "ct__aug_0.mhd")
    assert set(rec["files"]) == {"ct__aug_0.raw"}
    kept = next(r for r in _lines(out) if r["output"] == "ct.mhd")
    assert set(kept["files"]) == {"ct.raw"}
    assert run_augcli("verify", str(out)).returncode == 0


# -- bad cases -------------------------------------------------------------------------------
def _bad_cases(data: Path) -> None:
    good = blob_volume(shape_zyx=(6, 24, 24))
    write_case(good, data, "good")
    nib.save(nib.Nifti1Image(np.ones((30, 30, 30), np.int16), np.eye(4)), str(data / "g.nii.gz"))
    blob = (data / "g.nii.gz").read_bytes()
    (data / "g.nii.gz").unlink()
    (data / "truncated.nii.gz").write_bytes(blob[: len(blob) // 2])
    nib.save(nib.Nifti1Image(np.ones((30, 30, 30), np.int16), np.eye(4)), str(data / "l.nii"))
    (data / "lying.nii").write_bytes((data / "l.nii").read_bytes()[:5000])
    (data / "l.nii").unlink()
    nan = np.zeros((6, 6, 6), np.float32)
    nan[1, 2, 3] = np.nan
    nib.save(nib.Nifti1Image(nan, np.eye(4)), str(data / "nan.nii"))
    shear = np.array([[1, 0.3, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])
    nib.save(nib.Nifti1Image(np.zeros((6, 6, 6), np.int16), shear), str(data / "shear.nii"))
    moved = blob_volume(shape_zyx=(6, 24, 24), origin=(0.0, 0.0, 7.0))
    write_sitk(good, data / "mismatch.nii.gz")
    write_sitk(moved, data / "mismatch_seg.nii.gz", moved.label)
    for name in (
        "truncated",
        "lying",
        "nan",
        "shear",
    ):  # label maps for all, so only the image fails
        write_sitk(good, data / f"{name}_seg.nii.gz", good.label)


def test_bad_files_fail_alone_with_their_reason_and_the_run_goes_on(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _bad_cases(data)
    recipe = _recipe(
        tmp_path, data, "  labels: {suffix: _seg}\n  pipeline:\n    - affine: {rotate_z: [-5, 5]}\n"
    )
    proc = run_augcli("expand", str(recipe), "--workers", "2")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = {r["source"]: r["error"] for r in _lines(tmp_path / "out") if r["status"] == "failed"}
    assert "truncated" in errors["truncated.nii.gz"]
    assert "the header lies or the file is truncated" in errors["lying.nii"]
    assert "1 voxels are NaN" in errors["nan.nii"]
    assert "not orthogonal" in errors["shear.nii"]
    assert "does not match its image's geometry" in errors["mismatch.nii.gz"]
    assert "origin" in errors["mismatch.nii.gz"]
    ok = [r for r in _lines(tmp_path / "out") if r["status"] == "ok"]
    assert sorted(r["output"] for r in ok) == ["good__aug_0.nii.gz", "good__aug_1.nii.gz"]
    assert (tmp_path / "out" / "good__aug_0_seg.nii.gz").is_file()


def test_max_voxels_refuses_a_case_from_its_header(tmp_path: Path) -> None:
    data = tmp_path / "data"
    hdr = nib.Nifti1Header()
    hdr.set_data_shape((1500, 1500, 1500))
    hdr.set_data_dtype(np.int16)
    hdr["vox_offset"] = 352
    data.mkdir()
    (data / "huge.nii").write_bytes(hdr.binaryblock + b"\0" * 104)
    write_sitk(blob_volume(shape_zyx=(6, 24, 24)), data / "small.nrrd")
    recipe = _recipe(tmp_path, data, "  max_voxels: 10000\n  pipeline:\n    - flip: {axes: x}\n")
    proc = run_augcli("expand", str(recipe))
    assert proc.returncode == 1
    errors = {r["source"]: r["error"] for r in _lines(tmp_path / "out") if r["status"] == "failed"}
    assert (
        "3,375,000,000 voxels by its header, over volume.max_voxels: 10,000" in errors["huge.nii"]
    )
    assert list(errors) == ["huge.nii"], "the small case (3,456 voxels) is made"


def test_a_missing_label_map_fails_that_case(tmp_path: Path) -> None:
    data = tmp_path / "data"
    vol = blob_volume(shape_zyx=(6, 24, 24))
    write_case(vol, data / "labels_here", "a")
    write_sitk(vol, data / "labels_here" / "b.nii.gz")
    recipe = _recipe(
        tmp_path, data, "  labels: {suffix: _seg}\n  pipeline:\n    - flip: {axes: x}\n", copies=1
    )
    proc = run_augcli("expand", str(recipe))
    assert proc.returncode == 1
    errors = {r["source"]: r["error"] for r in _lines(tmp_path / "out") if r["status"] == "failed"}
    assert (
        list(errors) == ["labels_here/b.nii.gz"]
        and "no label map found" in errors["labels_here/b.nii.gz"]
    )


def test_labels_in_their_own_folder_and_written_to_one(tmp_path: Path) -> None:
    data, labels = tmp_path / "data", tmp_path / "labels"
    vol = blob_volume(shape_zyx=(6, 24, 24))
    write_sitk(vol, data / "ct" / "p1.nrrd")
    write_sitk(vol, labels / "ct" / "p1.nrrd", vol.label)
    recipe = _recipe(
        tmp_path,
        data,
        f"  labels: {{dir: {labels}, output: seg}}\n  pipeline:\n    - affine: {{translate_y: 4}}\n",
        copies=1,
    )
    proc = run_augcli("expand", str(recipe))
    assert proc.returncode == 0, proc.stderr
    rec = _lines(tmp_path / "out")[0]
    assert rec["output"] == "ct/p1__aug_0.nrrd" and rec["label_map"] == "seg/ct/p1__aug_0_seg.nrrd"
    assert read_volume(tmp_path / "out" / rec["label_map"]).array.sum() > 0


# -- the extra -------------------------------------------------------------------------------
def _without_simpleitk(tmp_path: Path) -> dict[str, str]:
    shim = tmp_path / "shim"
    shim.mkdir(exist_ok=True)
    (shim / "sitecustomize.py").write_text(
        "import sys\n"
        "class _NoSitk:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'SimpleITK':\n"
        "            raise ImportError(f'No module named {name!r}')\n"
        "sys.meta_path.insert(0, _NoSitk())\n"
    )
    path = os.pathsep.join([str(shim), str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


def test_validate_and_expand_refuse_volumes_without_simpleitk(tmp_path: Path) -> None:
    env = _without_simpleitk(tmp_path)
    out = tmp_path / "out"
    for command in ("validate", "expand"):
        proc = run_augcli(command, str(CONFIG), "--output", str(out), env=env)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "needs SimpleITK" in proc.stderr and "pip install 'augcli[volume]'" in proc.stderr
        assert "ct/case01.nii.gz" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists(), "nothing may be written"
    listed = run_augcli("ops", "--modality", "volume", env=env)
    assert listed.returncode == 0 and "volume/affine" in listed.stdout


def test_validate_counts_the_cases(tmp_path: Path) -> None:
    proc = run_augcli("validate", str(CONFIG), "--output", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    assert "volume: 3 input files -> 6 output files (+3 originals)" in proc.stdout
    assert "ignored" not in proc.stdout, "label maps beside the images are side files"
    assert "volume inputs have 3 different voxel spacings: 0.7x0.7x5 mm: 1" in proc.stdout
    assert "3 different orientations: ALS: 1 (e.g. mr/case02.nrrd); LPS: 1" in proc.stdout


def test_preview_draws_the_three_planes_of_each_output(tmp_path: Path) -> None:
    import cv2

    def coloured(sheet: Path) -> int:
        img = cv2.imread(str(sheet))
        assert img is not None and img.shape[0] > 3 * 128 and img.shape[1] > 3 * 128
        return int(
            (np.abs(img.astype(int) - img.mean(axis=2, keepdims=True)) > 40).any(axis=2).sum()
        )

    plain, drawn = tmp_path / "plain.png", tmp_path / "drawn.png"
    proc = run_augcli("preview", str(CONFIG), "--output", str(plain), "-n", "2")
    assert proc.returncode == 0, proc.stderr
    assert str(plain) in proc.stdout
    asked = run_augcli(
        "preview", str(CONFIG), "--output", str(drawn), "-n", "2", "--draw-annotations"
    )
    assert asked.returncode == 0, asked.stderr
    assert coloured(drawn) > 100 + coloured(plain), "label outlines are drawn on request only"


def test_preview_refuses_label_outlines_without_label_maps(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_case(blob_volume(), data, "ct", ".nii.gz")
    recipe = _recipe(tmp_path, data, "  pipeline:\n    - flip: {axes: LR}\n", copies=1)
    sheet = tmp_path / "s.png"
    proc = run_augcli("preview", str(recipe), "--output", str(sheet), "--draw-annotations")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no label maps to draw" in proc.stderr and "labels: {suffix: _seg}" in proc.stderr
    assert not sheet.exists()


@pytest.mark.parametrize("ext", [".nii.gz", ".nrrd"])
def test_a_crop_moves_the_origin_so_voxels_stay_where_they_were(tmp_path: Path, ext: str) -> None:
    """random_crop around the label: the written output's (and label map's) origin is the
    recorded start in mm, and each kept voxel has its input value at the same physical point."""
    data = tmp_path / "data"
    vol = blob_volume(
        spacing=(0.7, 0.7, 5.0), shape_zyx=(10, 48, 48), centre_offset_mm=(6, 4, 5), radius_mm=4
    )
    write_case(vol, data, "ct", ext)
    recipe = _recipe(
        tmp_path,
        data,
        "  labels: {suffix: _seg}\n  pipeline:\n"
        "    - random_crop: {shape: [20, 16, 4], around: foreground}\n",
        copies=2,
    )
    proc = run_augcli("expand", str(recipe))
    assert proc.returncode == 0, proc.stderr
    src = read_volume(data / f"ct{ext}")
    for rec in _lines(tmp_path / "out"):
        params = rec["ops"][0]["params"]
        out = read_volume(tmp_path / "out" / rec["output"])
        seg = read_volume(tmp_path / "out" / rec["label_map"])
        assert out.array.shape == (4, 16, 20) and seg.array.shape == (4, 16, 20)
        assert np.allclose(out.origin, params["start_mm"], atol=1e-4)
        assert np.allclose(seg.origin, out.origin, atol=1e-4) and np.allclose(
            out.direction, src.direction, atol=1e-6
        )
        x0, y0, z0 = params["start"]
        assert np.array_equal(out.array, src.array[z0 : z0 + 4, y0 : y0 + 16, x0 : x0 + 20])
        assert seg.array.sum() > 0, "the lesion is in the window"


def test_a_header_naming_a_data_file_outside_its_folder_fails_unread(tmp_path: Path) -> None:
    data, secret = tmp_path / "data", tmp_path / "secret.raw"
    secret.write_bytes(b"\1" * 6 * 20 * 24 * 2)
    write_sitk(
        blob_volume(shape_zyx=(6, 20, 24), centre_offset_mm=(3, 0, 0)),
        data / "ok.mhd",
        compress=False,
    )
    head = (data / "ok.mhd").read_text()
    (data / "climb.mhd").write_text(
        head.replace("ElementDataFile = ok.raw", "ElementDataFile = ../secret.raw")
    )
    (data / "absolute.mhd").write_text(
        head.replace("ElementDataFile = ok.raw", f"ElementDataFile = {secret}")
    )
    (data / "gone.mhd").write_text(
        head.replace("ElementDataFile = ok.raw", "ElementDataFile = gone.raw")
    )
    (data / "link.raw").symlink_to(secret)
    (data / "link.mhd").write_text(
        head.replace("ElementDataFile = ok.raw", "ElementDataFile = link.raw")
    )
    recipe = _recipe(tmp_path, data, "  pipeline:\n    - flip: {axes: x}\n", copies=1, keep=True)
    proc = run_augcli("expand", str(recipe))
    assert proc.returncode == 1, proc.stderr
    errors = {r["source"]: r["error"] for r in _lines(tmp_path / "out") if r["status"] == "failed"}
    assert "leaves the folder" in errors["climb.mhd"]
    assert "refused" in errors["absolute.mhd"]
    assert "not there" in errors["gone.mhd"]
    assert "outside" in errors["link.mhd"]
    assert (
        not (tmp_path / "out" / "climb.mhd").exists()
        and not (tmp_path / "out" / "secret.raw").exists()
    )
    assert (tmp_path / "out" / "ok__aug_0.mhd").is_file()
