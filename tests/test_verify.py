"""`augcli verify` catches a flipped byte, a missing file and a stray one."""

from __future__ import annotations

from pathlib import Path

from conftest import write_recipe
from typer.testing import CliRunner

from augcli.cli import app

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
