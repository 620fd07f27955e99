"""Fuzzed recipes: seeded mutations of every recipe in configs/ (keys deleted, duplicated,
renamed and retyped, values swapped, odd YAML inserted: anchors and aliases, tags, control
characters, deep nesting, huge numbers, unicode, invalid UTF-8, truncation), each run through
`augcli validate` in this process. The only outcomes allowed: exit 0 (valid) or exit 2 (a recipe
or usage error, as a message); never an exception escaping, never a traceback."""

from __future__ import annotations

import copy
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml
from conftest import ROOT, textured
from typer.testing import CliRunner

from augcli.cli import app

CASES = int(os.environ.get("AUGCLI_FUZZ_CASES", "1200"))  # more for a longer local hunt
SEED = int(os.environ.get("AUGCLI_FUZZ_SEED", "20240613"))
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))

ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 1, 3, 0.5, -0.0, 1e308, -1e308, float("nan"), float("inf"),
    2**63, 2**63 - 1, 2**70, -(2**70), 10**40, "", " ", "x" * 3000, "ünïcødé ☃ 🎉 \u202e",
    "\u2028", "../../etc/passwd", "/dev/null", "~", "auto", "match_largest", "[0, 1]", "hflip",
    "re:(a+)+$", "re:[", "**/*", [], [1], [1, 0], [0, 1], [0.1, 0.2], [None], ["hflip"],
    [[[[[]]]]], [1, 2, 3, 4, 5], {}, {"a": 1}, {"p": 2}, {"ops": []}, {"ops": ["hflip"]},
    {"target": 10**12}, {"copies": {"a": 10**9}}, {"hflip": None}, {"one_of": []},
    {"some_of": {"n": 9, "ops": ["hflip"]}}, {"one_of": {"ops": ["hflip"], "weights": [0]}},
]  # fmt: skip
ODD_KEYS = ["", "p", "ops", "after", "n", "weights", "pipeline", "graph", "balance", "original",
            "a__b", "ünï", "1", "null", "<<", "image", "text", "audio", "seed", "copies"]  # fmt: skip
SNIPPETS = [
    "x: &a [*a]",
    "x: &a {b: *a}",
    "x: &a\n  <<: *a",
    "x: *undefined",
    "<<: {seed: 1}",
    "x: !!python/object/apply:os.system [echo hi]",
    "x: !!binary '@@@'",
    "x: 2001-13-40",
    "x: !!bool maybe",
    "x: !!int abc",
    "x: !!float abc",
    "x: !!timestamp abc",
    "x: !!omap [a]",
    "x: !custom 1",
    "? [a, b]\n: c",
    "%YAML 1.1\n---",
    "---\nseed: 1",
    "x: |\n  text\n\ttab",
    "x: 0x_",
    "x: 1_000_000_000_000_000_000_000",
    "x: .nan",
    "x: -.inf",
    "\ufeffx: 1",
    'x: "\\uD800"',
    "x: 'a\u2028b'",
]
LAUGHS = "\n".join(
    [f"l0: &l0 [{', '.join(['lol'] * 9)}]"]
    + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
)
CHARS = [*":-{}[]&*!|>%@`'\"#,?\n\t ", "\x00", "\x1b", "\x7f", "\ufffe", "\x85"]


def _paths(data: Any, path: tuple = ()) -> list[tuple]:
    """Every path to a node of ``data`` (mapping keys and list indexes)."""
    out = [path]
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    for k, v in items:
        out += _paths(v, (*path, k))
    return out


def _get(data: Any, path: tuple) -> Any:
    for k in path:
        data = data[k]
    return data


def _tree_mutation(data: Any, rng: random.Random) -> Any:
    """One structural change: delete, retype, swap, rename, duplicate or wrap a node."""
    paths = [p for p in _paths(data) if p]
    if not paths:
        return rng.choice(ODD_VALUES)
    path = rng.choice(paths)
    parent, key = _get(data, path[:-1]), path[-1]
    kind = rng.randrange(7)
    if kind == 0:
        del parent[key]
    elif kind == 1:
        parent[key] = rng.choice(ODD_VALUES)
    elif kind == 2:  # swap two unrelated nodes (neither inside the other)
        other = rng.choice(paths)
        if other[: len(path)] != path and path[: len(other)] != other:
            a, b = copy.deepcopy(parent[key]), copy.deepcopy(_get(data, other))
            parent[key] = b
            _get(data, other[:-1])[other[-1]] = a
    elif kind == 3 and isinstance(parent, dict):
        parent[rng.choice(ODD_KEYS)] = parent.pop(key)
    elif kind == 4 and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))  # a copy: no shared node to mutate twice
    elif kind == 5:
        parent[key] = [parent[key]] if rng.random() < 0.5 else {str(key): parent[key]}
    elif isinstance(parent, dict):
        parent[rng.choice(ODD_KEYS)] = rng.choice(ODD_VALUES)
    return data


def _text_mutation(text: str, rng: random.Random) -> str:
    """One change to the YAML text: odd YAML inserted, a character flipped, a line repeated,
    swapped or re-indented, deep nesting, truncation."""
    lines = text.split("\n")
    at = rng.randrange(len(lines) + 1)
    kind = rng.randrange(8)
    if kind == 0:
        lines.insert(at, rng.choice(SNIPPETS))
    elif kind == 1:
        lines.insert(at, LAUGHS if rng.random() < 0.5 else "x: " + "[" * 60 + "]" * 60)
    elif kind == 2 and text:
        i = rng.randrange(len(text))
        return text[:i] + rng.choice(CHARS) + text[i + 1 :]
    elif kind == 3 and lines:
        lines.insert(at, lines[rng.randrange(len(lines))])  # often a duplicate key
    elif kind == 4 and len(lines) > 1:
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == 5 and lines:
        i = rng.randrange(len(lines))
        lines[i] = (
            (" " * rng.choice([1, 2, 4]) + lines[i]) if rng.random() < 0.5 else lines[i].lstrip()
        )
    elif kind == 6:
        depth = rng.choice([10, 40, 49, 51, 200, 1000])
        nest = "- one_of:\n" + "".join("  " * (d + 1) + "- one_of:\n" for d in range(depth))
        lines.insert(at, "  pipeline:\n" + "\n".join("  " + x for x in nest.splitlines()))
    else:
        return text[: rng.randrange(len(text) + 1)]
    return "\n".join(lines)


def _mutant(rng: random.Random) -> bytes:
    source = rng.choice(CONFIGS).read_text(encoding="utf-8")
    if rng.random() < 0.6:
        data = yaml.safe_load(source)
        for _ in range(rng.randint(1, 3)):
            data = _tree_mutation(data, rng)
        source = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)
    for _ in range(rng.randint(0, 2)):
        source = _text_mutation(source, rng)
    raw = source.encode("utf-8", "surrogatepass")
    if rng.random() < 0.03:
        i = rng.randrange(len(raw) + 1)
        raw = raw[:i] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80"]) + raw[i:]
    return raw


def _inputs(root: Path) -> Path:
    """One small input per modality."""
    root.mkdir()
    cv2.imwrite(str(root / "a.png"), textured(16, 16, 3, np.uint8))
    (root / "b.jsonl").write_text('{"text": "no fever today", "label": "x"}\n', encoding="utf-8")
    (root / "c.txt").write_text("The left lobe is clear.\n", encoding="utf-8")
    shutil.copy(ROOT / "sample_data/audio/yes/yes_en-us.wav", root / "d.wav")
    return root


def test_fuzzed_recipes_validate_to_exit_0_or_2(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    inputs, recipe = _inputs(tmp_path / "in"), tmp_path / "recipe.yaml"
    runner = CliRunner()
    bad: list[str] = []
    codes = {0: 0, 2: 0}
    start = time.monotonic()
    for case in range(CASES):
        raw = _mutant(rng)
        recipe.write_bytes(raw)
        args = ["validate", str(recipe), "--input", str(inputs), "--output", str(tmp_path / "out")]
        if rng.random() < 0.05:
            args += ["--copies", str(rng.choice([0, 1, 10**4, 10**5, 2**70]))]
        result = runner.invoke(app, args)
        unexpected = result.exception is not None and not isinstance(result.exception, SystemExit)
        if unexpected or result.exit_code not in codes or "Traceback" in result.output:
            bad.append(f"case {case}: exit {result.exit_code}, {result.exception!r}\n{raw[:600]!r}")
        else:
            codes[result.exit_code] += 1
    assert not bad, f"{len(bad)} of {CASES} fuzzed recipes escaped:\n" + "\n\n".join(bad[:5])
    assert codes[0] > 50 and codes[2] > 50, codes  # the mutants reach both outcomes
    assert time.monotonic() - start < 240
