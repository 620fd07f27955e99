#!/usr/bin/env python3
"""Scale: how many workers one augcli parent can feed, and whether memory grows with the data.

    python benchmarks/scale.py [--big 20000] [--small 2000] [--workers 2] [--augcli PATH]

On a no-op-ish recipe (``hflip`` on 32x32 PNGs, copies 1) it measures, for ``--small`` and
``--big`` inputs:

- the parent's CPU time (user + system of the augcli process itself, from ``getrusage`` at
  exit: its workers and fork server are other processes), and from the two runs the parent's
  CPU microseconds per output (the slope, so start-up and imports cancel out);
- the peak PSS of the whole process tree (parent, fork server, workers; shared pages counted
  once), sampled every 20 ms, and its ratio big/small;
- the workers' CPU time per output (``/proc`` of every descendant, summed).

From these it prints the implied worker ceiling (worker CPU per output / parent CPU per
output: past that many workers the parent is the bottleneck) and a scaling model: projected
outputs per second at 8, 32 and 64 cores, from the measured per-output worker, parent and
disk (file creation) costs, and which resource saturates first.
Writes benchmarks/.data/results/scale-latest.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from run_images import DATA, _children, _pss_kib, find_augcli, sampled_run, save_results
from soak import corpus as soak_corpus

RECIPE = "version: 1\nseed: 1\ninput: {src}\noutput: {out}\nimage:\n  pipeline: [hflip]\n"
# Runs augcli's CLI in this interpreter and prints its own CPU time at exit (the parent only).
WRAPPER = (
    "import atexit, json, resource, sys\n"
    "def _say():\n"
    "    r = resource.getrusage(resource.RUSAGE_SELF)\n"
    "    print('AUGCLI_PARENT_CPU ' + json.dumps([r.ru_utime, r.ru_stime]), file=sys.stderr)\n"
    "atexit.register(_say)\n"
    "from augcli.cli import main\n"
    "sys.argv = ['augcli'] + sys.argv[1:]\n"
    "main()\n"
)
TICKS = os.sysconf("SC_CLK_TCK")


def corpus(n: int) -> Path:
    """``n`` distinct 32x32 PNGs in 20 class folders (made once)."""
    return soak_corpus(n, side=32, name="scale")


def _cpu_seconds(pid: int) -> float:
    """User + system seconds of one process so far (``/proc/PID/stat``)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def one_run(python: str, src: Path, workers: int) -> dict[str, float]:
    """One expand of ``src`` into a fresh folder: wall, parent CPU, worker CPU, tree peak PSS."""
    out = Path(tempfile.mkdtemp(prefix="augcli-scale-", dir=DATA)) / "out"
    recipe = out.parent / "r.yaml"
    recipe.write_text(RECIPE.format(src=src, out=out))
    peak, cpu = 0, {}

    def tick(root: int) -> None:
        nonlocal peak
        kids = _children(root)
        peak = max(peak, sum(_pss_kib(p) for p in (root, *kids)))
        for pid in kids:
            cpu[pid] = max(cpu.get(pid, 0.0), _cpu_seconds(pid))

    cmd = [python, "-c", WRAPPER, "expand", str(recipe), "--workers", str(workers), "-q"]
    start = time.perf_counter()
    _pid, code, err = sampled_run(cmd, dict(os.environ), 0.02, tick)
    wall = time.perf_counter() - start
    text = err.decode()
    if code != 0:
        raise RuntimeError(text)
    user, system = json.loads(text.split("AUGCLI_PARENT_CPU ", 1)[1].splitlines()[0])
    n = sum(1 for _ in out.rglob("*.png"))
    shutil.rmtree(out.parent)
    return {
        "outputs": n,
        "wall_s": wall,
        "parent_cpu_s": user + system,
        "children_cpu_s": sum(cpu.values()),
        "tree_peak_pss_mib": peak / 1024,
    }


def disk_cost(n: int = 2000) -> float:
    """Seconds to create, write and rename one small file here (what every output pays)."""
    root = Path(tempfile.mkdtemp(dir=DATA))
    blob = b"x" * 1500
    start = time.perf_counter()
    for i in range(n):
        tmp = root / f".t{i}"
        tmp.write_bytes(blob)
        os.replace(tmp, root / f"{i}.png")
    each = (time.perf_counter() - start) / n
    shutil.rmtree(root)
    return each


def model(parent_us: float, worker_us: float, disk_us: float) -> list[dict[str, object]]:
    """Projected outputs/s at 8, 32 and 64 cores: one core runs the parent, the rest run workers
    (each output costs ``worker_us`` of a core), until the parent's ``parent_us`` per output is
    what bounds the rate; file creation (``disk_us``, serialised by one folder's directory lock
    in the worst case) bounds it too."""
    rows = []
    for cores in (8, 32, 64):
        by_workers = (cores - 1) * 1e6 / worker_us
        by_parent = 1e6 / parent_us
        by_disk = 1e6 / disk_us
        rate = min(by_workers, by_parent, by_disk)
        limit = {by_workers: "cores", by_parent: "parent", by_disk: "disk (one folder)"}[rate]
        rows.append({"cores": cores, "outputs_per_s": rate, "bound": limit})
    return rows


def report(res: dict) -> str:
    lines = [f"# Scale ({res['workers']} workers, {res['machine']}; medians of {res['reps']})", ""]
    for name, m in res["augcli"].items():
        small, big = m["small"], m["big"]
        lines += [
            f"## {name}",
            "",
            "| inputs | wall s | parent CPU s | workers CPU s | tree peak PSS MiB |",
            "|---|---|---|---|---|",
        ]
        for r in (small, big):
            lines.append(
                f"| {r['outputs']} | {r['wall_s']:.2f} | {r['parent_cpu_s']:.2f} | "
                f"{r['children_cpu_s']:.2f} | {r['tree_peak_pss_mib']:.1f} |"
            )
        lines += [
            "",
            f"- parent CPU per output: **{m['parent_us']:.1f} µs** (slope between the two runs)",
            f"- worker CPU per output: {m['worker_us']:.0f} µs; file creation here: "
            f"{res['disk_us']:.0f} µs",
            f"- implied worker ceiling (worker / parent per output): **{m['ceiling']:.0f} workers**",
            f"- tree peak memory, {big['outputs']} vs {small['outputs']} inputs: "
            f"**{m['memory_ratio']:.2f}x**",
            "",
            "| cores | projected outputs/s | bound by |",
            "|---|---|---|",
        ]
        for row in m["model"]:
            lines.append(f"| {row['cores']} | {row['outputs_per_s']:,.0f} | {row['bound']} |")
        lines.append("")
    return "\n".join(lines)


def median_run(python: str, src: Path, workers: int, reps: int) -> dict[str, float]:
    runs = [one_run(python, src, workers) for _ in range(reps)]
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def measure(python: str, small_src: Path, big_src: Path, args: argparse.Namespace, disk_us: float):
    """Both corpora through one augcli; the per-output slopes and the model."""
    small = median_run(python, small_src, args.workers, args.reps)
    big = median_run(python, big_src, args.workers, args.reps)
    delta = big["outputs"] - small["outputs"]
    parent_us = (big["parent_cpu_s"] - small["parent_cpu_s"]) / delta * 1e6
    worker_us = (big["children_cpu_s"] - small["children_cpu_s"]) / delta * 1e6
    return {
        "small": small,
        "big": big,
        "parent_us": parent_us,
        "worker_us": worker_us,
        "ceiling": worker_us / parent_us,
        "memory_ratio": big["tree_peak_pss_mib"] / small["tree_peak_pss_mib"],
        "model": model(parent_us, worker_us, disk_us),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--big", type=int, default=20000)
    ap.add_argument("--small", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--augcli", help="the augcli whose interpreter runs the CLI")
    ap.add_argument("--baseline", help="an earlier augcli, measured the same way")
    args = ap.parse_args()
    started = time.time()
    small_src, big_src = corpus(args.small), corpus(args.big)
    disk_us = disk_cost() * 1e6
    chosen = {"augcli": find_augcli(args.augcli)}
    if args.baseline:
        chosen["augcli before (baseline)"] = args.baseline
    res = {
        "workers": args.workers,
        "reps": args.reps,
        "machine": f"{sys.platform}, {os.cpu_count()} cores",
        "disk_us": disk_us,
        "augcli": {
            name: measure(str(Path(exe).with_name("python")), small_src, big_src, args, disk_us)
            for name, exe in chosen.items()
        },
    }
    res["total_seconds"] = time.time() - started
    save_results("scale", res, report(res), "scale.py")


if __name__ == "__main__":
    main()
