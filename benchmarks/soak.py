"""Soak: many tiny inputs through `augcli expand`, to see that the parent's memory stays flat and
every output is accounted for.

    python benchmarks/soak.py [--files 20000] [--workers 2] [--augcli PATH]

Makes ``--files`` 8x8 PNGs (and a tenth as many, for the slope) under benchmarks/.data/soak,
expands each with ``hflip`` (copies 1) and samples the parent's peak RSS. Reports per run: wall
seconds, outputs per second, the parent's peak RSS, the manifest's line count against the
plan, and `augcli verify`; then the parent's bytes per output: the difference of the two peak
RSS figures over the difference of outputs (what the parent keeps per output, not its start-up).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from run_images import DATA, _status, find_augcli, sampled_run, save_results

RECIPE = "version: 1\nseed: 1\ninput: {src}\noutput: {out}\nimage:\n  pipeline: [hflip]\n"


def corpus(n: int, side: int = 8, name: str = "soak") -> Path:
    """``n`` distinct ``side``x``side`` PNGs in 20 class folders, ``.data/<name><n>`` (made once)."""
    root = DATA / f"{name}{n}"
    if root.is_dir() and sum(1 for _ in root.rglob("*.png")) == n:
        return root
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        folder = root / f"c{i % 20:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{i:06d}.png"), rng.integers(0, 255, (side, side, 3), np.uint8))
    return root


def soak(augcli: str, src: Path, workers: int) -> dict[str, float]:
    """One expand of ``src`` into a fresh folder: time, parent peak RSS, accounting."""
    out = DATA / "soak-out"
    shutil.rmtree(out, ignore_errors=True)
    recipe = DATA / "soak.yaml"
    recipe.write_text(RECIPE.format(src=src, out=out))
    peak = 0

    def tick(pid: int) -> None:
        nonlocal peak
        v = _status(pid).get("VmHWM")
        if v:
            peak = max(peak, int(v.split()[0]))

    cmd = [augcli, "expand", str(recipe), "--workers", str(workers), "-q"]
    start = time.perf_counter()
    _pid, code, err = sampled_run(cmd, {}, 0.05, tick)
    wall = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(err.decode())
    n = sum(1 for _ in src.rglob("*.png"))
    lines = (out / "manifest.jsonl").read_text().count("\n")
    verified = subprocess.run([augcli, "verify", str(out)], capture_output=True).returncode == 0
    counts = json.loads((out / "run.json").read_text())["counts"]
    return {
        "inputs": n,
        "outputs": counts["outputs"],
        "manifest_lines": lines,
        "accounted": lines == n and counts["outputs"] == n and verified,
        "wall_s": wall,
        "outputs_per_s": n / wall,
        "parent_peak_rss_kib": peak,
    }


def report(res: dict) -> str:
    big, small = res["big"], res["small"]
    per_output = (big["parent_peak_rss_kib"] - small["parent_peak_rss_kib"]) * 1024
    per_output /= big["outputs"] - small["outputs"]
    lines = [
        f"# Soak ({res['workers']} workers, {res['machine']})",
        "",
        "| inputs | wall s | outputs/s | parent peak RSS MiB | manifest lines | all accounted |",
        "|---|---|---|---|---|---|",
    ]
    for r in (small, big):
        lines.append(
            f"| {r['inputs']} | {r['wall_s']:.1f} | {r['outputs_per_s']:.0f} | "
            f"{r['parent_peak_rss_kib'] / 1024:.1f} | {r['manifest_lines']} | {r['accounted']} |"
        )
    lines += ["", f"Parent bytes per output (peak RSS slope): {per_output:.0f}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--augcli")
    args = ap.parse_args()
    augcli = find_augcli(args.augcli)
    started = time.time()
    res = {
        "workers": args.workers,
        "machine": f"{sys.platform}, {__import__('os').cpu_count()} cores",
        "small": soak(augcli, corpus(args.files // 10), args.workers),
        "big": soak(augcli, corpus(args.files), args.workers),
    }
    res["total_seconds"] = time.time() - started
    save_results("soak", res, report(res), "soak.py")


if __name__ == "__main__":
    main()
