"""`augcli report`: summarise an output folder from its manifest, as text and a self-contained
HTML page with hand-written SVG charts. Pure standard library: no cv2, no numpy."""

from __future__ import annotations

import html
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augcli.core.layout import MANIFEST
from augcli.core.records import COUNTS, count_of, records_of
from augcli.engine.manifest import read_manifest, read_run_info

NO_CLASS = "(no class)"
TOP_FAILURES = 10
BINS = 10


class ReportError(Exception):
    """The folder has no readable manifest."""


@dataclass
class ClassCounts:
    sources: set[str] = field(default_factory=set)
    originals: int = 0
    outputs: int = 0
    unchanged: int = 0
    failed: int = 0


@dataclass
class Report:
    root: Path
    run: dict[str, Any] | None
    classes: dict[tuple[str, str], ClassCounts]
    # (modality, node, op) -> [fired, considered]
    ops: dict[tuple[str, str, str], list[int]]
    # (modality, op, param) -> sampled numeric values of applied ops
    params: dict[tuple[str, str, str], list[float]]
    failures: Counter[str]
    lines: int
    # modality -> the COUNTS nouns (input files, records, outputs, originals, unchanged, failed)
    totals: dict[str, dict[str, int]] = field(default_factory=dict)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def build(root: Path) -> Report:
    """Read ``root/manifest.jsonl`` (latest line per output; a torn last line is ignored). A
    line is read for what it holds: a field of an unexpected type (a label that is an object,
    ops that are not a list) is shown as text or left out, never a crash."""
    path = root / MANIFEST
    if not path.is_file():
        raise ReportError(f"{root}: no {MANIFEST}; run augcli expand first")
    try:
        records = list(read_manifest(path).values())
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: cannot read the manifest ({exc})") from None
    rep = Report(root, _run_info(root), {}, {}, {}, Counter(), len(records))
    files: dict[str, set[str]] = {}
    for rec in records:
        modality = _label(rec.get("modality"), "?")
        totals = rep.totals.setdefault(modality, dict.fromkeys(COUNTS, 0))
        files.setdefault(modality, set()).add(_label(rec.get("source"), "?"))
        totals["records"] += records_of(rec)
        kind = count_of(rec)
        if kind is not None:  # None: a record file's own line (its records have their own)
            totals[kind] += 1
            _count(rep, rec)
    for modality, sources in files.items():
        rep.totals[modality]["input_files"] = len(sources)
    return rep


def _label(value: Any, empty: str) -> str:
    """A manifest value as a table cell: text as it is, anything else as compact JSON."""
    if value is None or value == "":
        return empty
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _run_info(root: Path) -> dict[str, Any] | None:
    info = read_run_info(root)
    return info if isinstance(info, dict) else None


def _count(rep: Report, rec: dict[str, Any]) -> None:
    """Add one output's line to the counts."""
    modality = _label(rec.get("modality"), "?")
    c = rep.classes.setdefault((modality, _label(rec.get("label"), NO_CLASS)), ClassCounts())
    record = rec.get("record")
    source = _label(rec.get("source"), "?")
    # A record of a record file is an input of its own; otherwise the source file is.
    if isinstance(record, dict):
        source = f"{source}#{_label(record.get('input'), '?')}"
    c.sources.add(source)
    status = rec.get("status")
    if status == "failed":
        c.failed += 1
        rep.failures[_label(rec.get("error"), "(no reason recorded)").strip()] += 1
    elif status == "unchanged":
        c.unchanged += 1
    elif status == "ok":
        if rec.get("node") is None:
            c.originals += 1
        else:
            c.outputs += 1
    steps = rec.get("ops")
    for step in steps if isinstance(steps, list) else []:
        if isinstance(step, dict):
            _count_step(rep, modality, step)


def _count_step(rep: Report, modality: str, step: dict[str, Any]) -> None:
    key = (modality, _label(step.get("node"), "None"), _label(step.get("op"), "None"))
    counts = rep.ops.setdefault(key, [0, 0])
    counts[1] += 1
    if step.get("applied"):
        counts[0] += 1
        params = step.get("params")
        for name, value in (params if isinstance(params, dict) else {}).items():
            if _is_number(value):
                rep.params.setdefault((modality, key[2], name), []).append(float(value))


# ---------------------------------------------------------------- text


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    cells = [header, *[[str(x) for x in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def fmt(r: list[str]) -> str:
        return "  ".join(
            x.ljust(w) if i == 0 else x.rjust(w)
            for i, (x, w) in enumerate(zip(r, widths, strict=True))
        )

    return [fmt(cells[0]), fmt(["-" * w for w in widths]), *[fmt(r) for r in cells[1:]]]


def class_rows(rep: Report) -> list[list[Any]]:
    return [
        [f"{m}/{label}", len(c.sources), c.originals, c.outputs, c.unchanged, c.failed]
        for (m, label), c in sorted(rep.classes.items())
    ]


CLASS_HEADER = ["class", "inputs", "originals", "outputs", "unchanged", "failed"]
OP_HEADER = ["op", "node", "fired", "considered", "rate"]


def op_rows(rep: Report) -> list[list[Any]]:
    return [
        [f"{m}/{op}", node, fired, seen, f"{fired / seen:.0%}" if seen else "-"]
        for (m, node, op), (fired, seen) in sorted(rep.ops.items())
    ]


def text(rep: Report) -> str:
    out = [f"report: {rep.root}"]
    if rep.run:
        last = rep.run.get("this_run")
        last = last if isinstance(last, dict) else {}
        out.append(
            f"run: status {rep.run.get('status', '?')}, seed {rep.run.get('seed', '?')}, "
            f"recipe {rep.run.get('recipe', '?')}"
        )
        if last:
            shown = [k for k in (*COUNTS, "already_done") if k in last]
            shown = [k for k in shown if k != "records" or last[k]]  # no record files: not said
            out.append(
                "last run: "
                + ", ".join(f"{_label(last[k], '?')} {k.replace('_', ' ')}" for k in shown)
            )
    else:
        out.append("run: no readable run.json")
    out.append("")
    for m, totals in sorted(rep.totals.items()):
        said = [(k, n) for k, n in totals.items() if k != "records" or n]
        out.append(f"{m}: " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in said))
    out += [
        "",
        "classes (inputs: input files, and each record of a record file; outputs: augmented, "
        "written; originals counted apart)",
    ]
    out += _table(CLASS_HEADER, class_rows(rep))
    out += ["", "ops (fired = applied; considered = on the path of an output)"]
    out += _table(OP_HEADER, op_rows(rep)) if rep.ops else ["(none)"]
    out += ["", f"failures by reason (top {TOP_FAILURES})"]
    if rep.failures:
        out += [f"{n:6d}  {reason}" for reason, n in rep.failures.most_common(TOP_FAILURES)]
        rest = len(rep.failures) - TOP_FAILURES
        if rest > 0:
            out.append(f"   ... and {rest} more reasons")
    else:
        out.append("(none)")
    return "\n".join(out)


# ---------------------------------------------------------------- SVG / HTML

BEFORE, AFTER, BAR = "#8da0cb", "#fc8d62", "#66c2a5"


def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _num(v: float) -> str:
    return f"{v:.3g}"


def bar_chart(rep: Report) -> str:
    """Grouped bars per class: before (inputs) and after (inputs + augmented outputs)."""
    rows = [
        (f"{m}/{label}", len(c.sources), len(c.sources) + c.outputs)
        for (m, label), c in sorted(rep.classes.items())
    ]
    top = max([a for _, _, a in rows] + [1])
    left, bar_h, gap, width = 200, 14, 10, 420
    h = 30 + len(rows) * (2 * bar_h + gap)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 80}" height="{h}" '
        'role="img" aria-label="class counts before and after" font-family="sans-serif" '
        'font-size="12">',
        f'<rect x="{left}" y="4" width="10" height="10" fill="{BEFORE}"/>'
        f'<text x="{left + 14}" y="13">before (inputs)</text>'
        f'<rect x="{left + 130}" y="4" width="10" height="10" fill="{AFTER}"/>'
        f'<text x="{left + 144}" y="13">after (inputs + outputs)</text>',
    ]
    y = 24
    for name, before, after in rows:
        parts.append(
            f'<text x="{left - 6}" y="{y + bar_h + 4}" text-anchor="end">{_esc(name)}</text>'
        )
        for value, colour, dy in ((before, BEFORE, 0), (after, AFTER, bar_h)):
            w = width * value / top
            parts.append(
                f'<rect x="{left}" y="{y + dy}" width="{w:.1f}" height="{bar_h - 1}" '
                f'fill="{colour}"><title>{_esc(name)}: {value}</title></rect>'
                f'<text x="{left + w + 4:.1f}" y="{y + dy + bar_h - 3}">{value}</text>'
            )
        y += 2 * bar_h + gap
    parts.append("</svg>")
    return "".join(parts)


def histogram(values: list[float], title: str) -> str:
    lo, hi = min(values), max(values)
    bins = BINS if hi > lo else 1
    counts = [0] * bins
    half = not math.isfinite(hi - lo)  # e.g. -1e308 to 1e308: the span overflows, halves do not
    for v in values:
        share = (v / 2 - lo / 2) / (hi / 2 - lo / 2) if half else (v - lo) / (hi - lo or 1)
        counts[0 if hi == lo else min(int(share * bins), bins - 1)] += 1
    w, h, pad = 300, 140, 24
    top = max(counts)
    bw = (w - 2 * pad) / bins
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h + 20}" role="img" '
        f'aria-label="{_esc(title)}" font-family="sans-serif" font-size="11">',
        f'<text x="{w / 2}" y="12" text-anchor="middle" font-weight="bold">{_esc(title)}</text>',
    ]
    for i, n in enumerate(counts):
        bh = (h - 2 * pad) * n / top
        x = pad + i * bw
        parts.append(
            f'<rect x="{x:.1f}" y="{h - pad - bh:.1f}" width="{bw - 1:.1f}" height="{bh:.1f}" '
            f'fill="{BAR}"><title>{n}</title></rect>'
        )
    parts.append(
        f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#333"/>'
        f'<text x="{pad}" y="{h - pad + 14}">{_num(lo)}</text>'
        f'<text x="{w - pad}" y="{h - pad + 14}" text-anchor="end">{_num(hi)}</text>'
        f'<text x="{w / 2}" y="{h - pad + 14}" text-anchor="middle">n={len(values)}, '
        f"max bin {top}</text></svg>"
    )
    return "".join(parts)


def _html_table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_esc(x)}</th>" for x in header)
    body = "".join("<tr>" + "".join(f"<td>{_esc(x)}</td>" for x in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


CSS = (
    "body{font-family:sans-serif;margin:2em;max-width:1100px}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "th,td{border:1px solid #ccc;padding:3px 8px}td+td,th+th{text-align:right}"
    "th{background:#f2f2f2}.hists svg{margin:0 12px 12px 0;border:1px solid #eee}"
    "pre{background:#f7f7f7;padding:.5em}"
)


def to_html(rep: Report) -> str:
    fail_rows = [[reason, n] for reason, n in rep.failures.most_common(TOP_FAILURES)]
    hists = [
        histogram(vals, f"{m}/{op}.{name}") for (m, op, name), vals in sorted(rep.params.items())
    ]
    run = ""
    if rep.run:
        keep = ("recipe", "seed", "copies", "status", "workers", "wall_seconds", "counts")
        run = _html_table(["run.json", "value"], [[k, rep.run[k]] for k in keep if k in rep.run])
    return "".join(
        [
            '<!doctype html><html lang="en"><head><meta charset="utf-8">',
            f"<title>augcli report: {_esc(rep.root)}</title><style>{CSS}</style></head><body>",
            f"<h1>augcli report</h1><p>{_esc(rep.root)} &mdash; {rep.lines} manifest entries</p>",
            run,
            "<h2>Classes</h2>",
            _html_table(CLASS_HEADER, class_rows(rep)),
            "<h2>Class counts before and after</h2>",
            bar_chart(rep),
            "<h2>Ops</h2>",
            _html_table(OP_HEADER, op_rows(rep)) if rep.ops else "<p>(none)</p>",
            "<h2>Sampled parameters of applied ops</h2>",
            f'<div class="hists">{"".join(hists)}</div>' if hists else "<p>(none)</p>",
            f"<h2>Failures by reason (top {TOP_FAILURES})</h2>",
            _html_table(["reason", "count"], fail_rows) if fail_rows else "<p>(none)</p>",
            "</body></html>\n",
        ]
    )


def write_html(rep: Report, path: Path) -> None:
    from augcli.core.atomic import write_text_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, to_html(rep))
