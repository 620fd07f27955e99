#!/usr/bin/env python3
"""Dask benchmark: ``--executor dask`` on a LocalCluster against the local pool (``--executor
local``), same workers, same corpus and recipe as run_images.py (400 JPEG 512x512, 4 ops,
copies 2, JPEG q95 out).

Every run is a whole ``augcli expand`` process under ``/usr/bin/time -v``; the two executors
alternate round-robin (the order rotates every round). Reported: median wall of each, the
ratio dask / local (target: at most 1.25 at W=2), the per-task scheduling overhead in ms
((dask wall - local wall) / tasks, one task per input), and the peak memory of the process
tree (parent + every descendant: the cluster's worker processes, the fork server's workers),
from one untimed sampled run of each.

usage: python benchmarks/run_dask.py [--reps 5] [--workers 2] [--quick] [--augcli PATH]
                                     [--peers-python PATH]
       python benchmarks/run_dask.py --report benchmarks/.data/results/dask-latest.json

--quick: a 20-image corpus and one round (checks the script works; the numbers mean little).
Needs: /usr/bin/time, augcli with the dask extra (``pip install 'augcli[dask]'``), and the
peers' virtualenv benchmarks/.peers that makes the corpus (shared/bench/make_images.py), as
run_images.py does.
Writes: benchmarks/.data/results/dask-latest.{md,json} (and a timestamped copy).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from run_images import (
    COPIES,
    DATA,
    PEERS,
    RECIPE,
    Contender,
    add_report_option,
    ensure_corpus,
    ensure_peers,
    ensure_time,
    expand_argv,
    find_augcli,
    find_shared_bench,
    finish,
    loadavg,
    print_saved_report,
    rotated_rounds,
    run_once,
    tree_memory,
)

N_QUICK = 20


def quick_corpus(peers_python: Path, bench: Path) -> Path:
    """.data/images_dask_quick: 20 images made as the full corpus is (make_images.py)."""
    dst = DATA / "images_dask_quick"
    if len(list(dst.rglob("*.jpg"))) != N_QUICK:
        shutil.rmtree(dst, ignore_errors=True)
        subprocess.run(
            [str(peers_python), str(bench / "make_images.py"), str(dst), "--n", str(N_QUICK)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return dst


def contenders(augcli: str, w: int) -> list[Contender]:
    argv = expand_argv(augcli, RECIPE, w, copies=COPIES)
    return [
        Contender(f"local{w}", f"augcli --executor local W={w}", w, [*argv, "--executor", "local"]),
        Contender(f"dask{w}", f"augcli --executor dask W={w}", w, [*argv, "--executor", "dask"]),
    ]


def small_runs(
    cs: list[Contender], peers: Path, bench: Path, reps: int, env: dict[str, str]
) -> dict[str, Any]:
    """The same rounds on the 100-image corpus: with the 400-image ones, the cost per task
    (the slope) apart from the cost of starting (the intercept)."""
    src = ensure_corpus(peers, bench)[1]
    n = len(list(src.rglob("*.jpg")))
    runs = rotated_rounds(
        cs,
        reps,
        lambda c: run_once(c, src, n * COPIES, env),
        lambda r: f"wall {r['wall']:.2f} s ({n} inputs)",
        max(len(c.key) for c in cs),
    )
    return {
        "small_tasks": n,
        "small_median_wall": {k: statistics.median(r["wall"] for r in v) for k, v in runs.items()},
    }


def split_costs(res: dict[str, Any], key: str) -> tuple[float, float]:
    """(seconds per task, seconds to start) of one executor, from the two corpus sizes."""
    big, small = res["median_wall"][key], res["small_median_wall"][key]
    per_task = (big - small) / (res["tasks"] - res["small_tasks"])
    return per_task, small - per_task * res["small_tasks"]


def report(res: dict[str, Any]) -> str:
    w, tasks = res["workers"], res["tasks"]
    local, dask = res["median_wall"][f"local{w}"], res["median_wall"][f"dask{w}"]
    lines = [
        f"# augcli --executor dask (LocalCluster) vs local pool, W={w}",
        "",
        f"{tasks} inputs (one task each), copies {COPIES}, {res['reps']} alternating rounds; "
        f"load average {res['loadavg']['start']} -> {res['loadavg']['end']}",
        "",
        "| executor | median wall s | tree peak PSS MiB | parent peak RSS MiB | workers |",
        "|---|---|---|---|---|",
    ]
    for key in (f"local{w}", f"dask{w}"):
        m = res["memory"][key]
        lines.append(
            f"| {key} | {res['median_wall'][key]:.2f} | {m['tree_peak_pss_mib']:.0f} | "
            f"{m['parent_peak_rss_mib']:.0f} | {len(m['worker_peak_rss_mib'])} processes |"
        )
    lines += [
        "",
        f"dask / local wall: **{dask / local:.2f}x** (target <= 1.25 at W=2)",
        f"scheduling overhead per task: **{(dask - local) / tasks * 1000:.1f} ms** "
        "((dask wall - local wall) / tasks, start-up included)",
        "",
    ]
    if "small_median_wall" in res:
        lp, ls = split_costs(res, f"local{w}")
        dp, ds = split_costs(res, f"dask{w}")
        lines += [
            f"From {res['small_tasks']} and {tasks} inputs (median walls "
            f"{res['small_median_wall'][f'local{w}']:.2f} / "
            f"{res['small_median_wall'][f'dask{w}']:.2f} s on the smaller):",
            "",
            "| executor | per task ms | start s |",
            "|---|---|---|",
            f"| local | {lp * 1000:.2f} | {ls:.2f} |",
            f"| dask | {dp * 1000:.2f} | {ds:.2f} |",
            "",
            f"- per-task overhead of dask: **{(dp - lp) * 1000:.2f} ms**; its extra start "
            f"(LocalCluster: scheduler and worker processes): **{ds - ls:.2f} s**",
            f"- per-task ratio dask / local: **{dp / lp:.2f}x** (the wall ratio once start-up "
            "is amortised)",
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="20 images, one round")
    ap.add_argument("--augcli", default=None)
    ap.add_argument("--peers-python", default=str(PEERS / "bin" / "python"))
    add_report_option(ap)
    args = ap.parse_args()
    if args.report:
        print_saved_report(args.report, report)
        return
    t_start, load_start = time.time(), loadavg()
    ensure_time()
    augcli = find_augcli(args.augcli)
    bench, peers = find_shared_bench(), Path(args.peers_python)
    ensure_peers(peers)  # make_images.py needs scikit-image's sample pictures
    src = quick_corpus(peers, bench) if args.quick else ensure_corpus(peers, bench)[0]
    reps = 1 if args.quick else args.reps
    tasks = len(list(src.rglob("*.jpg")))
    cs = contenders(augcli, args.workers)
    env = dict(os.environ)
    runs = rotated_rounds(
        cs,
        reps,
        lambda c: run_once(c, src, tasks * COPIES, env),
        lambda r: f"wall {r['wall']:.2f} s",
        max(len(c.key) for c in cs),
    )
    small = {} if args.quick else small_runs(cs, peers, bench, reps, env)
    memory = {}
    for c in cs:
        out = DATA / "out" / c.key
        shutil.rmtree(out, ignore_errors=True)
        memory[c.key] = tree_memory(c.command(src, out), env)
    res = {
        "workers": args.workers,
        "tasks": tasks,
        "reps": reps,
        "quick": args.quick,
        "runs": runs,
        "median_wall": {k: statistics.median(r["wall"] for r in v) for k, v in runs.items()},
        "memory": memory,
        **small,
    }
    finish("dask", "run_dask", res, report, t_start, load_start)


if __name__ == "__main__":
    main()
