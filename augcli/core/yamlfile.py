"""YAML read with locations: the line of every YAML path (``image.pipeline[2].rotate``), so a
recipe or a lexicon file can say where a problem is; duplicate keys are errors, not silently
the last one. Hostile documents are refused, located: nesting deeper than ``MAX_DEPTH``, an
alias that contains itself, aliases that expand by more than ``MAX_ALIAS_NODES`` nodes (a
"billion laughs"), control characters, values a tag cannot build."""

from __future__ import annotations

from typing import Any

import yaml

from augcli.core.errors import RecipeError, show

MAX_DEPTH = 50  # mappings and lists inside each other; a real recipe nests about ten deep
MAX_ALIAS_NODES = 100_000  # nodes that aliases add when expanded, over the file's own
_VALUE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, OverflowError, IndexError)


class _Refused(yaml.YAMLError):
    """A document augcli will not load (too deep, a self-containing alias, an alias bomb)."""

    def __init__(self, what: str, fix: str, mark: yaml.Mark | None) -> None:
        super().__init__(what)
        self.what, self.fix, self.problem_mark = what, fix, mark


_TOO_DEEP = (
    f"nests mappings and lists more than {MAX_DEPTH} levels deep",
    "Flatten the document: a recipe needs only a few levels.",
)


class _Loader(yaml.SafeLoader):
    """The safe loader with its composing depth bounded and every value error located."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self._depth >= MAX_DEPTH:
            raise _Refused(*_TOO_DEEP, self.peek_event().start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except _VALUE_ERRORS as exc:  # e.g. `!!int abc`, `2001-13-01`, `!!bool maybe`
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            why = f" ({exc})" if isinstance(exc, ValueError) else ""
            raise _Refused(
                f"cannot read the value {show(node.value)} as {tag}{why}",
                "Quote it to keep it as text, or write a valid value for its tag.",
                node.start_mark,
            ) from None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: yaml.Node) -> None:
    """Refuse an alias that contains itself, aliases that expand past ``MAX_ALIAS_NODES`` extra
    nodes, or nesting (through aliases) past ``MAX_DEPTH``: one pass over the distinct nodes
    (never the expansion), without recursion."""
    size: dict[int, int] = {}  # id -> nodes in its expansion
    depth: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        key = id(node)
        if closing:
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            open_.discard(key)
            if size[key] > len(size) + MAX_ALIAS_NODES:  # len(size) bounds its distinct nodes
                raise _Refused(
                    f"has aliases that expand to more than {MAX_ALIAS_NODES} nodes",
                    "Write the values out, or use fewer nested aliases ('*name').",
                    node.start_mark,
                )
            if depth[key] > MAX_DEPTH:
                raise _Refused(*_TOO_DEEP, node.start_mark)
            continue
        if key in size:
            continue
        open_.add(key)
        stack.append((node, True))
        for kid in _children(node):
            if id(kid) in open_:
                raise _Refused(
                    "has an alias that contains itself",
                    "An alias ('*name') must not be used inside its own anchor ('&name').",
                    kid.start_mark,
                )
            if id(kid) not in size:
                stack.append((kid, False))


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
    """The document in ``text`` and the line of every YAML path in it; a syntax error, a key
    given twice or a refused document (see the module) is a ``RecipeError`` located in
    ``file``."""
    loader = None
    try:
        loader = _Loader(text)  # the reader refuses control characters here
        node = loader.get_single_node()
        if node is None:
            return None, {}
        _check_expansion(node)
        lines: dict[str, int] = {}
        _locate(node, "", lines, file)
        return loader.construct_document(node), lines
    except yaml.YAMLError as exc:
        raise _located(exc, text, file) from None
    except RecursionError:  # a backstop: the bounds above keep every walk shallow
        raise RecipeError(*_TOO_DEEP[:1], file=file, fix=_TOO_DEEP[1]) from None
    finally:
        if loader is not None:
            loader.dispose()


def _located(exc: yaml.YAMLError, text: str, file: str) -> RecipeError:
    """A YAML error as a ``RecipeError`` naming the file and line."""
    if isinstance(exc, _Refused):
        what, fix = exc.what, exc.fix
    elif isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return RecipeError(
            f"is not valid YAML: the control character U+{code:04X} is not allowed",
            file=file,
            line=line,
            fix="Remove the control character (a NUL or other non-printable byte) here.",
        )
    else:
        what = f"is not valid YAML: {getattr(exc, 'problem', None) or exc}"
        fix = "Check indentation and quoting around this line."
    mark = getattr(exc, "problem_mark", None)
    return RecipeError(what, file=file, line=mark.line + 1 if mark else None, fix=fix)
