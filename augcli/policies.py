"""Augmentation policies: ``rand_augment`` (n ops of a named set, at one magnitude) and
``trivial_augment`` (one op, at a magnitude drawn per output), as steps over concrete ops.

A modality registers its policy ops (``PolicyOp``: which op, and the op's settings at a signed
magnitude in [-1, 1]) and named sets of them (``register``). At run time the step draws the ops,
the magnitude and the sign, and runs the op built for them like any other op step: the manifest
lists the concrete ops with their params (plus ``policy``, ``policy_op`` and the signed
``magnitude``), so ``replay`` and
``report`` see what was applied, and every op of the set is logged (applied or not), so an
output's op list has the same length whatever was drawn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from augcli.core.errors import InputError
from augcli.ops import Op, registry
from augcli.steps import Ctx, OpStep, fires, log_entry

BINS = 30  # magnitudes are 0..30, as torchvision's RandAugment (31 bins); 30 is each op's most


@dataclass(frozen=True)
class PolicyOp:
    """One op of a policy: ``op`` (a registered op name) with the settings ``build`` gives
    for a magnitude in [-1, 1] (the sign drawn per use when ``signed``, else always +)."""

    name: str
    op: str
    build: Linear
    signed: bool = False
    help: str = ""


_OPS: dict[str, dict[str, PolicyOp]] = {}
_SETS: dict[str, dict[str, tuple[str, ...]]] = {}
DEFAULT_SET = "default"  # each modality's default set is registered under this name too


def register(modality: str, ops: list[PolicyOp], sets: dict[str, tuple[str, ...]]) -> None:
    """A modality's policy ops and named sets (``sets[DEFAULT_SET]`` is used when a recipe
    names none)."""
    _OPS.setdefault(modality, {}).update({p.name: p for p in ops})
    _SETS.setdefault(modality, {}).update(sets)


def menu(modality: str) -> tuple[dict[str, PolicyOp], dict[str, tuple[str, ...]]]:
    """The modality's policy ops and sets (its op modules loaded)."""
    registry(modality)
    return _OPS.get(modality, {}), _SETS.get(modality, {})


@dataclass
class Policy:
    """``kind`` (rand_augment or trivial_augment) over ``ops``: ``n`` distinct ops in the
    order drawn, at ``magnitude`` (None: drawn per op from 0..30), with probability ``p``.
    Draws come from the node's generator: the ops, then per op its magnitude (when drawn) and
    its sign (signed ops), then the op's own params."""

    kind: str
    ops: list[PolicyOp]
    modality: str
    path: str
    n: int
    magnitude: int | None
    p: float
    built: dict[tuple[int, int], Op] = field(default_factory=dict)

    def op_for(self, k: int, magnitude: int) -> Op:
        """The op of ``ops[k]`` built for a signed magnitude (-30..30), once per process."""
        key = (k, magnitude)
        if key not in self.built:
            pol = self.ops[k]
            cls = registry(self.modality)[pol.op]
            config = pol.build(magnitude / BINS)
            self.built[key] = cls.from_recipe(config, f"{self.path}.{pol.name}")
        return self.built[key]

    def leaves(self):
        """Each op at its strongest (for the checks a recipe gets at load and validate)."""
        for k in range(len(self.ops)):
            yield OpStep(self.op_for(k, BINS), 1.0)

    def usable(self, info: dict[str, Any]) -> list[int]:
        """The ops that take this input (``hsv`` needs colour: a gray image draws from the
        others)."""
        out = []
        for k in range(len(self.ops)):
            try:
                self.op_for(k, BINS).check_input(info)
            except InputError:
                continue
            out.append(k)
        return out

    def run(self, data: Any, ctx: Ctx) -> Any:
        chosen: list[int] = []
        if fires(self.p, ctx.rng):
            usable = self.usable(ctx.describe(data))
            n = min(self.n, len(usable))
            chosen = [usable[int(i)] for i in ctx.rng.choice(len(usable), size=n, replace=False)]
        for k in chosen:
            m = self.magnitude if self.magnitude is not None else int(ctx.rng.integers(0, BINS + 1))
            sign = -1 if self.ops[k].signed and ctx.rng.random() < 0.5 else 1
            data = OpStep(self.op_for(k, sign * m), 1.0).run(data, ctx)
            ctx.log[-1].update(policy=self.kind, policy_op=self.ops[k].name, magnitude=sign * m)
        for k in range(len(self.ops)):
            if k not in chosen:
                entry = log_entry(ctx, self.op_for(k, BINS), False)
                entry.update(policy=self.kind, policy_op=self.ops[k].name)
        return data

    def text(self) -> str:
        m = "random" if self.magnitude is None else str(self.magnitude)
        names = ", ".join(p.name for p in self.ops)
        p = "" if self.p >= 1.0 else f" p={self.p:g}"
        return f"{self.kind}(n={self.n}, magnitude={m}: {names}){p}"


@dataclass(frozen=True)
class Linear:
    """An op's settings at magnitude m: ``key`` = ``offset`` + m x ``most`` (|m| when not
    ``signed_value``; a whole number when ``whole``; the range [-v, v] when ``spread``),
    with ``fixed`` other settings. Data, not a function, so a graph pickles to workers."""

    key: str | None
    most: float = 0.0
    offset: float = 0.0
    signed_value: bool = True
    whole: bool = False
    spread: bool = False
    fixed: tuple[tuple[str, Any], ...] = ()

    def __call__(self, m: float) -> dict[str, Any]:
        out = dict(self.fixed)
        if self.key is None:
            return out
        v = self.offset + (m if self.signed_value else abs(m)) * self.most
        v = round(v) if self.whole else round(v, 6)
        out[self.key] = [-v, v] if self.spread else v
        return out
