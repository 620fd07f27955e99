"""How many outputs each input gets: the recipe's `copies`, or `balance` per class (spread
evenly over the class's inputs), then a `max_outputs` cap for the run; and which `splits` run."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from augcli.balance import Balance

if TYPE_CHECKING:
    from augcli.engine.scan import InputFile


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
    inputs: list[InputFile], copies: int, per_input: int, kept: bool, balance: Balance | None
) -> dict[str, int]:
    """Outputs per input (``per_input`` = emitters: one 'copy' makes that many outputs)."""
    if balance is None:
        return {f.relpath: copies * per_input for f in inputs}
    by_class: dict[Any, list[str]] = defaultdict(list)
    for f in inputs:
        by_class[f.label].append(f.relpath)
    counts: dict[str, int] = {}
    if balance.mode == "copies":
        for label, paths in by_class.items():
            c = balance.values.get(str(label), copies)
            counts.update({p: c * per_input for p in paths})
        return counts
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
    for label, paths in by_class.items():
        need = max(0, targets[label] - base * len(paths))
        each, extra = divmod(need, len(paths))
        for i, p in enumerate(sorted(paths)):
            counts[p] = each + (i < extra)
    return counts


def cap(counts: dict[str, int], max_outputs: int | None) -> tuple[dict[str, int], int]:
    """Keep at most ``max_outputs`` outputs in all, taking them round-robin over the inputs
    (everyone's first output, then everyone's second, ...); return the counts and how many
    were cut."""
    total = sum(counts.values())
    if max_outputs is None or total <= max_outputs:
        return counts, 0
    kept = {p: 0 for p in counts}
    left = max_outputs
    for rank in range(max(counts.values(), default=0)):
        for p in sorted(counts):
            if left and counts[p] > rank:
                kept[p] += 1
                left -= 1
    return kept, total - max_outputs


def copies_needed(count: int, per_input: int) -> int:
    return math.ceil(count / per_input) if per_input else 0
