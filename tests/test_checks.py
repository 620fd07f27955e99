"""dataset_warnings: imbalance, exact and near duplicates, split-looking folders, leakage."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from augcli.engine.checks import dataset_warnings as _dataset_warnings
from augcli.engine.scan import InputFile
from augcli.image.similar import dhash
from augcli.modality import get_modality
from augcli.recipe import load_recipe
from augcli.text.similar import normalise_text
from tests.conftest import ROOT, run_augcli, textured, write_recipe


def dataset_warnings(inputs: list[InputFile], root: Path, **kw) -> list[str]:
    """The checks with default image and text sections (the modalities hash and compare)."""
    recipe = load_recipe(
        write_recipe(
            root.parent / f"{root.name}-recipe.yaml",
            f"version: 1\ninput: {root}\noutput: {root.parent / 'out'}\n"
            "image: {pipeline: [hflip]}\ntext: {pipeline: [random_swap]}\n",
        )
    )
    modalities = {}
    for name, section in recipe.sections.items():
        modalities[name] = get_modality(name)(section.settings)
        modalities[name].bind(root, root.parent / "out")
    return [str(f) for f in _dataset_warnings(inputs, root, modalities, **kw)]


def _inputs(root: Path) -> list[InputFile]:
    out = []
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        rel = p.relative_to(root).as_posix()
        modality = "text" if p.suffix in (".jsonl", ".csv", ".tsv", ".txt") else "image"
        label = None if "/" not in rel else p.parent.name
        out.append(InputFile(rel, modality, label))
    return out


def _img(seed: int, h: int = 48, w: int = 64) -> np.ndarray:
    """Distinct images: random blocks, so their difference hashes are far apart."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (8, 9, 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def _write(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def _only(warnings: list[str], needle: str) -> str:
    hits = [w for w in warnings if needle in w]
    assert len(hits) == 1, warnings
    return hits[0]


def test_clean_dataset_has_no_warnings(tmp_path: Path) -> None:
    for k in range(3):
        _write(tmp_path / "train" / "cat" / f"c{k}.png", _img(k))
        _write(tmp_path / "train" / "dog" / f"d{k}.png", _img(100 + k))
    (tmp_path / "notes.jsonl").write_text(
        "\n".join(json.dumps({"text": t}) for t in ("One sentence.", "Another one!")) + "\n"
    )
    warnings = dataset_warnings(_inputs(tmp_path), tmp_path)
    assert warnings == []


def test_class_imbalance(tmp_path: Path) -> None:
    for k in range(7):
        _write(tmp_path / "cat" / f"c{k}.png", _img(k))
    for k in range(2):
        _write(tmp_path / "dog" / f"d{k}.png", _img(100 + k))
    _write(tmp_path / "fox" / "f0.png", _img(200))
    _write(tmp_path / "fox" / "f1.png", _img(201))
    _write(tmp_path / "fox" / "f2.png", _img(202))
    warnings = dataset_warnings(_inputs(tmp_path), tmp_path)
    line = _only(warnings, "class imbalance")
    assert line.startswith("warning: image: ")
    assert "'cat' has 7 inputs" in line and "'dog' has 2" in line
    assert "balance: match_largest" in line
    # 7 <= 3.5 * 2: no warning at a higher threshold
    assert dataset_warnings(_inputs(tmp_path), tmp_path, imbalance_ratio=3.5) == []


def test_single_class_is_not_imbalanced(tmp_path: Path) -> None:
    for k in range(5):
        _write(tmp_path / "cat" / f"c{k}.png", _img(k))
    assert dataset_warnings(_inputs(tmp_path), tmp_path) == []


def test_exact_and_near_duplicate_images(tmp_path: Path) -> None:
    base = textured(64, 80, 3, np.uint8, seed=3)
    _write(tmp_path / "a" / "orig.png", base)
    _copy(tmp_path / "a" / "orig.png", tmp_path / "b" / "copy.png")
    bright = np.clip(base.astype(np.int16) + 6, 0, 255).astype(np.uint8)
    _write(tmp_path / "b" / "bright.png", bright)
    _write(tmp_path / "a" / "other.png", _img(9, 64, 80))
    _write(tmp_path / "b" / "other2.png", _img(10, 64, 80))
    (tmp_path / "a" / "broken.png").write_bytes(b"not an image")
    warnings = dataset_warnings(_inputs(tmp_path), tmp_path)
    assert all(w.startswith("warning: ") for w in warnings)

    exact = _only(warnings, "exact duplicate")
    assert "1 group(s)" in exact and "a/orig.png, b/copy.png" in exact
    assert "bright" not in exact

    near = _only(warnings, "near-duplicate images")
    # bright matches orig and copy, but orig ~ copy is an exact duplicate, not listed here
    assert "2 pair(s)" in near
    assert "a/orig.png ~ b/bright.png" in near
    assert "b/bright.png ~ b/copy.png" in near
    assert "a/orig.png ~ b/copy.png" not in near
    assert "other" not in near and "broken" not in near


def test_dhash_of_16_bit_uses_its_own_range() -> None:
    img8 = textured(40, 50, 1, np.uint8, seed=1)
    img16 = img8.astype(np.uint16) * 10 + 1000
    assert dhash(img8) == dhash(img16)
    assert dhash(img8) != dhash(img8[:, ::-1].copy())


def test_near_duplicate_text_records(tmp_path: Path) -> None:
    rows = [
        {"text": "The patient is stable."},
        {"text": "Something else entirely."},
        {"text": "the  PATIENT is stable"},
    ]
    (tmp_path / "notes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "more.csv").write_text('id,text\n1,"The patient, is stable!"\n2,unique row\n')
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    warnings = dataset_warnings(_inputs(tmp_path), tmp_path)
    line = _only(warnings, "duplicate records")
    assert line.startswith("warning: text: 1 group(s)")
    assert "more.csv:2, notes.jsonl:1, notes.jsonl:3" in line
    assert "bad.jsonl" not in line
    assert normalise_text("  Hello,\tWORLD!! ") == "hello world"


def test_split_folders_and_leakage(tmp_path: Path) -> None:
    for k in range(2):
        _write(tmp_path / "train" / "cat" / f"c{k}.png", _img(k))
        _write(tmp_path / "train" / "dog" / f"d{k}.png", _img(10 + k))
        _write(tmp_path / "test" / "cat" / f"t{k}.png", _img(20 + k))
    _copy(tmp_path / "train" / "dog" / "d1.png", tmp_path / "test" / "dog" / "leak.png")
    warnings = dataset_warnings(_inputs(tmp_path), tmp_path)

    split = _only(warnings, "evaluation split")
    assert "test/ (3 inputs)" in split and "splits: [train]" in split
    assert "train/" not in split

    leak = _only(warnings, "leakage")
    assert "1 file(s)" in leak and "train/dog/d1.png = test/dog/leak.png" in leak
    exact = _only(warnings, "exact duplicate")
    assert warnings == [exact, split, leak]  # fixed order


def test_near_duplicate_check_is_capped(tmp_path: Path, monkeypatch) -> None:
    import augcli.image.similar as similar

    monkeypatch.setattr(similar, "MAX_NEAR_DUP_IMAGES", 3)
    for k in range(4):
        _write(tmp_path / f"i{k}.png", _img(k))
    warnings = dataset_warnings(_inputs(tmp_path), tmp_path)
    assert warnings == [
        "warning: image: near-duplicate check skipped: 4 images, more than 3 "
        "(exact duplicates were still checked)"
    ]


def _tiff_with_a_broken_page_chain(path: Path) -> None:
    """A TIFF whose first page decodes but whose next-directory offset points past the end:
    libtiff prints errors on stderr while OpenCV still returns the page."""
    import struct

    ok, buf = cv2.imencode(".tif", _img(7))
    assert ok
    data = bytearray(buf.tobytes())
    ifd = struct.unpack("<I", data[4:8])[0]
    entries = struct.unpack("<H", data[ifd : ifd + 2])[0]
    nxt = ifd + 2 + 12 * entries
    data[nxt : nxt + 4] = struct.pack("<I", len(data) + 100_000)
    path.write_bytes(bytes(data))


def test_validate_never_prints_the_decoders_raw_lines(tmp_path: Path, images: Path) -> None:
    """Decoder chatter during validate's image checks becomes a warning naming the file: a
    TIFF libtiff complains about, and a DICOM named .tif (its preamble says TIFF) which must
    not reach libtiff at all; a .dcm beside them goes through the DICOM reader."""
    _tiff_with_a_broken_page_chain(images / "scene" / "broken_chain.tif")
    shutil.copy(ROOT / "sample_data" / "dicom" / "CT_small.dcm", images / "medical" / "dual.tif")
    shutil.copy(ROOT / "sample_data" / "dicom" / "CT_small.dcm", images / "medical" / "ct.dcm")
    recipe = write_recipe(
        tmp_path / "r.yaml",
        f"version: 1\ninput: {images}\noutput: out\nimage: {{pipeline: [hflip]}}\n",
    )
    proc = run_augcli("validate", str(recipe))
    assert proc.returncode == 0, proc.stderr
    assert "TIFF" not in proc.stderr and "ERROR" not in proc.stderr, proc.stderr
    lines = proc.stdout.splitlines()
    noted = [line for line in lines if "decoder reported errors" in line]
    assert len(noted) == 1 and "scene/broken_chain.tif (" in noted[0], proc.stdout
    failed = [line for line in lines if "cannot be decoded" in line]
    assert len(failed) == 1 and "medical/dual.tif (is a DICOM file" in failed[0], proc.stdout
    assert "rename it to .dcm" in failed[0] and "ct.dcm" not in failed[0]
    if importlib.util.find_spec("pydicom") is not None:  # read by pydicom: the PNG's twin
        assert "medical/ct.dcm ~ medical/ct_small_u16.png (0 bits)" in proc.stdout
