"""`augcli schema`: print the recipe's JSON Schema for editors, or `validate --json`'s."""

from __future__ import annotations

import json
from typing import Annotated

import typer


def schema(
    of: Annotated[
        str,
        typer.Option(
            "--of",
            metavar="WHAT",
            help="recipe (default): the recipe's schema; validate: the schema of the document "
            "`augcli validate --json` prints.",
        ),
    ] = "recipe",
) -> None:
    """Print a JSON Schema of the recipe (generated from the op registry) for editors.

    Save it (augcli schema > augcli.schema.json) and put
    '# yaml-language-server: $schema=augcli.schema.json' on a recipe's first line.
    `--of validate` prints the schema a CI step can check `validate --json` against.
    """
    if of == "validate":
        from augcli.plan_schema import validate_schema

        typer.echo(json.dumps(validate_schema(), indent=1))
        return
    if of != "recipe":
        typer.echo(f"augcli: error: --of {of!r}: use recipe or validate", err=True)
        raise typer.Exit(2)
    from augcli.schema import recipe_schema

    typer.echo(json.dumps(recipe_schema(), indent=1))
