"""`augcli expand`: run the recipe and write the augmented dataset."""

from __future__ import annotations

from typing import Annotated

import typer

from augcli.cli.common import (
    AllowOpt,
    CopiesOpt,
    InputOpt,
    OutputOpt,
    RecipeArg,
    SeedOpt,
    StrictOpt,
    check_allowed,
    fail,
    load,
)


def expand(
    recipe: RecipeArg,
    input: InputOpt = None,
    output: OutputOpt = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Worker processes (default: recipe, else one per CPU)."),
    ] = None,
    seed: SeedOpt = None,
    copies: CopiesOpt = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace the outputs of a run made with another recipe.")
    ] = False,
    fail_fast: Annotated[bool, typer.Option(help="Stop at the first failed input.")] = False,
    executor: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Where tasks run: local (process pools on this machine; one worker runs in "
            "this process), serial (this process) or dask (a Dask cluster: pip install "
            "'augcli[dask]'). Default: the recipe's executor:, else local.",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            metavar="ADDRESS",
            help="With --executor dask: the Dask scheduler to use, e.g. tcp://host:8786 "
            "(default: the recipe's scheduler:, else DASK_SCHEDULER_ADDRESS, else a cluster "
            "of --workers processes started on this machine).",
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")
    ] = False,
    strict: StrictOpt = False,
    allow: AllowOpt = None,
) -> None:
    """Expand the dataset: write augmented copies and a manifest to the output folder.

    Exit codes: 0 all done, 1 some inputs failed (see the manifest), 2 recipe or usage error,
    3 with --strict: the dataset checks found problems (nothing written), 130 interrupted (run
    again to resume).
    """
    from augcli.cli.console import ConsoleReporter
    from augcli.core.errors import AugcliError
    from augcli.engine.run import Options
    from augcli.engine.run import expand as run_expand

    reporter = ConsoleReporter(quiet)
    try:
        opts = Options(input, output, workers, overwrite, fail_fast, executor, scheduler)
        opts.strict, opts.allow = strict, check_allowed(allow)
        result = run_expand(load(recipe, seed, copies), opts, reporter)
    except AugcliError as exc:
        raise fail(exc, exc.exit_code) from None
    reporter.summary(result)
    raise typer.Exit(result.exit_code)
