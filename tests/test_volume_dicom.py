"""DICOM volumes from the user's side: a series (slices of one folder sharing a
SeriesInstanceUID, made here from pydicom's CT_small.dcm with file names out of position order)
and multi-frame files (pydicom's RT dose, little and big endian; an enhanced CT made here with
per-frame functional groups) read in patient space, augmented and written back as a new derived
series; broken series failing alone with their reason; a lone slice left to the image section."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import read_manifest, run_augcli, tree_digest, write_recipe

pydicom = pytest.importorskip("pydicom")
pytest.importorskip("SimpleITK")
nib = pytest.importorskip("nibabel")

from pydicom.data import get_testdata_file  # noqa: E402

from augcli.volume import dicom, io  # noqa: E402
from augcli.volume.base import Volume  # noqa: E402

ORDER = (3, 0, 7, 1, 5, 2, 6, 4)  # file i holds slice ORDER[i]: names do not follow positions
STEP_MM = 2.5


def shipped(name: str) -> Path:
    path = get_testdata_file(name, download=False)
    assert path is not None, f"pydicom does not ship {name}"
    return Path(path)


def write_series(folder: Path, order=ORDER, step=STEP_MM, tweak=None) -> list[Path]:
    """CT_small.dcm as the slices of one series: slice z is the source + 10 z (stored values),
    at z * ``step`` mm along the normal; ``tweak(ds, z)`` may break one."""
    src = pydicom.dcmread(shipped("CT_small.dcm"))
    base = src.pixel_array.astype(np.int16)
    ipp = np.array([float(v) for v in src.ImagePositionPatient])
    series = pydicom.uid.generate_uid(entropy_srcs=["series", str(folder)])
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, z in enumerate(order):
        ds = copy.deepcopy(src)
        ds.SeriesInstanceUID = series
        ds.SOPInstanceUID = pydicom.uid.generate_uid(entropy_srcs=["slice", str(folder), str(z)])
        ds.ImagePositionPatient = [float(ipp[0]), float(ipp[1]), float(ipp[2] + step * z)]
        ds.InstanceNumber = z + 1
        ds.PixelData = (base + 10 * z).astype(np.int16).tobytes()
        if tweak is not None:
            tweak(ds, z)
        path = folder / f"IM{i:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def recipe(tmp_path: Path, data: Path, body: str, copies: int = 2, extra: str = "") -> Path:
    return write_recipe(
        tmp_path / "r.yaml",
        f"version: 1\nseed: 5\ninput: {data}\noutput: {tmp_path / 'out'}\ncopies: {copies}\n"
        f"{extra}volume:\n{body}",
    )


FLIP_X = "  pipeline:\n    - flip: {axes: [x]}\n"


def lines(out: Path) -> list[dict]:
    return [r for r in read_manifest(out) if r.get("source")]


# -- a series ----------------------------------------------------------------------------------
def test_series_is_one_input_stacked_by_position_and_flipped_exactly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_series(data / "case1" / "ct")
    proc = run_augcli("expand", str(recipe(tmp_path, data, FLIP_X, copies=1)))
    assert proc.returncode == 0, proc.stderr
    (line,) = lines(tmp_path / "out")
    assert line["source"] == "case1/ct/IM0000.dcm" and line["label"] == "case1"
    assert line["output"] == "case1/ct__aug_0/0001.dcm"
    assert line["sidecars"] == [f"case1/ct__aug_0/{k:04d}.dcm" for k in range(2, 9)]
    src = dicom.read(data / "case1" / "ct" / "IM0000.dcm", None)
    means = [float(src.array[z].mean()) for z in range(8)]
    assert np.allclose(np.diff(means), 10)  # stacked by position, not by file name
    out = dicom.read(tmp_path / "out" / line["output"], None)
    assert out.array.dtype == np.int16
    assert np.array_equal(out.array, src.array[:, :, ::-1])
    assert (out.spacing, out.origin, out.direction) == (src.spacing, src.origin, src.direction)
    assert out.spacing[2] == STEP_MM and out.meta["scale"] == src.meta["scale"]


def test_derived_series_has_new_uids_keeps_patient_space_and_references_sources(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    sources = write_series(data / "case1" / "ct")
    body = "  pipeline:\n    - affine: {rotate_z: [-8, 8], p: 1}\n"
    assert run_augcli("expand", str(recipe(tmp_path, data, body))).returncode == 0
    src = {int(d.InstanceNumber): d for d in map(pydicom.dcmread, sources)}
    series_uids = set()
    for n in (0, 1):
        folder = tmp_path / "out" / "case1" / f"ct__aug_{n}"
        slices = [pydicom.dcmread(folder / f"{k:04d}.dcm") for k in range(1, 9)]
        uids = {str(d.SeriesInstanceUID) for d in slices}
        assert len(uids) == 1 and uids.isdisjoint({str(src[1].SeriesInstanceUID)})
        series_uids |= uids
        for k, ds in enumerate(slices):
            source = src[k + 1]  # the source slice at the same position
            assert ds.SOPInstanceUID != source.SOPInstanceUID
            assert ds.SourceImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
            assert ds.StudyInstanceUID == source.StudyInstanceUID
            assert ds.FrameOfReferenceUID == source.FrameOfReferenceUID
            assert ds.PatientID == source.PatientID
            assert ds.ImageType[0] == "DERIVED" and "affine" in ds.DerivationDescription
            assert ds.SeriesDescription.endswith("augcli") and int(ds.InstanceNumber) == k + 1
            assert np.allclose(
                [float(v) for v in ds.ImagePositionPatient], source.ImagePositionPatient
            )
            assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
            assert ds.pixel_array.shape == source.pixel_array.shape
        assert len({d.SOPInstanceUID for d in slices}) == 8
    assert len(series_uids) == 2  # each output is a series of its own


def test_series_bytes_same_for_1_and_2_workers_resume_replay_and_verify(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for case in ("a", "b", "c"):
        write_series(data / "pos" / case)
    body = "  pipeline:\n    - affine: {rotate_z: [-8, 8], p: 1}\n    - gaussian_noise: {std: 15}\n"
    r = recipe(tmp_path, data, body)
    trees = []
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}"
        proc = run_augcli("expand", str(r), "--output", str(out), "--workers", workers)
        assert proc.returncode == 0 and "6 outputs" in proc.stderr, proc.stderr
        trees.append(tree_digest(out))
    assert trees[0] == trees[1] and len(trees[0]) == 6 * 8 + 2  # + manifest, sources cache
    out = tmp_path / "out1"
    again = run_augcli("expand", str(r), "--output", str(out))
    assert "6 already done" in again.stderr, again.stderr
    replay = run_augcli("replay", str(r), "--output", str(out), "--to", str(tmp_path / "rep"))
    assert "6 byte-identical, 0 differ" in replay.stdout, replay.stdout + replay.stderr
    verify = run_augcli("verify", str(out))
    assert verify.returncode == 0 and "0 missing, 0 changed, 0 extra" in verify.stdout
    (out / "pos" / "b__aug_1" / "0005.dcm").unlink()  # a slice of an output lost
    assert run_augcli("verify", str(out)).returncode == 1


def test_an_edited_slice_makes_its_series_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    paths = write_series(data / "pos" / "a")
    r = recipe(tmp_path, data, FLIP_X, copies=1)
    assert run_augcli("expand", str(r)).returncode == 0
    ds = pydicom.dcmread(paths[5])  # not the slice that stands for the series
    ds.PixelData = (ds.pixel_array + 1).astype(np.int16).tobytes()
    ds.save_as(paths[5], enforce_file_format=True)
    proc = run_augcli("expand", str(r))
    assert proc.returncode == 0 and "0 already done" in proc.stderr, proc.stderr


def test_kept_original_series_and_label_map_beside_the_series_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = write_series(data / "case1" / "ct")[0]
    vol = dicom.read(first, None)
    label = np.zeros(vol.array.shape, np.uint8)
    label[2:6, 30:90, 20:60] = 3
    seg = data / "case1" / "ct_seg.nii.gz"
    seg.write_bytes(io.nifti_bytes(Volume(label, vol.spacing, vol.origin, vol.direction), True))
    body = "  labels: {suffix: _seg}\n" + FLIP_X
    r = recipe(tmp_path, data, body, copies=1, extra="keep_originals: true\n")
    proc = run_augcli("expand", str(r))
    assert proc.returncode == 0 and "0 failed" in proc.stderr, proc.stderr
    out = tmp_path / "out" / "case1"
    assert sorted(p.name for p in (out / "ct").iterdir()) == sorted(
        f"IM{i:04d}.dcm" for i in range(8)
    )
    assert (out / "ct_seg.nii.gz").read_bytes() == seg.read_bytes()
    moved = np.asarray(nib.load(out / "ct__aug_0_seg.nii.gz").dataobj).transpose(2, 1, 0)
    assert np.array_equal(moved, label[:, :, ::-1])
    assert run_augcli("verify", str(tmp_path / "out")).returncode == 0


@pytest.mark.parametrize("volume_first", [True, False])
def test_a_lone_slice_is_the_image_sections_whatever_the_order(
    tmp_path: Path, volume_first: bool
) -> None:
    data = tmp_path / "data"
    write_series(data / "ct" / "case1")
    (data / "xray").mkdir()
    (data / "xray" / "one.dcm").write_bytes(shipped("CT_small.dcm").read_bytes())
    sections = [f"volume:\n{FLIP_X}", "image:\n  pipeline:\n    - hflip: {}\n"]
    body = "".join(sections if volume_first else sections[::-1])
    r = write_recipe(
        tmp_path / "r.yaml",
        f"version: 1\ninput: {data}\noutput: {tmp_path / 'out'}\ncopies: 1\n{body}",
    )
    proc = run_augcli("expand", str(r))
    assert proc.returncode == 0, proc.stderr
    got = {line["source"]: line["modality"] for line in lines(tmp_path / "out")}
    assert got == {"ct/case1/IM0000.dcm": "volume", "xray/one.dcm": "image"}


# -- broken series fail alone, with their reason --------------------------------------------------
def _gap(folder: Path) -> None:
    write_series(folder, order=(0, 1, 2, 4, 5, 6))


def _orientation(folder: Path) -> None:
    def tilt(ds, z):
        if z == 3:
            ds.ImageOrientationPatient = [1, 0, 0, 0, 0.9805807, -0.1961161]

    write_series(folder, tweak=tilt)


def _same_place(folder: Path) -> None:
    write_series(folder, order=(0, 1, 2, 2, 3))


def _gantry(folder: Path) -> None:
    def shift(ds, z):
        x, y, zz = (float(v) for v in ds.ImagePositionPatient)
        ds.ImagePositionPatient = [x, y + 0.8 * z, zz]

    write_series(folder, tweak=shift)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_gap, "a gap between slices"),
        (_orientation, "has another orientation"),
        (_same_place, "at the same position"),
        (_gantry, "not along their normal"),
    ],
)
def test_a_broken_series_fails_alone_with_its_reason(tmp_path: Path, make, reason: str) -> None:
    data = tmp_path / "data"
    write_series(data / "good" / "a")
    make(data / "bad" / "b")
    proc = run_augcli("expand", str(recipe(tmp_path, data, FLIP_X, copies=1)))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and reason in proc.stderr, proc.stderr
    status = {line["source"].split("/")[0]: line["status"] for line in lines(tmp_path / "out")}
    assert status == {"good": "ok", "bad": "failed"}
    assert not (tmp_path / "out" / "bad").exists()  # no partial series left


def test_max_voxels_refuses_a_series_before_decoding(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_series(data / "a" / "ct")
    body = "  max_voxels: 100000\n" + FLIP_X  # 128 x 128 x 8 = 131,072
    proc = run_augcli("expand", str(recipe(tmp_path, data, body, copies=1)))
    assert proc.returncode == 1 and "131,072 voxels" in proc.stderr, proc.stderr


# -- multi-frame files ------------------------------------------------------------------------------
def test_rt_dose_multiframe_flipped_exactly_in_either_byte_order(tmp_path: Path) -> None:
    data = tmp_path / "data" / "dose"
    data.mkdir(parents=True)
    for name in ("rtdose.dcm", "rtdose_expb.dcm"):
        (data / name).write_bytes(shipped(name).read_bytes())
    proc = run_augcli("expand", str(recipe(tmp_path, tmp_path / "data", FLIP_X, copies=1)))
    assert proc.returncode == 0 and "Warning" not in proc.stderr, proc.stderr
    little = dicom.read(data / "rtdose.dcm", None)
    assert little.array.shape == (15, 10, 10) and little.spacing == (10.0, 10.0, 5.0)
    assert little.meta["scale"] == (
        float(pydicom.dcmread(data / "rtdose.dcm").DoseGridScaling),
        0.0,
    )
    for name in ("rtdose", "rtdose_expb"):
        src = dicom.read(data / f"{name}.dcm", None)
        assert np.array_equal(src.array, little.array) and src.array.dtype == np.uint32
        path = tmp_path / "out" / "dose" / f"{name}__aug_0.dcm"
        out = dicom.read(path, None)
        assert np.array_equal(out.array, src.array[:, :, ::-1])
        assert (out.spacing, out.origin) == (src.spacing, src.origin)
        ds = pydicom.dcmread(path)
        assert [float(v) for v in ds.GridFrameOffsetVector] == [5.0 * k for k in range(15)]
        assert int(ds.NumberOfFrames) == 15 and ds.DoseGridScaling == little.meta["scale"][0]


def write_enhanced(path: Path, frames: int = 6) -> np.ndarray:
    """An enhanced CT whose frames are stored from the top down (positions descending), with
    shared pixel measures and orientation and a per-frame rescale; returns its stored voxels
    in (z, y, x) order from the bottom up."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ct = pydicom.dcmread(shipped("CT_small.dcm"))
    rng = np.random.default_rng(0)
    bottom_up = rng.integers(-1000, 2000, (frames, 32, 40)).astype(np.int16)
    ds = Dataset()
    for key in ("PatientName", "PatientID", "StudyInstanceUID", "FrameOfReferenceUID", "Modality"):
        setattr(ds, key, ct.get(key))
    ds.SOPClassUID = pydicom.uid.EnhancedCTImageStorage
    ds.SOPInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL", "NONE"]
    ds.Rows, ds.Columns, ds.NumberOfFrames = 32, 40, frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    shared = Dataset()
    measures, orient = Dataset(), Dataset()
    measures.PixelSpacing, measures.SliceThickness = [0.8, 0.6], 3.0
    orient.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PlaneOrientationSequence = Sequence([orient])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per = []
    for i in range(frames):
        item, pos, content, scale = Dataset(), Dataset(), Dataset(), Dataset()
        pos.ImagePositionPatient = [-12.0, 7.5, 40.0 - 3.0 * i]  # descending
        content.InStackPositionNumber = i + 1
        scale.RescaleSlope, scale.RescaleIntercept, scale.RescaleType = 1, -1024, "HU"
        item.PlanePositionSequence = Sequence([pos])
        item.FrameContentSequence = Sequence([content])
        item.PixelValueTransformationSequence = Sequence([scale])
        per.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per)
    ds.PixelData = bottom_up[::-1].tobytes()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = (
        ds.SOPClassUID,
        ds.SOPInstanceUID,
    )
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return bottom_up


def test_enhanced_ct_frames_placed_by_functional_groups(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bottom_up = write_enhanced(data / "ct" / "enh.dcm")
    vol = dicom.read(data / "ct" / "enh.dcm", None)
    assert np.array_equal(vol.array, bottom_up)
    assert vol.spacing == (0.6, 0.8, 3.0) and vol.origin == (-12.0, 7.5, 25.0)
    assert vol.meta["scale"] == (1.0, -1024.0)
    body = "  pipeline:\n    - crop_or_pad: {shape: [40, 32, 4]}\n"  # 6 -> 4 slices
    proc = run_augcli("expand", str(recipe(tmp_path, data, body, copies=1)))
    assert proc.returncode == 0, proc.stderr
    path = tmp_path / "out" / "ct" / "enh__aug_0.dcm"
    out = dicom.read(path, None)
    assert np.array_equal(out.array, bottom_up[1:5]) and out.origin == (-12.0, 7.5, 28.0)
    ds = pydicom.dcmread(path)
    assert int(ds.NumberOfFrames) == 4
    z = [
        float(f.PlanePositionSequence[0].ImagePositionPatient[2])
        for f in ds.PerFrameFunctionalGroupsSequence
    ]
    assert z == [28.0, 31.0, 34.0, 37.0]
    stack = [
        int(f.FrameContentSequence[0].InStackPositionNumber)
        for f in ds.PerFrameFunctionalGroupsSequence
    ]
    assert stack == [1, 2, 3, 4]


def test_cine_multiframe_without_positions_is_refused_with_the_reason(tmp_path: Path) -> None:
    data = tmp_path / "data" / "us"
    data.mkdir(parents=True)
    (data / "cine.dcm").write_bytes(shipped("examples_ybr_color.dcm").read_bytes())
    proc = run_augcli("expand", str(recipe(tmp_path, tmp_path / "data", FLIP_X, copies=1)))
    assert proc.returncode == 1 and "without frame positions" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


# -- de-identified volumes ---------------------------------------------------------------------------
SALT = "volume-test-salt-0123456789"
DEID = "  deidentify: true\n" + FLIP_X


def _uids(ds) -> set[str]:
    return {str(e.value) for e in ds.iterall() if e.VR == "UI" and e.value} - {str(ds.SOPClassUID)}


def test_a_de_identified_series_names_no_patient_and_no_source_uid(tmp_path: Path) -> None:
    data = tmp_path / "data"
    sources = write_series(data / "pos" / "case1")
    burned = write_series(
        data / "pos" / "case2", tweak=lambda ds, z: setattr(ds, "BurnedInAnnotation", "YES")
    )
    env = {**os.environ, "AUGCLI_DEID_SALT": SALT}
    r = recipe(tmp_path, data, DEID, copies=1)
    outs = []
    for n in ("a", "b"):
        proc = run_augcli("expand", str(r), "--output", str(tmp_path / n), env=env)
        assert proc.returncode == 1 and "BurnedInAnnotation is YES" in proc.stderr, proc.stderr
        outs.append(tmp_path / n)
    assert tree_digest(outs[0]) == tree_digest(outs[1])  # the same salt: the same bytes
    assert not (outs[0] / "pos" / "case2__aug_0").exists() and burned
    src = [pydicom.dcmread(p) for p in sources]
    every_source_uid = set().union(*map(_uids, src))
    folder = outs[0] / "pos" / "case1__aug_0"
    for k in range(1, 9):
        raw = (folder / f"{k:04d}.dcm").read_bytes()
        ds = pydicom.dcmread(folder / f"{k:04d}.dcm")
        assert ds.PatientIdentityRemoved == "YES" and str(src[0].PatientName) not in str(ds)
        assert not _uids(ds) & every_source_uid
        assert not any(uid.encode() in raw for uid in every_source_uid)
        assert SALT.encode() not in raw
    for path in outs[0].rglob("*"):
        if path.is_file():
            assert SALT.encode() not in path.read_bytes(), path
    no_salt = run_augcli(
        "validate", str(r), env={k: v for k, v in env.items() if k != "AUGCLI_DEID_SALT"}
    )
    assert no_salt.returncode == 2 and "volume.deidentify" in no_salt.stderr


def test_de_identified_nifti_and_nrrd_lose_their_free_text(tmp_path: Path) -> None:
    import SimpleITK as sitk

    data = tmp_path / "data" / "mr"
    data.mkdir(parents=True)
    img = nib.Nifti1Image(np.arange(24, dtype=np.int16).reshape(2, 3, 4), np.eye(4))
    img.header["descrip"] = b"Doe^Jane 1970-01-01"
    img.header["aux_file"] = b"MRN12345"
    img.header.extensions.append(nib.nifti1.Nifti1Extension(6, b"PatientName=Doe^Jane"))
    nib.save(img, data / "a.nii.gz")
    nrrd = sitk.GetImageFromArray(np.arange(24, dtype=np.int16).reshape(2, 3, 4))
    nrrd.SetMetaData("patient", "Doe^Jane")
    sitk.WriteImage(nrrd, str(data / "b.nrrd"))
    env = {**os.environ, "AUGCLI_DEID_SALT": SALT}
    proc = run_augcli("expand", str(recipe(tmp_path, tmp_path / "data", DEID, copies=1)), env=env)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out" / "mr"
    hdr = nib.load(out / "a__aug_0.nii.gz").header
    assert hdr["descrip"].tobytes().strip(b"\0") == b"" and not hdr.extensions
    assert b"MRN12345" not in bytes(hdr.binaryblock)
    assert "patient" not in sitk.ReadImage(str(out / "b__aug_0.nrrd")).GetMetaDataKeys()
    kept = run_augcli(
        "expand",
        str(recipe(tmp_path, tmp_path / "data", FLIP_X, copies=1)),
        "--output",
        str(tmp_path / "k"),
    )
    assert kept.returncode == 0 and nib.load(tmp_path / "k" / "mr" / "a__aug_0.nii.gz").header[
        "descrip"
    ].tobytes().startswith(b"Doe")


def test_the_shipped_dicom_series_config_runs_as_the_readme_says(tmp_path: Path) -> None:
    from conftest import ROOT

    config = ROOT / "configs" / "volume_dicom.yaml"
    out = tmp_path / "out"
    proc = run_augcli("expand", str(config), "--output", str(out))
    assert proc.returncode == 0 and "2 outputs" in proc.stderr, proc.stderr
    for k in (0, 1):
        assert sorted(p.name for p in (out / "ct" / f"case04__aug_{k}").iterdir()) == [
            f"{i:04d}.dcm" for i in range(1, 17)
        ]
        assert (out / "ct" / f"case04__aug_{k}_seg.nii.gz").is_file()
    source = dicom.read(
        ROOT / "sample_data" / "volume_dicom" / "ct" / "case04" / "IM0001.dcm", None
    )
    assert source.meta["scale"] == (1.0, -1024.0) and source.array.shape == (16, 64, 64)
    z = [
        float(pydicom.dcmread(p).ImagePositionPatient[2])
        for p in sorted((out / "ct" / "case04__aug_0").iterdir())
    ]
    assert z == sorted(z)  # written bottom up, whatever the source files' names said
    assert run_augcli("verify", str(out)).returncode == 0


# -- units: physical -----------------------------------------------------------------------------------
def _scaled_ct(path: Path) -> None:
    """A NIfTI CT stored as int16 with slope 2 and intercept -1000: stored 600 is 200 HU."""
    img = nib.Nifti1Image(np.full((16, 16, 8), 600, np.int16), np.eye(4))
    img.header.set_slope_inter(2.0, -1000.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, path)


@pytest.mark.parametrize(("units", "stored_std"), [("physical", 20.0), ("stored", 40.0)])
def test_units_physical_gives_noise_in_hu(tmp_path: Path, units: str, stored_std: float) -> None:
    _scaled_ct(tmp_path / "data" / "ct" / "a.nii.gz")
    body = f"  units: {units}\n  pipeline:\n    - gaussian_noise: {{std: 40, p: 1}}\n"
    proc = run_augcli("expand", str(recipe(tmp_path, tmp_path / "data", body, copies=1)))
    assert proc.returncode == 0, proc.stderr
    img = nib.load(tmp_path / "out" / "ct" / "a__aug_0.nii.gz")
    stored = np.asarray(img.dataobj.get_unscaled(), np.float64)
    assert (img.dataobj.slope, img.dataobj.inter) == (2.0, -1000.0)  # the file's scale kept
    assert abs(stored.std() - stored_std) < 0.1 * stored_std
    (line,) = read_manifest(tmp_path / "out")
    assert line["ops"][0]["params"]["std"] == 40.0  # recorded as the recipe gave it


def test_units_physical_takes_a_rescale_window_in_hu(tmp_path: Path) -> None:
    _scaled_ct(tmp_path / "data" / "ct" / "a.nii.gz")
    body = (
        "  units: physical\n  pipeline:\n"
        "    - rescale: {center: 200, width: 100, out_min: 0, out_max: 4000}\n"
    )
    proc = run_augcli("expand", str(recipe(tmp_path, tmp_path / "data", body, copies=1)))
    assert proc.returncode == 0, proc.stderr
    img = nib.load(tmp_path / "out" / "ct" / "a__aug_0.nii.gz")
    hu = np.asarray(img.dataobj, np.float64)  # scaled back by nibabel: HU
    assert np.allclose(hu, 2000.0)  # 200 HU, the window's middle, is the output range's middle
