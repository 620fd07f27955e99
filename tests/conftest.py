"""Shared fixtures: small deterministic images, a copy of the sample images, CLI runners and
the manifest reader."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_IMAGES = ROOT / "sample_data" / "images"


def textured(h: int, w: int, channels: int, dtype: type, seed: int = 0) -> np.ndarray:
    """A smooth gradient plus a little texture: structure for filters, varied values for colour ops."""
    rng = np.random.default_rng(seed)
    top = 255 if dtype == np.uint8 else 4000  # 16-bit test data is 12-bit, like most scans
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = []
    for c in range(channels):
        base = (0.5 + 0.4 * np.sin(xx / (5 + c) + yy / 7.0)) * top
        planes.append(base + rng.normal(0, top * 0.03, (h, w)))
    img = np.clip(np.stack(planes, axis=-1), 0, top).round().astype(dtype)
    if channels == 4:
        img[..., 3] = np.linspace(0, np.iinfo(dtype).max, w, dtype=np.float64).astype(dtype)
    return img[..., 0] if channels == 1 else img


def raster_polygon(flat, mask: np.ndarray, value: int) -> None:
    """Set the pixels of ``mask`` whose centre is inside the polygon ``flat`` ([x1, y1, ...],
    continuous coordinates: pixel i spans [i, i + 1)) to ``value`` (even-odd rule): a polygon's
    mask without the bias of drawing its outline."""
    pts = np.asarray(flat, float).reshape(-1, 2)
    yy, xx = np.mgrid[0 : mask.shape[0], 0 : mask.shape[1]] + 0.5
    inside = np.zeros(mask.shape, bool)
    for (x0, y0), (x1, y1) in zip(pts, np.roll(pts, -1, axis=0), strict=True):
        if y0 == y1:
            continue
        crosses = (yy >= min(y0, y1)) & (yy < max(y0, y1))
        x_at = x0 + (yy - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (xx < x_at)
    mask[inside] = value


def tree_digest(root: Path, skip: tuple[str, ...] = ("run.json",)) -> dict[str, str]:
    """Relative path -> sha256 for every file under ``root``."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if rel not in skip:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def images(tmp_path: Path) -> Path:
    """A writable copy of sample_data/images (class folders, 8- and 16-bit, gray/BGR/BGRA)."""
    dst = tmp_path / "data"
    shutil.copytree(SAMPLE_IMAGES, dst)
    return dst


def write_recipe(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def read_manifest(out: Path) -> list[dict]:
    """The records of ``out/manifest.jsonl``, in file order."""
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def run_augcli(*args: str, cwd: Path | None = None, **kw) -> subprocess.CompletedProcess[str]:
    """Run the real entry point in a subprocess (``python -m augcli``)."""
    return subprocess.run(
        [sys.executable, "-m", "augcli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        **kw,
    )


def start_expand(recipe: Path, *args: str) -> subprocess.Popen[str]:
    """``augcli expand RECIPE -q ARGS`` in the background, in its own session (to be killed)."""
    return subprocess.Popen(
        [sys.executable, "-m", "augcli", "expand", str(recipe), "-q", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for_lines(manifest: Path, n: int, proc: subprocess.Popen[str]) -> None:
    """Until ``manifest`` has ``n`` lines (fails if the run ends first, or after 60 s)."""
    deadline = time.time() + 60
    while time.time() < deadline:
        if manifest.is_file() and manifest.read_text().count("\n") >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be interrupted: {proc.stderr.read()}")
        time.sleep(0.005)
    pytest.fail("no progress")
