"""Dataset checks before a run: what in the inputs would hurt a model trained on the output.

``dataset_warnings`` looks at the scanned inputs and returns one ``Finding`` per problem (shown
as a line starting with ``warning: ``), in a fixed order: class imbalance, exact duplicates, each modality's
near-duplicates (by modality name: images by difference hash, text records by normalised text),
folders that look like an evaluation split, and train/eval leakage. Every file is hashed once.
The engine knows no modality: what to hash and what counts as nearly the same are the
modalities' hooks (``Modality.digest``, ``Modality.near_duplicates``)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from augcli.balance import TEST_SPLITS, TRAIN_SPLITS
from augcli.core.errors import InputError
from augcli.core.findings import Finding
from augcli.engine.groups import Groups
from augcli.engine.scan import InputFile
from augcli.modality import Modality

if TYPE_CHECKING:
    from augcli.engine.plan import Job
    from augcli.recipe import Recipe

MAX_GROUPS = 5  # groups or pairs listed per warning
SAMPLE_PER_CLASS = 2  # inputs per class read for the parameter checks
SAMPLE_MAX = 12  # and at most this many per section


def dataset_warnings(
    inputs: list[InputFile],
    input_root: Path,
    modalities: dict[str, Modality],
    *,
    imbalance_ratio: float = 3.0,
    held_out: list[InputFile] | None = None,
) -> list[Finding]:
    """What is wrong with ``inputs`` under ``input_root``; each modality hashes its files
    (``digest``) and finds its own near-duplicates. ``held_out``: the inputs of the splits
    left out of the run (``splits``), compared with the inputs for leakage only."""
    inputs = sorted(inputs, key=lambda f: (f.modality, f.relpath))
    held, _unread = _digests(held_out or [], input_root, modalities)
    digests, unreadable = _digests(inputs, input_root, modalities)
    missing = tuple(f.relpath for f in inputs if f.relpath not in digests)
    inputs = [f for f in inputs if f.relpath in digests]
    out: list[Finding] = []
    if unreadable:
        listed = "; ".join(unreadable[:MAX_GROUPS])
        out.append(
            Finding(
                "unreadable",
                f"{len(unreadable)} input(s) cannot be read: {listed}"
                f"{_more(len(unreadable))}; expand will record them as failed",
                files=missing,
            )
        )
    out += _imbalance(inputs, imbalance_ratio)
    out += _exact_duplicates(inputs, digests)
    held_files = [f for f in held_out or [] if f.relpath in held]
    for name, files in _by_modality([*inputs, *held_files]).items():  # across splits too
        out += modalities[name].near_duplicates([f.relpath for f in files], {**held, **digests})
    out += _split_folders(inputs)
    out += _leakage([*inputs, *held_files], {**held, **digests})
    return out


def parameter_warnings(
    inputs: list[InputFile],
    modalities: dict[str, Modality],
    graphs: dict[str, Any],
    where: Callable[[str], str],
) -> list[Finding]:
    """``warning: <recipe>:<line>: <op's YAML path>: ...`` for each op whose settings look
    wrong for the data (``Op.implausible``: a noise std below one level, intensity ops on a
    two-valued image), judged on a small sample of each section's inputs: the first
    ``SAMPLE_PER_CLASS`` per class by path, at most ``SAMPLE_MAX``. ``where(yaml_path)``
    names the recipe file and line."""
    out: list[Finding] = []
    for name, files in _by_modality(inputs).items():
        per_class: dict[str | None, list[str]] = defaultdict(list)
        for f in sorted(files, key=lambda f: f.relpath):
            if len(per_class[f.label]) < SAMPLE_PER_CLASS:
                per_class[f.label].append(f.relpath)
        sample = [p for _label, paths in sorted(per_class.items(), key=_label_key) for p in paths]
        for op, why, relpath in modalities[name].implausible(graphs[name], sample[:SAMPLE_MAX]):
            message = f"{where(op.where)}: {why} (seen on {relpath})"
            out.append(Finding("parameters", message, name, (relpath,)))
    return out


def _label_key(item: tuple[str | None, list[str]]) -> tuple[bool, str]:
    return item[0] is not None, item[0] or ""


def _digests(
    inputs: list[InputFile], root: Path, modalities: dict[str, Modality]
) -> tuple[dict[str, str], list[str]]:
    """Each readable input's digest, and ``path (reason)`` for those that cannot be read."""
    digests, unreadable = {}, []
    for f in inputs:
        try:
            digests[f.relpath] = modalities[f.modality].digest(root / f.relpath)
        except OSError as exc:
            unreadable.append(f"{f.relpath} ({exc.strerror or exc})")
        except InputError as exc:  # a DICOM series whose slices cannot be listed
            unreadable.append(f"{f.relpath} ({exc})")
    return digests, unreadable


def _more(total: int) -> str:
    return f" (and {total - MAX_GROUPS} more)" if total > MAX_GROUPS else ""


def _by_modality(inputs: list[InputFile]) -> dict[str, list[InputFile]]:
    groups: dict[str, list[InputFile]] = defaultdict(list)
    for f in inputs:
        groups[f.modality].append(f)
    return dict(sorted(groups.items()))


def _imbalance(inputs: list[InputFile], ratio: float) -> list[Finding]:
    out = []
    for modality, files in _by_modality(inputs).items():
        counts = Counter(f.label for f in files if f.label is not None)
        if len(counts) < 2:
            continue
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        (big, n_big), (small, n_small) = ranked[0], ranked[-1]
        if n_big > ratio * n_small:
            out.append(
                Finding(
                    "imbalance",
                    f"{modality}: class imbalance: '{big}' has {n_big} inputs but "
                    f"'{small}' has {n_small} ({n_big / n_small:.1f}x, above {ratio:g}x); "
                    f"add 'balance: match_largest' to the {modality} section to even out the "
                    "output",
                    modality,
                )
            )
    return out


def _exact_duplicates(inputs: list[InputFile], digests: dict[str, str]) -> list[Finding]:
    out = []
    for modality, files in _by_modality(inputs).items():
        groups: dict[str, list[str]] = defaultdict(list)
        for f in files:
            groups[digests[f.relpath]].append(f.relpath)
        dups = sorted(sorted(g) for g in groups.values() if len(g) > 1)
        if not dups:
            continue
        listed = "; ".join(", ".join(g) for g in dups[:MAX_GROUPS])
        n_files = sum(len(g) for g in dups)
        out.append(
            Finding(
                "duplicates",
                f"{modality}: {len(dups)} group(s) of exact duplicate inputs ({n_files} files, "
                f"same bytes): {listed}{_more(len(dups))}; each copy is augmented again, so "
                "these samples weigh more in training",
                modality,
                tuple(p for g in dups for p in g),
            )
        )
    return out


def _split_folders(inputs: list[InputFile]) -> list[Finding]:
    folders: Counter[str] = Counter()
    for f in inputs:
        parts = f.relpath.split("/")[:-1]
        for k, part in enumerate(parts):
            if part.lower() in TEST_SPLITS:
                folders["/".join(parts[: k + 1])] += 1
                break
    if not folders:
        return []
    listed = ", ".join(f"{d}/ ({n} inputs)" for d, n in sorted(folders.items()))
    return [
        Finding(
            "evaluation_split",
            f"inputs in folders that look like an evaluation split are being augmented: "
            f"{listed}; augmenting evaluation data leaks into results; add 'splits: [train]' "
            "to the recipe to augment only the training split",
        )
    ]


def _split_kind(folder: str) -> str | None:
    name = folder.lower()
    if name in TRAIN_SPLITS:
        return "train"
    if name in TEST_SPLITS:
        return "eval"
    return None


def _leakage(inputs: list[InputFile], digests: dict[str, str]) -> list[Finding]:
    by_digest: dict[str, list[str]] = defaultdict(list)
    for f in inputs:
        if "/" in f.relpath:
            by_digest[digests[f.relpath]].append(f.relpath)
    leaks = []
    for paths in by_digest.values():
        tops = {p.split("/", 1)[0] for p in paths}
        kinds = {_split_kind(t) for t in tops}
        if "train" in kinds and "eval" in kinds:
            train = sorted(p for p in paths if _split_kind(p.split("/", 1)[0]) == "train")
            held = sorted(p for p in paths if _split_kind(p.split("/", 1)[0]) == "eval")
            leaks.append((train, held))
    if not leaks:
        return []
    leaks.sort()
    listed = "; ".join(f"{', '.join(t)} = {', '.join(e)}" for t, e in leaks[:MAX_GROUPS])
    return [
        Finding(
            "leakage",
            f"leakage: {len(leaks)} file(s) in a training folder are byte-identical to files "
            f"in an evaluation folder: {listed}{_more(len(leaks))}; remove them from one side, "
            "or evaluation scores will be inflated",
            files=tuple(p for t, e in leaks for p in (*t, *e)),
        )
    ]


def group_leakage(inputs: list[InputFile], groups: Groups) -> list[Finding]:
    """A patient (``groups``) with inputs in a training folder and in an evaluation folder."""
    where: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for f in inputs:
        kind = _split_kind(f.relpath.split("/", 1)[0]) if "/" in f.relpath else None
        if kind is not None and f.relpath in groups.of:
            where[groups.of[f.relpath]][kind].append(f.relpath)
    leaks = sorted((g, k) for g, k in where.items() if len(k) == 2)
    if not leaks:
        return []
    listed = "; ".join(
        f"{g!r}: {', '.join(sorted(k['train'])[:2])} and {', '.join(sorted(k['eval'])[:2])}"
        for g, k in leaks[:MAX_GROUPS]
    )
    return [
        Finding(
            "leakage",
            f"leakage: {len(leaks)} patient(s) by {groups.how} have inputs in a training folder "
            f"and in an evaluation folder: {listed}{_more(len(leaks))}; move each patient's "
            "inputs to one split, or evaluation scores will be inflated",
            files=tuple(p for _g, k in leaks for p in (*k["train"], *k["eval"])),
        )
    ]


def no_inputs(recipe: Recipe, job: Job, inputs: list[InputFile]) -> list[Finding]:
    """The finding when the scan found nothing for any section."""
    if inputs:
        return []
    return [
        Finding(
            "no_inputs",
            f"no input files found in {job.input_root} for the sections "
            f"{', '.join(recipe.sections)} (check 'include' globs and extensions): nothing "
            "would be written",
        )
    ]


def all_findings(
    recipe: Recipe,
    job: Job,
    inputs: list[InputFile],
    held_out: list[InputFile],
    groups: Groups | None = None,
) -> list[Finding]:
    """Everything ``validate`` warns of, in the order it prints them: the scan's skips and the
    limits (``job.findings``), the dataset checks (``held_out``: the splits not augmented,
    checked for leakage; ``groups``: patients in two splits), the op settings, and no inputs
    at all."""
    return [
        *job.findings,
        *dataset_warnings(
            inputs,
            job.input_root,
            job.modalities,
            imbalance_ratio=recipe.imbalance_ratio,
            held_out=held_out,
        ),
        *group_leakage([*inputs, *held_out], groups or Groups()),
        *parameter_warnings(inputs, job.modalities, job.graphs, recipe.where),
        *[f for m in job.modalities.values() for f in m.setting_findings(inputs, recipe.where)],
        *no_inputs(recipe, job, inputs),
    ]


def strict_failures(findings: list[Finding], allowed: tuple[str, ...]) -> list[Finding]:
    """What ``--strict`` refuses: every finding whose kind is not ``allowed``."""
    return [f for f in findings if f.kind not in allowed]
