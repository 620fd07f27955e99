"""YAML read with locations: the line of every YAML path (``image.pipeline[2].rotate``), so a
recipe or a lexicon file can say where a problem is; duplicate keys are errors, not silently
the last one."""

from __future__ import annotations

from typing import Any

import yaml

from augcli.core.errors import RecipeError


def _locate(node: yaml.Node, path: str, lines: dict[str, int], file: str) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            k = str(key.value)
            sub = f"{path}.{k}" if path else k
            if k in seen:
                raise RecipeError(
                    f"key '{k}' appears twice (first on line {seen[k]})",
                    path=sub,
                    file=file,
                    line=key.start_mark.line + 1,
                    fix="Keep one; YAML would silently use the last.",
                )
            seen[k] = key.start_mark.line + 1
            lines[sub] = key.start_mark.line + 1
            _locate(value, sub, lines, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _locate(item, f"{path}[{i}]", lines, file)


def line_of(path: str, lines: dict[str, int]) -> int | None:
    """The line of ``path`` or of its nearest located ancestor."""
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return None


def load_yaml(text: str, file: str) -> tuple[Any, dict[str, int]]:
    """The document in ``text`` and the line of every YAML path in it; a syntax error or a
    key given twice is a ``RecipeError`` located in ``file``."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[str, int] = {}
        _locate(node, "", lines, file)
        return loader.construct_document(node), lines
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise RecipeError(
            f"is not valid YAML: {problem}",
            file=file,
            line=mark.line + 1 if mark else None,
            fix="Check indentation and quoting around this line.",
        ) from None
    finally:
        loader.dispose()
