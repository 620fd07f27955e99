"""Turn inputs into tasks: output names, collision checks, and what a resumed run can skip."""

from __future__ import annotations

import os
import posixpath
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from augcli.balance import TEST_SPLITS, TRAIN_SPLITS
from augcli.core.atomic import NAME_MAX
from augcli.core.errors import RecipeError, UsageError, show
from augcli.core.findings import Finding
from augcli.core.layout import RESERVED, clash
from augcli.core.records import InputFailed, OutputRecord
from augcli.core.salted import SourceNames
from augcli.core.seeding import item_seed
from augcli.engine.budget import cap, copies_needed, output_counts
from augcli.engine.groups import Groups
from augcli.engine.scan import InputFile
from augcli.graph import Graph
from augcli.modality import Modality, get_modality
from augcli.recipe import Recipe


@dataclass(frozen=True)
class OutputSpec:
    node: str
    copy: int
    path: str  # POSIX, relative to the output root


@dataclass
class Task:
    """One input file and the outputs to make from it (all of them, or what a resume still needs)."""

    source: str
    modality: str
    label: str | None
    original: str | None = None
    outputs: list[OutputSpec] = field(default_factory=list)
    chunk: tuple[int, int, int, int] | None = None  # (index, count, first, stop) of a record file
    lane: int | None = None  # at most this many processes may run such tasks (a model op)
    group: str | None = None  # the patient (groups) the input belongs to, if known

    def output_record(self, **fields: Any) -> OutputRecord:
        """The record of one output of this task (fields as in ``OutputRecord``; its group
        first among the extra fields)."""
        rec = OutputRecord(self.source, self.modality, self.label, **fields)
        if self.group is not None:
            rec.extra = {"group": self.group, **rec.extra}
        return rec

    def failed(self, error: str) -> InputFailed:
        """This task's input failed as a whole."""
        return InputFailed(self.source, self.modality, self.label, error)

    @property
    def size(self) -> int:
        return len(self.outputs) + (self.original is not None)


@dataclass
class Job:
    """What every worker needs, built once: roots, seed, graphs and modality handlers."""

    input_root: Path
    output_root: Path
    seed: int
    graphs: dict[str, Graph]
    modalities: dict[str, Modality]
    pools: dict[str, dict[str | None, tuple[str, ...]]] = field(default_factory=dict)
    fuse: dict[str, bool] = field(default_factory=dict)
    copies: int = 1
    keep_originals: bool = False
    notes: list[str] = field(default_factory=list)  # what planning decided (splits, budget)
    findings: list[Finding] = field(default_factory=list)  # what the scan and limits warn of
    links_outside: bool = False  # input symlinks may leave the input folder (follow_symlinks)
    preload: tuple[str, ...] = ()  # modules worth importing once, before workers start
    names: SourceNames = field(default_factory=SourceNames)  # how the manifest names inputs

    @classmethod
    def from_recipe(cls, recipe: Recipe, input_root: Path, output_root: Path) -> Job:
        return cls(
            input_root=input_root,
            output_root=output_root,
            seed=recipe.seed,
            graphs={m: s.graph for m, s in recipe.sections.items()},
            modalities={m: get_modality(m)(recipe.settings_of(m)) for m in recipe.sections},
            fuse={
                m: bool(s.settings.get("fuse_geometry", True)) for m, s in recipe.sections.items()
            },
            copies=recipe.copies,
            keep_originals=recipe.keep_originals,
            links_outside=recipe.follow_symlinks == "outside",
            names=recipe.names,
        )

    def bind(self) -> Job:
        """Tell each modality where the roots are (its side files are found relative to them)."""
        for m in self.modalities.values():
            m.bind(self.input_root, self.output_root, self.links_outside)
        return self

    def set_inputs(self, inputs: list[InputFile]) -> None:
        """Remember every input by modality and class, for the sections whose graph mixes
        inputs (an op with ``partners``): the pools those ops draw partners from. Other
        sections keep none, so workers are not sent a list of every input they never read.
        Also: the modules the fork server preloads for these inputs."""
        pools: dict[str, dict[str | None, list[str]]] = {}
        for f in inputs:
            pools.setdefault(f.modality, {}).setdefault(f.label, []).append(f.relpath)
        preload: list[str] = []
        for name, m in self.modalities.items():
            preload += m.preload_modules([p for ps in pools.get(name, {}).values() for p in ps])
        self.preload = tuple(dict.fromkeys(preload))
        mixing = {m for m, g in self.graphs.items() if any(op.partners for op in g.ops())}
        self.pools = {
            m: {k: tuple(v) for k, v in by.items()} for m, by in pools.items() if m in mixing
        }

    def seed_for(self, source: str, node_path: str, copy: int) -> int:
        return item_seed(self.seed, source, node_path, copy)


def output_name(
    relpath: str,
    node: str,
    copy: int,
    suffix: str,
    stem: str | None = None,
    folder: str | None = None,
) -> str:
    """``<folder>/<stem>__<node>_<copy><suffix>``: deterministic, and inside the output root.
    ``stem`` is the name without its full suffix (``brain`` for ``brain.nii.gz``; by default
    the name without its last suffix); ``folder`` is the input's own by default."""
    own, name = posixpath.split(relpath)
    folder = own if folder is None else folder
    if stem is None:
        stem = PurePosixPath(name).stem
    return f"{folder}/{stem}__{node}_{copy}{suffix}" if folder else f"{stem}__{node}_{copy}{suffix}"


class _Names:
    """Output paths handed out once each: a second claim of one path is a collision, and so is
    a claim of one of augcli's own names (``reserved``: name -> what it is). Only a hash of
    each path is kept (not the path), so a million outputs cost megabytes, not a list of
    names; on a repeated hash ``owner`` finds who claimed the path first."""

    def __init__(self, reserved: dict[str, str], owner: Callable[[str], str | None]) -> None:
        self.seen: set[int] = set()
        self.reserved = reserved
        self.owner = owner

    def claim(self, path: str, source: str) -> str:
        own = clash(path, self.reserved)
        if own is not None:
            raise UsageError(
                f"input {source!r} would be written as {path!r}, which is augcli's own "
                f"{own!r} in the output folder ({self.reserved[own]}); the run would overwrite "
                "it. Rename the input or move it into a subfolder, or leave it out with the "
                f"section's 'exclude: [{source}]'."
            )
        key = hash(path)
        if key in self.seen:
            first = self.owner(path)
            if first is not None:  # else two paths share a hash: no collision
                raise UsageError(
                    f"output name collision: {path!r} would be written for both {first!r} and "
                    f"{source!r}. Rename one input: names of the form '<stem>__<node>_<k>' are "
                    "reserved for outputs, and with an image 'format:' inputs that differ only "
                    "by extension (a.jpg, a.png) get the same output name."
                )
        _check_length(path, source)
        self.seen.add(key)
        return path


def _check_length(path: str, source: str) -> None:
    """Refuse an output name the filesystem cannot hold (more than ``NAME_MAX`` bytes)."""
    name = posixpath.basename(path)
    size = len(os.fsencode(name))
    if size > NAME_MAX:
        raise UsageError(
            f"output name too long: {show(name)} ({size} bytes) would be written for {show(source)}, "
            f"and a file name may have at most {NAME_MAX} bytes. Shorten the input's name or "
            "the node name (outputs are named '<stem>__<node>_<copy><extension>')."
        )


def reserved_names(job: Job) -> dict[str, str]:
    """augcli's own names in the output folder (``layout.RESERVED``) and each modality's
    whole-dataset files (``Modality.dataset_files``), which must not clash with those."""
    reserved = dict(RESERVED)
    for name, modality in job.modalities.items():
        for path in modality.dataset_files():
            own = clash(path, reserved)
            if own is not None:
                raise UsageError(
                    f"the {name} section would write its whole-dataset file {path!r} over "
                    f"augcli's own {own!r} ({reserved[own]}). Give that file another name "
                    "in the recipe."
                )
            reserved[path] = f"the file the {name} section writes for the whole dataset"
    return reserved


def _of(inputs: list[InputFile], modality: str) -> list[str]:
    return [f.relpath for f in inputs if f.modality == modality]


class Plan:
    """Every task the recipe asks for, in input order: checked once (colliding or reserved
    output names are refused) and then iterable any number of times, each pass making the
    tasks afresh. Nothing per output is held, so the plan of a million inputs takes the memory
    of its input list, not of its two million outputs. A task of a modality with a
    ``worker_limit`` (a model op) carries it as its ``lane``."""

    def __init__(
        self,
        job: Job,
        inputs: list[InputFile],
        counts: dict[str, int],
        keep: bool,
        groups: Groups | None = None,
    ):
        self.job, self.inputs, self.keep = job, inputs, keep
        self.groups = groups or Groups()
        # outputs per input: the most common count, and only the inputs that differ from it
        self.usual = Counter(counts.values()).most_common(1)[0][0] if counts else 0
        self.counts = {k: n for k, n in counts.items() if n != self.usual}
        found = {
            m: job.modalities[m].worker_limit(g, _of(inputs, m)) for m, g in job.graphs.items()
        }
        self.limits = {m: None if limit is None else limit[0] for m, limit in found.items()}
        self.limit_notes = {m: limit[1] for m, limit in found.items() if limit is not None}
        self.spans: dict[str, list[tuple[int, int]]] = {}  # record file -> its chunks
        self.tasks = self.outputs = 0
        self.lanes: set[int | None] = set()  # the lanes of the tasks (Task.lane)
        self.held_out: list[InputFile] = []  # inputs of the splits not augmented (leakage checks)

    def __iter__(self) -> Iterator[Task]:
        for f in self.inputs:
            yield from self._tasks(f)

    def __len__(self) -> int:
        return self.tasks

    def check(self) -> Plan:
        """One pass claiming every output name (UsageError on a collision); counts the tasks,
        outputs and lanes."""
        names = _Names(reserved_names(self.job), self._owner)
        for task in self:
            for path in _claims(task):
                names.claim(path, task.source)
                self.outputs += 1
            self.tasks += 1
            self.lanes.add(task.lane)
        return self

    def _owner(self, path: str) -> str | None:
        """Who claimed ``path`` first, if it is claimed twice (for a collision's message)."""
        first = None
        for task in self:
            for claimed in _claims(task):
                if claimed == path:
                    if first is not None:
                        return first
                    first = task.source
        return None

    def _tasks(self, f: InputFile) -> list[Task]:
        modality = self.job.modalities[f.modality]
        lane = self.limits.get(f.modality)
        single = modality.plan_outputs(f.relpath)
        if single is not None:  # a record file: one output file, originals kept inside it
            if f.relpath not in self.spans:
                path = self.job.input_root / f.relpath
                self.spans[f.relpath] = modality.plan_chunks(path, models=lane is not None)
            return _record_file_tasks(f, single, self.spans[f.relpath], lane)
        count = self.counts.get(f.relpath, self.usual)
        task = _file_task(self.job, f, count, self.keep, lane)
        group = self.groups.of.get(f.relpath)
        task.group = None if group is None else modality.group_name(group)
        return [task]


def _claims(task: Task) -> Iterator[str]:
    """The output paths a task claims: its original's copy, then its outputs (a record file's
    one output by its first chunk only)."""
    if task.original is not None:
        yield task.original
    if task.chunk is None or task.chunk[0] == 0:
        yield from (o.path for o in task.outputs)


def plan(recipe: Recipe, job: Job, inputs: list[InputFile], groups: Groups | None = None) -> Plan:
    """The recipe's plan over ``inputs`` (``groups``: each input's patient), checked (see
    ``Plan``)."""
    groups = groups or Groups()
    counts = _counts(recipe, job, inputs, groups)
    return Plan(job, inputs, counts, recipe.keep_originals, groups).check()


def _record_file_tasks(
    f: InputFile, out_path: str, spans: list[tuple[int, int]], lane: int | None
) -> list[Task]:
    """A record file's tasks: one, or one per chunk of records."""
    out = OutputSpec("*", 0, out_path)
    return [
        Task(
            f.relpath,
            f.modality,
            f.label,
            None,
            [out],
            (k, len(spans), first, stop) if len(spans) > 1 else None,
            lane,
        )
        for k, (first, stop) in enumerate(spans)
    ]


def _file_task(job: Job, f: InputFile, count: int, keep: bool, lane: int | None) -> Task:
    """One input's task: ``count`` outputs, taken copy by copy over the graph's emitters."""
    graph = job.graphs[f.modality]
    modality = job.modalities[f.modality]
    folder, stem, source_suffix = modality.output_parts(f.relpath)
    original = f.relpath
    if job.names.hashed:  # no input name in an output's: the class and split folders kept
        folder, stem = _hidden(job.names, folder, f.relpath)
        original = f"{folder}/{stem}{source_suffix}" if folder else f"{stem}{source_suffix}"
    suffix = modality.output_suffix(source_suffix)
    task = Task(f.relpath, f.modality, f.label, original if keep else None, lane=lane)
    emitted = 0
    for copy in range(copies_needed(count, len(graph.emitters))):
        for e in graph.emitters:
            if emitted == count:
                break
            emitted += 1
            task.outputs.append(
                OutputSpec(e.id, copy, output_name(f.relpath, e.id, copy, suffix, stem, folder))
            )
    return task


def _hidden(names: SourceNames, folder: str, relpath: str) -> tuple[str, str]:
    """An output's folder and stem under ``hash_sources``: the stem the input's salted name,
    each folder between the top-level split (kept when it is one) and the class folder (the
    last, kept) a salted name too, so the same patient folder is one folder in the output."""
    parts = folder.split("/") if folder else []
    kept_top = bool(parts) and parts[0].lower() in (*TRAIN_SPLITS, *TEST_SPLITS)
    hidden = [
        part if (k == len(parts) - 1 or (k == 0 and kept_top)) else names.name(part)
        for k, part in enumerate(parts)
    ]
    return "/".join(hidden), names.name(relpath)


def _counts(recipe: Recipe, job: Job, inputs: list[InputFile], groups: Groups) -> dict[str, int]:
    """Outputs per input (not record files): copies, or balance per class (spread over its
    inputs or, ``by: groups``, its patients), then the budget per group
    (``max_outputs_per_group``), then the run's."""
    counts: dict[str, int] = {}
    for name, section in recipe.sections.items():
        mine = [
            f
            for f in inputs
            if f.modality == name and job.modalities[name].plan_outputs(f.relpath) is None
        ]
        emitters = len(job.graphs[name].emitters)
        balance = (section.balance, f"{name}.balance")
        try:
            counts.update(
                output_counts(
                    mine,
                    recipe.copies,
                    emitters,
                    recipe.keep_originals,
                    *balance,
                    groups.of.get,
                )
            )
        except RecipeError as exc:
            raise recipe.locate(exc) from None
    counts = _per_group(counts, recipe.max_outputs_per_group, groups, job)
    counts, cut = cap(counts, recipe.max_outputs)
    if cut:
        job.notes.append(
            f"max_outputs {recipe.max_outputs} cuts {cut} of "
            f"{cut + sum(counts.values())} planned outputs"
        )
    return counts


def _per_group(
    counts: dict[str, int], most: int | None, groups: Groups, job: Job
) -> dict[str, int]:
    """At most ``most`` outputs per group, round-robin over its inputs (``budget.cap``)."""
    if most is None:
        return counts
    members: dict[str, dict[str, int]] = {}
    for path, n in counts.items():
        members.setdefault(groups.key(path), {})[path] = n
    out: dict[str, int] = {}
    cut = 0
    for group in members.values():
        kept, dropped = cap(group, most)
        out.update(kept)
        cut += dropped
    if cut:
        job.notes.append(
            f"max_outputs_per_group {most} cuts {cut} of {cut + sum(out.values())} planned outputs"
        )
    return out


class Todo:
    """What a run still has to make: the plan's tasks less the outputs already ``done`` (by
    output path), made afresh on each pass. ``skipped``: outputs done already; ``len``: tasks."""

    def __init__(self, tasks: Plan, done: set[str]) -> None:
        self.plan, self.done = tasks, done
        self.skipped, self.tasks, self.lanes = 0, len(tasks), set(tasks.lanes)
        if done:  # one counting pass
            self.tasks, self.lanes = 0, set()
            for t in tasks:
                left = _left(t, done)
                self.skipped += t.size - (left.size if left else 0)
                if left is not None:
                    self.tasks += 1
                    self.lanes.add(t.lane)

    def __len__(self) -> int:
        return self.tasks

    def __iter__(self) -> Iterator[Task]:
        if not self.done:
            yield from self.plan
            return
        for t in self.plan:
            left = _left(t, self.done)
            if left is not None:
                yield left


def _left(task: Task, done: set[str]) -> Task | None:
    """``task`` without the outputs in ``done``; None if nothing is left of it."""
    outs = [o for o in task.outputs if o.path not in done]
    original = task.original if task.original is not None and task.original not in done else None
    if not outs and original is None:
        return None
    if len(outs) == len(task.outputs) and original == task.original:
        return task
    return replace(task, original=original, outputs=outs)


def remaining(tasks: Plan, done: set[str]) -> tuple[Todo, int]:
    """The tasks left once the outputs in ``done`` are dropped, and how many outputs were skipped."""
    todo = Todo(tasks, done)
    return todo, todo.skipped
