"""``augcli preview``: what ``expand`` would write for a few inputs per class, shown per section
by the renderer its modality names (``Modality.preview``, see ``augcli.preview_kit``): sheets
first (the first at ``--output``, others at ``<stem>-<modality>.png``), then pages beside them
(``<stem>.html``). Nothing is written near the dataset."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from augcli.core.errors import UsageError
from augcli.engine.checks import parameter_warnings
from augcli.engine.plan import Job, output_name
from augcli.engine.run import Options, prepare
from augcli.modality import get_modality
from augcli.preview_kit import SHEET, Renderer, Request
from augcli.recipe import Recipe

DEFAULT_OUTPUT = "augcli-preview.png"


@dataclass
class PreviewOptions:
    n: int = 4
    per_class: int = 2
    output: Path | None = None  # the sheet; default ./augcli-preview.png
    draw_annotations: bool = False
    input: Path | None = None


def _quiet(_msg: str) -> None:
    pass


def renderer(modality: Any) -> Renderer | None:
    """The preview renderer module a modality (class or handler) names, or None."""
    name = getattr(modality, "preview", None)
    return cast(Renderer, importlib.import_module(name)) if name else None


def check_destination(path: Path, job: Job) -> Path:
    """The sheet's path, resolved; never inside the input or output folder, and a .png."""
    out = path.expanduser().resolve()
    for root, what in ((job.output_root, "output"), (job.input_root, "input")):
        if out == root or out.is_relative_to(root):
            raise UsageError(
                f"--output: the preview sheet {out} would be inside the recipe's {what} folder "
                f"{root}; a preview is written nowhere near the dataset. Pass --output with a "
                "path elsewhere, e.g. --output /tmp/preview.png"
            )
    if out.suffix.lower() != ".png":
        raise UsageError(f"--output: the preview sheet is a PNG; got {path}. Name it '*.png'")
    if out.is_dir():
        raise UsageError(f"--output: {path} is a folder; give the sheet's file name")
    return out


def requests_for(
    recipe: Recipe, opts: PreviewOptions, log: Callable[[str], None] = _quiet
) -> dict[str, Request]:
    """Plan as ``expand`` does; per section with a preview, in the order they are written, what
    to show and where (checked: nothing is written yet)."""
    suffixes = {}
    for name in recipe.sections:
        found = renderer(get_modality(name))
        if found is not None:
            suffixes[name] = found.SUFFIX
    if not suffixes:
        raise UsageError(f"preview shows sections with a preview, and {recipe.file} has none")
    job, inputs, _ignored, tasks = prepare(recipe, Options(input=opts.input))
    dest = check_destination(opts.output or Path(DEFAULT_OUTPUT), job)
    shown = [i for i in inputs if i.modality in suffixes]
    for line in parameter_warnings(shown, job.modalities, job.graphs, recipe.where):
        log(f"augcli: {line}")
    requests: dict[str, Request] = {}
    taken: set[str] = set()
    for name in sorted(suffixes, key=lambda m: suffixes[m] != SHEET):  # sheets first
        suffix = suffixes[name]
        path = dest if suffix == SHEET else dest.with_suffix(suffix)
        if suffix in taken:
            path = dest.with_name(f"{dest.stem}-{name}{suffix}")
        taken.add(suffix)
        requests[name] = Request(
            name,
            job,
            [t for t in tasks if t.modality == name],
            path,
            recipe.file.name,
            output_name,
            opts.n,
            opts.per_class,
            opts.draw_annotations,
            log,
        )
    return requests


def preview_all(
    recipe: Recipe,
    opts: PreviewOptions,
    log: Callable[[str], None] = _quiet,
    echo: Callable[[str], None] = _quiet,
) -> tuple[list[Path], list[str]]:
    """Preview every section the recipe has (see ``requests_for``); text a renderer prints
    goes to ``echo``. Returns the files written and the outputs that failed."""
    written: list[Path] = []
    failed: list[str] = []
    for req in requests_for(recipe, opts, log).values():
        try:
            shown = cast(Renderer, renderer(req.handler)).preview(req)
        except OSError as exc:  # the destination, not an input (inputs fail per tile)
            raise UsageError(
                f"--output: cannot write the preview at {req.dest}: {exc.strerror or exc}. "
                "Pass --output with a path in a folder you can write, e.g. /tmp/preview.png"
            ) from None
        if shown.text is not None:
            echo(shown.text)
        written += shown.written
        failed += shown.failed
    return written, failed
