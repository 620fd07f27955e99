"""`augcli verify` catches a flipped byte, a missing file and a stray one."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from conftest import write_recipe
from typer.testing import CliRunner

from augcli.cli import app
from augcli.core.atomic import sha256_file

runner = CliRunner()


def test_verify_passes_then_catches_changes(tmp_path: Path, images: Path) -> None:
    recipe = write_recipe(
        tmp_path / "r.yaml",
        "input: data\noutput: out\ncopies: 2\nkeep_originals: true\nimage:\n  pipeline: [hflip, gaussian_noise]\n",
    )
    assert runner.invoke(app, ["expand", str(recipe), "-q"]).exit_code == 0
    out = tmp_path / "out"
    ok = runner.invoke(app, ["verify", str(out)])
    assert ok.exit_code == 0, ok.output
    assert "0 missing, 0 changed, 0 extra" in ok.output
    victim = out / "scene/astronaut__aug_0.jpg"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit
    victim.write_bytes(bytes(data))
    (out / "scene/rocket__aug_1.jpg").unlink()
    (out / "scene/stray.txt").write_text("not ours")
    bad = runner.invoke(app, ["verify", str(out)])
    assert bad.exit_code == 1
    assert "changed: scene/astronaut__aug_0.jpg" in bad.output
    assert "missing: scene/rocket__aug_1.jpg" in bad.output
    assert "extra: scene/stray.txt" in bad.output
    assert runner.invoke(app, ["verify", str(tmp_path)]).exit_code == 2


def _verify(out: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["verify", str(out)])
    return result.exit_code, result.output


def test_verify_checks_masks_and_yolo_sidecars_against_their_sha256(tmp_path: Path) -> None:
    from test_annotations_e2e import MASKS, box_dataset, make_dataset, write_yolo_sidecars

    make_dataset(tmp_path / "data")
    recipe = write_recipe(tmp_path / "m.yaml", MASKS.format(out="masks"))
    assert runner.invoke(app, ["expand", str(recipe), "-q"]).exit_code == 0
    code, said = _verify(tmp_path / "masks")
    assert code == 0 and "0 missing, 0 changed, 0 extra" in said, said
    line = json.loads((tmp_path / "masks/manifest.jsonl").read_text().splitlines()[0])
    mask = line["annotations"]["mask"]
    assert line["files"][mask] == sha256_file(tmp_path / "masks" / mask)
    cv2.imwrite(str(tmp_path / "masks" / mask), np.zeros((8, 8), np.uint8))  # a mask redrawn
    code, said = _verify(tmp_path / "masks")
    assert code == 1 and f"changed: {mask}" in said, said

    rows = box_dataset(tmp_path / "boxes")
    write_yolo_sidecars(tmp_path / "boxes", rows)
    text = "version: 1\ninput: boxes\noutput: yolo\ncopies: 2\nkeep_originals: true\nimage:\n"
    text += "  boxes: {format: yolo}\n  pipeline: [hflip]\n"
    assert (
        runner.invoke(app, ["expand", str(write_recipe(tmp_path / "y.yaml", text)), "-q"]).exit_code
        == 0
    )
    out = tmp_path / "yolo"
    assert _verify(out)[0] == 0
    with open(out / "cls0/im0__aug_0.txt", "a") as f:
        f.write("0 0.5 0.5 0.1 0.1\n")  # a box added
    (out / "cls0/im0.txt").unlink()  # the kept original's labels deleted
    code, said = _verify(out)
    assert code == 1, said
    assert "changed: cls0/im0__aug_0.txt" in said and "missing: cls0/im0.txt" in said


def test_verify_checks_the_coco_document_and_audio_sidecars(tmp_path: Path) -> None:
    from test_annotations_e2e import BOXES, box_dataset
    from test_audio_modality import RECIPE, dataset

    rows = box_dataset(tmp_path / "data")
    images = sorted({r[0] for r in rows})
    doc = {
        "images": [
            {"id": i + 1, "file_name": f, "width": 80, "height": 64} for i, f in enumerate(images)
        ],
        "annotations": [
            {
                "id": n + 1,
                "image_id": images.index(r[0]) + 1,
                "category_id": 1,
                "bbox": [r[1], r[2], r[3] - r[1], r[4] - r[2]],
                "area": 1.0,
                "iscrowd": 0,
            }
            for n, r in enumerate(rows)
        ],
        "categories": [{"id": 1, "name": "c1"}],
    }
    (tmp_path / "coco.json").write_text(json.dumps(doc))
    text = BOXES.format(boxes="{format: coco, file: coco.json}", op="vflip")
    assert (
        runner.invoke(app, ["expand", str(write_recipe(tmp_path / "c.yaml", text)), "-q"]).exit_code
        == 0
    )
    out = tmp_path / "out"
    assert _verify(out)[0] == 0
    coco = out / "annotations.json"
    coco.write_bytes(coco.read_bytes()[:-40])  # truncated
    code, said = _verify(out)
    assert code == 1 and "changed: annotations.json" in said, said
    coco.unlink()
    code, said = _verify(out)
    assert code == 1 and "missing: annotations.json" in said, said

    dataset(tmp_path / "sound")
    (tmp_path / "sound/cls/a.txt").write_text("hello there\n")
    recipe = RECIPE.format(out="heard", extra="").replace("input: data", "input: sound")
    assert (
        runner.invoke(
            app, ["expand", str(write_recipe(tmp_path / "a.yaml", recipe)), "-q"]
        ).exit_code
        == 0
    )
    assert _verify(tmp_path / "heard")[0] == 0
    (tmp_path / "heard/cls/a__aug_1.txt").write_text("hello their\n")  # a transcript edited
    code, said = _verify(tmp_path / "heard")
    assert code == 1 and "changed: cls/a__aug_1.txt" in said, said
