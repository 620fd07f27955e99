#!/usr/bin/env python3
"""Every benchmark in one sitting, then the targets of issue 14 (and 15) as one table, the
figures of this augcli side by side with an earlier one's.

    python benchmarks/run_all.py [--baseline PATH] [--quick] [--skip images,audio-text,scale,dask]
    python benchmarks/run_all.py --summary          # the table from the saved results only

``--baseline``: an earlier augcli executable (e.g. a virtualenv with the last release, or a
git worktree of an older commit, see README.md "Before and after"), timed alongside augcli in
every benchmark. Runs, in order: run_images.py, run_audio_text.py, scale.py, run_dask.py
(when Dask is installed). Nothing else should run on the machine meanwhile.
Writes benchmarks/.data/results/summary-latest.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / ".data" / "results"


def run(script: str, extra: list[str]) -> None:
    cmd = [sys.executable, str(HERE / script), *extra]
    print(f"run_all: {' '.join(cmd)}", file=sys.stderr)
    subprocess.run(cmd, check=True)


def latest(kind: str) -> dict | None:
    path = RESULTS / f"{kind}-latest.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _x(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def image_rows(res: dict) -> list[tuple[str, str, str, str]]:
    r, st = res["ratios"], res["startup"]
    rows = [
        ("images W=2 / Albumentations+Pool", "<= 0.8x", r["augcli2/albu2"], r.get("base2/albu2")),
        ("images W=2 / I/O floor", "<= 2.0x", r["augcli2/floor2"], r.get("base2/floor2")),
        ("images speed-up W=1 -> W=2", ">= 1.6x", r["augcli1/augcli2"], r.get("base1/base2")),
    ]
    out = [(a, b, _x(c), _x(d)) for a, b, c, d in rows]
    if res.get("annotations"):
        ann = res["annotations"]["ratios"]
        key = next((k for k in ann if k.startswith("augcli-yolo2/albu-yolo2")), None)
        if key:
            out.append(("images + YOLO W=2 / BboxParams loop", "<= 0.8x", _x(ann[key]), "-"))
    one = st.get("augcli expand, 1 image", {}).get("wall")
    before_one = st.get("before: augcli expand, 1 image", {}).get("wall")
    helps = st.get("augcli --help", {}).get("wall")
    before_help = st.get("before: augcli --help", {}).get("wall")
    out.append(("start-up: expand of 1 image", "<= 0.5 s", _s(one), _s(before_one)))
    out.append(("start-up: --help", "<= 0.15 s", _s(helps), _s(before_help)))
    return out


def _s(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f} s"


def audio_text_rows(res: dict) -> list[tuple[str, str, str, str]]:
    r = res["ratios"]
    return [
        (
            "audio W=2 / audiomentations loop",
            "<= 0.9x",
            _x(r.get("audio-augcli2/audio-peer2")),
            _x(r.get("before-audio-augcli2/audio-peer2")),
        ),
        (
            "text EDA W=1 / pure-Python EDA loop",
            "<= 5x",
            _x(r.get("text-augcli-eda1/text-eda1")),
            _x(r.get("before-text-augcli-eda1/text-eda1")),
        ),
    ]


def scale_rows(res: dict) -> list[tuple[str, str, str, str]]:
    now = res["augcli"]["augcli"]
    before = res["augcli"].get("augcli before (baseline)")

    def pick(key: str, fmt: str) -> tuple[str, str]:
        b = fmt.format(before[key]) if before else "-"
        return fmt.format(now[key]), b

    return [
        ("parent CPU per output", "<= 30 µs", *pick("parent_us", "{:.1f} µs")),
        ("implied worker ceiling", ">= 64", *pick("ceiling", "{:.0f}")),
        ("tree peak memory 20,000 / 2,000 inputs", "<= 1.1x", *pick("memory_ratio", "{:.2f}x")),
    ]


def dask_rows(res: dict) -> list[tuple[str, str, str, str]]:
    w, tasks, wall = res["workers"], res["tasks"], res["median_wall"]
    local, dask = wall[f"local{w}"], wall[f"dask{w}"]
    rows = [
        (f"dask (LocalCluster) / local pool, W={w}", "<= 1.25x", _x(dask / local), "-"),
        (
            "dask overhead per task, start-up included",
            "-",
            f"{(dask - local) / tasks * 1e3:.1f} ms",
            "-",
        ),
    ]
    if "small_median_wall" in res:
        small, n = res["small_median_wall"], res["small_tasks"]
        slope = {k: (wall[f"{k}{w}"] - small[f"{k}{w}"]) / (tasks - n) for k in ("local", "dask")}
        start = {k: small[f"{k}{w}"] - slope[k] * n for k in slope}
        rows += [
            (
                "dask / local per task (start-up apart)",
                "-",
                _x(slope["dask"] / slope["local"]),
                "-",
            ),
            ("dask extra start (LocalCluster)", "-", _s(start["dask"] - start["local"]), "-"),
        ]
    return rows


def summary() -> str:
    rows: list[tuple[str, str, str, str]] = []
    for kind, make in (
        ("images", image_rows),
        ("audio-text", audio_text_rows),
        ("scale", scale_rows),
        ("dask", dask_rows),
    ):
        res = latest(kind)
        if res is not None:
            try:
                rows += make(res)
            except KeyError as exc:  # an older result without this figure
                rows.append((f"{kind}: not in the saved result ({exc})", "-", "-", "-"))
    lines = [
        f"# augcli benchmarks, summary ({time.strftime('%Y-%m-%d %H:%M')})",
        "",
        "| target | wanted | now | before |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", help="an earlier augcli executable, timed alongside")
    ap.add_argument("--quick", action="store_true", help="fewer rounds everywhere")
    ap.add_argument("--skip", default="", help="comma-separated: images,audio-text,scale,dask")
    ap.add_argument("--summary", action="store_true", help="only print the saved summary")
    a = ap.parse_args()
    if not a.summary:
        skip = set(filter(None, a.skip.split(",")))
        base = ["--baseline", a.baseline] if a.baseline else []
        if "images" not in skip:
            run("run_images.py", [*base, *(["--quick"] if a.quick else [])])
        if "audio-text" not in skip:
            run("run_audio_text.py", [*base, "--reps", "2" if a.quick else "3"])
        if "scale" not in skip:
            run("scale.py", [*base, "--reps", "1" if a.quick else "3"])
        if "dask" not in skip and importlib.util.find_spec("distributed") is not None:
            run("run_dask.py", ["--quick"] if a.quick else [])
    text = summary()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "summary-latest.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
