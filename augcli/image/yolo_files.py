"""The YOLO dataset's own files, copied to the output beside the labels: ``classes.txt`` (the
class names, one a line, in the labels' folder) and ``data.yaml`` (Ultralytics' dataset file,
in the input folder); and which files of the input folder are side files an image section
reads (sidecars, these files, the COCO file), so ``validate`` does not call them ignored.

``classes.txt`` is copied byte for byte. ``data.yaml`` too, unless one of its top-level
``path``/``train``/``val``/``test`` is an absolute path inside the input folder: training on
the output would then read the input, so that line (and only it) is rewritten to the same place
in the output folder. Relative paths are kept: the output mirrors the input's tree."""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

from augcli.core.atomic import atomic_path
from augcli.core.errors import InputError, UsageError
from augcli.core.paths import side_file
from augcli.image.annotations import AnnotationConfig

CLASSES = "classes.txt"
DATA_FILES = ("data.yaml", "data.yml")
PATH_KEYS = ("path", "train", "val", "test")


def dataset_files(cfg: AnnotationConfig, input_root: Path) -> list[tuple[Path, str]]:
    """(input file, output path relative to the output folder) of each YOLO dataset file that
    is there: ``classes.txt`` in the labels' folder, ``data.yaml`` in the input folder. Called
    when the run is planned (so by ``validate``): a dataset file that is not a regular file, or
    a ``data.yaml`` that is not YAML, is a ``UsageError`` naming it."""
    boxes = cfg.boxes
    if boxes is None or boxes.format != "yolo":
        return []
    labels = boxes.dir or input_root
    candidates = [(labels, CLASSES), *((input_root, name) for name in DATA_FILES)]
    found = []
    try:
        for folder, name in candidates:
            if side_file(folder / name, folder) is not None:
                found.append((folder / name, name))
        for src, name in found:
            if name in DATA_FILES:
                _load(src)
    except InputError as exc:
        raise UsageError(f"{exc}. augcli copies it to the output; fix it or remove it") from None
    return found


def _load(src: Path) -> Any:
    """``data.yaml`` parsed (an InputError naming it when it is not YAML)."""
    import yaml

    try:
        return yaml.safe_load(src.read_bytes())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{src}:{mark.line + 1}" if mark is not None else str(src)
        what = getattr(exc, "problem", None) or type(exc).__name__
        raise InputError(f"{where}: is not valid YAML ({what})") from None
    except (UnicodeDecodeError, OSError) as exc:
        raise InputError(f"{src}: cannot be read as YAML ({exc})") from None


def copy_files(files: list[tuple[Path, str]], input_root: Path, output_root: Path) -> list[str]:
    """Copy each dataset file to its output path atomically (``data.yaml`` with absolute paths
    into the input rewritten); return the output paths."""
    written = []
    for src, rel in files:
        data = src.read_bytes()
        if rel in DATA_FILES:
            data = rewrite_paths(data, src, input_root, output_root)
        with atomic_path(output_root / rel, output_root) as tmp:
            tmp.write_bytes(data)
        written.append(rel)
    return written


def rewrite_paths(data: bytes, src: Path, input_root: Path, output_root: Path) -> bytes:
    """``data.yaml``'s bytes with each top-level absolute path into the input folder moved to
    the output folder; unchanged (the same bytes) when there is none."""
    doc = _load(src)
    if not isinstance(doc, dict):
        return data
    text = data.decode("utf-8")
    root = input_root.resolve()
    for key in PATH_KEYS:
        value = doc.get(key)
        if not isinstance(value, str) or not Path(value).is_absolute():
            continue
        target = Path(value).resolve()
        if not target.is_relative_to(root):
            continue
        moved = output_root / target.relative_to(root)
        line = re.compile(rf"^{key}[ \t]*:.*$", re.MULTILINE)
        text = line.sub(lambda _m, k=key, p=moved: f"{k}: {json.dumps(str(p))}", text, count=1)
    return text.encode("utf-8")


def is_side_file(
    cfg: AnnotationConfig, input_root: Path, relpath: str, images: tuple[str, ...]
) -> bool:
    """Whether ``relpath`` (a file no section took) is one the image section reads with its
    inputs: the COCO file, a YOLO dataset file, or a YOLO/VOC sidecar beside an image there
    (``images``: the image extensions). Sidecars in ``boxes.dir`` are never scanned."""
    boxes = cfg.boxes
    if boxes is None:
        return False
    path = input_root / relpath
    if boxes.format == "coco":
        return boxes.file is not None and path.resolve() == boxes.file
    rel = PurePosixPath(relpath)
    if boxes.format == "yolo" and rel.name in (CLASSES, *DATA_FILES):
        return path in {src for src, _ in dataset_files(cfg, input_root)}
    ext = ".txt" if boxes.format == "yolo" else ".xml"
    if boxes.dir is not None or rel.suffix.lower() != ext:
        return False
    exts = [*images, *(e.upper() for e in images)]
    return any((input_root / rel.with_suffix(e)).is_file() for e in exts)
