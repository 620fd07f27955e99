"""Inputs named like label maps or masks in a section that names none: `validate` warns
(kind `label_maps`), since each would be augmented as an image of its own."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ROOT, run_augcli, write_recipe

from augcli.core.label_names import label_like
from augcli.volume.modality import VolumeModality


def test_label_names_pair_by_suffix_beside_the_image_or_by_folder() -> None:
    paths = [
        "ct/case01.nii.gz",
        "ct/case01_seg.nii.gz",
        "ct/lonely_seg.nii.gz",  # no case beside it: may be an image named so
        "mr/b.nrrd",
        "mr/B_Mask.nrrd",
        "Task01/imagesTr/x.nii.gz",
        "Task01/labelsTr/x.nii.gz",
        "brain/segmental.nii.gz",
        "mask/face1.nii.gz",  # a class named mask: no image of that name elsewhere
        "no_mask/face2.nii.gz",
    ]
    found = {x.relpath: x for x in label_like(paths, VolumeModality.split_name)}
    assert sorted(found) == ["Task01/labelsTr/x.nii.gz", "ct/case01_seg.nii.gz", "mr/B_Mask.nrrd"]
    assert found["ct/case01_seg.nii.gz"].suffix == "_seg"
    assert found["ct/case01_seg.nii.gz"].image == "ct/case01.nii.gz"
    assert found["mr/B_Mask.nrrd"].suffix == "_Mask"  # the name's own case, for the fix
    assert found["Task01/labelsTr/x.nii.gz"].folder == "Task01/labelsTr"


def _recipe(tmp_path: Path, section: str) -> Path:
    return write_recipe(
        tmp_path / "r.yaml",
        f"input: data\noutput: out\n{section}\n  pipeline:\n    - flip: {{axes: LR}}\n"
        if section.startswith("volume")
        else f"input: data\noutput: out\n{section}\n  pipeline:\n    - hflip: {{}}\n",
    )


def test_volume_label_maps_without_labels_are_named_with_the_fix(tmp_path: Path) -> None:
    pytest.importorskip("SimpleITK")
    shutil.copytree(ROOT / "sample_data" / "volume", tmp_path / "data")
    proc = run_augcli("validate", str(_recipe(tmp_path, "volume:")))
    assert proc.returncode == 0, proc.stderr
    (line,) = [x for x in proc.stdout.splitlines() if "look like label maps" in x]
    assert line.startswith("warning: ") and "r.yaml:3: volume: 3 input(s)" in line
    assert "ct/case01_seg.nii.gz (beside ct/case01.nii.gz)" in line
    assert "Add labels: {suffix: _seg}" in line
    strict = run_augcli("validate", str(_recipe(tmp_path, "volume:")), "--strict")
    assert strict.returncode != 0 and "label_maps" in strict.stdout + strict.stderr
    named = run_augcli("validate", str(_recipe(tmp_path, "volume:\n  labels: {suffix: _seg}")))
    assert named.returncode == 0 and "look like label maps" not in named.stdout


def test_image_masks_in_a_masks_folder_without_masks_are_named(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    for folder in ("images", "masks"):
        (tmp_path / "data" / folder).mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "data/images/a.png"), rng.integers(0, 255, (16, 16), np.uint8))
    cv2.imwrite(str(tmp_path / "data/masks/a.png"), (rng.random((16, 16)) > 0.5).astype(np.uint8))
    proc = run_augcli("validate", str(_recipe(tmp_path, "image:")))
    assert proc.returncode == 0, proc.stderr
    (line,) = [x for x in proc.stdout.splitlines() if "look like label maps" in x]
    assert "masks/a.png (in masks/)" in line and "masks: {dir: <the masks' folder>}" in line
