"""The recipe's `balance` and `splits` settings, parsed and checked at recipe load (the engine's
budget applies them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from augcli.core.errors import RecipeError

TEST_SPLITS = ("test", "testing", "val", "valid", "validation", "holdout", "dev")
TRAIN_SPLITS = ("train", "training")
MAX_COPIES = 10_000  # outputs per input per emitting node: `copies`, and what balance may ask


@dataclass(frozen=True)
class Balance:
    """``match_largest``, a ``target`` count per class (one number for all, or per class), or
    per-class ``copies``. Counts are of the class's samples in the output: kept originals plus
    augmented outputs."""

    mode: str  # match_largest | target | copies
    values: Any = None  # int or {class: int}
    by: str = (
        "inputs"  # inputs | groups: what a class's outputs are spread over (and copies given to)
    )


BY = ("inputs", "groups")


def parse_balance(raw: Any, path: str) -> Balance | None:
    """``match_largest``, or a one-key map (``target``, ``copies``, ``match_largest: true``)
    with an optional ``by: groups``."""
    if raw is None:
        return None
    if raw == "match_largest":
        return Balance("match_largest")
    by = "inputs"
    if isinstance(raw, dict) and "by" in raw:
        raw = dict(raw)
        by = raw.pop("by")
        if by not in BY:
            raise RecipeError(
                "is not what a balance counts in",
                path=f"{path}.by",
                value=by,
                fix="Write 'by: groups' (outputs spread evenly over each class's patients, "
                "copies given per patient) or 'by: inputs' (the default).",
            )
    if raw == {"match_largest": True}:
        return Balance("match_largest", by=by)
    if isinstance(raw, dict) and len(raw) == 1:
        ((mode, value),) = raw.items()
        ok_int = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        ok_map = (
            isinstance(value, dict)
            and value
            and all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value.values()
            )
        )
        if mode in ("target", "copies") and (ok_map or (mode == "target" and ok_int)):
            if mode == "copies":
                _check_copies(value, f"{path}.copies")
            values = {str(k): v for k, v in value.items()} if ok_map else value
            return Balance(mode, values, by)
    raise RecipeError(
        "is not a balance",
        path=path,
        value=raw,
        fix="Write 'balance: match_largest', 'balance: {target: 500}', "
        "'balance: {target: {cat: 500, dog: 300}}' or 'balance: {copies: {cat: 1, dog: 4}}', "
        "each optionally with 'by: groups'.",
    )


def _check_copies(value: dict[Any, int], path: str) -> None:
    for label, c in value.items():
        if c > MAX_COPIES:
            raise RecipeError(
                f"is more than {MAX_COPIES} copies per input",
                path=f"{path}.{label}",
                value=c,
                fix=f"Use at most {MAX_COPIES}; more inputs in the class, or a graph with "
                "more emitting nodes, make more outputs.",
            )


def parse_splits(raw: Any, allow_test: Any, path: str) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or not all(isinstance(s, str) and s for s in raw):
        raise RecipeError(
            "must be a list of top-level folder names",
            path=path,
            value=raw,
            fix="Write e.g. splits: [train].",
        )
    test = [s for s in raw if s.lower() in TEST_SPLITS]
    if test and allow_test is not True:
        raise RecipeError(
            "names a test/validation split",
            path=path,
            value=test,
            fix="Augmenting evaluation data leaks into your results; if you really mean it, add "
            "'allow_test_split: true'.",
        )
    return tuple(raw)
