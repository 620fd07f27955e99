"""What every modality's preview renderer shares: the request the preview command hands it, which
inputs and outputs to show, the outputs made as ``expand`` makes them, failure reasons, and
captions read from an op log. Imports no engine and no modality: renderers (``Modality.preview``
names one per modality) live below the preview command, and get the job and tasks duck-typed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

from augcli.core.errors import InputError, UsageError
from augcli.ops import Op

DEGREE = "\N{DEGREE SIGN}"  # in captions; drawn as a small ring (Hershey fonts are ASCII only)
SHEET = ".png"  # a renderer writing this suffix makes a sheet: the first one goes at --output


def _quiet(_msg: str) -> None:
    pass


@dataclass
class Request:
    """What the preview command hands one modality's renderer."""

    modality: str
    job: Any  # the planned job (engine.plan.Job): roots, seeds, graphs, modality handlers
    tasks: list[Any]  # this modality's planned tasks (engine.plan.Task)
    dest: Path  # the file to write, checked: outside the recipe's input and output folders
    recipe_name: str
    output_name: Callable[[str, str, int, str], str]  # how expand names an output file
    n: int = 4
    per_class: int = 2
    draw_annotations: bool = False
    log: Callable[[str], None] = _quiet

    @property
    def handler(self) -> Any:
        return self.job.modalities[self.modality]

    @property
    def graph(self) -> Any:
        return self.job.graphs[self.modality]


@dataclass
class Shown:
    """What a renderer wrote, the outputs that failed (shown on it), and text for stdout."""

    written: list[Path]
    failed: list[str]
    text: str | None = None


class Renderer(Protocol):
    """A preview renderer module (named by ``Modality.preview``)."""

    SUFFIX: str  # of the file it writes: SHEET, or a page beside the sheet (".html")

    def preview(self, req: Request) -> Shown: ...


def require_inputs(req: Request) -> None:
    if not req.tasks:
        raise UsageError(
            f"no {req.modality} inputs found in {req.job.input_root}; nothing to preview"
        )


# -- choosing what to show ---------------------------------------------------------------------
def by_class(tasks: Iterable[Any]) -> list[list[Any]]:
    """The inputs grouped by class (no class first, then by name), each group by path."""
    groups: dict[str | None, list[Any]] = {}
    for t in sorted(tasks, key=lambda t: t.source):
        groups.setdefault(t.label, []).append(t)
    order = sorted(groups, key=lambda lab: (lab is not None, lab or ""))
    return [groups[lab] for lab in order]


def pick(tasks: list[Any], per_class: int) -> list[Any]:
    """The first ``per_class`` inputs by path in every class (top-level inputs first)."""
    return [t for group in by_class(tasks) for t in group[:per_class]]


def outputs_for(graph: Any, n: int) -> list[tuple[Any, int]]:
    """The first ``n`` outputs in plan order: copy 0 of every emitter, then copy 1, ..."""
    m = len(graph.emitters)
    return [(graph.emitters[j % m], j // m) for j in range(n)]


def wanted(pairs: Iterable[tuple[Any, int]]) -> list[SimpleNamespace]:
    """(emitter, copy) pairs as the outputs ``Modality.make`` takes (``node`` and ``copy``)."""
    return [SimpleNamespace(node=e.id, copy=c) for e, c in pairs]


def header_outputs(graph: Any, n: int) -> str:
    return ", ".join(f"{e.id}_{k}" for e, k in outputs_for(graph, n))


# -- making the outputs, as ``expand`` does ------------------------------------------------------
def reason(exc: Exception) -> str:
    """Why an input or output failed, as the sheet shows it."""
    if isinstance(exc, InputError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"


@dataclass
class Row:
    """One input on a sheet: its original, then its outputs (tiles with ``title``/``error``)."""

    task: Any
    original: Any
    outputs: list[Any] = field(default_factory=list)


def iter_shots(rows: list[Row]) -> Iterator[tuple[int, int, Row, Any]]:
    """(row, column, row, shot) for every tile, column 0 being the original."""
    for r, row in enumerate(rows):
        for c, shot in enumerate((row.original, *row.outputs)):
            yield r, c, row, shot


def failures(rows: list[Row]) -> list[str]:
    """``<source> <title>: <error>`` for every failed tile (an unchanged one is no failure)."""
    return [
        f"{row.task.source} {shot.title}: {shot.error}"
        for _r, _c, row, shot in iter_shots(rows)
        if shot.error is not None and not getattr(shot, "unchanged", False)
    ]


def make_row(
    task: Any,
    job: Any,
    n: int,
    shot: Callable[[str, Any], Any],
    keep: Callable[[Any, Any], None],
    finish: Callable[[Any, Any], None],
) -> Row:
    """The input and its first ``n`` outputs, made by ``Modality.make`` exactly as ``expand``
    makes them. ``shot(title, made)`` starts a tile (``made`` None for the original), ``keep``
    fills the original's from the input as read and ``finish`` an output's from what was made.
    An unreadable input fails its row; an op failure, or one in ``finish``, only its tile. An
    output ``expand`` would record as unchanged (not written) gets ``unchanged`` set and its
    reason as ``error``, as a tile to draw apart from failures."""
    modality = job.modalities[task.modality]
    graph = job.graphs[modality.name]
    original = shot(task.source, None)
    try:
        data = modality.read(job.input_root / task.source)
    except Exception as exc:  # the whole input fails, as in engine/worker.run_task
        original.error = reason(exc)
        return Row(task, original, [])
    keep(original, data)
    shots = []
    for made in modality.make(task, job, data, wanted(outputs_for(graph, n))):
        out = shot(f"{made.node}_{made.copy}", made)
        try:
            if made.error is not None:
                raise made.error
            if made.unchanged:
                out.unchanged, out.error = True, f"{made.unchanged} after {made.attempt} retries"
                shots.append(out)
                continue
            out.captions = captions(made.log, leaf_ops(graph, graph.emitter(made.node)))
            finish(out, made)
        except Exception as exc:  # an op or encoding failure fails only this output
            out.error = reason(exc)
        shots.append(out)
    return Row(task, original, shots)


# -- captions --------------------------------------------------------------------------------
def leaf_ops(graph: Any, emitter: Any) -> list[Op]:
    """Every leaf op on the emitter's path, in order: one per op-log entry."""
    return [
        leaf.op
        for name in emitter.path
        for step in graph.nodes[name].steps
        for leaf in step.leaves()
    ]


def _num(v: Any) -> str:
    if isinstance(v, (bool, int, str)):
        return str(v)
    if isinstance(v, float):
        a = abs(v)
        if a >= 1000:
            return f"{v:.0f}"
        if a >= 10:
            return f"{v:.1f}"
        return f"{v:.3g}" if a >= 1 else f"{v:.2g}"
    if isinstance(v, (list, tuple)):
        return ",".join(_num(x) for x in v)
    return str(v)


def _short_keys(keys: list[str]) -> dict[str, str]:
    """One ranged param keeps its name; several get their shortest unique prefixes
    (brightness_contrast b=0.05 c=-0.1)."""
    if len(keys) <= 1:
        return {k: k for k in keys}
    out = {}
    for k in keys:
        n = 1
        while n < len(k) and any(o != k and o.startswith(k[:n]) for o in keys):
            n += 1
        out[k] = k[:n]
    return out


def _drawn(cls: type[Op], key: str, value: Any) -> bool:
    """Whether the recipe gave this param as a range (drawn per output)."""
    spec = cls.params.get(key)
    return spec is not None and spec.kind in ("float", "int") and isinstance(value, tuple)


def captions(log: list[dict[str, Any]], ops: list[Op]) -> list[str]:
    """Each op that fired, with the values drawn for the params the recipe gave as ranges:
    ``rotate 12.3°``, ``hflip``, ``gaussian_blur sigma=1.1``, ``mixup w=0.62``; one refused
    (``no_mirror``) as ``hflip skipped: no_mirror``."""
    pairs: list[tuple[dict[str, Any], Op | None]] = list(
        zip(log, ops if len(ops) == len(log) else [None] * len(log), strict=True)
    )
    out = []
    for entry, op in pairs:
        if entry.get("skipped"):
            out.append(f"{entry['op']} skipped: {entry['skipped']}")
        if not entry["applied"]:
            continue
        params = entry["params"] or {}
        bits = [entry["op"]]
        if op is not None:
            ranged = [k for k, v in op.config.items() if _drawn(type(op), k, v) and k in params]
            short = _short_keys(ranged)
            for key in ranged:  # fixed values are left out: the recipe says them already
                spec = type(op).params.get(key)
                text = _num(params[key])
                if spec is not None and spec.unit == "degrees":
                    text = text.replace(",", f"{DEGREE},") + DEGREE
                    bits.append(text if key == "degrees" else f"{short[key]}={text}")
                else:
                    bits.append(f"{short[key]}={text}")
        if params.get("weights"):
            bits.append(f"w={_num(float(params['weights'][0]))}")
        out.append(" ".join(bits))
    return out
