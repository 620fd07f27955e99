"""`augcli replay` re-renders outputs from the manifest's params, byte for byte."""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT, write_recipe
from typer.testing import CliRunner

from augcli.cli import app

runner = CliRunner()


def test_replay_reproduces_images_with_mixing_and_a_graph(tmp_path: Path, images: Path) -> None:
    recipe = write_recipe(
        tmp_path / "r.yaml",
        """\
input: data
output: out
copies: 2
image:
  exclude: ["medical/**"]
  graph:
    base: {ops: [hflip, {rotate: {degrees: [-20, 20]}}, {random_crop: {scale: [0.6, 1]}}]}
    mix: {after: base, ops: [{one_of: [mixup, cutmix]}, gaussian_noise]}
    plain: {after: base, ops: [{elastic: {alpha: 20, sigma: 5}}]}
""",
    )
    assert runner.invoke(app, ["expand", str(recipe), "-q"]).exit_code == 0
    result = runner.invoke(app, ["replay", str(recipe), "--to", str(tmp_path / "again")])
    assert result.exit_code == 0, result.output
    assert "0 differ" in result.output and "replayed 36 outputs" in result.output
    # a changed param is caught
    manifest = tmp_path / "out/manifest.jsonl"
    text = manifest.read_text()
    manifest.write_text(
        text.replace(
            '"op":"gaussian_noise","applied":true,"params":{"std":',
            '"op":"gaussian_noise","applied":true,"params":{"std":1',
            1,
        )
    )
    result = runner.invoke(app, ["replay", str(recipe), "--to", str(tmp_path / "third")])
    assert result.exit_code == 1 and "1 differ" in result.output


def test_replay_reproduces_audio_and_text_documents(tmp_path: Path) -> None:
    for config in ("audio", "text"):
        out = tmp_path / config
        base = ["--output", str(out)]
        assert (
            runner.invoke(
                app, ["expand", str(ROOT / f"configs/{config}.yaml"), "-q", *base]
            ).exit_code
            == 0
        )
        result = runner.invoke(
            app,
            [
                "replay",
                str(ROOT / f"configs/{config}.yaml"),
                *base,
                "--to",
                str(tmp_path / f"{config}-again"),
            ],
        )
        assert result.exit_code == 0, result.output
        assert " 0 differ" in result.output
    again = tmp_path / "text-again/clinical_notes.csv"
    assert again.read_bytes() == (tmp_path / "text/clinical_notes.csv").read_bytes()


def test_replay_refuses_to_write_into_the_run(tmp_path: Path, images: Path) -> None:
    recipe = write_recipe(
        tmp_path / "r.yaml", "input: data\noutput: out\nimage:\n  pipeline: [hflip]\n"
    )
    assert runner.invoke(app, ["expand", str(recipe), "-q"]).exit_code == 0
    result = runner.invoke(app, ["replay", str(recipe), "--to", str(tmp_path / "out/x")])
    assert result.exit_code == 2 and "inside the run's folder" in result.output
