"""Faults in workers never stop or hang a run: a worker that crashes, a task that overruns its
time, a stop signal. The CLI on crafted inputs, as a user meets them."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile as sf
from conftest import run_augcli, write_recipe

from augcli.engine.executor import died
from augcli.engine.run import Terminated, _stop_signals


def _lines(out: Path) -> dict[str, dict]:
    rows = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    return {r["output"] or r["source"]: r for r in rows}


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_worker_that_crashes_fails_only_its_input(tmp_path: Path, workers: str) -> None:
    """The stretch library segfaults on a WAV sampled at 4 Hz: that input fails with the signal,
    the other is written, the run completes (exit 1), and nothing is left half-done."""
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    sf.write(data / "tiny.wav", rng.normal(0, 0.1, 64).astype("float32"), 4)
    sf.write(data / "ok.wav", rng.normal(0, 0.1, 8000).astype("float32"), 8000)
    sf.write(data / "zz.wav", rng.normal(0, 0.1, 8000).astype("float32"), 8000)  # sent behind it
    recipe = write_recipe(
        tmp_path / "r.yaml",
        "version: 1\ninput: data\noutput: out\naudio:\n  pipeline: [{time_stretch: {rate: 1.2}}]\n",
    )
    proc = run_augcli("expand", str(recipe), "--workers", workers)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = _lines(tmp_path / "out")
    assert lines["tiny.wav"]["status"] == "failed"
    assert lines["tiny.wav"]["error"].startswith("worker died: SIGSEGV")
    assert lines["ok__aug_0.wav"]["status"] == "ok"
    assert lines["zz__aug_0.wav"]["status"] == "ok", "the task queued behind it was redone"
    info = json.loads((tmp_path / "out" / "run.json").read_text())
    assert info["status"] == "complete" and info["this_run"]["failed"] == 1
    assert not [p for p in (tmp_path / "out").rglob("*") if ".augcli-tmp-" in p.name]


def test_a_task_over_its_time_is_stopped_and_the_run_goes_on(tmp_path: Path) -> None:
    """A 16-bit median of size 99 on a 2000² image takes seconds; task_timeout: 0.3 stops it."""
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    cv2.imwrite(str(data / "big.png"), rng.integers(0, 65535, (2000, 2000), dtype=np.uint16))
    cv2.imwrite(str(data / "small.png"), rng.integers(0, 255, (16, 16), dtype=np.uint8))
    recipe = write_recipe(
        tmp_path / "r.yaml",
        "version: 1\ninput: data\noutput: out\ntask_timeout: 0.3\n"
        "image:\n  pipeline: [{median_blur: {size: 99}}]\n",
    )
    proc = run_augcli("expand", str(recipe), "--workers", "1")
    assert proc.returncode == 1, proc.stderr
    lines = _lines(tmp_path / "out")
    assert lines["big.png"]["error"] == (
        "timed out after 0.3 s (task_timeout); its worker was stopped"
    )
    assert lines["small__aug_0.png"]["status"] == "ok"


def test_task_timeout_is_checked_with_the_recipe(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    recipe = write_recipe(
        tmp_path / "r.yaml",
        "version: 1\ninput: data\noutput: out\ntask_timeout: -1\nimage:\n  pipeline: [hflip]\n",
    )
    proc = run_augcli("validate", str(recipe))
    assert proc.returncode == 2
    assert "task_timeout" in proc.stderr and "null for no limit" in proc.stderr


def test_why_a_worker_died_names_the_signal() -> None:
    assert died(-signal.SIGKILL) == (
        "worker died: SIGKILL (possibly out of memory) while making this input's outputs"
    )
    assert died(-signal.SIGSEGV).startswith("worker died: SIGSEGV while")
    assert died(3) == "worker died: exit code 3 while making this input's outputs"


def test_sigterm_stops_like_ctrl_c_and_a_second_signal_is_the_default() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for signum, raised in ((signal.SIGTERM, Terminated), (signal.SIGINT, KeyboardInterrupt)):
        with _stop_signals():
            with pytest.raises(raised):
                os.kill(os.getpid(), signum)
            # after the first signal, a second one ends the process at once
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
            assert signal.getsignal(signal.SIGINT) is signal.SIG_DFL
        assert {s: signal.getsignal(s) for s in before} == before


def _images(data: Path, names: list[str]) -> None:
    data.mkdir()
    rng = np.random.default_rng(1)
    for name in names:
        cv2.imwrite(str(data / name), rng.integers(0, 255, (24, 24, 3), dtype=np.uint8))


def test_an_output_folder_that_cannot_be_written_is_found_before_any_work(
    tmp_path: Path,
) -> None:
    """sysfs refuses new entries even to root: the probe write fails, exit 2, with the path."""
    _images(tmp_path / "data", ["a.png"])
    recipe = write_recipe(
        tmp_path / "r.yaml", "version: 1\ninput: data\noutput: out\nimage:\n  pipeline: [hflip]\n"
    )
    target = Path("/sys/augcli-test-output")
    if not Path("/sys").is_dir() or target.exists():
        pytest.skip("needs a sysfs at /sys")
    proc = run_augcli("expand", str(recipe), "--output", str(target))
    assert proc.returncode == 2, proc.stderr
    assert f"cannot write to the output folder {target}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_full_disk_stops_the_run_cleanly_and_a_later_run_resumes(tmp_path: Path) -> None:
    """The disk fills while c.png's output is written (injected in every process through
    sitecustomize): the run stops with exit 2, a consistent manifest of what is done, no
    partial files, run.json 'interrupted', and the inputs after it are not marked failed."""
    _images(tmp_path / "data", ["a.png", "b.png", "c.png", "d.png", "e.png"])
    recipe = write_recipe(
        tmp_path / "r.yaml", "version: 1\ninput: data\noutput: out\nimage:\n  pipeline: [hflip]\n"
    )
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import errno, os\n"
        "_replace = os.replace\n"
        "def replace(src, dst, *a, **k):\n"
        "    if os.path.basename(str(dst)).startswith('c__'):\n"
        "        raise OSError(errno.ENOSPC, 'No space left on device')\n"
        "    return _replace(src, dst, *a, **k)\n"
        "os.replace = replace\n"
    )
    env = {**os.environ, "PYTHONPATH": str(hook)}
    proc = run_augcli("expand", str(recipe), "--workers", "1", env=env)
    assert proc.returncode == 2, proc.stderr
    assert "No space left on device" in proc.stderr and "c.png" in proc.stderr
    assert "Traceback" not in proc.stderr
    out = tmp_path / "out"
    lines = _lines(out)
    assert set(lines) == {"a__aug_0.png", "b__aug_0.png"}
    assert all(r["status"] == "ok" for r in lines.values())
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    assert not [p for p in out.rglob("*") if ".augcli-tmp-" in p.name]
    again = run_augcli("expand", str(recipe), "--workers", "2")
    assert again.returncode == 0, again.stderr
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "complete" and info["this_run"]["already_done"] == 2
    assert len(_lines(out)) == 5


def test_validate_reports_an_input_it_cannot_read(tmp_path: Path) -> None:
    _images(tmp_path / "data", ["a.png"])
    (tmp_path / "data" / "gone.png").symlink_to(tmp_path / "data" / "missing.png")
    recipe = write_recipe(
        tmp_path / "r.yaml", "version: 1\ninput: data\noutput: out\nimage:\n  pipeline: [hflip]\n"
    )
    proc = run_augcli("validate", str(recipe))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "gone.png" in proc.stdout + proc.stderr


def test_preview_to_a_folder_that_cannot_be_written_is_a_usage_error(tmp_path: Path) -> None:
    _images(tmp_path / "data", ["a.png"])
    recipe = write_recipe(
        tmp_path / "r.yaml", "version: 1\ninput: data\noutput: out\nimage:\n  pipeline: [hflip]\n"
    )
    proc = run_augcli("preview", str(recipe), "--output", "/proc/augcli-no-such/sheet.png")
    assert proc.returncode == 2, proc.stderr
    assert "cannot write the preview at /proc/augcli-no-such/sheet.png" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_unexpected_error_is_one_line_and_exit_70(tmp_path: Path) -> None:
    """A bug no check foresaw (injected: planning raises) reaches the user as one line, no trace."""
    _images(tmp_path / "data", ["a.png"])
    recipe = write_recipe(
        tmp_path / "r.yaml", "version: 1\ninput: data\noutput: out\nimage:\n  pipeline: [hflip]\n"
    )
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import augcli.engine.plan as plan\n"
        "def broken(*a, **k):\n"
        "    raise RuntimeError('injected')\n"
        "plan.plan = broken\n"
        "import augcli.engine.run as run\n"
        "run.plan = broken\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "AUGCLI_TRACEBACK"}
    proc = run_augcli("validate", str(recipe), env={**env, "PYTHONPATH": str(hook)})
    assert proc.returncode == 70, proc.stderr
    assert "augcli: internal error: RuntimeError: injected" in proc.stderr
    assert "Traceback" not in proc.stderr
