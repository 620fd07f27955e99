"""Recipe ops → a DAG of nodes (chains of steps, with ``one_of``/``some_of``), and its evaluation."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from augcli.core.errors import RecipeError
from augcli.core.seeding import generator
from augcli.ops import Op, p_spec, registry
from augcli.params import Param
from augcli.policies import BINS, DEFAULT_SET, AugMix, Policy, PolicyOp, menu
from augcli.steps import (
    PLAIN,
    Applier,
    Ctx,
    InfoFn,
    Item,
    OneOf,
    OpLog,
    OpStep,
    SomeOf,
    Step,
    run_steps,
)

PIPELINE_NODE = "aug"
NODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*(_[A-Za-z0-9-]+)*$")
MAX_EMITTERS = 256
MAX_NODE_NAME = 64
COMBINATORS = ("one_of", "some_of")
POLICIES = ("rand_augment", "trivial_augment", "augmix")


# -- graph -------------------------------------------------------------------------------------
@dataclass
class Node:
    name: str
    after: list[str]
    steps: list[Step]


@dataclass(frozen=True)
class Emitter:
    """A root-to-leaf path; each emits ``copies`` outputs per input. ``id`` names it in outputs."""

    id: str
    path: tuple[str, ...]


@dataclass
class Graph:
    modality: str
    nodes: dict[str, Node]
    emitters: list[Emitter] = field(default_factory=list)

    def emitter(self, emitter_id: str) -> Emitter:
        for e in self.emitters:
            if e.id == emitter_id:
                return e
        raise KeyError(emitter_id)

    def ops(self) -> list[Op]:
        """Every op of every node (inside combinators too)."""
        return [leaf.op for node in self.nodes.values() for s in node.steps for leaf in s.leaves()]

    def describe(self) -> list[str]:
        """Human-readable lines: each node, its parents and its ops."""
        lines = []
        for node in self.nodes.values():
            ops = ", ".join(_step_text(s) for s in node.steps)
            after = f" (after {', '.join(node.after)})" if node.after else ""
            lines.append(f"{node.name}{after}: {ops}")
        lines.append("emits: " + ", ".join(e.id for e in self.emitters))
        return lines

    def as_json(self) -> dict[str, Any]:
        """What ``describe`` says, as data: the nodes (name, parents, steps) and the emitters."""
        nodes = [
            {"name": n.name, "after": list(n.after), "steps": [_step_text(s) for s in n.steps]}
            for n in self.nodes.values()
        ]
        return {"nodes": nodes, "emits": [e.id for e in self.emitters]}

    def run(
        self,
        emitter: Emitter,
        data: Any,
        seed_of: Callable[[str], int],
        info: InfoFn,
        cache: dict[str, tuple[Any, OpLog, Any]],
        item: Item | None = None,
        fuse: bool = True,
        applier: Applier = PLAIN,
    ) -> tuple[Any, OpLog, Any]:
        """Run ``data`` down one emitter's path; return (data, op log, geometry matrix).

        Shared prefixes are computed once via ``cache`` (one cache per input and copy), and each
        node draws from its own generator, seeded by ``seed_of(node path)``."""
        log: OpLog = []
        matrix = None
        for i, name in enumerate(emitter.path):
            prefix = ".".join(emitter.path[: i + 1])
            if prefix in cache:
                data, log, matrix = cache[prefix]
                continue
            ctx = Ctx(
                generator(seed_of(prefix)), info, name, list(log), item, fuse, applier=applier
            )
            if matrix is not None:
                ctx.matrix = matrix
            data = run_steps(self.nodes[name].steps, data, ctx)
            log, matrix = ctx.log, ctx.matrix
            cache[prefix] = (data, log, matrix)
        return data, log, matrix


def _step_text(step: Step) -> str:
    if isinstance(step, Policy | AugMix):
        return step.text()
    p = "" if step.p >= 1.0 else f" p={step.p:g}"
    if isinstance(step, OpStep):
        return step.op.name + p
    kind = "one_of" if isinstance(step, OneOf) else "some_of"  # the only two Combinators
    return f"{kind}({', '.join(_step_text(c) for c in step.children)}){p}"


# -- parsing -----------------------------------------------------------------------------------
def parse_section_graph(section: dict[str, Any], modality: str, path: str) -> Graph:
    """Build the graph from a modality section's ``pipeline:`` or ``graph:`` (exactly one)."""
    has_pipe, has_graph = "pipeline" in section, "graph" in section
    if has_pipe == has_graph:
        raise RecipeError(
            "needs exactly one of 'pipeline' (a list of ops) or 'graph' (named nodes)",
            path=path,
            value=sorted(k for k in section if k in ("pipeline", "graph")),
            fix="See configs/quickstart.yaml for a pipeline and configs/graph.yaml for a graph.",
        )
    ops = registry(modality)
    if has_pipe:
        steps = parse_steps(section["pipeline"], f"{path}.pipeline", ops, modality)
        nodes = {PIPELINE_NODE: Node(PIPELINE_NODE, [], steps)}
        return Graph(modality, nodes, [Emitter(PIPELINE_NODE, (PIPELINE_NODE,))])
    return _parse_graph(section["graph"], f"{path}.graph", ops, modality)


def _parse_graph(raw: Any, path: str, ops: dict[str, type[Op]], modality: str) -> Graph:
    if not isinstance(raw, dict) or not raw:
        raise RecipeError(
            "must be a mapping of node names to {ops: [...], after: [...]}",
            path=path,
            value=raw,
        )
    nodes: dict[str, Node] = {}
    for name, body in raw.items():
        npath = f"{path}.{name}"
        if not _node_name_ok(name):
            raise RecipeError(
                "is not a valid node name",
                path=npath,
                value=name,
                fix="Use letters, digits, '-' and single '_' (not 'original', no '__'), at most "
                f"{MAX_NODE_NAME} characters (output file names carry it).",
            )
        if not isinstance(body, dict):
            raise RecipeError(
                "must be a mapping with 'ops' and optional 'after'", path=npath, value=body
            )
        for key in body:
            if key not in ("ops", "after"):
                raise RecipeError(
                    "unknown key in a graph node",
                    path=f"{npath}.{key}",
                    value=key,
                    fix="A node takes 'ops' (a list of ops) and 'after' (its parent nodes).",
                )
        if "ops" not in body:
            raise RecipeError("node has no 'ops'", path=npath, fix="Add 'ops:' with a list of ops.")
        after = body.get("after", [])
        after = [after] if isinstance(after, str) else after
        if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
            raise RecipeError(
                "must be a node name or a list of node names", path=f"{npath}.after", value=after
            )
        steps = parse_steps(body["ops"], f"{npath}.ops", ops, modality)
        nodes[name] = Node(name, list(after), steps)
    for node in nodes.values():
        for i, parent in enumerate(node.after):
            if parent not in nodes:
                close = difflib.get_close_matches(parent, list(nodes), n=1)
                raise RecipeError(
                    "names a node that does not exist",
                    path=f"{path}.{node.name}.after" + (f"[{i}]" if len(node.after) > 1 else ""),
                    value=parent,
                    fix=(f"Did you mean '{close[0]}'? " if close else "")
                    + f"Nodes: {', '.join(nodes)}.",
                )
    _check_acyclic(nodes, path)
    graph = Graph(modality, nodes)
    graph.emitters = _emitters(nodes, path)
    return graph


def _node_name_ok(name: Any) -> bool:
    return (
        isinstance(name, str)
        and len(name) <= MAX_NODE_NAME
        and NODE_NAME.match(name) is not None
        and name != "original"
    )


def _check_acyclic(nodes: dict[str, Node], path: str) -> None:
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done

    def visit(name: str, stack: list[str]) -> None:
        state[name] = 1
        for parent in nodes[name].after:
            if state.get(parent) == 1:
                cycle = (
                    [*stack[stack.index(parent) :], parent] if parent in stack else [name, parent]
                )
                raise RecipeError(
                    "the graph has a cycle",
                    path=f"{path}.{name}.after",
                    value=" -> ".join(reversed(cycle)),
                    fix="Remove one 'after' link so that every path starts at a node with no 'after'.",
                )
            if state.get(parent) is None:
                visit(parent, [*stack, parent])
        state[name] = 2

    for name in nodes:
        if name not in state:
            visit(name, [name])


def _emitters(nodes: dict[str, Node], path: str) -> list[Emitter]:
    parents_of_someone = {p for n in nodes.values() for p in n.after}
    leaves = [n for n in nodes if n not in parents_of_someone]

    def paths(name: str) -> list[tuple[str, ...]]:
        node = nodes[name]
        if not node.after:
            return [(name,)]
        return [(*pp, name) for parent in node.after for pp in paths(parent)]

    out: list[Emitter] = []
    for leaf in leaves:
        leaf_paths = paths(leaf)
        for pth in leaf_paths:
            out.append(Emitter(leaf if len(leaf_paths) == 1 else ".".join(pth), pth))
            if len(out) > MAX_EMITTERS:
                raise RecipeError(
                    f"the graph has more than {MAX_EMITTERS} root-to-leaf paths",
                    path=path,
                    fix="Each path emits its own outputs; merge nodes or use one_of instead.",
                )
    return out


def parse_steps(items: Any, path: str, ops: dict[str, type[Op]], modality: str) -> list[Step]:
    if not isinstance(items, list) or not items:
        raise RecipeError(
            "must be a non-empty list of ops",
            path=path,
            value=items,
            fix="Write each op as a list item: '- hflip: {p: 0.5}'.",
        )
    return [_parse_step(item, f"{path}[{i}]", ops, modality) for i, item in enumerate(items)]


def _parse_step(item: Any, path: str, ops: dict[str, type[Op]], modality: str) -> Step:
    if isinstance(item, str):
        name, args = item, {}
    elif isinstance(item, dict) and len(item) == 1:
        name, args = next(iter(item.items()))
    else:
        raise RecipeError(
            "each list item must be one op",
            path=path,
            value=item,
            fix="Write '- name: {param: value}' or just '- name'; put each op in its own item.",
        )
    if not isinstance(name, str):
        raise RecipeError("an op name must be text", path=path, value=name)
    opath = f"{path}.{name}"
    if name in COMBINATORS:
        return _parse_combinator(name, args, opath, ops, modality)
    if name in POLICIES:
        return _parse_policy(name, args, opath, modality)
    if name not in ops:
        close = difflib.get_close_matches(name, [*ops, *COMBINATORS, *POLICIES], n=1)
        raise RecipeError(
            f"unknown {modality} op",
            path=path,
            value=name,
            fix=(f"Did you mean '{close[0]}'? " if close else "")
            + f"Run 'augcli ops --modality {modality}' for the list.",
        )
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise RecipeError(
            "op parameters must be a mapping",
            path=opath,
            value=args,
            fix=f"Write '- {name}: {{param: value}}'; see 'augcli ops --modality {modality}'.",
        )
    args = dict(args)
    p = p_spec().validate(args.pop("p", 1.0), f"{opath}.p")
    return OpStep(ops[name].from_recipe(args, opath), p)


_N_SPEC = Param(kind="int", default=1, low=0, help="how many children to apply")
_W_SPEC = Param(kind="float", low=0.0, sampled=False)


def _parse_combinator(
    kind: str, args: Any, path: str, ops: dict[str, type[Op]], modality: str
) -> Step:
    ops_path = path
    if isinstance(args, list):
        args = {"ops": args}
    else:
        ops_path = f"{path}.ops"
    if not isinstance(args, dict) or "ops" not in args:
        raise RecipeError(
            f"{kind} takes a list of ops, or a mapping with 'ops'",
            path=path,
            value=args,
            fix=f"Write '- {kind}: [op, op]' or '- {kind}: {{ops: [...], p: 0.5}}'.",
        )
    allowed = {"ops", "p", "weights"} if kind == "one_of" else {"ops", "p", "n"}
    for key in args:
        if key not in allowed:
            raise RecipeError(
                f"unknown key for {kind}",
                path=f"{path}.{key}",
                value=key,
                fix=f"{kind} takes: {', '.join(sorted(allowed))}.",
            )
    children = parse_steps(args["ops"], ops_path, ops, modality)
    p = p_spec().validate(args.get("p", 1.0), f"{path}.p")
    if kind == "one_of":
        weights = args.get("weights", [1.0] * len(children))
        if not isinstance(weights, list) or len(weights) != len(children):
            raise RecipeError(
                f"needs one weight per op ({len(children)})",
                path=f"{path}.weights",
                value=weights,
            )
        w = [_W_SPEC.validate(x, f"{path}.weights[{i}]") for i, x in enumerate(weights)]
        if sum(w) <= 0:
            raise RecipeError("weights must not all be zero", path=f"{path}.weights", value=weights)
        return OneOf(children, p, w)
    n = _N_SPEC.validate(args.get("n", 1), f"{path}.n")
    hi = n[1] if isinstance(n, tuple) else n
    if hi > len(children):
        raise RecipeError(
            f"asks for more ops than the {len(children)} listed",
            path=f"{path}.n",
            value=args.get("n"),
            fix=f"Use n <= {len(children)}.",
        )
    return SomeOf(children, p, n)


_MAGNITUDE = Param(kind="int", default=9, low=0, high=BINS, sampled=False)


def _parse_policy(kind: str, args: Any, path: str, modality: str) -> Policy:
    """``rand_augment: {n, magnitude, ops, p}`` or ``trivial_augment: {ops, p}``; ``ops`` a
    set's name or a list of the modality's policy ops (``augcli ops`` lists both)."""
    args = {} if args is None else args
    allowed = {
        "rand_augment": {"ops", "p", "n", "magnitude"},
        "trivial_augment": {"ops", "p"},
        "augmix": {"ops", "p", "width", "depth", "magnitude", "alpha"},
    }[kind]
    if not isinstance(args, dict) or set(args) - allowed:
        bad = sorted(set(args) - allowed) if isinstance(args, dict) else args
        raise RecipeError(
            f"is not a {kind} setting",
            path=path,
            value=bad,
            fix=f"{kind} takes: {', '.join(sorted(allowed))}.",
        )
    chosen = _policy_ops(args.get("ops", DEFAULT_SET), f"{path}.ops", modality)
    p = p_spec().validate(args.get("p", 1.0), f"{path}.p")
    if kind == "augmix":
        return _parse_augmix(args, chosen, path, modality, p)
    if kind == "trivial_augment":
        policy = Policy(kind, chosen, modality, path, 1, None, p)
    else:
        n = Param(kind="int", low=1, high=len(chosen), sampled=False).validate(
            args.get("n", min(2, len(chosen))), f"{path}.n"
        )
        magnitude = _MAGNITUDE.validate(args.get("magnitude", 9), f"{path}.magnitude")
        policy = Policy(kind, chosen, modality, path, n, magnitude, p)
    for k in range(len(chosen)):  # every op at its strongest, both signs: errors at load
        policy.op_for(k, BINS), policy.op_for(k, -BINS)
    return policy


def _policy_ops(raw: Any, path: str, modality: str) -> list[PolicyOp]:
    known, sets = menu(modality)
    if isinstance(raw, str) and raw in sets:
        return [known[name] for name in sets[raw]]
    names = raw if isinstance(raw, list) and raw else None
    if names is None or not all(isinstance(n, str) and n in known for n in names):
        bad = [n for n in names or [raw] if not (isinstance(n, str) and n in known)]
        raise RecipeError(
            f"is not a {modality} policy set or a list of its policy ops",
            path=path,
            value=bad[0] if len(bad) == 1 else bad,
            fix=f"Name a set ({', '.join(sorted(sets)) or 'none'}) or list ops from: "
            f"{', '.join(sorted(known)) or 'none'} (augcli ops lists each op's magnitude).",
        )
    if len(set(names)) != len(names):
        raise RecipeError("lists an op twice", path=path, value=names, fix="List each op once.")
    return [known[name] for name in names]


_WIDTH = Param(kind="int", default=3, low=1, high=10, sampled=False)
AUGMIX_DEPTH = Param(kind="int", default=[1, 3], low=1, high=10)
_ALPHA = Param(default=1.0, low=0.0, low_open=True, high=100.0, sampled=False)


def _parse_augmix(args: dict, chosen: list[PolicyOp], path: str, modality: str, p: float) -> AugMix:
    """``augmix: {width, depth, magnitude, alpha, ops, p}``: only the set's ops that keep the
    geometry (the chains are blended pixel by pixel)."""
    probe = Policy("augmix", chosen, modality, path)
    keep = [pol for k, pol in enumerate(chosen) if not _moves(probe.op_for(k, BINS))]
    if not keep:
        raise RecipeError(
            "has no op that keeps the geometry (augmix blends its chains pixel by pixel)",
            path=f"{path}.ops",
            value=[pol.name for pol in chosen],
            fix="List intensity ops, e.g. [brightness, contrast, gamma, blur].",
        )
    mix = AugMix(
        "augmix",
        keep,
        modality,
        path,
        _WIDTH.validate(args.get("width", 3), f"{path}.width"),
        AUGMIX_DEPTH.validate(args.get("depth", [1, 3]), f"{path}.depth"),
        _MAGNITUDE.validate(args.get("magnitude", 9), f"{path}.magnitude"),
        _ALPHA.validate(args.get("alpha", 1.0), f"{path}.alpha"),
        p,
    )
    for k in range(len(keep)):
        mix.op_for(k, BINS), mix.op_for(k, -BINS)
    return mix


def _moves(op: Op) -> bool:
    """Whether an op moves pixels (a warp, a remap, a volume's spatial op)."""
    return type(op).group == "geometric" or bool(getattr(type(op), "spatial", False))
