"""`augcli validate`: check a recipe and print its graph and plan, writing nothing; with
``--strict`` a CI gate (exit 3 on any dataset finding), with ``--json`` the same as data."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from augcli.cli.common import (
    AllowOpt,
    CopiesOpt,
    InputOpt,
    OutputOpt,
    RecipeArg,
    StrictOpt,
    check_allowed,
    fail,
    load,
)
from augcli.plan_schema import NAME

if TYPE_CHECKING:
    from augcli.engine.plan import Job, Plan
    from augcli.recipe import Recipe


def validate(
    recipe: RecipeArg,
    input: InputOpt = None,
    output: OutputOpt = None,
    copies: CopiesOpt = None,
    strict: StrictOpt = False,
    allow: AllowOpt = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the plan and every finding as one JSON document on stdout (schema "
            "augcli.validate/1: augcli schema --of validate); messages go to stderr.",
        ),
    ] = False,
) -> None:
    """Check the recipe and print its graph and plan: inputs found, outputs it would write,
    and what the dataset checks found. Writes nothing.

    Exit codes: 0 valid, 2 recipe or usage error, 3 with --strict: the checks found problems
    (each a 'warning:' line; --allow KIND accepts a kind).
    """
    from augcli.core.errors import AugcliError
    from augcli.engine.checks import all_findings, strict_failures
    from augcli.engine.run import Options, prepare

    try:
        allowed = check_allowed(allow)
        r = load(recipe, copies=copies)
        job, inputs, ignored, tasks = prepare(r, Options(input=input, output=output))
    except AugcliError as exc:
        if as_json:
            typer.echo(json.dumps(_error_doc(recipe, exc), indent=1))
        raise fail(exc, exc.exit_code) from None
    findings = all_findings(r, job, inputs, tasks.held_out, tasks.groups)
    refused = strict_failures(findings, allowed) if strict else []
    doc = _document(recipe, r, job, tasks, ignored)
    doc["findings"] = [f.as_json() for f in findings]
    if strict:
        doc["strict"] = {"allowed": list(allowed), "refused": len(refused)}
    if as_json:
        typer.echo(json.dumps(doc, indent=1))
    else:
        typer.echo("\n".join([*_text(doc), *(str(f) for f in findings), *_ignored(ignored)]))
    if refused:
        kinds = ", ".join(sorted({f.kind for f in refused}))
        typer.echo(
            f"augcli: error: --strict: {len(refused)} finding(s) of kind {kinds}; fix the "
            f"inputs or the recipe, or accept a kind with --allow KIND",
            err=True,
        )
        raise typer.Exit(3)


def _document(path: Path, r: Recipe, job: Job, tasks: Plan, ignored: int) -> dict[str, Any]:
    """The plan as data: what ``--json`` prints and the text is made from."""
    resources = {
        name: {"at": desc.get("path") or desc.get("url"), "fingerprint": desc["fingerprint"]}
        for name, desc in r.resources().items()
    }
    return {
        "schema": NAME,
        "recipe": str(path),
        "valid": True,
        "input": str(job.input_root),
        "output": str(job.output_root),
        "sections": {m: _section(m, s.graph, job, tasks) for m, s in r.sections.items()},
        "resources": resources,
        "notes": list(job.notes),
        "ignored": ignored,
    }


def _section(modality: str, graph: Any, job: Job, tasks: Plan) -> dict[str, Any]:
    """One section: inputs and output files, its graph, and the counts per class."""
    mine = [t for t in tasks if t.modality == modality]
    files = {t.source: t for t in mine}  # a chunked record file: several tasks, one input
    outputs = {(t.source, o.path) for t in mine for o in t.outputs}
    spans = [tasks.spans[src] for src in files if src in tasks.spans]
    handler = job.modalities[modality]
    per_class = Counter(t.label or "(no class)" for t in files.values())
    outs = Counter(files[src].label or "(no class)" for src, _ in outputs)
    classes = {}
    for label in sorted(per_class):
        sources = [src for src, t in files.items() if (t.label or "(no class)") == label]
        detail = handler.class_detail(sources)
        classes[label] = {
            "inputs": per_class[label],
            "outputs": outs[label],
            "detail": detail or None,
        }
    return {
        "inputs": len(files),
        "outputs": len(outputs),
        "originals": sum(t.original is not None for t in files.values()),
        "records": sum(stop - first for s in spans for first, stop in s) if spans else None,
        "record_files": len(spans) if spans else None,
        "graph": graph.as_json(),
        "graph_lines": graph.describe(),
        "classes": classes,
        "note": handler.plan_note or None,
    }


def _text(doc: dict[str, Any]) -> list[str]:
    """The plan as a person reads it."""
    out = [f"recipe: {doc['recipe']} (valid)", f"input:  {doc['input']}"]
    out.append(f"output: {doc['output']}")
    for modality, s in doc["sections"].items():
        records = (
            f" ({s['records']} records in {s['record_files']} record files)"
            if s["records"] is not None
            else ""
        )
        originals = f" (+{s['originals']} originals)" if s["originals"] else ""
        out.append(
            f"{modality}: {s['inputs']} input files{records} -> {s['outputs']} output files"
            + originals
        )
        out.extend(f"  {line}" for line in s["graph_lines"])
        for label, c in s["classes"].items():
            detail = f" ({c['detail']})" if c["detail"] else ""
            out.append(
                f"  class {label}: {c['inputs']} input files{detail} -> {c['outputs']} output files"
            )
        if s["note"]:
            out.append(f"  ({s['note']})")
    for name, res in doc["resources"].items():
        out.append(f"uses {name}: {res['at']} (fingerprint {res['fingerprint'][:16]})")
    return [*out, *doc["notes"]]


def _ignored(ignored: int) -> list[str]:
    return [f"ignored: {ignored} files that no section includes"] if ignored else []


def _error_doc(path: Path, exc: Exception) -> dict[str, Any]:
    """``--json`` for a recipe that does not load or plan: the error, as data."""
    code = getattr(exc, "exit_code", 2)
    return {
        "schema": NAME,
        "recipe": str(path),
        "valid": False,
        "error": str(exc),
        "exit_code": code,
    }
