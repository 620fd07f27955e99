"""De-identified DICOM (issue #18 §3): every row of the shipped PS3.15 Table E.1-1 carried out
as its code says, the options, salted deterministic UIDs, no source UID or private element
left, dates shifted, burned-in text refused, the salt required and never written; on real
DICOM shipped by pydicom, through the writer and through ``augcli expand``."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, read_manifest, write_recipe
from typer.testing import CliRunner

from augcli import deidentify
from augcli.cli import app
from augcli.core.errors import InputError, RecipeError
from augcli.image.modality import ImageModality
from augcli.recipe import load_recipe

pydicom = pytest.importorskip("pydicom")
from pydicom.dataset import Dataset  # noqa: E402
from pydicom.sequence import Sequence  # noqa: E402

runner = CliRunner()
SALT = "test-salt-0123456789abcdef"
ENV = {deidentify.DEFAULT_SALT_ENV: SALT}


def shipped(name: str) -> Path:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name, download=False)
    assert path is not None, f"pydicom does not ship {name}"
    return Path(path)


def profile(**value) -> deidentify.Profile:
    made = deidentify.parse(value or True, "image.deidentify", ENV)
    assert made is not None
    return made


# -- the table, read here independently of augcli/deidentify.py --------------------------------
def rows() -> list[dict[str, str]]:
    lines = (ROOT / "augcli/data/annex_e.csv").read_text(encoding="utf-8").splitlines()
    return list(csv.DictReader(line for line in lines if not line.startswith("#")))


def tag_of(row: dict[str, str]) -> int:
    """A tag the row governs: its own, or one of its repeating group (50xx, 60xx), or a private
    element (0009,1001) for the odd groups' row."""
    text = row["tag"]
    if "GGGG" in text:
        return 0x00091001
    digits = text.strip("()").replace(",", "").replace("X", "0")
    return int(digits, 16)


def vr_of(tag: int) -> str:
    from pydicom.datadict import dictionary_VR

    if tag == 0x00091001:
        return "LO"
    if tag >> 16 == 0x5000:
        return "OB"
    return dictionary_VR(tag).split(" or ")[0]


def value_of(vr: str, n: int):
    """A value of ``vr`` unlike any dummy, unique per row (``n``)."""
    if vr == "SQ":
        item = Dataset()
        item.CodeValue = f"C{n}"  # not in the table: kept wherever its sequence is
        return Sequence([item])
    samples = {
        "DA": "20200115",
        "DT": "20200115103000",
        "TM": "103000",
        "AS": "042Y",
        "DS": "1.5",
        "IS": "7",
        "UI": f"1.2.826.0.1.3680043.9.{n}",
        "AT": 0x00100010,
        "CS": f"V{n}",
        "UR": f"https://example.org/{n}",
    }
    if vr in samples:
        return samples[vr]
    if vr in ("FL", "FD"):
        return 7.5
    if vr in ("SL", "SS", "UL", "US", "SV", "UV"):
        return 7
    if vr in ("OB", "OD", "OF", "OL", "OV", "OW", "UN"):
        return bytes(range(1, 9))
    return f"ORIGINAL {n}"


def one_per_row() -> tuple[Dataset, list[tuple[dict[str, str], int, str, object]]]:
    """A dataset holding one element per row of the table, each with a value of its VR."""
    ds, held = Dataset(), []
    for n, row in enumerate(rows()):
        tag = tag_of(row)
        if tag >> 16 == 0x0002:
            continue  # file meta: the writer makes it anew (and pydicom keeps it apart)
        vr = vr_of(tag)
        if tag == 0x00091001:
            ds.add_new(0x00090010, "LO", "SOME CREATOR")
        value = value_of(vr, n)
        ds.add_new(tag, vr, value)
        held.append((row, tag, vr, value))
    return ds, held


# What the module promises for each code where an attribute's type is unknown.
RESOLVED = {"Z/D": "D", "X/Z": "Z", "X/D": "D", "X/Z/D": "D", "X/Z/U*": "U"}


def expected(row: dict[str, str], columns: list[str], vr: str) -> str:
    codes = [row[c] for c in columns if row[c]]
    if "K" in codes:
        return "K"
    basic = RESOLVED.get(row["basic"], row["basic"])
    if "C" not in codes:
        return basic
    if row["retain_modified_dates"] == "C" and "retain_modified_dates" in columns:
        return {"DA": "S", "DT": "S", "TM": "K"}.get(vr, basic)
    return "D"


def check(code: str, ds: Dataset, tag: int, vr: str, before, salt: bytes, days: int) -> None:
    name = f"{tag:08X} {vr} {code}"
    if code == "X":
        assert tag not in ds, name
        return
    assert tag in ds, name
    after = ds[tag].value
    if code == "Z":
        assert after in (None, "", b"", []) or len(after) == 0, name
    elif code == "K":
        assert after == before, name
    elif code == "U":
        if vr == "SQ":  # the sequence kept, its items through the table
            assert after[0].CodeValue == before[0].CodeValue, name
        else:
            assert after == deidentify.remap_uid(before, salt), name
    elif code == "S":
        shifted = (np.datetime64("2020-01-15") + np.timedelta64(days, "D")).astype(str)
        assert str(after).startswith(shifted.replace("-", "")), name
        assert str(after)[8:] == str(before)[8:], name
    else:  # D, C: a non-empty value that is not the source's
        assert code in ("D", "C"), name
        assert after not in (None, "", b"") and after != before, name
        if vr == "SQ":
            assert len(after) == 1 and len(after[0]) == 0, name


OPTION_SETS = [
    {},
    {"retain_patient_characteristics": True},
    {"retain_device_identity": True},
    {"retain_institution_identity": True},
    {"retain_uids": True},
    {"retain_dates": {"shift_days": 0}},
    {"retain_dates": {"shift_days": -40}},
    {"retain_device_identity": True, "retain_dates": {"shift_days": 400}},
]


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: ",".join(o) or "basic")
def test_every_row_of_the_table_is_carried_out(options: dict) -> None:
    ds, held = one_per_row()
    assert len(held) >= 600  # the whole table (Table E.1-1 of 2024b has 621 rows)
    prof = profile(**options)
    prof.apply(ds)
    columns = list(prof.columns)
    days = prof.shift_days or 0
    seen = set()
    for row, tag, vr, before in held:
        code = expected(row, columns, vr)
        check(code, ds, tag, vr, before, SALT.encode(), days)
        seen.add(code)
    assert {"X", "Z", "D", "U"} <= seen and ("K" in seen) == bool(options)
    assert ("S" in seen) == bool(days)


def test_the_table_is_the_standards_and_says_its_edition() -> None:
    text = (ROOT / "augcli/data/annex_e.csv").read_text(encoding="utf-8")
    assert text.startswith("# DICOM PS3.15 2024b, Table E.1-1")
    by_name = {r["name"]: r for r in rows()}
    assert by_name["Patient's Name"]["basic"] == "Z"
    assert by_name["SOP Instance UID"]["basic"] == "U"
    assert by_name["Patient's Sex"]["retain_patient_characteristics"] == "K"
    assert by_name["Source Image Sequence"]["basic"] == "X/Z/U*"
    assert len(rows()) == 621


def test_the_script_regenerates_the_shipped_table(tmp_path: Path) -> None:
    """scripts/annex_e.py, fed the shipped rows back as the source's JSON, writes the same file."""
    keys = {
        "tag": "tag",
        "name": "name",
        "basic": "basicProfile",
        "retain_safe_private": "rtnSafePrivOpt",
        "retain_uids": "rtnUIDsOpt",
        "retain_device_identity": "rtnDevIdOpt",
        "retain_institution_identity": "rtnInstIdOpt",
        "retain_patient_characteristics": "rtnPatCharsOpt",
        "retain_full_dates": "rtnLongFullDatesOpt",
        "retain_modified_dates": "rtnLongModifDatesOpt",
        "clean_descriptors": "cleanDescOpt",
        "clean_structured_content": "cleanStructContOpt",
        "clean_graphics": "cleanGraphOpt",
    }
    source = [{keys[k]: v for k, v in r.items() if v} for r in rows()]
    (tmp_path / "in.json").write_text(json.dumps(source[::-1]))
    out = tmp_path / "annex_e.csv"
    argv = [
        "--edition",
        "2024b",
        "--source",
        "innolitics/dicom-standard@8670abdd9ad16c61af5146ef857899699bdd9c5f",
    ]
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts/annex_e.py"),
            str(tmp_path / "in.json"),
            *argv,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text() == (ROOT / "augcli/data/annex_e.csv").read_text()


# -- UIDs --------------------------------------------------------------------------------------
def test_remap_uid_is_deterministic_keyed_and_valid() -> None:
    uid = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
    a = deidentify.remap_uid(uid, SALT.encode())
    assert a == deidentify.remap_uid(uid, SALT.encode())
    assert a != deidentify.remap_uid(uid, b"another salt, just as long")
    assert a != deidentify.remap_uid(uid + "1", SALT.encode())
    assert a.startswith("2.25.") and len(a) <= 64 and pydicom.uid.UID(a).is_valid
    code = f"from augcli.deidentify import remap_uid; print(remap_uid({uid!r}, {SALT.encode()!r}))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == a, "the same in another process (no salted hash())"


def rich_source(tmp: Path, **extra) -> Path:
    """CT_small (GE private blocks, patient attributes) with what a derived image refers to: a
    SourceImageSequence, a ReferencedImageSequence and a private element inside a sequence."""
    ds = pydicom.dcmread(shipped("CT_small.dcm"))
    ref = Dataset()
    ref.ReferencedSOPClassUID = ds.SOPClassUID
    ref.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.9.777.1"
    ref.add_new(0x00431010, "LO", "inside a sequence")  # no creator: still private
    ds.SourceImageSequence = Sequence([ref])
    other = Dataset()
    other.ReferencedSOPClassUID = ds.SOPClassUID
    other.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.9.777.2"
    ds.ReferencedImageSequence = Sequence([other])
    for key, value in extra.items():
        setattr(ds, key, value)
    path = tmp / "rich.dcm"
    ds.save_as(path)
    return path


def derived(source: Path, out: Path, prof: deidentify.Profile | None, key: str = "k") -> Path:
    m = ImageModality({"format": None, "deidentify": prof, "recipe_key": key})
    img = m.read(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    m.write(img[:, ::-1].copy(), out, source, {"output": out.name, "seed": 3, "matrix": None})
    return out


def source_uids(ds: Dataset) -> set[str]:
    """Every UID in ``ds`` (file meta and sequences included) that the standard does not
    define: instance, series, study, frame of reference, creator UIDs."""
    found = set()
    for elem in [*ds.file_meta.iterall(), *ds.iterall()]:
        if elem.VR == "UI" and elem.value:
            values = elem.value if isinstance(elem.value, list) else [elem.value]
            found |= {str(v) for v in values if not str(v).startswith("1.2.840.10008.")}
    return found


def test_no_source_uid_and_no_private_element_is_left(tmp_path: Path) -> None:
    source = rich_source(tmp_path)
    out = derived(source, tmp_path / "out/rich__aug_0.dcm", profile())
    src, ds = pydicom.dcmread(source), pydicom.dcmread(out)
    uids = source_uids(src)
    assert len(uids) >= 6
    raw = out.read_bytes()
    for uid in uids:
        assert uid.encode() not in raw, uid
    assert not [e for e in ds.iterall() if e.tag.is_private]
    assert "PatientName" not in ds or not ds.PatientName
    assert ds.PatientID != src.PatientID and ds.PatientIdentityRemoved == "YES"
    assert b"CompressedSamples" not in raw and b"JFK IMAGING" not in raw
    # The derived image refers to its source by the source's remapped UID, as the remapped
    # source itself would say it; the existing references are remapped too.
    salt = SALT.encode()
    assert ds.SourceImageSequence[0].ReferencedSOPInstanceUID == deidentify.remap_uid(
        src.SOPInstanceUID, salt
    )
    assert ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID == deidentify.remap_uid(
        "1.2.826.0.1.3680043.9.777.2", salt
    )
    assert ds.StudyInstanceUID == deidentify.remap_uid(src.StudyInstanceUID, salt)
    assert ds.FrameOfReferenceUID == deidentify.remap_uid(src.FrameOfReferenceUID, salt)
    assert ds.SeriesInstanceUID not in (
        src.SeriesInstanceUID,
        deidentify.remap_uid(src.SeriesInstanceUID, salt),
    )
    assert ds.SOPClassUID == src.SOPClassUID
    np.testing.assert_array_equal(ds.pixel_array, src.pixel_array[:, ::-1])


def test_an_rt_plan_keeps_no_uid_at_any_depth() -> None:
    """rtplan.dcm: references to a structure set and a plan inside nested sequences."""
    ds = pydicom.dcmread(shipped("rtplan.dcm"))
    uids = source_uids(ds) - {ds.file_meta.ImplementationClassUID}  # the writing software's
    assert ds.file_meta.MediaStorageSOPInstanceUID in uids
    nested = {
        str(e.value) for item in ds.ReferencedStructureSetSequence for e in item if e.VR == "UI"
    }
    assert nested & uids
    profile().apply(ds)
    assert not uids & source_uids(ds)
    ref = ds.ReferencedStructureSetSequence[0].ReferencedSOPInstanceUID
    assert ref == deidentify.remap_uid(sorted(nested - {ds.SOPClassUID})[0], SALT.encode())
    assert "PatientName" not in ds or not ds.PatientName


def test_the_marks_name_the_profile_and_the_options(tmp_path: Path) -> None:
    out = derived(
        shipped("MR_small.dcm"),
        tmp_path / "MR__a_0.dcm",
        profile(retain_patient_characteristics=True, retain_dates={"shift_days": -3}),
    )
    ds = pydicom.dcmread(out)
    codes = [(c.CodeValue, c.CodingSchemeDesignator) for c in ds.DeidentificationMethodCodeSequence]
    assert codes == [("113100", "DCM"), ("113108", "DCM"), ("113107", "DCM")]
    assert "Basic Profile" in ds.DeidentificationMethod[0]
    assert all(len(v) <= 64 for v in ds.DeidentificationMethod)
    assert "-3" not in str(ds.DeidentificationMethod), "the shift would undo itself"
    assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
    full = pydicom.dcmread(
        derived(
            shipped("MR_small.dcm"), tmp_path / "f.dcm", profile(retain_dates={"shift_days": 0})
        )
    )
    assert full.LongitudinalTemporalInformationModified == "UNMODIFIED"
    assert [c.CodeValue for c in full.DeidentificationMethodCodeSequence] == ["113100", "113106"]


def test_the_same_salt_gives_the_same_bytes_another_salt_other_uids(tmp_path: Path) -> None:
    source = rich_source(tmp_path)
    a = derived(source, tmp_path / "run1/rich__aug_0.dcm", profile())
    b = derived(source, tmp_path / "run2/rich__aug_0.dcm", profile())
    assert a.read_bytes() == b.read_bytes()
    other = deidentify.parse(True, "d", {deidentify.DEFAULT_SALT_ENV: "another salt, just as long"})
    c = pydicom.dcmread(derived(source, tmp_path / "run3/rich__aug_0.dcm", other))
    first = pydicom.dcmread(a)
    for key in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
        assert c[key].value != first[key].value, key
    assert c.PatientID != first.PatientID


def test_options_keep_what_they_say(tmp_path: Path) -> None:
    source = shipped("CT_small.dcm")
    src = pydicom.dcmread(source)
    basic = pydicom.dcmread(derived(source, tmp_path / "b.dcm", profile()))
    assert "PatientSex" not in basic or not basic.PatientSex
    assert basic.StationName != src.StationName
    assert "StudyDate" not in basic or not basic.StudyDate
    kept = pydicom.dcmread(
        derived(
            source,
            tmp_path / "k.dcm",
            profile(
                retain_patient_characteristics=True,
                retain_device_identity=True,
                retain_institution_identity=True,
                retain_uids=True,
            ),
        )
    )
    assert (kept.PatientSex, kept.PatientAge) == (src.PatientSex, src.PatientAge)
    assert kept.StationName == src.StationName
    assert kept.InstitutionName == src.InstitutionName
    assert (kept.StudyInstanceUID, kept.FrameOfReferenceUID) == (
        src.StudyInstanceUID,
        src.FrameOfReferenceUID,
    )
    assert kept.SourceImageSequence[0].ReferencedSOPInstanceUID == src.SOPInstanceUID
    assert "PatientName" not in kept or not kept.PatientName  # no option keeps the name


def test_dates_shift_by_whole_days_and_times_stay(tmp_path: Path) -> None:
    source = rich_source(tmp_path, AcquisitionDateTime="19970430101500.5")
    src = pydicom.dcmread(source)
    ds = pydicom.dcmread(
        derived(source, tmp_path / "d.dcm", profile(retain_dates={"shift_days": -31}))
    )
    assert (src.StudyDate, ds.StudyDate) == ("20040119", "20031219")
    assert (src.ContentDate, ds.ContentDate) == ("19970430", "19970330")
    assert ds.AcquisitionDateTime == "19970330101500.5"
    assert ds.StudyTime == src.StudyTime and ds.ContentTime == src.ContentTime


def test_private_elements_are_kept_only_by_name(tmp_path: Path) -> None:
    source = shipped("CT_small.dcm")
    src = pydicom.dcmread(source)
    ds = pydicom.dcmread(
        derived(source, tmp_path / "p.dcm", profile(keep_private=["GEMS_ACQU_01", "(0043,1010)"]))
    )
    private = {int(e.tag) for e in ds.iterall() if e.tag.is_private}
    block = {int(e.tag) for e in src if e.tag.group == 0x0019}  # GEMS_ACQU_01 and its elements
    assert block and block <= private
    assert {0x00430010, 0x00431010} <= private, "a named tag keeps its creator"
    assert private <= block | {0x00430010, 0x00431010}
    assert ds[0x00191002].value == src[0x00191002].value


def test_keep_private_refuses_a_standard_tag() -> None:
    with pytest.raises(RecipeError, match=r"names a standard attribute.*got '\(0010,0010\)'"):
        deidentify.parse({"keep_private": ["(0010,0010)"]}, "image.deidentify", ENV)


def test_burned_in_annotation_is_refused_unless_allowed(tmp_path: Path) -> None:
    source = rich_source(tmp_path, BurnedInAnnotation="YES")
    m = ImageModality({"format": None, "deidentify": profile()})
    with pytest.raises(InputError, match=r"BurnedInAnnotation is YES.*allow_burned_in: true"):
        m.read(source)
    out = derived(source, tmp_path / "ok.dcm", profile(allow_burned_in=True))
    assert pydicom.dcmread(out).PatientIdentityRemoved == "YES"
    plain = ImageModality({"format": None})  # without deidentify nothing is refused
    assert plain.read(source).shape == (128, 128)


# -- the recipe --------------------------------------------------------------------------------
RECIPE = """\
version: 1
seed: 5
input: data
output: {out}
copies: 2
image:
  deidentify: {deid}
  pipeline:
    - hflip
    - brightness_contrast: {{brightness: [-0.05, 0.05]}}
"""


def test_a_missing_salt_is_a_recipe_error_naming_the_variable(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(deidentify.DEFAULT_SALT_ENV, raising=False)
    recipe = write_recipe(tmp_path / "r.yaml", RECIPE.format(out="out", deid="true"))
    with pytest.raises(RecipeError) as err:
        load_recipe(recipe)
    text = str(err.value)
    assert text.startswith(f"{recipe}:7: image.deidentify.salt_env: ")
    assert "environment variable AUGCLI_DEID_SALT, which is not set" in text
    assert "export AUGCLI_DEID_SALT=" in text
    (tmp_path / "data").mkdir()
    result = runner.invoke(app, ["expand", str(recipe), "--quiet"])
    assert result.exit_code == 2 and "AUGCLI_DEID_SALT" in result.output
    assert not (tmp_path / "out").exists(), "nothing touched"
    monkeypatch.setenv("MY_SALT", "short")
    recipe = write_recipe(tmp_path / "r.yaml", RECIPE.format(out="out", deid="{salt_env: MY_SALT}"))
    with pytest.raises(RecipeError, match="MY_SALT, which is shorter than 16 characters") as err:
        load_recipe(recipe)
    assert "short" not in str(err.value).replace("shorter", ""), "the salt is never shown"


def test_keep_originals_is_refused_beside_deidentify(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(deidentify.DEFAULT_SALT_ENV, SALT)
    body = RECIPE.format(out="out", deid="true").replace(
        "copies: 2\n", "copies: 2\nkeep_originals: true\n"
    )
    with pytest.raises(
        RecipeError, match=r"keep_originals: .*byte for byte.*Set keep_originals: false"
    ):
        load_recipe(write_recipe(tmp_path / "r.yaml", body))


def test_unknown_keys_and_bad_values_are_located(tmp_path: Path) -> None:
    with pytest.raises(
        RecipeError, match=r"image.deidentify.retain_date: unknown key.*Did you mean 'retain_dates'"
    ):
        deidentify.parse({"retain_date": {"shift_days": 3}}, "image.deidentify", ENV)
    with pytest.raises(RecipeError, match=r"retain_dates: must be \{shift_days: N\}"):
        deidentify.parse({"retain_dates": {"shift_days": 1.5}}, "image.deidentify", ENV)
    with pytest.raises(RecipeError, match="retain_uids: must be true or false"):
        deidentify.parse({"retain_uids": "yes"}, "image.deidentify", ENV)
    assert deidentify.parse(False, "d", {}) is None and deidentify.parse(None, "d", {}) is None


def run_expand(tmp_path: Path, out: str, workers: str, deid: str = "true", code: int = 0) -> Path:
    recipe = write_recipe(tmp_path / f"{out}.yaml", RECIPE.format(out=out, deid=deid))
    result = runner.invoke(app, ["expand", str(recipe), "--quiet", "--workers", workers])
    assert result.exit_code == code, result.output
    return tmp_path / out


def test_expand_writes_de_identified_dicom_and_never_the_salt(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(deidentify.DEFAULT_SALT_ENV, SALT)
    data = tmp_path / "data"
    (data / "ct").mkdir(parents=True)
    rich_source(data / "ct")
    shutil.copy(shipped("MR_small.dcm"), data / "ct/MR_small.dcm")
    burned = pydicom.dcmread(shipped("MR_small.dcm"))
    burned.BurnedInAnnotation = "YES"
    burned.save_as(data / "ct/burned.dcm")
    a, b = (run_expand(tmp_path, out, n, code=1) for out, n in (("out1", "1"), ("out2", "2")))
    failed = [r for r in read_manifest(a) if r["status"] == "failed"]
    assert [r["source"] for r in failed] == ["ct/burned.dcm"], "refused alone, the run went on"
    assert "BurnedInAnnotation is YES" in failed[0]["error"]
    files = sorted(p.relative_to(a).as_posix() for p in a.rglob("*.dcm"))
    assert files == [f"ct/{s}__aug_{k}.dcm" for s in ("MR_small", "rich") for k in (0, 1)]
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), f"{rel}: 1 and 2 workers differ"
    for path in a.rglob("*"):  # manifest, run.json, state files, outputs
        if path.is_file():
            assert SALT.encode() not in path.read_bytes(), path
    src = pydicom.dcmread(data / "ct/rich.dcm")
    copies = [pydicom.dcmread(a / f"ct/rich__aug_{k}.dcm") for k in (0, 1)]
    for ds in copies:
        assert ds.PatientIdentityRemoved == "YES" and ds.PatientID != src.PatientID
        assert not source_uids(src) & source_uids(ds)
        assert not [e for e in ds.iterall() if e.tag.is_private]
        assert ds.SeriesDescription == "augcli"  # the source's description is removed (X)
    assert copies[0].SeriesInstanceUID != copies[1].SeriesInstanceUID  # one series per copy
    assert copies[0].StudyInstanceUID == copies[1].StudyInstanceUID
    again = runner.invoke(app, ["replay", str(tmp_path / "out1.yaml"), "--to", str(tmp_path / "r")])
    assert again.exit_code == 0 and "0 differ" in again.output, again.output
    plan = runner.invoke(app, ["validate", str(tmp_path / "out1.yaml"), "--json"])
    assert plan.exit_code == 0 and json.loads(plan.stdout) and SALT not in plan.output


# -- a new series, de-identified or not --------------------------------------------------------
def test_derived_dicom_starts_a_new_series_per_source_series_node_and_copy(tmp_path: Path) -> None:
    src = pydicom.dcmread(shipped("CT_small.dcm"))
    paths = []
    for n in (1, 2):  # two slices of one series
        src.SOPInstanceUID = f"1.2.826.0.1.3680043.9.555.{n}"
        paths.append(tmp_path / f"slice{n}.dcm")
        src.save_as(paths[-1])
    out = tmp_path / "out"

    def series(path: Path, name: str, key: str = "k") -> str:
        return pydicom.dcmread(derived(path, out / name, None, key)).SeriesInstanceUID

    first = series(paths[0], "slice1__aug_0.dcm")
    assert first == series(paths[1], "slice2__aug_0.dcm"), "one new series for the slices"
    assert first != series(paths[0], "slice1__aug_1.dcm"), "another copy: another series"
    assert first != series(paths[0], "slice1__aug_0.dcm", key="other recipe")
    assert first != src.SeriesInstanceUID
    ds = pydicom.dcmread(out / "slice1__aug_0.dcm")
    assert ds.SeriesDescription == f"{src.get('SeriesDescription', '')} augcli".strip()
    assert ds.PatientName == src.PatientName, "without deidentify the header is kept"
