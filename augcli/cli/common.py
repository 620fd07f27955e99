"""What the commands share: the recipe argument and common options, the --version callback,
loading a recipe with option overrides, and turning an error into its message and exit code."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from augcli import __version__

if TYPE_CHECKING:
    from augcli.recipe import Recipe

RecipeArg = Annotated[Path, typer.Argument(help="The YAML recipe.", show_default=False)]
InputOpt = Annotated[Path | None, typer.Option(help="Input folder (overrides the recipe).")]
OutputOpt = Annotated[Path | None, typer.Option(help="Output folder (overrides the recipe).")]
SeedOpt = Annotated[Optional[int], typer.Option(help="Recipe seed (overrides the recipe).")]  # noqa: UP045
CopiesOpt = Annotated[int | None, typer.Option(help="Outputs per input per emitting node.")]
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Treat every dataset finding (leakage, imbalance, duplicates, an evaluation split "
        "augmented, mixed geometry, ...) as an error: exit 3, nothing written.",
    ),
]
AllowOpt = Annotated[
    Optional[list[str]],  # noqa: UP045 - typer needs Optional on 3.10
    typer.Option(
        "--allow",
        metavar="KIND",
        help="With --strict: a finding kind that does not fail (repeatable), e.g. --allow "
        "near_duplicates. The kinds are listed in the README (validate --json).",
    ),
]


def check_allowed(allow: list[str] | None) -> tuple[str, ...]:
    """The --allow kinds, each a known finding kind (else a usage error naming them)."""
    from augcli.core.errors import UsageError
    from augcli.core.findings import KINDS

    for kind in allow or ():
        if kind not in KINDS:
            raise UsageError(
                f"--allow {kind!r}: not a finding kind; the kinds are {', '.join(KINDS)}"
            )
    return tuple(allow or ())


def fail(exc: Exception, code: int = 2) -> typer.Exit:
    """Print ``augcli: error: <exc>`` to stderr; the Exit to raise with ``code``."""
    typer.echo(f"augcli: error: {exc}", err=True)
    return typer.Exit(code)


def load(recipe: Path, seed: int | None = None, copies: int | None = None) -> Recipe:
    """Load the recipe, with the --seed and --copies options (when given) overriding it."""
    from augcli.recipe import TOP_LEVEL, load_recipe

    r = load_recipe(recipe)
    if seed is not None:  # the recipe's own bounds: 0 to 2^63-1, 1 to 10,000 copies
        r.seed = TOP_LEVEL["seed"].validate(seed, "--seed option")
    if copies is not None:
        r.copies = TOP_LEVEL["copies"].validate(copies, "--copies option")
    return r


def _version(value: bool) -> None:
    if value:
        typer.echo(f"augcli {__version__}")
        raise typer.Exit()


def root(
    version: Annotated[
        Optional[bool],  # noqa: UP045 - typer needs Optional on 3.10
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
) -> None:
    """augcli: expand a dataset with image, text and audio augmentations from a YAML recipe."""
