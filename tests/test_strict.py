"""The CI gate: `validate --strict` / `expand --strict` (exit 3 on any dataset finding, --allow
KIND to accept one, nothing written) and `validate --json` (one document on stdout, checked
against `augcli schema --of validate`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import jsonschema
import numpy as np
import pytest
from conftest import ROOT, run_augcli, write_recipe

from augcli.core.findings import KINDS

RECIPE = "version: 1\nseed: 1\ninput: data\noutput: out\ncopies: 1\nimage:\n  pipeline: [hflip]\n"


def _img(seed: int) -> np.ndarray:
    small = np.random.default_rng(seed).integers(0, 256, (8, 9, 3), dtype=np.uint8)
    return cv2.resize(small, (64, 48), interpolation=cv2.INTER_NEAREST)


def _tree(root: Path, leak: bool) -> Path:
    """train/ and test/ with two classes; with ``leak`` one test image is a train image."""
    for split, base in (("train", 0), ("test", 50)):
        for k in range(2):
            for label, off in (("cat", 0), ("dog", 20)):
                path = root / "data" / split / label / f"{label}{k}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(path), _img(base + off + k))
    if leak:
        shutil.copyfile(root / "data/train/cat/cat0.png", root / "data/test/cat/cat9.png")
    return write_recipe(root / "r.yaml", RECIPE)


@pytest.fixture(scope="module")
def schema() -> dict:
    proc = run_augcli("schema", "--of", "validate")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_leakage_into_a_held_out_split_fails_strict_validate_and_expand(tmp_path: Path) -> None:
    """Only train/ is augmented (the default splits), yet a train image that is also in test/
    is found: the gate compares against the split that is left out."""
    recipe = _tree(tmp_path, leak=True)
    plain = run_augcli("validate", str(recipe))
    assert plain.returncode == 0, plain.stderr
    assert "leakage: 1 file(s)" in plain.stdout and "test/cat/cat9.png" in plain.stdout
    strict = run_augcli("validate", str(recipe), "--strict")
    assert strict.returncode == 3 and "Traceback" not in strict.stderr
    assert "--strict: 1 finding(s) of kind leakage" in strict.stderr
    assert "--allow KIND" in strict.stderr
    refused = run_augcli("expand", str(recipe), "--strict", "-q")
    assert refused.returncode == 3, refused.stderr
    assert "warning: leakage" in refused.stderr and "nothing was written" in refused.stderr
    assert not (tmp_path / "out").exists()
    allowed = run_augcli("expand", str(recipe), "--strict", "--allow", "leakage", "-q")
    assert allowed.returncode == 0, allowed.stderr
    assert (tmp_path / "out/manifest.jsonl").is_file()


def test_a_clean_tree_passes_strict(tmp_path: Path) -> None:
    recipe = _tree(tmp_path, leak=False)
    assert run_augcli("validate", str(recipe), "--strict").returncode == 0
    proc = run_augcli("expand", str(recipe), "--strict", "-q")
    assert proc.returncode == 0 and proc.stderr == ""


def test_an_unknown_allow_kind_is_a_usage_error_listing_the_kinds(tmp_path: Path) -> None:
    recipe = _tree(tmp_path, leak=False)
    for command in ("validate", "expand"):
        proc = run_augcli(command, str(recipe), "--strict", "--allow", "leaks")
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert "--allow 'leaks': not a finding kind" in proc.stderr and "leakage" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_json_is_one_document_on_stdout_matching_the_schema(tmp_path: Path, schema) -> None:
    recipe = _tree(tmp_path, leak=True)
    proc = run_augcli("validate", str(recipe), "--json", "--strict", "--allow", "imbalance")
    assert proc.returncode == 3
    doc = json.loads(proc.stdout)  # nothing else on stdout
    jsonschema.validate(doc, schema)
    assert doc["valid"] is True and doc["schema"] == "augcli.validate/1"
    image = doc["sections"]["image"]
    assert (image["inputs"], image["outputs"]) == (4, 4)
    assert image["classes"]["cat"] == {"inputs": 2, "outputs": 2, "detail": None}
    assert image["graph"] == {
        "nodes": [{"name": "aug", "after": [], "steps": ["hflip"]}],
        "emits": ["aug"],
    }
    (leak,) = [f for f in doc["findings"] if f["kind"] == "leakage"]
    assert leak["files"] == ["train/cat/cat0.png", "test/cat/cat9.png"]
    assert doc["strict"] == {"allowed": ["imbalance"], "refused": len(doc["findings"])}
    assert any("splits: augmenting train" in n for n in doc["notes"])


def test_json_of_a_broken_recipe_says_invalid(tmp_path: Path, schema) -> None:
    recipe = write_recipe(tmp_path / "r.yaml", RECIPE.replace("hflip", "no_such_op"))
    (tmp_path / "data").mkdir()
    proc = run_augcli("validate", str(recipe), "--json")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, schema)
    assert doc["valid"] is False and "no_such_op" in doc["error"] and doc["exit_code"] == 2
    assert "augcli: error:" in proc.stderr


@pytest.mark.parametrize(
    "config", ["quickstart", "audio", "detection", "dicom", "graph", "text", "volume"]
)
def test_every_shipped_config_gives_a_valid_document(config: str, schema) -> None:
    out = ROOT / "out" / f"json-{config}"
    proc = run_augcli(
        "validate", str(ROOT / "configs" / f"{config}.yaml"), "--json", "--output", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, schema)
    assert doc["sections"] and not out.exists()


def test_every_kind_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [k for k in KINDS if f"`{k}`" not in readme]
    assert not missing, f"finding kinds not in the README: {missing}"
