"""DICOM: stored values in and out exactly, metadata kept, derived-image attributes, geometry,
deterministic UIDs, and clear per-file failures for what is not supported."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, write_recipe
from typer.testing import CliRunner

from augcli.cli import app
from augcli.core.errors import InputError
from augcli.image.modality import ImageModality
from augcli.image.ops.arrays import full_scale

SAMPLE_CT = ROOT / "sample_data/dicom/CT_small.dcm"
runner = CliRunner()


@pytest.fixture
def pydicom():
    return pytest.importorskip("pydicom")


def shipped(name: str) -> Path:
    """A file shipped inside pydicom (never downloaded)."""
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name, download=False)
    assert path is not None, f"pydicom does not ship {name}"
    return Path(path)


def modality(**settings) -> ImageModality:
    return ImageModality({"format": None, "max_pixels": 1 << 26, **settings})


def hflip_matrix(width: int) -> np.ndarray:
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def write(img: np.ndarray, out: Path, source: Path, matrix: np.ndarray | None = None) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    modality().write(img, out, source, {"matrix": np.eye(3) if matrix is None else matrix})
    return out


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm"])
def test_hflip_round_trip_keeps_pixels_and_metadata(pydicom, tmp_path: Path, name: str) -> None:
    source = shipped(name)
    img = modality().read(source)
    assert img.dtype == np.uint16 and img.ndim == 2
    out = write(img[:, ::-1].copy(), tmp_path / "x__aug_0.dcm", source, hflip_matrix(img.shape[1]))
    src, ds = pydicom.dcmread(source), pydicom.dcmread(out)
    np.testing.assert_array_equal(ds.pixel_array, src.pixel_array[:, ::-1])
    assert ds.pixel_array.dtype == src.pixel_array.dtype
    for key in (
        "PatientID",
        "PatientName",
        "StudyInstanceUID",
        "FrameOfReferenceUID",
        "SOPClassUID",
        "Modality",
        "RescaleIntercept",
        "RescaleSlope",
        "BitsStored",
        "PixelRepresentation",
        "PixelSpacing",
    ):
        assert key not in src or ds[key].value == src[key].value, key
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert ds.SOPInstanceUID != src.SOPInstanceUID
    # A series of its own (issue #18 §3): a PACS never mixes it with the source's slices.
    assert ds.SeriesInstanceUID != src.SeriesInstanceUID
    assert ds.SeriesDescription.endswith("augcli")
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.ImageType[0] == "DERIVED" and "ORIGINAL" not in ds.ImageType
    assert list(ds.ImageType[1:]) == list(src.ImageType[1:])
    assert "augcli" in ds.DerivationDescription
    assert ds.SourceImageSequence[0].ReferencedSOPInstanceUID == src.SOPInstanceUID
    # The row direction is reversed and the first pixel is the source's last column.
    row = np.array(src.ImageOrientationPatient[:3], dtype=float)
    np.testing.assert_allclose(ds.ImageOrientationPatient[:3], -row, atol=1e-9)
    np.testing.assert_allclose(ds.ImageOrientationPatient[3:], src.ImageOrientationPatient[3:])
    last = np.array(src.ImagePositionPatient, float) + (src.Columns - 1) * src.PixelSpacing[1] * row
    np.testing.assert_allclose(ds.ImagePositionPatient, last, atol=1e-6)


def test_no_ops_give_back_the_stored_values(pydicom, tmp_path: Path) -> None:
    for name in ("CT_small.dcm", "MR_small_RLE.dcm", "MR_small_bigendian.dcm"):
        source = shipped(name)
        out = write(modality().read(source), tmp_path / name, source)
        ds = pydicom.dcmread(out)
        np.testing.assert_array_equal(ds.pixel_array, pydicom.dcmread(source).pixel_array)
        assert ds.PatientID == pydicom.dcmread(source).PatientID


def test_the_new_uid_is_deterministic_and_unique_per_output(pydicom, tmp_path: Path) -> None:
    img = modality().read(SAMPLE_CT)
    # Two runs: different folders, different worker pids in the temporary names.
    a = write(img, tmp_path / "run1/.augcli-tmp-111-CT_small__aug_0.dcm", SAMPLE_CT)
    b = write(img, tmp_path / "run2/.augcli-tmp-222-CT_small__aug_0.dcm", SAMPLE_CT)
    c = write(img, tmp_path / "run1/CT_small__aug_1.dcm", SAMPLE_CT)
    assert a.read_bytes() == b.read_bytes(), "byte-identical across runs and workers"
    uids = [pydicom.dcmread(p).SOPInstanceUID for p in (a, c)]
    assert uids[0] != uids[1]
    assert pydicom.uid.UID(uids[0]).is_valid and len(uids[0]) <= 64
    assert uids[0] != pydicom.dcmread(SAMPLE_CT).SOPInstanceUID


@pytest.mark.parametrize(
    ("matrix", "size", "expected"),
    [
        (np.diag([2.0, 2.0, 1.0]), (256, 256), (0.5, 0.5)),  # scale up: spacing halves
        (np.diag([0.5, 0.5, 1.0]), (64, 64), (2.0, 2.0)),  # scale down: spacing doubles
        (np.diag([2.0, 0.5, 1.0]), (64, 256), (2.0, 0.5)),  # (rows, columns) per axis
    ],
)
def test_pixel_spacing_follows_scale(
    pydicom, tmp_path: Path, matrix: np.ndarray, size: tuple[int, int], expected: tuple
) -> None:
    src = pydicom.dcmread(SAMPLE_CT)
    out = write(np.zeros(size, np.uint16), tmp_path / "s.dcm", SAMPLE_CT, matrix)
    ds = pydicom.dcmread(out)
    assert (ds.Rows, ds.Columns) == size
    want = [float(src.PixelSpacing[0]) * expected[0], float(src.PixelSpacing[1]) * expected[1]]
    np.testing.assert_allclose([float(v) for v in ds.PixelSpacing], want, rtol=1e-9)


def test_rotation_keeps_spacing_and_turns_the_axes(pydicom, tmp_path: Path) -> None:
    src = pydicom.dcmread(SAMPLE_CT)
    t = np.radians(30)
    rot = np.array([[np.cos(t), -np.sin(t), 0.0], [np.sin(t), np.cos(t), 0.0], [0.0, 0.0, 1.0]])
    ds = pydicom.dcmread(write(np.zeros((128, 128), np.uint16), tmp_path / "r.dcm", SAMPLE_CT, rot))
    np.testing.assert_allclose([float(v) for v in ds.PixelSpacing], src.PixelSpacing, rtol=1e-9)
    np.testing.assert_allclose(
        ds.ImageOrientationPatient, [np.cos(t), -np.sin(t), 0, np.sin(t), np.cos(t), 0], atol=1e-9
    )
    # A 90-degree turn of non-square pixels swaps the spacings.
    src.PixelSpacing = [0.5, 0.25]
    aniso = tmp_path / "aniso_src.dcm"
    src.save_as(aniso)
    quarter = np.array([[0.0, -1.0, 127.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    ds = pydicom.dcmread(write(np.zeros((128, 128), np.uint16), tmp_path / "q.dcm", aniso, quarter))
    np.testing.assert_allclose([float(v) for v in ds.PixelSpacing], [0.25, 0.5])


def signed_ct(pydicom, path: Path, shift: int, bits_stored: int = 16) -> np.ndarray:
    """CT_small with its stored values shifted (so some are negative), written to ``path``."""
    ds = pydicom.dcmread(SAMPLE_CT)
    values = ds.pixel_array.astype(np.int32) + shift
    ds.BitsStored, ds.HighBit = bits_stored, bits_stored - 1
    ds.PixelData = values.astype("<i2").tobytes()
    ds.save_as(path)
    return values


@pytest.mark.parametrize(("shift", "bits", "offset"), [(-1152, 16, 1024), (-1500, 12, 2048)])
def test_signed_values_round_trip(
    pydicom, tmp_path: Path, shift: int, bits: int, offset: int
) -> None:
    source = tmp_path / "signed.dcm"
    values = signed_ct(pydicom, source, shift, bits)
    assert values.min() < 0
    img = modality().read(source)
    np.testing.assert_array_equal(img, values + offset)  # shifted by a power of two, no more
    assert full_scale(img) == (1 << int(img.max()).bit_length()) - 1 < 65535
    out = write(img[:, ::-1].copy(), tmp_path / "x__aug_0.dcm", source, hflip_matrix(128))
    ds = pydicom.dcmread(out)
    assert ds.PixelRepresentation == 1 and ds.BitsStored == bits
    np.testing.assert_array_equal(ds.pixel_array, values[:, ::-1])


def test_bits_stored_widens_when_ops_need_it(pydicom, tmp_path: Path) -> None:
    source = shipped("examples_overlay.dcm")  # 12 of 16 bits, unsigned
    img = modality().read(source)
    img[0, 0] = 5000  # e.g. a sharpen overshoot past 4095
    ds = pydicom.dcmread(write(img, tmp_path / "w.dcm", source))
    assert (ds.BitsStored, ds.HighBit) == (13, 12)
    assert ds.pixel_array[0, 0] == 5000


def test_rgb_is_read_as_bgr_and_written_back_as_rgb(pydicom, tmp_path: Path) -> None:
    source = shipped("SC_rgb_rle.dcm")
    rgb = pydicom.dcmread(source).pixel_array
    img = modality().read(source)
    np.testing.assert_array_equal(img, rgb[..., ::-1])
    ds = pydicom.dcmread(write(img, tmp_path / "rgb.dcm", source))
    assert ds.PhotometricInterpretation == "RGB" and ds.PlanarConfiguration == 0
    np.testing.assert_array_equal(ds.pixel_array, rgb)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("SC_rgb_rle_2frame.dcm", "multi-frame DICOM is not supported; got 2 frames"),
        ("examples_palette.dcm", "PALETTE COLOR DICOM is not supported"),
        ("rtdose_1frame.dcm", "BitsAllocated 32 is not supported"),
        ("test-SR.dcm", "has no PixelData"),
    ],
)
def test_unsupported_dicoms_fail_clearly(pydicom, name: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        modality().read(shipped(name))


def test_undecodable_compression_names_the_transfer_syntax(pydicom) -> None:
    source = shipped("MR_small_jpeg_ls_lossless.dcm")
    try:
        pydicom.dcmread(source).pixel_array  # noqa: B018
    except Exception:
        pass
    else:
        pytest.skip("a JPEG-LS decoder is installed here")
    with pytest.raises(InputError, match=r"JPEG-LS Lossless.*1\.2\.840\.10008\.1\.2\.4\.80"):
        modality().read(source)


def test_the_pixel_limit_reads_the_dicom_header(pydicom, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(pydicom.dataset.Dataset, "pixel_array", property(lambda s: 1 / 0))
    with pytest.raises(InputError, match="128x128 = 16,384 pixels"):
        modality(max_pixels=16383).read(SAMPLE_CT)


def test_without_pydicom_a_dicom_fails_with_the_install_command(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pydicom", None)  # import pydicom now raises ImportError
    with pytest.raises(InputError, match=r"pip install 'augcli\[dicom\]'"):
        modality().read(SAMPLE_CT)


def test_dicom_outputs_stay_dicom_whatever_the_format() -> None:
    m = modality(format="png")
    assert (m.output_suffix(".dcm"), m.output_suffix(".DICOM"), m.output_suffix(".jpg")) == (
        ".dcm",
        ".DICOM",
        ".png",
    )


RECIPE = """\
version: 1
seed: 11
input: data
output: {out}
copies: 2
keep_originals: true
image:
  format: png
  pipeline:
    - hflip
    - scale: {{factor: [0.5, 1.5]}}
    - brightness_contrast: {{brightness: [-0.05, 0.05]}}
"""


def test_expand_a_folder_of_dicoms(pydicom, tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "ct").mkdir(parents=True)
    (data / "mr").mkdir()
    shutil.copy(SAMPLE_CT, data / "ct/CT_small.dcm")
    signed_ct(pydicom, data / "ct/CT_signed.dcm", -1152)
    shutil.copy(shipped("MR_small.dcm"), data / "mr/MR_small.dcm")
    # JPEG-LS: no decoder without pylibjpeg or CharLS (Pillow, which scikit-image brings in,
    # decodes JPEG 2000 but not JPEG-LS)
    shutil.copy(shipped("JPEGLSNearLossless_16.dcm"), data / "mr/MR_jls.dcm")
    digests = []
    for workers, out in (("1", "out1"), ("2", "out2")):
        recipe = write_recipe(tmp_path / f"{out}.yaml", RECIPE.format(out=out))
        result = runner.invoke(app, ["expand", str(recipe), "--quiet", "--workers", workers])
        assert result.exit_code == 1, result.output  # the JPEG-LS file fails, alone
        recs = [json.loads(x) for x in (tmp_path / out / "manifest.jsonl").read_text().splitlines()]
        failed = [r for r in recs if r["status"] == "failed"]
        assert [r["source"] for r in failed] == ["mr/MR_jls.dcm"]
        assert "JPEG-LS" in failed[0]["error"]
        digests.append({r["output"]: r["sha256"] for r in recs if r["status"] == "ok"})
    assert digests[0] == digests[1], "identical bytes for 1 and 2 workers"
    assert len(digests[0]) == 3 * 3
    out = tmp_path / "out1"
    for rel, sha in digests[0].items():
        assert rel.endswith(".dcm") and hashlib.sha256((out / rel).read_bytes()).hexdigest() == sha
    assert (out / "ct/CT_small.dcm").read_bytes() == SAMPLE_CT.read_bytes()
    rec = next(r for r in recs if r["output"] == "ct/CT_small__aug_0.dcm")
    factor = next(e["params"]["factor"] for e in rec["ops"] if e["op"] == "scale")
    src, ds = pydicom.dcmread(SAMPLE_CT), pydicom.dcmread(out / "ct/CT_small__aug_0.dcm")
    assert ds.Columns == round(128 * factor) and ds.PatientID == src.PatientID
    scale = ds.Columns / src.Columns  # the op's actual pixel scale (whole output pixels)
    np.testing.assert_allclose(float(ds.PixelSpacing[1]), src.PixelSpacing[1] / scale, rtol=1e-6)
    signed = pydicom.dcmread(out / "ct/CT_signed__aug_1.dcm")
    assert signed.PixelRepresentation == 1 and signed.pixel_array.min() < 0


@pytest.mark.parametrize(
    ("matrix", "orientation", "laterality"),
    [
        (lambda w, h: hflip_matrix(w), ["R", "F"], "R"),  # mirrored left-right
        (lambda w, h: np.array([[1.0, 0, 0], [0, -1.0, h - 1.0], [0, 0, 1]]), ["L", "H"], "R"),
        (lambda w, h: np.array([[0, -1.0, h - 1.0], [1.0, 0, 0], [0, 0, 1]]), ["H", "L"], "L"),
        (
            lambda w, h: np.eye(3) * [[1.0], [1.0], [1.0]] + [[0, 0, 3], [0, 0, 0], [0, 0, 0]],
            ["L", "F"],
            "L",
        ),
    ],
)
def test_patient_orientation_and_laterality_follow_the_transform(
    pydicom, tmp_path: Path, matrix, orientation: list[str], laterality: str
) -> None:
    """A radiograph of the left side, rows running to the patient's left and columns to the
    feet: a horizontal flip runs rows to the right and shows a right side; a vertical flip
    runs columns to the head and mirrors too; a quarter turn swaps the axes without mirroring;
    a shift changes neither."""
    ds = pydicom.dcmread(shipped("MR_small.dcm"))
    ds.PatientOrientation = ["L", "F"]
    ds.ImageLaterality = "L"
    source = tmp_path / "src.dcm"
    ds.save_as(source)
    img = modality().read(source)
    h, w = img.shape
    out = write(img, tmp_path / "x__aug_0.dcm", source, matrix(w, h))
    got = pydicom.dcmread(out)
    assert list(got.PatientOrientation) == orientation
    assert got.ImageLaterality == laterality


@pytest.mark.parametrize(
    ("name", "padding", "fill", "expected"),
    [
        ("MR_small.dcm", 7, None, 7.0),  # the file's PixelPaddingValue
        ("CT_small.dcm", None, None, 24.0),  # a CT without one: air, -1000 HU (intercept -1024)
        ("MR_small.dcm", None, None, 0.0),  # neither: 0, as for any image
        ("MR_small.dcm", 7, 100, 100.0),  # a fill the recipe gives wins
    ],
)
def test_a_constant_border_on_dicom_is_its_padding_or_air(
    pydicom, tmp_path: Path, name: str, padding, fill, expected: float
) -> None:
    ds = pydicom.dcmread(shipped(name))
    if "PixelPaddingValue" in ds:
        del ds.PixelPaddingValue
    if padding is not None:
        ds.add_new(0x00280120, "SS" if ds.PixelRepresentation else "US", padding)
    (tmp_path / "data").mkdir()
    ds.save_as(tmp_path / "data" / "a.dcm")
    extra = "" if fill is None else f", fill: {fill}"
    recipe = write_recipe(
        tmp_path / "r.yaml",
        f"input: data\noutput: out\nimage:\n  pipeline:\n"
        f"    - rotate: {{degrees: 45, border_mode: constant{extra}}}\n",
    )
    result = CliRunner().invoke(app, ["expand", str(recipe), "--quiet"])
    assert result.exit_code == 0, result.output
    line = json.loads((tmp_path / "out" / "manifest.jsonl").read_text().splitlines()[0])
    assert line["ops"][0]["params"]["fill"] == expected
    out = pydicom.dcmread(tmp_path / "out" / "a__aug_0.dcm").pixel_array
    assert int(out[0, 0]) == int(expected)  # a corner the rotation invented
