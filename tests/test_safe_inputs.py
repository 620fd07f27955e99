"""Hostile or odd input and output trees (issue 13): augcli's own names are reserved, nothing is
written, deleted or replayed outside its folder, input links stay inside the input, only
regular files are read, names that are not UTF-8 and unreadable folders are skipped with a
warning, never silently and never with a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import run_augcli, textured, write_recipe

TEXT = """\
version: 1
seed: 1
input: data
output: out
{extra}
text:
{section}  pipeline:
    - random_swap: {{p: 1}}
"""

IMAGE = """\
version: 1
seed: 1
input: data
output: out
{extra}
image:
{section}  pipeline:
    - hflip: {{p: 1}}
"""


def text_recipe(tmp_path: Path, extra: str = "", section: str = "") -> Path:
    return write_recipe(tmp_path / "r.yaml", TEXT.format(extra=extra, section=section))


def image_recipe(tmp_path: Path, extra: str = "", section: str = "") -> Path:
    return write_recipe(tmp_path / "r.yaml", IMAGE.format(extra=extra, section=section))


def write_text(path: Path, text: str = "the quick brown fox jumps\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_image(path: Path, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), textured(12, 16, 3, np.uint8, seed))


def no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout


# -- D1: augcli's own names are reserved --------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("manifest.jsonl", ""),  # a record file is written under its own name
        ("Manifest.JSONL", ""),  # and case does not save it on a case-blind disk
        ("run.json", "keep_originals: true"),  # a kept original under its own name
        ("report.html", "keep_originals: true"),
    ],
)
def test_an_input_named_like_augclis_own_file_is_refused_before_anything_is_written(
    tmp_path: Path, name: str, extra: str
) -> None:
    write_text(tmp_path / "data" / name, '{"text": "the cat sat on the mat"}\n')
    write_text(tmp_path / "data/b.txt")
    section = "  include: ['*.jsonl', '*.JSONL', '*.json', '*.html', '*.txt']\n"
    proc = run_augcli("expand", str(text_recipe(tmp_path, extra, section)), "-q")
    assert proc.returncode == 2, proc.stderr
    assert f"input {name!r}" in proc.stderr and "augcli's own" in proc.stderr
    assert "exclude" in proc.stderr  # the fix
    assert not (tmp_path / "out").exists()
    no_traceback(proc)
    proc = run_augcli("validate", str(text_recipe(tmp_path, extra, section)))
    assert proc.returncode == 2 and "augcli's own" in proc.stderr


def coco_dataset(tmp_path: Path, folder: str) -> str:
    """An image in ``data/<folder>/`` and a COCO file listing it; the boxes section to use."""
    write_image(tmp_path / "data" / folder / "a.png")
    doc = {
        "images": [{"id": 1, "file_name": f"{folder}/a.png", "width": 16, "height": 12}],
        "annotations": [],
        "categories": [{"id": 1, "name": "thing"}],
    }
    (tmp_path / "coco.json").write_text(json.dumps(doc))
    return "  boxes: {format: coco, file: coco.json}\n"


def test_an_output_inside_the_coco_file_a_modality_declares_is_refused(tmp_path: Path) -> None:
    boxes = coco_dataset(tmp_path, "annotations.json")  # a folder named like the COCO output
    proc = run_augcli("expand", str(image_recipe(tmp_path, section=boxes)), "-q")
    assert proc.returncode == 2, proc.stderr
    assert "'annotations.json'" in proc.stderr and "whole dataset" in proc.stderr
    assert not (tmp_path / "out").exists()
    no_traceback(proc)


def test_a_coco_output_named_like_the_manifest_is_refused(tmp_path: Path) -> None:
    boxes = coco_dataset(tmp_path, "cls").replace("}", ", output: manifest.jsonl}")
    proc = run_augcli("validate", str(image_recipe(tmp_path, section=boxes)))
    assert proc.returncode == 2, proc.stderr
    assert "whole-dataset file 'manifest.jsonl'" in proc.stderr
    no_traceback(proc)
