"""Volume files in and out: what each format keeps (geometry, dtype, header fields, slope and
intercept), on nibabel's shipped NIfTI files and on volumes made here, and the bad files that
must fail with their reason."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from volumes import OBLIQUE, blob_volume, write_sitk

nib = pytest.importorskip("nibabel")
sitk = pytest.importorskip("SimpleITK")

from nibabel.testing import data_path  # noqa: E402

from augcli.core.errors import InputError  # noqa: E402
from augcli.volume.io import read_volume, write_volume  # noqa: E402

SHIPPED = ["anatomical.nii", "example4d.nii.gz", "example_nifti2.nii.gz", "functional.nii"]


def dest_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def _round_trip(src: Path, dest: Path):
    vol = read_volume(src)
    _digest, moved = write_volume(vol, dest, dest.name)
    return vol, read_volume(dest), moved


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_nifti_keeps_its_header_and_voxels_exactly(tmp_path: Path, name: str) -> None:
    src = Path(data_path) / name
    dest = tmp_path / name
    vol, back, _ = _round_trip(src, dest)
    a, b = nib.load(str(src)), nib.load(str(dest))
    assert type(a) is type(b)  # NIfTI-2 stays NIfTI-2
    assert a.header.binaryblock == b.header.binaryblock, "every header field kept"
    offset = int(a.header["vox_offset"])
    assert dest_bytes(dest)[:offset] == dest_bytes(src)[:offset], "header and extensions, as stored"
    assert dest_bytes(dest) == dest_bytes(src), "a round trip changes no byte (decompressed)"
    assert np.array_equal(
        np.asarray(a.dataobj.get_unscaled()), np.asarray(b.dataobj.get_unscaled())
    )
    assert a.get_data_dtype() == b.get_data_dtype()
    assert back.array.dtype == vol.array.dtype and back.array.shape == vol.array.shape
    assert (back.spacing, back.origin, back.direction) == (vol.spacing, vol.origin, vol.direction)
    if name == "example4d.nii.gz":
        assert vol.array.ndim == 4 and vol.frames == a.shape[3]


def test_nifti_geometry_matches_what_simpleitk_reads(tmp_path: Path) -> None:
    """The (RAS) NIfTI affine turned into ITK's LPS spacing, origin and direction agrees
    with SimpleITK's own reading of the same file."""
    vol = blob_volume(spacing=(0.7, 0.7, 5.0), shape_zyx=(6, 20, 24), direction=OBLIQUE)
    path = write_sitk(vol, tmp_path / "ct.nii.gz")
    ours, theirs = read_volume(path), sitk.ReadImage(str(path))
    assert np.allclose(ours.spacing, theirs.GetSpacing(), atol=1e-5)
    assert np.allclose(ours.origin, theirs.GetOrigin(), atol=1e-4)
    assert np.allclose(ours.direction, theirs.GetDirection(), atol=1e-5)
    assert np.array_equal(ours.array, sitk.GetArrayFromImage(theirs))


def test_scaled_nifti_keeps_stored_values_slope_and_intercept(tmp_path: Path) -> None:
    stored = np.arange(4 * 5 * 6, dtype=np.int16).reshape(6, 5, 4)
    hdr = nib.Nifti1Header()
    hdr.set_data_shape(stored.shape)
    hdr.set_data_dtype(np.int16)
    hdr.set_sform(np.diag([0.7, 0.7, 5.0, 1.0]), code=2)
    hdr.set_slope_inter(2.0, -1024.0)
    hdr.set_intent("estimate", name="ct")
    hdr["descrip"] = b"scaled CT"
    hdr["vox_offset"] = 352
    src = tmp_path / "scaled.nii"  # written by hand: nibabel's save would rescale
    src.write_bytes(hdr.binaryblock + b"\0" * 4 + stored.tobytes(order="F"))
    vol, _back, _ = _round_trip(src, tmp_path / "out.nii")
    assert vol.array.dtype == np.int16 and vol.meta["scale"] == (2.0, -1024.0)
    out = nib.load(str(tmp_path / "out.nii"))
    assert (out.dataobj.slope, out.dataobj.inter) == (2.0, -1024.0)
    assert dest_bytes(tmp_path / "out.nii")[:352] == src.read_bytes()[:352]
    assert out.header.get_intent()[0] == "estimate" and out.header["descrip"] == b"scaled CT"
    assert np.array_equal(np.asarray(out.dataobj.get_unscaled()), stored)
    assert out.header["sform_code"] == 2 and np.allclose(out.get_fdata(), stored * 2.0 - 1024)


@pytest.mark.parametrize("ext", [".nrrd", ".nhdr", ".mha", ".mhd"])
def test_itk_formats_keep_geometry_dtype_keys_and_their_data_file(tmp_path: Path, ext: str) -> None:
    vol = blob_volume(spacing=(0.7, 0.7, 5.0), shape_zyx=(6, 20, 24))
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(vol.array)
    img.SetSpacing(vol.spacing)
    img.SetOrigin(vol.origin)
    img.SetDirection(vol.direction)
    img.SetMetaData("study", "phantom 7")
    src = tmp_path / "in" / f"ct{ext}"
    src.parent.mkdir()
    sitk.WriteImage(img, str(src), True)
    out = tmp_path / "out"
    out.mkdir()
    read, back, moved = _round_trip(src, out / f"tmpname{ext}")
    assert back.array.dtype == np.int16 and np.array_equal(back.array, vol.array)
    assert np.allclose(back.spacing, vol.spacing) and np.allclose(back.direction, vol.direction)
    assert read.meta["keys"]["study"] == "phantom 7" == back.meta["keys"]["study"]
    assert back.meta["compressed"]
    if ext in (".nhdr", ".mhd"):
        assert [m.name for m in moved] and all(m.parent == out for m in moved)
        assert all(".augcli-tmp" not in p.name for p in out.iterdir())


def test_4d_metaimage_keeps_its_time_axis(tmp_path: Path) -> None:
    frames = [sitk.GetImageFromArray(np.full((4, 5, 6), t, np.int16)) for t in range(3)]
    img4 = sitk.JoinSeries(frames, 0.0, 2.5)
    src = tmp_path / "four.mha"
    sitk.WriteImage(img4, str(src), True)
    vol, back, _ = _round_trip(src, tmp_path / "copy.mha")
    assert vol.array.shape == (3, 4, 5, 6) and vol.frames == 3
    again = sitk.ReadImage(str(tmp_path / "copy.mha"))
    assert again.GetDimension() == 4 and again.GetSpacing()[3] == 2.5
    assert np.array_equal(back.array, vol.array)


def test_output_bytes_do_not_depend_on_the_name_or_the_time(tmp_path: Path) -> None:
    vol = read_volume(Path(data_path) / "example4d.nii.gz")
    write_volume(vol, tmp_path / "a.nii.gz", "a.nii.gz")
    write_volume(vol, tmp_path / "b.nii.gz", "b.nii.gz")
    assert (tmp_path / "a.nii.gz").read_bytes() == (tmp_path / "b.nii.gz").read_bytes()
    assert gzip.decompress((tmp_path / "a.nii.gz").read_bytes())[:4] == (348).to_bytes(4, "little")


# -- bad files -------------------------------------------------------------------------------
def _nifti(tmp_path: Path, name: str, array: np.ndarray, affine=None) -> Path:
    path = tmp_path / name
    nib.save(nib.Nifti1Image(array, np.eye(4) if affine is None else affine), str(path))
    return path


def test_a_truncated_nii_gz_says_so(tmp_path: Path) -> None:
    good = _nifti(tmp_path, "g.nii.gz", np.ones((30, 30, 30), np.int16))
    bad = tmp_path / "cut.nii.gz"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match="truncated"):
        read_volume(bad)


def test_a_header_that_lies_about_its_size_is_refused(tmp_path: Path) -> None:
    good = _nifti(tmp_path, "g.nii", np.ones((30, 30, 30), np.int16))
    bad = tmp_path / "lie.nii"
    bad.write_bytes(good.read_bytes()[:4000])
    with pytest.raises(InputError, match="the header lies or the file is truncated"):
        read_volume(bad)


def test_nan_voxels_are_refused(tmp_path: Path) -> None:
    a = np.zeros((5, 5, 5), np.float32)
    a[2, 2, 2] = np.nan
    with pytest.raises(InputError, match="1 voxels are NaN"):
        read_volume(_nifti(tmp_path, "nan.nii", a))


def test_non_orthogonal_direction_cosines_are_refused(tmp_path: Path) -> None:
    shear = np.array([[1, 0.4, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])
    with pytest.raises(InputError, match="not orthogonal"):
        read_volume(_nifti(tmp_path, "shear.nii", np.zeros((4, 4, 4), np.int16), shear))


def test_max_voxels_refuses_from_the_header_before_reading(tmp_path: Path, monkeypatch) -> None:
    """A file whose header claims 2000^3 voxels but holds a few bytes: refused by size, not
    by its truncation, so nothing was read past the header."""
    hdr = nib.Nifti1Header()
    hdr.set_data_shape((2000, 2000, 2000))
    hdr.set_data_dtype(np.int16)
    hdr["vox_offset"] = 352
    path = tmp_path / "huge.nii"
    path.write_bytes(hdr.binaryblock + b"\0" * 4 + b"\0" * 100)
    with pytest.raises(
        InputError, match=r"8,000,000,000 voxels by its header, over volume.max_voxels"
    ):
        read_volume(path, max_voxels=1 << 28)
    mha = write_sitk(blob_volume(shape_zyx=(4, 10, 10)), tmp_path / "small.mha")
    with pytest.raises(InputError, match=r"over volume\.max_voxels: 100"):
        read_volume(mha, max_voxels=100)
