"""Promises checked before any input is read: a recipe whose inputs this install cannot decode
fails `validate` exactly where `expand` would, with the file and the extra to install, exit 2,
and `expand` writes nothing. The CLI on the shipped configs, with pydicom made unimportable."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from conftest import ROOT, run_augcli

CONFIGS = sorted(p for p in (ROOT / "configs").glob("*.yaml") if p.name != "text_models.yaml")


def _without_pydicom(tmp_path: Path) -> dict[str, str]:
    shim = tmp_path / "shim"
    shim.mkdir(exist_ok=True)
    (shim / "sitecustomize.py").write_text(
        "import sys\n"
        "class _NoPydicom:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'pydicom':\n"
        "            raise ImportError(f'No module named {name!r}')\n"
        "sys.meta_path.insert(0, _NoPydicom())\n"
    )
    path = os.pathsep.join([str(shim), str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_validate_fails_exactly_where_expand_would_without_the_dicom_extra(
    tmp_path: Path, config: Path
) -> None:
    env = _without_pydicom(tmp_path)
    out = tmp_path / "out"
    checked = run_augcli("validate", str(config), "--output", str(out), env=env)
    ran = run_augcli("expand", str(config), "--output", str(out), "-q", env=env)
    assert "Traceback" not in checked.stderr + ran.stderr
    assert ran.returncode in (0, 2), f"expand failed inputs instead of refusing: {ran.stderr}"
    assert (checked.returncode == 2) == (ran.returncode == 2), (checked.stderr, ran.stderr)
    if ran.returncode == 2:
        for proc in (checked, ran):
            assert "is DICOM, which needs pydicom 3 or later" in proc.stderr
            assert "pip install 'augcli[dicom]'" in proc.stderr
        assert not out.exists(), "nothing may be written"


def test_the_shipped_dicom_configs_are_the_ones_refused(tmp_path: Path) -> None:
    env = _without_pydicom(tmp_path)
    refused = {c.name for c in CONFIGS if run_augcli("validate", str(c), env=env).returncode == 2}
    assert {"dicom.yaml", "graph.yaml"} <= refused
    assert "quickstart.yaml" not in refused


def test_a_missing_input_folder_says_what_its_relative_path_resolves_against(
    tmp_path: Path,
) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("version: 1\ninput: nowhere\noutput: out\nimage:\n  pipeline: [hflip]\n")
    from_recipe = run_augcli("validate", str(recipe))
    assert from_recipe.returncode == 2
    assert "relative paths resolve against the recipe's folder" in from_recipe.stderr
    from_option = run_augcli("validate", str(recipe), "--input", "elsewhere", cwd=tmp_path)
    assert from_option.returncode == 2
    assert "--input option" in from_option.stderr
    assert "relative paths resolve against the current folder" in from_option.stderr


def test_an_empty_input_folder_is_a_warning_in_validate(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    recipe = tmp_path / "r.yaml"
    recipe.write_text("version: 1\ninput: data\noutput: out\nimage:\n  pipeline: [hflip]\n")
    proc = run_augcli("validate", str(recipe))
    assert proc.returncode == 0, proc.stderr
    assert "warning: no input files found in" in proc.stdout
    assert "nothing would be written" in proc.stdout


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_endpoint_that_is_not_running_fails_validate_and_expand_in_seconds(
    tmp_path: Path,
) -> None:
    """configs/text_models.yaml against a port nothing listens on: one located error, exit 2,
    nothing written, in seconds (it used to run for minutes, then fail every record)."""
    import time

    config = ROOT / "configs" / "text_models.yaml"
    url = f"http://127.0.0.1:{_free_port()}/v1"
    recipe = config.with_name(f".preflight-{tmp_path.name}.yaml")  # beside it: relative paths
    recipe.write_text(config.read_text().replace("http://127.0.0.1:11434/v1", url))
    try:
        started = time.monotonic()
        checked = run_augcli("validate", str(recipe))
        ran = run_augcli("expand", str(recipe), "--output", str(tmp_path / "out"), "-q")
        assert time.monotonic() - started < 30
    finally:
        recipe.unlink()
    for proc in (checked, ran):
        assert proc.returncode == 2, proc.stderr
        assert "the endpoint does not answer" in proc.stderr
        assert ".base_url" in proc.stderr and url in proc.stderr
        assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def _answers_one_probe_then_goes_down() -> tuple[str, threading.Thread]:
    """A port that accepts one connection (the preflight's probe), then closes: every later
    connection is refused, as when a model server dies after the run started."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        conn.close()
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/v1", thread


def test_an_endpoint_that_goes_down_mid_run_stops_it_after_the_first_retries(
    tmp_path: Path,
) -> None:
    """The circuit breaker: the first task's requests find no server after their retries, and
    the run stops (exit 2, resumable) instead of failing every record after five attempts."""
    import time

    config = ROOT / "configs" / "text_models.yaml"
    url, probe = _answers_one_probe_then_goes_down()
    recipe = config.with_name(f".down-{tmp_path.name}.yaml")  # beside it: relative paths
    text = config.read_text().replace("http://127.0.0.1:11434/v1", url)
    recipe.write_text(text.replace("timeout: 60", "timeout: 60\n        backoff: 0.2"))
    out = tmp_path / "out"
    try:
        started = time.monotonic()
        ran = run_augcli("expand", str(recipe), "--output", str(out))
        took = time.monotonic() - started
    finally:
        recipe.unlink()
    probe.join(5)
    assert ran.returncode == 2, ran.stderr
    assert took < 30, f"took {took:.0f} s"
    assert "the model endpoint is down" in ran.stderr and "Connection refused" in ran.stderr
    assert "run the same command again to resume" in ran.stderr
    assert "Traceback" not in ran.stderr
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "interrupted"
    assert info["this_run"]["failed"] == 0, "no record may be failed for the server's absence"
