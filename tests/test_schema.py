"""`augcli schema` accepts every shipped recipe and rejects broken ones."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import ROOT
from typer.testing import CliRunner

from augcli.cli import app


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_config_validates(validator, path: Path) -> None:
    errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize(
    "doc",
    [
        {"input": "d", "output": "o", "image": {"pipeline": [{"rotat": {"degrees": 5}}]}},
        {"input": "d", "output": "o", "image": {"pipeline": [{"rotate": {"degree": 5}}]}},
        {"input": "d", "output": "o", "image": {"pipeline": [{"hflip": {"p": 1.5}}]}},
        {"input": "d", "output": "o", "copis": 3, "image": {"pipeline": ["hflip"]}},
        {"input": "d", "output": "o", "text": {"pipeline": ["rotate"]}},
        {"input": "d", "output": "o", "image": {"pipeline": ["hflip"], "graph": {}}},
        {"input": "d", "output": "o"},
        {"input": "d", "output": "o", "image": {"pipeline": [{"rotate": {"border_mode": "wrap"}}]}},
        {"input": "d", "output": "o", "image": {"pipeline": [{"rand_augment": {"ops": "x"}}]}},
        {"input": "d", "output": "o", "image": {"pipeline": [{"trivial_augment": {"n": 2}}]}},
        {"input": "d", "output": "o", "audio": {"pipeline": [{"colored_noise": {"color": []}}]}},
        {"input": "d", "output": "o", "audio": {"pipeline": [{"colored_noise": {"color": ["x"]}}]}},
    ],
)
def test_broken_recipes_are_rejected(validator, doc: dict) -> None:
    assert list(validator.iter_errors(doc))


def test_policies_validate(validator) -> None:
    steps = [
        "trivial_augment",
        {"rand_augment": {"n": 2, "magnitude": 9, "ops": "medical", "p": 0.8}},
        {"rand_augment": {"ops": ["rotate", "blur"]}},
        {"trivial_augment": None},
        {"augmix": {"width": 2, "depth": [1, 3], "alpha": 0.5, "ops": ["blur", "gamma"]}},
    ]
    doc = {"input": "d", "output": "o", "image": {"pipeline": steps}}
    assert not [e.message for e in validator.iter_errors(doc)]


def test_a_list_of_choices_validates(validator) -> None:
    steps = [{"colored_noise": {"color": ["pink", "brown"]}}, {"colored_noise": {"color": "blue"}}]
    doc = {"input": "d", "output": "o", "audio": {"pipeline": steps}}
    assert not [e.message for e in validator.iter_errors(doc)]
