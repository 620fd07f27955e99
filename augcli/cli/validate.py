"""`augcli validate`: check a recipe and print its graph and plan, writing nothing."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import typer

from augcli.cli.common import CopiesOpt, InputOpt, OutputOpt, RecipeArg, fail, load

if TYPE_CHECKING:
    from augcli.engine.plan import Job, Plan
    from augcli.recipe import Recipe


def validate(
    recipe: RecipeArg,
    input: InputOpt = None,
    output: OutputOpt = None,
    copies: CopiesOpt = None,
) -> None:
    """Check the recipe and print its graph and plan: inputs found, outputs it would write.
    Writes nothing."""
    from augcli.core.errors import AugcliError
    from augcli.engine.run import Options, prepare

    try:
        r = load(recipe, copies=copies)
        job, inputs, ignored, tasks = prepare(r, Options(input=input, output=output))
    except AugcliError as exc:
        raise fail(exc, exc.exit_code) from None
    out = [f"recipe: {recipe} (valid)", f"input:  {job.input_root}", f"output: {job.output_root}"]
    out += _plan_lines(r, job, tasks)
    for name, desc in r.resources().items():
        shown = desc.get("path") or desc.get("url")
        out.append(f"uses {name}: {shown} (fingerprint {desc['fingerprint'][:16]})")
    out.extend(job.notes)
    from augcli.engine.checks import dataset_warnings, parameter_warnings

    out.extend(dataset_warnings(inputs, job.input_root, job.modalities))
    out.extend(parameter_warnings(inputs, job.modalities, job.graphs, r.where))
    if not inputs:
        out.append(
            f"warning: no input files found in {job.input_root} for the sections "
            f"{', '.join(r.sections)} (check 'include' globs and extensions): expand would "
            "write nothing"
        )
    if ignored:
        out.append(f"ignored: {ignored} files that no section includes")
    typer.echo("\n".join(out))


def _plan_lines(r: Recipe, job: Job, tasks: Plan) -> list[str]:
    """Per section: inputs and output files, its graph, and the counts per class."""
    out = []
    for modality, section in r.sections.items():
        mine = [t for t in tasks if t.modality == modality]
        # A chunked record file is several tasks but one input and one output file.
        files = {t.source: t for t in mine}
        outputs = {(t.source, o.path) for t in mine for o in t.outputs}
        n_orig = sum(t.original is not None for t in files.values())
        spans = [tasks.spans[src] for src in files if src in tasks.spans]
        records = sum(stop - first for s in spans for first, stop in s)
        out.append(
            f"{modality}: {len(files)} input files"
            + (f" ({records} records in {len(spans)} record files)" if spans else "")
            + f" -> {len(outputs)} output files"
            + (f" (+{n_orig} originals)" if n_orig else "")
        )
        out.extend(f"  {line}" for line in section.graph.describe())
        per_class = Counter(t.label or "(no class)" for t in files.values())
        outs = Counter(files[src].label or "(no class)" for src, _ in outputs)
        modality_of = job.modalities[modality]
        for label in sorted(per_class):
            sources = [src for src, t in files.items() if (t.label or "(no class)") == label]
            detail = modality_of.class_detail(sources)
            out.append(
                f"  class {label}: {per_class[label]} input files"
                + (f" ({detail})" if detail else "")
                + f" -> {outs[label]} output files"
            )
        note = modality_of.plan_note
        if note:
            out.append(f"  ({note})")
    return out
