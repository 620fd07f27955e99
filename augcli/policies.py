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

from dataclasses import dataclass
from typing import Any

from augcli.core.errors import InputError
from augcli.ops import Op, registry
from augcli.steps import MIX, Ctx, OpStep, fires, log_entry

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
class _Menu:
    """The ops a policy step draws from, each built once per process for the magnitudes it
    is drawn at."""

    kind: str
    ops: list[PolicyOp]
    modality: str
    path: str

    def __post_init__(self) -> None:
        self.built: dict[tuple[int, int], Op] = {}

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

    def apply_one(self, k: int, magnitude: int, data: Any, ctx: Ctx) -> Any:
        """Run ``ops[k]`` at ``magnitude`` (a sign drawn for signed ops), logged as the
        concrete op with ``policy``, ``policy_op`` and the signed ``magnitude``."""
        sign = -1 if self.ops[k].signed and ctx.rng.random() < 0.5 else 1
        data = OpStep(self.op_for(k, sign * magnitude), 1.0).run(data, ctx)
        ctx.log[-1].update(policy=self.kind, policy_op=self.ops[k].name, magnitude=sign * magnitude)
        return data


@dataclass
class Policy(_Menu):
    """``kind`` (rand_augment or trivial_augment) over ``ops``: ``n`` distinct ops in the
    order drawn, at ``magnitude`` (None: drawn per op from 0..30), with probability ``p``.
    Draws come from the node's generator: the ops, then per op its magnitude (when drawn) and
    its sign (signed ops), then the op's own params."""

    n: int = 1
    magnitude: int | None = None
    p: float = 1.0

    def run(self, data: Any, ctx: Ctx) -> Any:
        chosen: list[int] = []
        if fires(self.p, ctx.rng):
            usable = self.usable(ctx.describe(data))
            n = min(self.n, len(usable))
            chosen = [usable[int(i)] for i in ctx.rng.choice(len(usable), size=n, replace=False)]
        for k in chosen:
            m = self.magnitude if self.magnitude is not None else int(ctx.rng.integers(0, BINS + 1))
            data = self.apply_one(k, m, data, ctx)
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


@dataclass
class AugMix(_Menu):
    """AugMix (Hendrycks et al., 2020): ``width`` chains of ``depth`` ops each (drawn with
    replacement, each at a magnitude drawn in 0..``magnitude``), applied to copies of the
    input, mixed with Dirichlet(``alpha``) weights, and the mix blended with the input by
    m ~ Beta(``alpha``, ``alpha``): out = m x + (1 - m) sum w_i chain_i(x). Only ops that
    keep the geometry (the chains are blended pixel by pixel, and a mask stays true).

    The log lists each chain's ops (with ``chain``: i) and then one ``augmix`` line with the
    final weights [m, (1 - m) w_1, ...], all ``replay`` needs (``steps.replay``)."""

    width: int = 3
    depth: int | tuple[int, int] = (1, 3)
    magnitude: int = 9
    alpha: float = 1.0
    p: float = 1.0

    def run(self, data: Any, ctx: Ctx) -> Any:
        if not fires(self.p, ctx.rng):
            ctx.log.append({"node": ctx.node, "op": MIX, "applied": False, "params": None})
            return data
        usable = self.usable(ctx.describe(data))
        if not usable:  # no op of the set takes this input: nothing to mix
            ctx.log.append({"node": ctx.node, "op": MIX, "applied": False, "params": None})
            return data
        w = ctx.rng.dirichlet([self.alpha] * self.width)
        m = float(ctx.rng.beta(self.alpha, self.alpha))
        parts = []
        for chain in range(self.width):
            lo, hi = self.depth if isinstance(self.depth, tuple) else (self.depth, self.depth)
            part = data
            for _ in range(int(ctx.rng.integers(lo, hi + 1))):
                k = usable[int(ctx.rng.integers(len(usable)))]
                part = self.apply_one(k, int(ctx.rng.integers(0, self.magnitude + 1)), part, ctx)
                ctx.log[-1]["chain"] = chain
            parts.append(part)
        weights = [round(m, 6), *(round((1.0 - m) * float(x), 6) for x in w)]
        params = {"weights": weights}
        ctx.log.append({"node": ctx.node, "op": MIX, "applied": True, "params": params})
        return ctx.applier.mix([data, *parts], weights)

    def text(self) -> str:
        names = ", ".join(p.name for p in self.ops)
        p = "" if self.p >= 1.0 else f" p={self.p:g}"
        return f"augmix(width={self.width}, depth={self.depth}, magnitude<={self.magnitude}: {names}){p}"
