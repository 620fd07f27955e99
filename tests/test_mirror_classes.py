"""``mirror_classes``: an output its ops mirror as a whole goes to the paired class (folder,
label, a ``__mirrored`` name), recorded with the class it came from and where it was planned;
a resume, ``verify`` and ``replay`` follow it; two flips (a half turn) move nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import read_manifest, run_augcli, tree_digest, write_recipe

from augcli.core.errors import RecipeError
from augcli.modality import MIRROR_CLASSES


def png(path: Path, seed: int) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.random.default_rng(seed).integers(0, 255, (20, 30), dtype=np.uint8)
    assert cv2.imwrite(str(path), img)


def recipe(
    tmp_path: Path, data: Path, pipeline: str, section: str = "image", extra: str = ""
) -> Path:
    return write_recipe(
        tmp_path / "r.yaml",
        f"input: {data}\noutput: {tmp_path / 'out'}\ncopies: 1\n{section}:\n"
        f"  mirror_classes: {{left: right}}\n{extra}  pipeline:\n{pipeline}",
    )


def dataset(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    png(data / "left" / "x.png", 1)
    png(data / "right" / "x.png", 2)  # the same name in the partner class
    png(data / "other" / "y.png", 3)
    return data


def test_a_mirrored_output_moves_to_the_paired_class_both_ways(tmp_path: Path) -> None:
    import cv2

    data = dataset(tmp_path)
    r = recipe(tmp_path, data, "    - hflip: {}\n")
    proc = run_augcli("expand", str(r))
    assert proc.returncode == 0, proc.stderr
    lines = {line["source"]: line for line in read_manifest(tmp_path / "out")}
    moved = lines["left/x.png"]
    assert moved["output"] == "right/x__aug_0__mirrored.png" and moved["label"] == "right"
    assert moved["mirrored_from"] == "left" and moved["planned"] == "left/x__aug_0.png"
    assert lines["right/x.png"]["output"] == "left/x__aug_0__mirrored.png"
    assert lines["other/y.png"]["output"] == "other/y__aug_0.png"  # no partner: stays
    assert "mirrored_from" not in lines["other/y.png"]
    src = cv2.imread(str(data / "left" / "x.png"), cv2.IMREAD_UNCHANGED)
    out = cv2.imread(str(tmp_path / "out" / moved["output"]), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(out, src[:, ::-1])
    again = run_augcli("expand", str(r))
    assert "3 already done" in again.stderr, again.stderr
    assert run_augcli("verify", str(tmp_path / "out")).returncode == 0
    rep = run_augcli("replay", str(r), "--to", str(tmp_path / "rep"))
    assert "3 byte-identical, 0 differ" in rep.stdout, rep.stdout + rep.stderr
    assert (tmp_path / "rep" / "right" / "x__aug_0__mirrored.png").is_file()


def test_two_flips_are_a_half_turn_and_move_nothing(tmp_path: Path) -> None:
    data = dataset(tmp_path)
    r = recipe(tmp_path, data, "    - hflip: {}\n    - vflip: {}\n")
    assert run_augcli("expand", str(r)).returncode == 0
    outputs = {line["source"]: line["output"] for line in read_manifest(tmp_path / "out")}
    assert outputs["left/x.png"] == "left/x__aug_0.png"


def test_an_unpaired_or_unmirrored_run_is_byte_identical_to_one_without_the_setting(
    tmp_path: Path,
) -> None:
    data = dataset(tmp_path)
    plain = write_recipe(
        tmp_path / "p.yaml",
        f"input: {data}\noutput: {tmp_path / 'plain'}\ncopies: 1\nimage:\n  pipeline:\n"
        "    - rotate: {degrees: [-10, 10]}\n",
    )
    assert run_augcli("expand", str(plain)).returncode == 0
    assert (
        run_augcli(
            "expand", str(recipe(tmp_path, data, "    - rotate: {degrees: [-10, 10]}\n"))
        ).returncode
        == 0
    )
    drop = ("run.json", "manifest.jsonl", ".augcli/sources.json")
    assert tree_digest(tmp_path / "plain", drop) == tree_digest(tmp_path / "out", drop)


def test_a_volume_flipped_left_right_moves_with_its_label_map(tmp_path: Path) -> None:
    pytest.importorskip("SimpleITK")
    from volumes import blob_volume, write_case

    data = tmp_path / "data"
    vol = blob_volume(shape_zyx=(8, 24, 24), centre_offset_mm=(4.0, 0.0, 0.0))  # off centre
    write_case(vol, data / "left", "case1")
    r = recipe(
        tmp_path,
        data,
        "    - flip: {axes: [x], p: 1}\n",
        section="volume",
        extra="  labels: {suffix: _seg}\n",
    )
    proc = run_augcli("expand", str(r))
    assert proc.returncode == 0, proc.stderr
    (line,) = read_manifest(tmp_path / "out")
    assert line["output"] == "right/case1__aug_0__mirrored.nii.gz" and line["label"] == "right"
    assert line["label_map"] == "right/case1__aug_0__mirrored_seg.nii.gz"
    assert run_augcli("verify", str(tmp_path / "out")).returncode == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"left": "left"}, "pairs two different class names"),
        ({"left": "right", "up": "right"}, "is paired twice"),
        (["left", "right"], "must be a mapping of class -> class"),
        ({"left": 3}, "pairs two different class names"),
    ],
)
def test_bad_pairs_are_refused_with_where_and_fix(value, message: str) -> None:
    with pytest.raises(RecipeError, match=message) as err:
        MIRROR_CLASSES.validate(value, "image.mirror_classes")
    assert err.value.path.startswith("image.mirror_classes") and err.value.fix
    assert MIRROR_CLASSES.validate({"a": "b"}, "x") == {"a": "b", "b": "a"}
