"""`augcli schema`: print the recipe's JSON Schema for editors."""

from __future__ import annotations

import json

import typer


def schema() -> None:
    """Print a JSON Schema of the recipe (generated from the op registry) for editors.

    Save it (augcli schema > augcli.schema.json) and put
    '# yaml-language-server: $schema=augcli.schema.json' on a recipe's first line.
    """
    from augcli.schema import recipe_schema

    typer.echo(json.dumps(recipe_schema(), indent=1))
