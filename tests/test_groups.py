"""Patients, not files: the recipe's ``groups`` (a DICOM attribute, PatientID by default for
DICOM; a pattern on the path; a mapping file), leakage counted per patient across splits,
``max_outputs_per_group``, and the group on every manifest line (a pseudonym when the section
de-identifies)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import read_manifest, run_augcli, write_recipe

from augcli.core.errors import RecipeError
from augcli.groups import parse_groups
from augcli.recipe import load_recipe

BODY = "image:\n  pipeline:\n    - hflip: {}\n    - gaussian_noise: {std: 4}\n"


def png(path: Path, seed: int) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.random.default_rng(seed).integers(0, 255, (24, 32), dtype=np.uint8)
    assert cv2.imwrite(str(path), img)


def dicom(path: Path, patient: str, seed: int) -> None:
    pydicom = pytest.importorskip("pydicom")
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    ds.PatientID = patient
    ds.SOPInstanceUID = pydicom.uid.generate_uid(entropy_srcs=[str(path)])
    ds.PixelData = (ds.pixel_array + seed).astype(np.int16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def recipe(tmp_path: Path, data: Path, top: str = "", body: str = BODY, copies: int = 1) -> Path:
    return write_recipe(
        tmp_path / "r.yaml",
        f"input: {data}\noutput: {tmp_path / 'out'}\ncopies: {copies}\n{top}{body}",
    )


def validate_json(r: Path, *args: str) -> tuple[int, dict]:
    proc = run_augcli("validate", str(r), "--json", *args)
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {}


def leaks(doc: dict) -> list[dict]:
    return [f for f in doc.get("findings", []) if f["kind"] == "leakage"]


# -- the setting ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("patient id", "must be a DICOM attribute keyword"),
        ({"pattern": "sub-(\\d+"}, "is not a valid regular expression"),
        ({"pattern": "(a)(b)"}, "has 2 capture groups"),
        ({"by": "x"}, "is not a way to group inputs"),
        (["PatientID"], "is not a way to group inputs"),
    ],
)
def test_bad_groups_are_located_with_the_fix(tmp_path: Path, raw, message: str) -> None:
    with pytest.raises(RecipeError, match=message) as err:
        parse_groups(raw, tmp_path)
    assert err.value.path.startswith("groups") and err.value.fix


def test_a_mapping_file_row_error_names_its_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("path,group\ntrain/a.png,p1\ntrain/b.png\n")
    r = write_recipe(tmp_path / "r.yaml", f"input: .\ngroups: {{file: p.csv}}\n{BODY}")
    with pytest.raises(RecipeError) as err:
        load_recipe(r)
    text = str(err.value)
    assert "r.yaml:2: groups.file" in text and "p.csv:3: a row must be path,group" in text
    (tmp_path / "p.json").write_text('["a"]')
    r.write_text(f"input: .\ngroups: {{file: p.json}}\n{BODY}")
    with pytest.raises(RecipeError, match="must be a JSON object of path -> group"):
        load_recipe(r)


# -- leakage by patient ---------------------------------------------------------------------------
def test_the_same_patient_in_train_and_test_is_leakage_by_default_for_dicom(tmp_path: Path) -> None:
    data = tmp_path / "data"
    dicom(data / "train" / "ct" / "a.dcm", "P1", 1)
    dicom(data / "train" / "ct" / "b.dcm", "P2", 2)
    dicom(data / "test" / "ct" / "c.dcm", "P1", 3)  # other pixels: no byte-identical leak
    code, doc = validate_json(recipe(tmp_path, data))
    assert code == 0
    (leak,) = leaks(doc)
    assert "'P1'" in leak["message"] and "PatientID" in leak["message"]
    assert set(leak["files"]) == {"train/ct/a.dcm", "test/ct/c.dcm"}
    strict, _ = validate_json(recipe(tmp_path, data), "--strict")
    assert strict == 3
    allowed = ("--allow", "leakage", "--allow", "near_duplicates")
    assert validate_json(recipe(tmp_path, data), "--strict", *allowed)[0] == 0


def test_a_pattern_groups_a_bids_tree(tmp_path: Path) -> None:
    data = tmp_path / "data"
    png(data / "train" / "sub-01" / "anat" / "a.png", 1)
    png(data / "train" / "sub-02" / "anat" / "b.png", 2)
    png(data / "val" / "sub-01" / "anat" / "c.png", 3)
    png(data / "val" / "sub-03" / "anat" / "d.png", 4)
    r = recipe(tmp_path, data, top="groups: {pattern: 'sub-(\\d+)'}\n")
    (leak,) = leaks(validate_json(r)[1])
    assert "'01'" in leak["message"] and "'02'" not in leak["message"]
    proc = run_augcli("expand", str(r))
    assert proc.returncode == 0, proc.stderr
    got = {line["source"]: line.get("group") for line in read_manifest(tmp_path / "out")}
    assert got == {"train/sub-01/anat/a.png": "01", "train/sub-02/anat/b.png": "02"}


def test_a_mapping_file_places_inputs_and_reports_those_it_misses(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for i, rel in enumerate(("train/x/a.png", "train/x/b.png", "test/x/c.png")):
        png(data / rel, i)
    (tmp_path / "patients.csv").write_text("train/x/a.png,anna\n./test/x/c.png,anna\n")
    _code, doc = validate_json(recipe(tmp_path, data, top="groups: {file: patients.csv}\n"))
    (leak,) = leaks(doc)
    assert "'anna'" in leak["message"]
    (missing,) = [f for f in doc["findings"] if f["kind"] == "groups"]
    assert missing["files"] == ["train/x/b.png"]


def test_without_groups_nothing_is_grouped_and_no_group_is_written(tmp_path: Path) -> None:
    data = tmp_path / "data"
    png(data / "train" / "x" / "a.png", 1)
    png(data / "test" / "x" / "a.png", 2)  # same name, other pixels, no groups: no leak
    code, doc = validate_json(recipe(tmp_path, data))
    assert code == 0 and not leaks(doc)
    assert run_augcli("expand", str(recipe(tmp_path, data))).returncode == 0
    assert all("group" not in line for line in read_manifest(tmp_path / "out"))


# -- budgets ------------------------------------------------------------------------------------------
def test_max_outputs_per_group_takes_outputs_round_robin_over_a_patients_inputs(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    for i, (name, patient) in enumerate((("a", "P1"), ("b", "P2"), ("c", "P2"), ("d", "P2"))):
        dicom(data / "ct" / f"{name}.dcm", patient, i)
    r = recipe(tmp_path, data, top="max_outputs_per_group: 4\n", copies=3)
    proc = run_augcli("expand", str(r))
    assert proc.returncode == 0, proc.stderr
    assert "max_outputs_per_group 4 cuts 5 of 12 planned outputs" in proc.stderr
    lines = read_manifest(tmp_path / "out")
    per_source = {
        s: sum(1 for x in lines if x["source"] == s) for s in {x["source"] for x in lines}
    }
    assert per_source == {"ct/a.dcm": 3, "ct/b.dcm": 2, "ct/c.dcm": 1, "ct/d.dcm": 1}
    assert {x["source"]: x["group"] for x in lines}["ct/c.dcm"] == "P2"


def _files(spec: dict[str, list[tuple[str, str]]]) -> tuple[list, dict[str, str]]:
    """InputFiles of classes {label: [(name, patient), ...]} and their groups."""
    from augcli.engine.scan import InputFile

    files, of = [], {}
    for label, members in spec.items():
        for name, patient in members:
            rel = f"{label}/{name}.png"
            files.append(InputFile(rel, "image", label))
            if patient:
                of[rel] = patient
    return files, of


def test_a_balance_by_groups_gives_every_patient_of_a_class_an_even_share() -> None:
    from augcli.balance import parse_balance
    from augcli.engine.budget import output_counts

    # pos: P1 has 6 slices, P2 and P3 one each; neg: 8 one-image patients
    pos = [(f"p1_{k}", "P1") for k in range(6)] + [("p2", "P2"), ("p3", "P3")]
    files, of = _files({"pos": pos, "neg": [(f"n{k}", f"N{k}") for k in range(8)]})
    bal = parse_balance({"target": 20, "by": "groups"}, "image.balance")
    counts = output_counts(files, 1, 1, True, bal, "image.balance", of.get)
    # pos needs 20 - 8 = 12: P2 and P3 are filled up to P1's 6 samples first (5 each), the
    # other 2 go one per patient in name order; P1's two go to its first slices
    assert [counts[f"pos/p1_{k}.png"] for k in range(6)] == [1, 0, 0, 0, 0, 0]
    assert (counts["pos/p2.png"], counts["pos/p3.png"]) == (6, 5)
    assert sum(counts[f"neg/n{k}.png"] for k in range(8)) == 12
    assert sorted(counts[f"neg/n{k}.png"] for k in range(8)) == [1] * 4 + [2] * 4
    # by inputs (the default), P1's six slices take most of the class's outputs
    plain = output_counts(files, 1, 1, True, parse_balance({"target": 20}, "b"), "b", of.get)
    assert sum(plain[f"pos/p1_{k}.png"] for k in range(6)) == 10


def test_balance_copies_by_groups_are_copies_per_patient_round_robin() -> None:
    from augcli.balance import parse_balance
    from augcli.engine.budget import output_counts

    files, of = _files({"pos": [("a", "P1"), ("b", "P1"), ("c", "P1"), ("d", "P2")]})
    bal = parse_balance({"copies": {"pos": 4}, "by": "groups"}, "image.balance")
    counts = output_counts(files, 1, 2, False, bal, "image.balance", of.get)  # 2 emitters
    assert counts == {"pos/a.png": 3, "pos/b.png": 3, "pos/c.png": 2, "pos/d.png": 8}
    bal = parse_balance({"match_largest": True, "by": "groups"}, "image.balance")
    assert bal.mode == "match_largest" and bal.by == "groups"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"target": 10, "by": "patients"}, "is not what a balance counts in"),
        ({"match_largest": False}, "is not a balance"),
    ],
)
def test_bad_balance_by_is_located(raw: dict, message: str) -> None:
    from augcli.balance import parse_balance

    with pytest.raises(RecipeError, match=message):
        parse_balance(raw, "image.balance")


def test_a_balance_by_groups_without_any_group_is_a_recipe_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for i, rel in enumerate(("a/x.png", "a/y.png", "b/z.png")):
        png(data / rel, i)
    body = BODY + "  balance: {match_largest: true, by: groups}\n"
    proc = run_augcli("validate", str(recipe(tmp_path, data, body=body)))
    assert proc.returncode == 2, proc.stderr
    assert (
        "image.balance.by" in proc.stderr and "no input of the section has a group" in proc.stderr
    )
    assert "Traceback" not in proc.stderr


def test_a_balance_by_groups_runs_end_to_end(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for i, rel in enumerate(("pos/sub-1_a.png", "pos/sub-1_b.png", "pos/sub-2_a.png")):
        png(data / rel, i)
    for i in range(6):
        png(data / f"neg/sub-{10 + i}_a.png", 10 + i)
    body = BODY + "  balance: {match_largest: true, by: groups}\n"
    top = "keep_originals: true\ngroups: {pattern: 'sub-(\\d+)'}\n"
    r = recipe(tmp_path, data, top=top, body=body)
    proc = run_augcli("expand", str(r))
    assert proc.returncode == 0, proc.stderr
    made = [x for x in read_manifest(tmp_path / "out") if x["output"] != x["source"]]
    per = {s: sum(1 for x in made if x["source"] == s) for s in {x["source"] for x in made}}
    # neg has 6 inputs, so 12 samples; pos 3 originals + 9: sub-2 filled to sub-1's 2, then even
    assert per == {"pos/sub-1_a.png": 2, "pos/sub-1_b.png": 2, "pos/sub-2_a.png": 5} | {
        f"neg/sub-{10 + i}_a.png": 1 for i in range(6)
    }


def test_a_de_identified_section_writes_the_patients_pseudonym_as_its_group(
    tmp_path: Path,
) -> None:
    pydicom = pytest.importorskip("pydicom")
    data = tmp_path / "data"
    dicom(data / "ct" / "a.dcm", "Doe-123", 1)
    body = "image:\n  deidentify: true\n  pipeline:\n    - hflip: {}\n"
    env = {**os.environ, "AUGCLI_DEID_SALT": "a-salt-long-enough-0123"}
    proc = run_augcli("expand", str(recipe(tmp_path, data, body=body)), env=env)
    assert proc.returncode == 0, proc.stderr
    (line,) = read_manifest(tmp_path / "out")
    written = pydicom.dcmread(tmp_path / "out" / line["output"])
    assert line["group"] == written.PatientID != "Doe-123"
    assert b"Doe-123" not in (tmp_path / "out" / "manifest.jsonl").read_bytes()


# -- a manifest that names no input ------------------------------------------------------------------
SALT = "manifest-salt-0123456789"


def test_hash_sources_leaves_no_input_path_or_group_and_resume_replay_verify_still_work(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    names = (
        "train/DOE_JANE/pos/scan1.png",
        "train/DOE_JANE/pos/scan2.png",
        "train/ROE_RICH/pos/scan1.png",
    )
    for i, rel in enumerate(names):
        png(data / rel, i)
    top = "groups: {pattern: '^train/([A-Z_]+)/'}\nmanifest: {hash_sources: true}\n"
    r = recipe(tmp_path, data, top=top, copies=2)
    env = {**os.environ, "AUGCLI_DEID_SALT": SALT}
    proc = run_augcli("expand", str(r), env=env)
    assert proc.returncode == 0 and "6 outputs" in proc.stderr, proc.stderr
    out = tmp_path / "out"
    text = (out / "manifest.jsonl").read_text()
    for word in ("DOE_JANE", "ROE_RICH", "scan1", "scan2"):  # no path, group or name left
        assert word not in text
    assert {p.parent.name for p in out.rglob("*.png")} == {"pos"}  # the class folder kept
    lines = read_manifest(out)
    assert all(x["source"].startswith("h-") and x["group"].startswith("h-") for x in lines)
    assert len({x["source"] for x in lines}) == 3 and len({x["group"] for x in lines}) == 2
    cache = (out / ".augcli" / "sources.json").read_text()
    assert "DOE_JANE" not in cache and SALT not in text + cache
    assert len({p.parent.parent.name for p in out.rglob("*.png")}) == 2  # one folder a patient
    again = run_augcli("expand", str(r), env=env)
    assert "6 already done" in again.stderr, again.stderr
    assert (out / "manifest.jsonl").read_text() == text  # resumed: the same names, no plain path
    replay = run_augcli("replay", str(r), "--to", str(tmp_path / "rep"), env=env)
    assert "6 byte-identical, 0 differ" in replay.stdout, replay.stdout + replay.stderr
    verify = run_augcli("verify", str(out))
    assert verify.returncode == 0 and "3 inputs named by salted hash" in verify.stdout
    png(data / names[1], 99)  # an input edited: a resume finds it by its salted name
    edited = run_augcli("expand", str(r), env=env)
    assert "4 already done" in edited.stderr, edited.stderr
    missing = run_augcli("validate", str(r), env={k: v for k, v in env.items() if "SALT" not in k})
    assert missing.returncode == 2 and "manifest.salt_env" in missing.stderr


# -- thresholds and splits ---------------------------------------------------------------------------
def test_imbalance_ratio_is_a_recipe_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for i in range(5):
        png(data / "big" / f"{i}.png", i)
    png(data / "small" / "0.png", 9)

    def kinds(top: str) -> list[str]:
        return [f["kind"] for f in validate_json(recipe(tmp_path, data, top=top))[1]["findings"]]

    assert "imbalance" in kinds("")  # 5x against the default 3x
    assert "imbalance" not in kinds("imbalance_ratio: 6\n")
    with pytest.raises(RecipeError, match="imbalance_ratio"):
        load_recipe(recipe(tmp_path, data, top="imbalance_ratio: 0.5\n"))


def test_near_duplicates_are_found_across_splits(tmp_path: Path) -> None:
    import cv2

    data = tmp_path / "data"
    png(data / "train" / "x" / "a.png", 1)
    png(data / "train" / "x" / "b.png", 2)
    img = cv2.imread(str(data / "train" / "x" / "a.png"), cv2.IMREAD_UNCHANGED)
    (data / "test" / "x").mkdir(parents=True)
    cv2.imwrite(
        str(data / "test" / "x" / "a2.png"), np.clip(img.astype(int) + 3, 0, 255).astype(np.uint8)
    )
    (near,) = [
        f
        for f in validate_json(recipe(tmp_path, data))[1]["findings"]
        if f["kind"] == "near_duplicates"
    ]
    assert "train/x/a.png" in near["message"] and "test/x/a2.png" in near["message"]
