"""How many outputs each input gets: the recipe's `copies`, or `balance` per class (spread
evenly over the class's inputs), then a `max_outputs` cap for the run; and which `splits` run.
What a run may plan is bounded: ``MAX_COPIES`` per input per emitter, ``MAX_PLANNED`` in all."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from augcli.balance import MAX_COPIES, Balance
from augcli.core.errors import RecipeError, UsageError

if TYPE_CHECKING:
    from augcli.engine.scan import InputFile

MAX_PLANNED = 10_000_000  # outputs planned in one run (a plan holds ~300 bytes per output)


def select_splits(
    inputs: list[InputFile], splits: tuple[str, ...] | None
) -> tuple[list[InputFile], list[str]]:
    """The inputs to augment, and the split folders left out. Default: a top-level ``train``
    folder if there is one, else everything."""
    tops = {f.relpath.split("/", 1)[0] for f in inputs if "/" in f.relpath}
    chosen = splits if splits is not None else (("train",) if "train" in tops else None)
    if chosen is None:
        return inputs, []
    keep = [f for f in inputs if f.relpath.split("/", 1)[0] in chosen]
    left = sorted({f.relpath.split("/", 1)[0] for f in inputs} - set(chosen))
    return keep, left


def output_counts(
    inputs: list[InputFile],
    copies: int,
    per_input: int,
    kept: bool,
    balance: Balance | None,
    path: str = "balance",
    group_of: Callable[[str], str | None] | None = None,
) -> dict[str, int]:
    """Outputs per input (``per_input`` = emitters: one 'copy' makes that many outputs). A
    balance that asks an input for more than ``MAX_COPIES`` copies is a ``RecipeError`` at
    ``path`` (planning memory grows with the outputs). A balance ``by: groups`` spreads a
    class's outputs over its patients (``group_of``), evenly in what each then has, and gives
    per-class copies per patient; every patient's share goes round-robin over its inputs."""
    if balance is None:
        return {f.relpath: copies * per_input for f in inputs}
    by_class: dict[Any, list[str]] = defaultdict(list)
    for f in inputs:
        by_class[f.label].append(f.relpath)
    units = _units(by_class, balance, group_of, path)
    if balance.mode == "copies":
        adds = {
            label: {u: balance.values.get(str(label), copies) * per_input for u in members}
            for label, members in units.items()
        }
        return _spread(units, adds, per_input, path, None)
    base = int(kept)
    if balance.mode == "match_largest":
        largest = max(len(p) for p in by_class.values())
        targets = {label: largest * (base + copies * per_input) for label in by_class}
    elif isinstance(balance.values, int):
        targets = {label: balance.values for label in by_class}
    else:
        targets = {
            label: balance.values.get(str(label), len(p) * (base + copies * per_input))
            for label, p in by_class.items()
        }
    adds = {
        label: _fill(
            {u: base * len(m) for u, m in members.items()},
            max(0, targets[label] - base * len(by_class[label])),
        )
        for label, members in units.items()
    }
    return _spread(units, adds, per_input, path, targets)


def _units(
    by_class: dict[Any, list[str]],
    balance: Balance,
    group_of: Callable[[str], str | None] | None,
    path: str,
) -> dict[Any, dict[str, list[str]]]:
    """Per class, what outputs are spread over: each input, or (``by: groups``) each patient,
    an input without a group a patient of its own. Named so that sorting them sorts inputs."""
    if balance.by != "groups":
        return {label: {p: [p] for p in paths} for label, paths in by_class.items()}
    of = {p: group_of(p) if group_of else None for paths in by_class.values() for p in paths}
    if of and all(g is None for g in of.values()):
        raise RecipeError(
            "counts in groups, but no input of the section has a group",
            path=f"{path}.by",
            value="groups",
            fix="Say what a patient is with the top-level 'groups:' (a DICOM attribute, "
            "{pattern: ...} or {file: ...}), or remove 'by: groups'.",
        )
    units: dict[Any, dict[str, list[str]]] = {}
    for label, paths in by_class.items():
        mine = units.setdefault(label, {})
        for p in sorted(paths):
            key = p if of[p] is None else f"{of[p]}\0"
            mine.setdefault(key, []).append(p)
    return units


def _fill(have: dict[str, int], need: int) -> dict[str, int]:
    """``need`` outputs given to units that ``have`` some samples already, the emptiest first,
    so each ends as near one level as whole outputs allow (ties: in name order)."""
    if not have:
        return {}
    lo, hi = 0, max(have.values()) + need
    while lo < hi:  # the highest level the need fills up to
        mid = (lo + hi + 1) // 2
        if sum(max(0, mid - h) for h in have.values()) <= need:
            lo = mid
        else:
            hi = mid - 1
    adds = {u: max(0, lo - h) for u, h in have.items()}
    left = need - sum(adds.values())
    for u in sorted(have):
        if left and have[u] <= lo:
            adds[u] += 1
            left -= 1
    return adds


def _spread(
    units: dict[Any, dict[str, list[str]]],
    adds: dict[Any, dict[str, int]],
    per_input: int,
    path: str,
    targets: dict[Any, int] | None,
) -> dict[str, int]:
    """Each unit's outputs over its inputs, round-robin (name order), within ``MAX_COPIES``."""
    counts: dict[str, int] = {}
    for label, members in units.items():
        for unit, paths in members.items():
            each, extra = divmod(adds[label][unit], len(paths))
            if each + (extra > 0) > MAX_COPIES * per_input:
                target = targets[label] if targets else adds[label][unit]
                n = sum(len(m) for m in members.values())
                raise _too_many(label, target, n, each + (extra > 0), per_input, path)
            for i, p in enumerate(paths):
                counts[p] = each + (i < extra)
    return counts


def _too_many(label: Any, target: int, n: int, each: int, per_input: int, path: str) -> Exception:
    return RecipeError(
        f"asks {each} outputs of each of {n} inputs ({_class(label)}, a target of "
        f"{target}); the limit is {MAX_COPIES} copies per input ({MAX_COPIES * per_input} outputs)",
        path=path,
        fix="Lower the target, or add inputs to the class.",
    )


def _class(label: Any) -> str:
    return "no class" if label is None else f"class {label!r}"


def cap(counts: dict[str, int], max_outputs: int | None) -> tuple[dict[str, int], int]:
    """Keep at most ``max_outputs`` outputs in all, taking them round-robin over the inputs
    (everyone's first output, then everyone's second, ...; the last round in name order);
    return the counts and how many were cut. More than ``MAX_PLANNED`` is a ``UsageError``."""
    total = sum(counts.values())
    _check_total(total if max_outputs is None else min(total, max_outputs))
    if max_outputs is None or total <= max_outputs:
        return counts, 0
    level = _full_rounds(list(counts.values()), max_outputs)
    kept = {p: min(c, level) for p, c in counts.items()}
    left = max_outputs - sum(kept.values())
    for p in sorted(counts):
        if left and counts[p] > level:
            kept[p] += 1
            left -= 1
    return kept, total - max_outputs


def _check_total(total: int) -> None:
    """Refuse a run that would plan more than ``MAX_PLANNED`` outputs (its plan is in memory)."""
    if total > MAX_PLANNED:
        raise UsageError(
            f"the run would plan {total} outputs; the limit is {MAX_PLANNED} per run. Set "
            "'max_outputs:' in the recipe, lower 'copies' or the balance, or split the input "
            "folder into several runs."
        )


def _full_rounds(counts: list[int], budget: int) -> int:
    """The most whole rounds (one output of every input that has one left) within ``budget``."""
    lo, hi = 0, max(counts, default=0)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(min(c, mid) for c in counts) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def copies_needed(count: int, per_input: int) -> int:
    return math.ceil(count / per_input) if per_input else 0
