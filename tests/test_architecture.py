"""The house: arrows point one way (cli -> tools -> engine -> recipe -> modalities -> ops -> core),
no import circle anywhere (function-level imports included), and modalities never import each
other. Read from the source with ``ast``; nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "augcli"

# Top to bottom. A module may import its own layer and the layers below it.
LAYERS = ("cli", "tools", "engine", "recipe", "modalities", "ops", "core")
TOOLS = {"preview", "report", "replay", "verify", "schema"}
TOOLS |= {"opdocs", "starter"}
RECIPE = {"recipe", "graph", "balance", "groups"}
MODALITIES = {"modality", "making", "image", "text", "audio", "volume"}
# ops and shared helpers
OPS = {"ops", "steps", "params", "drawing", "preview_kit", "artefacts", "dicomkit", "deidentify"}
OPS |= {"policies"}


def layer(module: str) -> str:
    """The layer of ``augcli.<part>...`` by its first part below ``augcli``."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    if top in ("cli", "__main__"):
        return "cli"
    if top == "engine":
        return "engine"
    for name, members in (
        ("tools", TOOLS),
        ("recipe", RECIPE),
        ("modalities", MODALITIES),
        ("ops", OPS),
    ):
        if top in members:
            return name
    return "core"  # augcli itself and augcli.core


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (anywhere in its body)."""
    base = root.parent
    modules = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(base).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                target = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join(up + ([target] if target else []))
                names = [target] + [f"{target}.{a.name}" for a in node.names]
            for name in names:
                while name and name not in modules:
                    name = name.rsplit(".", 1)[0] if "." in name else ""
                if name and name != module and not module.startswith(name + "."):
                    graph[module].add(name)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        group.append(top)
                        if top == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def upward(graph: dict[str, set[str]]) -> list[str]:
    """Imports of a higher layer, and of one modality by another."""
    bad = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            a, b = LAYERS.index(layer(module)), LAYERS.index(layer(target))
            if b < a:
                bad.append(f"{module} ({layer(module)}) -> {target} ({layer(target)})")
            mine, theirs = module.split(".")[1:2], target.split(".")[1:2]
            if (
                layer(module) == layer(target) == "modalities"
                and mine != theirs
                and "modality" not in (mine + theirs)
            ):
                bad.append(f"{module} -> {target}: one modality imports another")
    return bad


def test_no_import_circle() -> None:
    assert circles(import_graph(PACKAGE)) == []


def test_arrows_point_down() -> None:
    assert upward(import_graph(PACKAGE)) == []


def test_the_checks_catch_a_circle_and_an_upward_arrow(tmp_path: Path) -> None:
    pkg = tmp_path / "augcli"
    (pkg / "engine").mkdir(parents=True)
    (pkg / "image").mkdir()
    for init in (pkg, pkg / "engine", pkg / "image"):
        (init / "__init__.py").write_text("")
    (pkg / "engine" / "run.py").write_text("from augcli.image import io\n")
    (pkg / "image" / "io.py").write_text("def f():\n    from augcli.engine.run import go\n")
    graph = import_graph(pkg)
    assert circles(graph) == [["augcli.engine.run", "augcli.image.io"]]
    assert upward(graph) == ["augcli.image.io (modalities) -> augcli.engine.run (engine)"]


@pytest.mark.parametrize("module", ["augcli.cli", "augcli.engine.run", "augcli.image.modality"])
def test_every_module_has_a_layer(module: str) -> None:
    assert layer(module) in LAYERS


def documented_modules(text: str) -> set[str]:
    """Module paths ARCHITECTURE.md's tables name: a row's first path gives the folder that the
    bare file names after it on the same row (``voc.py``, ``coco.py``) belong to."""
    import re

    named = set()
    for row in text.splitlines():
        if not row.startswith("| `augcli/"):
            continue
        cell = row.split("|")[1]
        paths = re.findall(r"`([^`]+\.py)`", cell)
        folder = paths[0].rsplit("/", 1)[0]
        named |= {p if "/" in p else f"{folder}/{p}" for p in paths}
    return named


def test_architecture_names_every_module() -> None:
    text = (PACKAGE.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    modules = {
        p.relative_to(PACKAGE.parent).as_posix()
        for p in PACKAGE.rglob("*.py")
        if p.name != "__init__.py" or p.parent.name in ("cli", "formats")
    }
    named = documented_modules(text)
    assert sorted(modules - named) == [], "modules without a row in ARCHITECTURE.md"
    assert sorted(named - modules) == [], "rows naming modules that do not exist"
