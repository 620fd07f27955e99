"""YOLO's dataset files end to end: `classes.txt` and `data.yaml` copied to the output (a
data.yaml path into the input moved to the output), recorded in run.json, and label files not
reported as "ignored" by `validate`."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from conftest import textured, write_recipe
from typer.testing import CliRunner

from augcli.cli import app

runner = CliRunner()

RECIPE = """\
version: 1
seed: 3
input: data
output: out
copies: 1
keep_originals: true
image:
  boxes: {boxes}
  pipeline: [hflip]
"""
CLASSES = b"person\r\ndog\r\ncat\r\n"  # CRLF and all: copied byte for byte


def yolo_dataset(root: Path, labels: Path | None = None) -> None:
    """Two images in a class folder with YOLO sidecars (beside them, or under ``labels``)."""
    labels = labels or root
    for k in range(2):
        (root / "cls").mkdir(parents=True, exist_ok=True)
        (labels / "cls").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / f"cls/im{k}.png"), textured(32, 40, 3, np.uint8, k))
        (labels / f"cls/im{k}.txt").write_text(f"{k} 0.5 0.5 0.25 0.5\n")
    (labels / "classes.txt").write_bytes(CLASSES)


def validate(tmp: Path, boxes: str) -> str:
    result = runner.invoke(
        app, ["validate", str(write_recipe(tmp / "r.yaml", RECIPE.format(boxes=boxes)))]
    )
    assert result.exit_code == 0, result.output
    return result.output


def expand(tmp: Path, boxes: str) -> dict:
    recipe = write_recipe(tmp / "r.yaml", RECIPE.format(boxes=boxes))
    result = runner.invoke(app, ["expand", str(recipe), "-q"])
    assert result.exit_code == 0, result.output
    return json.loads((tmp / "out/run.json").read_text())


def test_classes_and_data_yaml_are_copied_and_recorded(tmp_path: Path) -> None:
    yolo_dataset(tmp_path / "data")
    data_yaml = b"# my set\ntrain: cls  # relative: the output mirrors the input\nval: cls\nnames:\n  0: person\n"
    (tmp_path / "data/data.yaml").write_bytes(data_yaml)
    run = expand(tmp_path, "{format: yolo, classes: 3}")
    assert (tmp_path / "out/classes.txt").read_bytes() == CLASSES
    assert (tmp_path / "out/data.yaml").read_bytes() == data_yaml
    assert {"classes.txt", "data.yaml"} <= set(run["files"])
    assert (tmp_path / "out/cls/im0__aug_0.txt").is_file()  # the sidecars as before


def test_validate_does_not_call_label_files_ignored(tmp_path: Path) -> None:
    yolo_dataset(tmp_path / "data")
    (tmp_path / "data/data.yaml").write_text("train: cls\nnames: {0: person}\n")
    out = validate(tmp_path, "{format: yolo}")
    assert "ignored" not in out, out
    (tmp_path / "data/notes.md").write_text("not a label")  # really ignored: still said
    (tmp_path / "data/cls/orphan.txt").write_text("0 0.5 0.5 0.1 0.1\n")  # no image of that name
    out = validate(tmp_path, "{format: yolo}")
    assert "ignored: 2 files that no section includes" in out, out


def test_a_data_yaml_path_into_the_input_is_moved_to_the_output(tmp_path: Path) -> None:
    yolo_dataset(tmp_path / "data")
    data = tmp_path / "data"
    (data / "data.yaml").write_text(
        f"path: {data.resolve()}  # absolute\ntrain: {data.resolve() / 'cls'}\nval: cls\n"
        "test: /elsewhere/test\nnames: {0: person}\n"
    )
    expand(tmp_path, "{format: yolo}")
    lines = (tmp_path / "out/data.yaml").read_text().splitlines()
    out = (tmp_path / "out").resolve()
    assert lines == [
        f"path: {json.dumps(str(out))}",
        f"train: {json.dumps(str(out / 'cls'))}",
        "val: cls",
        "test: /elsewhere/test",  # not the input's: kept
        "names: {0: person}",
    ]


def test_classes_txt_in_a_labels_folder_is_copied_beside_the_output_labels(
    tmp_path: Path,
) -> None:
    yolo_dataset(tmp_path / "data", labels=tmp_path / "data/labels")
    out = validate(tmp_path, "{format: yolo, dir: data/labels}")
    assert "ignored" not in out, out
    run = expand(tmp_path, "{format: yolo, dir: data/labels}")
    assert (tmp_path / "out/classes.txt").read_bytes() == CLASSES
    assert "classes.txt" in run["files"] and not (tmp_path / "out/labels").exists()


def test_voc_sidecars_are_not_ignored_either(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "cls").mkdir(parents=True)
    cv2.imwrite(str(data / "cls/a.png"), textured(32, 40, 3, np.uint8, 0))
    (data / "cls/a.xml").write_text(
        "<annotation><size><width>40</width><height>32</height><depth>3</depth></size>"
        "<object><name>dog</name><bndbox><xmin>5</xmin><ymin>5</ymin><xmax>20</xmax>"
        "<ymax>20</ymax></bndbox></object></annotation>"
    )
    assert "ignored" not in validate(tmp_path, "{format: voc}")


def test_a_data_yaml_that_is_not_yaml_is_refused_before_any_work(tmp_path: Path) -> None:
    yolo_dataset(tmp_path / "data")
    (tmp_path / "data/data.yaml").write_text("names: [person\n")
    recipe = write_recipe(tmp_path / "r.yaml", RECIPE.format(boxes="{format: yolo}"))
    for command in ("validate", "expand"):
        result = runner.invoke(app, [command, str(recipe)])
        assert result.exit_code == 2, result.output
        assert "data.yaml:2: is not valid YAML" in result.output and "remove it" in result.output
    assert not (tmp_path / "out").exists()
