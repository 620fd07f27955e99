"""The generated op reference is up to date, and `augcli init` writes recipes that validate."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import ROOT, SAMPLE_IMAGES, run_augcli
from typer.testing import CliRunner

from augcli.cli import app
from augcli.opdocs import describe_ops, ops_markdown, ops_text
from augcli.recipe import load_recipe
from augcli.schema import recipe_schema

runner = CliRunner()


def test_ops_reference_is_current() -> None:
    result = runner.invoke(app, ["ops", "--markdown"])
    assert result.exit_code == 0, result.output
    committed = (ROOT / "docs" / "OPS.md").read_text(encoding="utf-8")
    assert committed == result.stdout, (
        "docs/OPS.md is stale: run `augcli ops --markdown > docs/OPS.md` and commit it"
    )


def test_ops_markdown_is_deterministic_and_complete() -> None:
    first = runner.invoke(app, ["ops", "--markdown"]).stdout
    assert first == runner.invoke(app, ["ops", "--markdown"]).stdout
    described = runner.invoke(app, ["ops", "--json"]).stdout
    import json

    for d in json.loads(described):
        assert f'<a id="{d["modality"]}-{d["name"]}"></a>\n\n### {d["name"]}\n' in first
    assert runner.invoke(app, ["ops", "--markdown", "--json"]).exit_code == 2


def test_opdocs_renders_the_reference_without_the_cli() -> None:
    committed = (ROOT / "docs" / "OPS.md").read_text(encoding="utf-8")
    assert ops_markdown(describe_ops()) == committed
    image = describe_ops("image")
    assert image and {d["modality"] for d in image} == {"image"}
    assert runner.invoke(app, ["ops", "--modality", "image"]).stdout == ops_text(image) + "\n"


@pytest.mark.parametrize(
    "modalities", [["image"], ["text"], ["audio"], ["volume"], ["image", "text", "audio"], []]
)
def test_init_recipe_loads_and_validates(tmp_path: Path, modalities: list[str]) -> None:
    args = ["init"] + [a for m in modalities for a in ("--modality", m)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (tmp_path / "input").mkdir()
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(result.stdout, encoding="utf-8")
    loaded = load_recipe(recipe)
    assert sorted(loaded.sections) == sorted(modalities or ["image"])
    jsonschema.validate(yaml.safe_load(result.stdout), recipe_schema())
    # every op line carries a comment
    for line in result.stdout.splitlines():
        if line.lstrip().startswith("- ") and not line.rstrip().endswith(":"):
            assert "#" in line, line


def test_init_output_writes_then_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "starter.yaml"
    assert runner.invoke(app, ["init", "-m", "audio", "--output", str(target)]).exit_code == 0
    written = target.read_text(encoding="utf-8")
    assert "audio:" in written and "augcli validate starter.yaml" in written
    result = runner.invoke(app, ["init", "--output", str(target)])
    assert result.exit_code == 2
    assert "already exists" in result.output
    assert target.read_text(encoding="utf-8") == written


def test_init_then_validate_in_an_empty_folder(tmp_path: Path) -> None:
    """A new user's first two commands: `augcli init -o recipe.yaml` makes the recipe and its
    empty input/ folder, so `augcli validate` passes at once (warning that there is nothing to
    augment yet), and counts the files put in input/<class>/ afterwards."""
    import shutil

    made = run_augcli("init", "-o", "recipe.yaml", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input", "recipe.yaml"]
    assert "input/" in made.stderr and "augcli validate recipe.yaml" in made.stderr
    checked = run_augcli("validate", "recipe.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "warning: no input files found in" in checked.stdout
    (tmp_path / "input" / "cats").mkdir()
    shutil.copy(SAMPLE_IMAGES / "scene" / "rocket.jpg", tmp_path / "input" / "cats")
    checked = run_augcli("validate", "recipe.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "class cats: 1 input files -> 3 output files" in checked.stdout
    again = run_augcli("init", "-o", "recipe.yaml", cwd=tmp_path)  # refused; input/ is kept
    assert again.returncode == 2 and (tmp_path / "input" / "cats" / "rocket.jpg").exists()


def test_init_printing_the_recipe_makes_nothing(tmp_path: Path) -> None:
    printed = run_augcli("init", cwd=tmp_path)
    assert printed.returncode == 0 and printed.stdout.startswith("# augcli starter recipe")
    assert list(tmp_path.iterdir()) == []


def test_init_rejects_unknown_modality() -> None:
    result = runner.invoke(app, ["init", "--modality", "video"])
    assert result.exit_code == 2
    assert "unknown modality" in result.output


def test_every_test_the_readme_names_exists() -> None:
    """The guarantees table names its tests (``tests/f.py::name``, then ``::name`` for more in
    the same file); each must be a test function of that file."""
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    named = []
    for row in text.splitlines():
        file = None
        for m in re.finditer(r"`(tests/[\w/]+\.py)?::(\w+)", row):
            file = m.group(1) or file
            named.append((file, m.group(2)))
    assert len(named) >= 10
    for file, name in named:
        assert file is not None, name
        source = (ROOT / file).read_text(encoding="utf-8")
        assert re.search(rf"^def {name}\(", source, re.M), f"{file}::{name}"
