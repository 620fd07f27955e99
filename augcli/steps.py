"""Running ops: steps (an op with its ``p``, ``one_of``, ``some_of``), geometric fusion, replay."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from augcli.ops import Op

InfoFn = Callable[[Any], dict[str, Any]]
OpLog = list[dict[str, Any]]
MIX = "augmix"  # the log line that blends the chains logged before it (``chain``: i)


@dataclass
class Item:
    """The input being augmented, as ops that look beyond it (mixing) need it."""

    source: str
    label: str | None
    pools: Mapping[str | None, tuple[str, ...]]  # class label -> inputs of that class
    load: Callable[[str], Any]  # decode another input (a mixing partner), cached
    no_mirror: bool = False  # its class is in the section's ``no_mirror``: no mirroring op
    context: Mapping[str, Any] = field(default_factory=dict)  # ``Modality.context``: into info


class Applier:
    """How an op meets the data: plain ``op.apply`` here; a modality whose data carries more
    than the op transforms (an image with its annotations) supplies its own. ``spatial_dims``
    is the size of the ops' geometric transforms (2: 3x3 matrices; a volume's would be 3)."""

    spatial_dims = 2
    # The modality's limit on what an op may make: ``limit(op name, info after the op)`` raises
    # what the data cannot hold (None: no limit). See ``check``.
    limit: Callable[[str, dict[str, Any]], None] | None = None

    def check(self, op: Op, params: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
        """``op``'s declared output (``out_info``), once ``limit`` has passed it: run before the
        op, so an output over the limit fails before anything is allocated for it."""
        out = op.out_info(params, info)
        if self.limit is not None:
            self.limit(op.name, out)
        return out

    def identity(self) -> np.ndarray:
        """The composed transform before any op: the identity of ``spatial_dims + 1``."""
        return np.eye(self.spatial_dims + 1)

    def apply(
        self,
        op: Op,
        data: Any,
        params: dict[str, Any],
        info: dict[str, Any],
        load: Callable[[str], Any] | None,
    ) -> Any:
        if op.partners:
            if load is None:
                raise ValueError(f"{op.name} needs its partner inputs")
            return op.apply(data, params, partners=[load(p) for p in params["partners"]])
        return op.apply(data, params)

    def apply_chain(
        self, data: Any, chain: list[tuple[Op, dict[str, Any], dict[str, Any]]]
    ) -> tuple[Any, list[int]]:
        return type(chain[0][0]).apply_chain(data, chain)

    def mix(self, parts: list[Any], weights: list[float]) -> Any:
        """The weighted sum of versions of one input (``augmix``); the first is the input."""
        raise TypeError("this modality cannot blend versions of an input (augmix)")


PLAIN = Applier()


@dataclass
class Ctx:
    """Everything a step needs while running one node for one output."""

    rng: np.random.Generator
    info: InfoFn
    node: str
    log: OpLog
    item: Item | None = None
    fuse: bool = True
    matrix: np.ndarray | None = None  # None: the applier's identity
    applier: Applier = PLAIN

    def __post_init__(self) -> None:
        if self.matrix is None:
            self.matrix = self.applier.identity()

    def describe(self, data: Any) -> dict[str, Any]:
        return self.extend(self.info(data))

    def extend(self, info: dict[str, Any]) -> dict[str, Any]:
        if self.item is not None:
            info = {
                **info,
                "source": self.item.source,
                "label": self.item.label,
                "pools": self.item.pools,
            }
            info.update(self.item.context)
            info["matrix"] = self.matrix  # the geometry so far (source -> current coordinates)
        return info

    def refuses(self, op: Op, entry: dict[str, Any], info: dict[str, Any]) -> bool:
        """Whether the op, drawn as ``entry["params"]``, mirrors an input whose class refuses
        it (``no_mirror``): then it is logged not applied, with the reason."""
        if self.item is None or not self.item.no_mirror or not op.mirrors(entry["params"], info):
            return False
        entry.update(applied=False, skipped="no_mirror")
        return True

    def track(self, op: Op, params: dict[str, Any], info: dict[str, Any]) -> None:
        """Compose the op's pixel-coordinate transform, where it has one (for metadata such as
        DICOM pixel spacing)."""
        m = op.geometry(params, info)
        if m is not None:
            self.matrix = np.asarray(m, dtype=np.float64) @ self.matrix


def fires(p: float, rng: np.random.Generator) -> bool:
    """Whether something with probability ``p`` happens (no draw for p = 0 or 1)."""
    return p >= 1.0 or (p > 0.0 and rng.random() < p)


def log_entry(ctx: Ctx, op: Op, fire: bool) -> dict[str, Any]:
    """The op's line in the output's op log (params filled in once drawn)."""
    entry: dict[str, Any] = {"node": ctx.node, "op": op.name, "applied": fire, "params": None}
    ctx.log.append(entry)
    return entry


@dataclass
class OpStep:
    """One op with its probability."""

    op: Op
    p: float

    def leaves(self) -> Iterator[OpStep]:
        yield self

    def run(self, data: Any, ctx: Ctx) -> Any:
        entry = log_entry(ctx, self.op, fires(self.p, ctx.rng))
        if not entry["applied"]:
            return data
        info = ctx.describe(data)
        self.op.check_input(info)
        params = self.op.sample(ctx.rng, info)
        entry["params"] = params
        if ctx.refuses(self.op, entry, info):
            return data
        ctx.applier.check(self.op, params, info)
        out = ctx.applier.apply(self.op, data, params, info, ctx.item.load if ctx.item else None)
        ctx.track(self.op, params, info)
        return out


@dataclass
class Combinator(ABC):
    """Children of which ``choose`` picks some, applied in recipe order, with probability ``p``.
    Every leaf op is logged, so an output's op list has the same length whatever was chosen."""

    children: list[Step]
    p: float

    def leaves(self) -> Iterator[OpStep]:
        for c in self.children:
            yield from c.leaves()

    @abstractmethod
    def choose(self, rng: np.random.Generator) -> set[int]:
        """The indices of the children to apply."""

    def run(self, data: Any, ctx: Ctx) -> Any:
        chosen = self.choose(ctx.rng) if fires(self.p, ctx.rng) else set()
        for i, child in enumerate(self.children):
            if i in chosen:
                data = child.run(data, ctx)
            else:
                for leaf in child.leaves():
                    log_entry(ctx, leaf.op, False)
        return data


@dataclass
class OneOf(Combinator):
    """Apply exactly one child, chosen by ``weights`` (uniform by default)."""

    weights: list[float] = field(default_factory=list)

    def choose(self, rng: np.random.Generator) -> set[int]:
        w = np.asarray(self.weights, dtype=np.float64)
        return {int(rng.choice(len(self.children), p=w / w.sum()))}


@dataclass
class SomeOf(Combinator):
    """Apply ``n`` distinct children (``n`` fixed or a range)."""

    n: int | tuple[int, int] = 1

    def choose(self, rng: np.random.Generator) -> set[int]:
        n = self.n if isinstance(self.n, int) else int(rng.integers(self.n[0], self.n[1] + 1))
        return set(rng.choice(len(self.children), size=n, replace=False).tolist())


Step = OpStep | OneOf | SomeOf


# -- fusion ------------------------------------------------------------------------------------
def _fusable(step: Step) -> bool:
    return isinstance(step, OpStep) and step.op.fusable


def run_steps(steps: list[Step], data: Any, ctx: Ctx) -> Any:
    """Run a node's steps. Consecutive fusable ops (geometric warps) are sampled one by one, then
    applied as one composed transform, so the image is resampled once."""
    i = 0
    while i < len(steps):
        j = i
        while ctx.fuse and j < len(steps) and _fusable(steps[j]):
            j += 1
        if j - i > 1:
            data = _run_fused(steps[i:j], data, ctx)  # type: ignore[arg-type]
            i = j
        else:
            data = steps[i].run(data, ctx)
            i += 1
    return data


def _run_fused(steps: list[OpStep], data: Any, ctx: Ctx) -> Any:
    info = ctx.describe(data)
    chain: list[tuple[Op, dict[str, Any], dict[str, Any]]] = []
    entries: list[dict[str, Any]] = []
    for step in steps:
        entry = log_entry(ctx, step.op, fires(step.p, ctx.rng))
        if not entry["applied"]:
            continue
        step.op.check_input(info)
        params = step.op.sample(ctx.rng, info)
        entry["params"] = params
        if ctx.refuses(step.op, entry, info):
            continue
        chain.append((step.op, params, info))
        entries.append(entry)
        ctx.track(step.op, params, info)
        info = ctx.extend(ctx.applier.check(step.op, params, info))
    return _apply_chain(data, chain, entries, ctx.applier)


def _apply_chain(
    data: Any,
    chain: list[tuple[Op, dict[str, Any], dict[str, Any]]],
    entries: list[dict[str, Any]],
    applier: Applier,
) -> Any:
    if not chain:
        return data
    if len(chain) == 1:
        op, params, info = chain[0]
        return applier.apply(op, data, params, info, None)
    data, groups = applier.apply_chain(data, chain)
    sizes = {g: groups.count(g) for g in groups}
    for entry, g in zip(entries, groups, strict=True):
        if sizes[g] > 1:
            entry["fused"] = g
    return data


def replay(
    log: OpLog,
    data: Any,
    ops: Mapping[str, type[Op]],
    info: InfoFn,
    load: Callable[[str], Any] | None = None,
    applier: Applier = PLAIN,
) -> Any:
    """Re-apply a manifest's op list to the source data: the recorded params are the whole story.
    Ops that ran fused are replayed fused, so the result is identical."""
    i = 0
    while i < len(log):
        entry = log[i]
        if "chain" in entry:  # augmix: its chains, each from ``data``, then their blend
            j = i
            while "chain" in log[j]:
                j += 1
            chains: dict[int, OpLog] = {}
            for e in log[i:j]:
                chains.setdefault(e["chain"], []).append(
                    {k: v for k, v in e.items() if k != "chain"}
                )
            parts = [replay(chains[c], data, ops, info, load, applier) for c in sorted(chains)]
            data = applier.mix([data, *parts], log[j]["params"]["weights"])
            i = j + 1
            continue
        if not entry["applied"] or entry["op"] == MIX:
            i += 1
            continue
        op = ops[entry["op"]].for_replay()
        if "fused" not in entry:
            current = info(data)
            applier.check(op, entry["params"], current)
            data = applier.apply(op, data, entry["params"], current, load)
            i += 1
            continue
        chain, entries = [], []
        current = info(data)
        while i < len(log) and (not log[i]["applied"] or "fused" in log[i]):
            e = log[i]
            i += 1
            if not e["applied"]:
                continue
            o = ops[e["op"]].for_replay()
            chain.append((o, e["params"], current))
            entries.append(dict(e))
            current = applier.check(o, e["params"], current)
        data = _apply_chain(data, chain, entries, applier)
    return data
