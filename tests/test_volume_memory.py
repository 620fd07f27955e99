"""Worker counts bounded by memory for large volumes, and what `validate` says about cases and
their label maps per class."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_augcli, write_recipe
from volumes import blob_volume, write_case

pytest.importorskip("nibabel")
pytest.importorskip("SimpleITK")

from augcli.modality import get_modality
from augcli.recipe import load_recipe
from augcli.volume import memory


def _data(tmp_path: Path, shapes: list[tuple[int, int, int]]) -> Path:
    """Cases ``ct/case<i>.nii.gz`` with their label maps, ``shapes`` in (x, y, z)."""
    data = tmp_path / "in"
    for i, shape in enumerate(shapes):
        vol = blob_volume(shape_zyx=shape[::-1], spacing=(1.0, 1.0, 2.0), radius_mm=3.0)
        write_case(vol, data / "ct", f"case{i}")
    return data


def _recipe(tmp_path: Path, data: Path, extra: str = "") -> Path:
    return write_recipe(
        tmp_path / "r.yaml",
        f"version: 1\nworkers: 4\ninput: {data}\noutput: {tmp_path / 'out'}\ncopies: 1\n"
        f"volume:\n  labels: {{suffix: _seg}}\n{extra}  pipeline:\n"
        "    - gaussian_noise: {std: 5}\n",
    )


def _section(recipe: Path, data: Path):  # the bound volume modality and its graph
    section = load_recipe(recipe).sections["volume"]
    modality = get_modality("volume")(section.settings)
    modality.bind(data, data.parent / "out")
    return modality, section.graph


def test_the_worker_limit_follows_the_largest_case_and_the_memory(tmp_path, monkeypatch) -> None:
    data = _data(tmp_path, [(16, 20, 8), (40, 30, 10), (24, 24, 12)])
    modality, graph = _section(_recipe(tmp_path, data), data)
    cases = sorted(p.relative_to(data).as_posix() for p in data.glob("ct/case?.nii.gz"))
    per_worker = 40 * 30 * 10 * memory.PEAK_BYTES_PER_VOXEL + memory.PROCESS_BYTES
    # room for exactly three workers at their peak, after the headroom
    monkeypatch.setattr(memory, "available_memory", lambda: int(3.5 * per_worker / 0.8))
    limit, why = modality.worker_limit(graph, cases)
    assert limit == 3
    assert "ct/case1.nii.gz (40x30x10)" in why and "at most 3 workers" in why
    monkeypatch.setattr(memory, "available_memory", lambda: per_worker // 2)
    limit, why = modality.worker_limit(graph, cases)
    assert limit == 1 and why.startswith("warning:") and "may still not fit" in why
    monkeypatch.setattr(memory, "available_memory", lambda: None)
    assert modality.worker_limit(graph, cases) is None, "unknown memory: no limit guessed"


def test_cases_over_max_voxels_do_not_count_they_are_never_loaded(tmp_path, monkeypatch) -> None:
    data = _data(tmp_path, [(16, 16, 8), (64, 64, 16)])
    recipe = _recipe(tmp_path, data, "  max_voxels: 5000\n")
    modality, graph = _section(recipe, data)
    monkeypatch.setattr(memory, "available_memory", lambda: 2**40)
    _, why = modality.worker_limit(graph, ["ct/case0.nii.gz", "ct/case1.nii.gz"])
    assert "ct/case0.nii.gz (16x16x8)" in why


def test_validate_says_the_limit_max_workers_sets(tmp_path: Path) -> None:
    data = _data(tmp_path, [(16, 16, 8)])
    proc = run_augcli("validate", str(_recipe(tmp_path, data, "  max_workers: 1\n")))
    assert proc.returncode == 0, proc.stderr
    assert "volume: volume.max_workers: 1" in proc.stdout
    unlimited = run_augcli("validate", str(_recipe(tmp_path, data, "  max_workers: 8\n")))
    assert "max_workers" not in unlimited.stdout, "a limit above the workers is not news"
    bad = run_augcli("validate", str(_recipe(tmp_path, data, "  max_workers: 0\n")))
    assert bad.returncode == 2 and "volume.max_workers" in bad.stderr


def test_validate_counts_cases_with_and_without_label_maps(tmp_path: Path) -> None:
    data = _data(tmp_path, [(16, 16, 8), (16, 16, 8), (16, 16, 8)])
    (data / "ct" / "case2_seg.nii.gz").unlink()
    proc = run_augcli("validate", str(_recipe(tmp_path, data)))
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if "class ct" in x)
    assert "3 input files (2 with a label map, 1 without (expand fails it))" in line
