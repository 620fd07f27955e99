"""The typer app: parses options, maps errors to messages and exit codes. Imports nothing heavy."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from augcli import __version__

app = typer.Typer(
    name="augcli",
    help="Grow a small image, text or audio dataset from one YAML recipe, reproducibly.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

RecipeArg = Annotated[Path, typer.Argument(help="The YAML recipe.", show_default=False)]


def _fail(exc: Exception, code: int = 2) -> typer.Exit:
    typer.echo(f"augcli: error: {exc}", err=True)
    return typer.Exit(code)


def _load(recipe: Path, seed: int | None = None, copies: int | None = None) -> Any:
    from augcli.core.errors import RecipeError
    from augcli.recipe import load_recipe

    r = load_recipe(recipe)
    if seed is not None:
        if seed < 0:
            raise RecipeError("must be 0 or more", path="--seed option", value=seed)
        r.seed = seed
    if copies is not None:
        if copies < 1:
            raise RecipeError("must be 1 or more", path="--copies option", value=copies)
        r.copies = copies
    return r


def _version(value: bool) -> None:
    if value:
        typer.echo(f"augcli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        Optional[bool],  # noqa: UP045 - typer needs Optional on 3.10
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
) -> None:
    """augcli: expand a dataset with image, text and audio augmentations from a YAML recipe."""


@app.command()
def expand(
    recipe: RecipeArg,
    input: Annotated[Path | None, typer.Option(help="Input folder (overrides the recipe).")] = None,
    output: Annotated[
        Path | None, typer.Option(help="Output folder (overrides the recipe).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Worker processes (default: recipe, else one per CPU)."),
    ] = None,
    seed: Annotated[Optional[int], typer.Option(help="Recipe seed (overrides the recipe).")] = None,  # noqa: UP045
    copies: Annotated[int | None, typer.Option(help="Outputs per input per emitting node.")] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace the outputs of a run made with another recipe.")
    ] = False,
    fail_fast: Annotated[bool, typer.Option(help="Stop at the first failed input.")] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")
    ] = False,
) -> None:
    """Expand the dataset: write augmented copies and a manifest to the output folder.

    Exit codes: 0 all done, 1 some inputs failed (see the manifest), 2 recipe or usage error,
    130 interrupted (run again to resume).
    """
    from augcli.console import ConsoleReporter
    from augcli.core.errors import AugcliError
    from augcli.engine.run import Options
    from augcli.engine.run import expand as run_expand

    reporter = ConsoleReporter(quiet)
    try:
        r = _load(recipe, seed, copies)
        result = run_expand(r, Options(input, output, workers, overwrite, fail_fast), reporter)
    except AugcliError as exc:
        raise _fail(exc, exc.exit_code) from None
    reporter.summary(result)
    raise typer.Exit(result.exit_code)


@app.command()
def validate(
    recipe: RecipeArg,
    input: Annotated[Path | None, typer.Option(help="Input folder (overrides the recipe).")] = None,
    output: Annotated[
        Path | None, typer.Option(help="Output folder (overrides the recipe).")
    ] = None,
    copies: Annotated[int | None, typer.Option(help="Outputs per input per emitting node.")] = None,
) -> None:
    """Check the recipe and print its graph and plan: inputs found, outputs it would write.
    Writes nothing."""
    from augcli.core.errors import AugcliError
    from augcli.engine.run import Options, prepare

    try:
        r = _load(recipe, copies=copies)
        job, inputs, ignored, tasks = prepare(r, Options(input=input, output=output))
    except AugcliError as exc:
        raise _fail(exc, exc.exit_code) from None
    out = [f"recipe: {recipe} (valid)", f"input:  {job.input_root}", f"output: {job.output_root}"]
    for modality, section in r.sections.items():
        mine = [t for t in tasks if t.modality == modality]
        # A chunked record file is several tasks but one input and one output file.
        files = {t.source: t for t in mine}
        outputs = {(t.source, o.path) for t in mine for o in t.outputs}
        n_orig = sum(t.original is not None for t in files.values())
        out.append(
            f"{modality}: {len(files)} inputs -> {len(outputs)} output files"
            + (f" (+{n_orig} originals)" if n_orig else "")
        )
        out.extend(f"  {line}" for line in section.graph.describe())
        per_class = Counter(t.label or "(no class)" for t in files.values())
        outs = Counter(files[src].label or "(no class)" for src, _ in outputs)
        for label in sorted(per_class):
            out.append(f"  class {label}: {per_class[label]} inputs -> {outs[label]} output files")
        if any(t.chunk for t in mine) or modality == "text":
            out.append("  (a record file is one output file holding its augmented records)")
    for name, desc in r.resources().items():
        shown = desc.get("path") or desc.get("url")
        out.append(f"uses {name}: {shown} (fingerprint {desc['fingerprint'][:16]})")
    out.extend(job.notes)
    from augcli.engine.checks import dataset_warnings

    out.extend(dataset_warnings(inputs, job.input_root, job.modalities))
    if ignored:
        out.append(f"ignored: {ignored} files that no section includes")
    typer.echo("\n".join(out))


@app.command()
def preview(
    recipe: RecipeArg,
    n: Annotated[
        int,
        typer.Option(
            "-n",
            "--augmented",
            min=1,
            help="Augmented versions per input: copies 0..N-1 (a graph cycles through its "
            "emitting nodes).",
        ),
    ] = 4,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            help="The PNG contact sheet (default: ./augcli-preview.png); never inside the "
            "recipe's input or output folder.",
        ),
    ] = None,
    per_class: Annotated[
        int, typer.Option(min=1, help="Inputs shown per class: the first K by path.")
    ] = 2,
    draw_annotations: Annotated[
        bool,
        typer.Option(
            "--draw-annotations",
            help="Draw boxes, keypoints and masks as they would be written (needs masks: or "
            "boxes: in the image section).",
        ),
    ] = False,
    input: Annotated[Path | None, typer.Option(help="Input folder (overrides the recipe).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Recipe seed (overrides the recipe).")] = None,  # noqa: UP045
) -> None:
    """Render a contact sheet of the image section: per class, the first K inputs, each with
    the N augmented versions expand would write for it, captioned with the ops that fired.
    An audio section gets a sheet of waveforms and spectrograms, with the clips in a folder
    beside it; a text section an HTML page (and plain text here) with changed words marked.
    Writes only these, and prints their paths.

    Exit codes: 0 written, 1 written with failed outputs (red tiles), 2 recipe/usage error.
    """
    from augcli.core.errors import AugcliError
    from augcli.preview import PreviewOptions, preview_all

    def log(msg: str) -> None:
        typer.echo(msg, err=True)

    try:
        r = _load(recipe, seed)
        opts = PreviewOptions(n, per_class, output, draw_annotations, input)
        paths, failed = preview_all(r, opts, log, typer.echo)
    except AugcliError as exc:
        raise _fail(exc, exc.exit_code) from None
    for line in failed[:10]:
        log(f"augcli: failed: {line}")
    if len(failed) > 10:
        log(f"augcli: ... and {len(failed) - 10} more failures (shown on the sheet)")
    for path in paths:
        typer.echo(str(path))
    raise typer.Exit(1 if failed else 0)


@app.command()
def ops(
    modality: Annotated[str | None, typer.Option(help="Only this modality (image, ...).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    markdown: Annotated[
        bool,
        typer.Option(
            "--markdown", help="The Markdown op reference (augcli ops --markdown > docs/OPS.md)."
        ),
    ] = False,
) -> None:
    """List every op with its parameters, defaults, ranges and units."""
    from augcli.ops import modalities, registry

    names = modalities()
    if modality is not None and modality not in names:
        typer.echo(
            f"augcli: error: --modality: unknown modality {modality!r}. "
            f"Use one of: {', '.join(names)}.",
            err=True,
        )
        raise typer.Exit(2)
    described = [
        cls.describe() for m in names if modality in (None, m) for cls in registry(m).values()
    ]
    if as_json and markdown:
        typer.echo("augcli: error: use --json or --markdown, not both.", err=True)
        raise typer.Exit(2)
    if as_json:
        typer.echo(json.dumps(described, indent=2))
        return
    if markdown:
        typer.echo(_ops_markdown(described), nl=False)
        return
    lines = [
        "Every op takes p (probability, default 1). A sampled parameter takes a fixed value",
        "or a [lo, hi] range, drawn per output. Combinators: one_of (ops, weights, p),",
        "some_of (ops, n, p).",
        "",
    ]
    for d in described:
        lines.append(f"{d['modality']}/{d['name']}  [{d['group']}]  {d['summary']}")
        if d["details"]:
            lines.append(f"    {d['details']}")
        takes = []
        if "dtypes" in d and d["dtypes"] != ["uint8", "uint16"]:
            takes.append(" and ".join(d["dtypes"]) + " only")
        if "channels" in d and d["channels"] != [1, 3, 4]:
            takes.append(f"{'/'.join(map(str, d['channels']))}-channel images only")
        if takes:
            lines.append(f"    takes: {'; '.join(takes)} (other files fail with a clear error)")
        if d.get("changes"):
            lines.append(f"    may change: {', '.join(d['changes'])}")
        for pname, spec in d["params"].items():
            if pname == "p":
                continue
            bits = [spec["kind"]]
            if "range" in spec:
                bits.append(f"in {spec['range']}" + ("" if spec["sampled"] else ", fixed"))
            if "choices" in spec:
                bits.append("one of " + "|".join(spec["choices"]))
            if "unit" in spec:
                bits.append(spec["unit"])
            default = "required" if spec["required"] else json.dumps(spec["default"])
            lines.append(f"    {pname} = {default}  ({'; '.join(bits)}) {spec['help']}")
        lines.append("")
    typer.echo("\n".join(lines).rstrip())


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _ops_markdown(described: list[dict[str, Any]]) -> str:
    """The op reference, docs/OPS.md: a section per modality, a heading and table per op."""
    out = [
        "# augcli op reference",
        "",
        "<!-- Generated by `augcli ops --markdown`; do not edit by hand. After changing an op,",
        "     run `augcli ops --markdown > docs/OPS.md` (tests/test_docs.py checks it). -->",
        "",
        "The rules, the same for every op:",
        "",
        "- Every op takes `p` (default 1, in [0, 1]): the probability that it fires for an output.",
        "  It is left out of the tables below.",
        "- A parameter marked *value or [lo, hi]* takes a fixed value or a `[lo, hi]` range, drawn",
        "  uniformly per output (whole numbers for `int`). One marked *fixed* takes a value only.",
        "- Combinators: `one_of` (`ops`, `weights`, `p`) applies exactly one of its ops; `some_of`",
        "  (`ops`, `n`, `p`) applies `n` distinct ones in the order listed.",
        "",
    ]
    by_modality: dict[str, list[dict[str, Any]]] = {}
    for d in described:
        by_modality.setdefault(d["modality"], []).append(d)
    out.append("Modalities: " + ", ".join(f"[{m}](#{m})" for m in by_modality) + ".")
    out.append("")
    for m, ops in by_modality.items():
        out += [f"## {m}", ""]
        out.append(", ".join(f"[`{d['name']}`](#{m}-{d['name']})" for d in ops))
        out.append("")
        for d in ops:
            out += [f'<a id="{m}-{d["name"]}"></a>', "", f"### {d['name']}", ""]
            out += [f"*{m} · {d['group']}*", "", d["summary"], ""]
            if d["details"]:
                out += [d["details"], ""]
            facts = []
            if "channels" in d:
                chans = "/".join(map(str, d["channels"]))
                facts.append(
                    f"**Takes:** {chans}-channel images, {' and '.join(d['dtypes'])}; other "
                    "images fail with a clear error."
                )
            if "keeps_size" in d:
                facts.append("**Size:** " + ("kept." if d["keeps_size"] else "may change."))
            if "changes" in d:
                kept = [k for k in ("duration", "rate", "channels") if k not in d["changes"]]
                if d["changes"]:
                    facts.append(f"**May change:** {', '.join(d['changes'])}.")
                if kept:
                    facts.append(
                        f"**Keeps:** the input's {', '.join(kept)}.".replace("rate", "sample rate")
                    )
            if facts:
                out += [*(f"- {f}" for f in facts), ""]
            params = {k: v for k, v in d["params"].items() if k != "p"}
            if not params:
                out += ["No parameters besides `p`.", ""]
                continue
            out += [
                "| Parameter | Type | Default | Range / choices | Unit | Help |",
                "|---|---|---|---|---|---|",
            ]
            for pname, spec in params.items():
                default = "required" if spec["required"] else f"`{json.dumps(spec['default'])}`"
                if "choices" in spec:
                    allowed = ", ".join(f"`{c}`" for c in spec["choices"])
                elif "range" in spec:
                    how = "value or [lo, hi]" if spec["sampled"] else "fixed"
                    allowed = f"`{spec['range']}`, {how}"
                else:
                    allowed = ""
                cells = [f"`{pname}`", spec["kind"], default, allowed]
                cells += [spec.get("unit", ""), spec["help"]]
                out.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


@app.command()
def report(
    output_dir: Annotated[
        Path, typer.Argument(help="An output folder written by augcli expand.", show_default=False)
    ],
    html: Annotated[
        Path | None,
        typer.Option(
            "--html", help="Where to write the HTML report (default: OUTPUT_DIR/report.html)."
        ),
    ] = None,
) -> None:
    """Summarise an expanded dataset from its manifest: counts per modality and class, how often
    each op fired, failures by reason. Prints the summary and writes a self-contained
    report.html with charts.

    Exit codes: 0 written, 2 no readable manifest.
    """
    from augcli.report import ReportError, build, text, write_html

    try:
        rep = build(output_dir)
    except ReportError as exc:
        raise _fail(exc) from None
    target = html if html is not None else output_dir / "report.html"
    try:
        write_html(rep, target)
    except OSError as exc:
        raise _fail(
            ValueError(f"{target}: cannot write the report ({exc.strerror or exc})")
        ) from None
    typer.echo(text(rep))
    typer.echo(f"\nhtml: {target}")


@app.command()
def verify(
    output: Annotated[Path, typer.Argument(help="An output folder of augcli expand.")],
) -> None:
    """Check every file against the manifest's checksums; list missing, changed and extra files.

    Exit 0 when everything matches, 1 when something does not, 2 when there is no manifest.
    """
    from augcli.core.errors import AugcliError
    from augcli.verify import verify as run_verify

    try:
        verdict = run_verify(output)
    except AugcliError as exc:
        raise _fail(exc, exc.exit_code) from None
    for kind, paths in (
        ("missing", verdict.missing),
        ("changed", verdict.changed),
        ("extra", verdict.extra),
    ):
        for rel in paths:
            typer.echo(f"{kind}: {rel}")
    typer.echo(
        f"verified {verdict.checked} files: {len(verdict.missing)} missing, "
        f"{len(verdict.changed)} changed, {len(verdict.extra)} extra"
    )
    raise typer.Exit(0 if verdict.ok else 1)


@app.command()
def schema() -> None:
    """Print a JSON Schema of the recipe (generated from the op registry) for editors.

    Save it (augcli schema > augcli.schema.json) and put
    '# yaml-language-server: $schema=augcli.schema.json' on a recipe's first line.
    """
    from augcli.schema import recipe_schema

    typer.echo(json.dumps(recipe_schema(), indent=1))


@app.command()
def init(
    modality: Annotated[
        Optional[list[str]],  # noqa: UP045 - typer needs Optional on 3.10
        typer.Option(
            "--modality", "-m", help="image, text or audio; repeat for several (default: image)."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the recipe here (never over an existing file)."),
    ] = None,
) -> None:
    """Print (or write) a commented starter recipe that validates: edit input/output and go.

    Exit codes: 0 written, 2 unknown modality or the --output file already exists.
    """
    from augcli.starter import MODALITIES, starter_recipe

    chosen = modality or ["image"]
    for m in chosen:
        if m not in MODALITIES:
            typer.echo(
                f"augcli: error: --modality: unknown modality {m!r}. "
                f"Use one of: {', '.join(MODALITIES)}.",
                err=True,
            )
            raise typer.Exit(2)
    text = starter_recipe(chosen, output.name if output is not None else "recipe.yaml")
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        with output.open("x", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        raise _fail(ValueError(f"{output}: already exists; not overwriting it")) from None
    except OSError as exc:
        raise _fail(ValueError(f"{output}: cannot write ({exc.strerror or exc})")) from None
    typer.echo(f"wrote {output}; check it with: augcli validate {output}", err=True)


@app.command()
def replay(
    recipe: RecipeArg,
    output: Annotated[
        Path | None, typer.Option(help="The run's output folder (default: the recipe's).")
    ] = None,
    to: Annotated[Path, typer.Option("--to", help="Where to write the replayed files.")] = Path(
        "augcli-replay"
    ),
) -> None:
    """Re-render a run's outputs from the params in its manifest, without sampling again, and
    report how many are byte-identical to the files the run wrote. Exit 1 if any differ."""
    from augcli.core.errors import AugcliError
    from augcli.params import resources_unchecked
    from augcli.replay import replay_run

    try:
        with resources_unchecked():  # recorded params need no model, endpoint or key
            r = _load(recipe)
        folder = output or r.output
        if folder is None:
            raise AugcliError("no output folder: pass --output DIR")
        done, same, skipped = replay_run(folder.resolve(), to, r)
    except AugcliError as exc:
        raise _fail(exc, exc.exit_code) from None
    for line in skipped:
        typer.echo(f"skipped: {line}")
    typer.echo(f"replayed {done} outputs into {to}: {same} byte-identical, {done - same} differ")
    raise typer.Exit(0 if same == done else 1)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
