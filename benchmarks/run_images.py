#!/usr/bin/env python3
"""Image benchmark: augcli against the I/O floor and a hand-written Albumentations loop.

Every contender is a whole process under ``/usr/bin/time -v`` (wall clock and maximum
resident set size), on the same corpus (400 JPEG 512x512 in 4 classes, built by
shared/bench/make_images.py), the same job (4 ops, copies 2, JPEG q95 out), in one
sitting, with the contenders alternating round-robin (the order rotates every round).
Reported: medians and ratios (augcli / I/O floor, augcli / Albumentations loop, at the
same worker count); absolute seconds are only context.

Also: augcli start-up (``--help``, ``--version``, ``ops``; median of 10), peak memory of
the parent and of each worker (sampled from /proc, in separate untimed runs), a
memory-flatness check (augcli max RSS on 100 vs 400 inputs), and the annotation overhead:
the same job with 3 YOLO boxes per image (a copy of the corpus with sidecars,
.data/images_yolo), augcli with recipes/images_yolo.yaml against recipes/images.yaml and
albu_loop_yolo.py against albu_loop.py, alternating, median of 3 (skip: --no-annotations).

usage: python benchmarks/run_images.py [--reps 5] [--quick] [--no-annotations] [--augcli PATH]
                                       [--peers-python PATH]
       python benchmarks/run_images.py --report benchmarks/.data/results/images-latest.json

Needs: /usr/bin/time (``apt-get install -y time``), augcli installed (default: the
``augcli`` next to this interpreter, else on PATH), and the peers' virtualenv
benchmarks/.peers (created on first run with pip if missing; see shared/bench/README.md).
Writes: benchmarks/.data/results/images-latest.{md,json} (and a timestamped copy).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = HERE / ".data"
PEERS = HERE / ".peers"
RECIPE = HERE / "recipes" / "images.yaml"
RECIPE_YOLO = HERE / "recipes" / "images_yolo.yaml"
ALBU_YOLO = HERE / "albu_loop_yolo.py"
PEER_PACKAGES = [
    "numpy",
    "opencv-python-headless",
    "albumentations==2.0.8",
    "scikit-image",
    "pydicom",
    "pillow",
]
N_INPUTS, N_SMALL, COPIES = 400, 100, 2
BOXES_PER_IMAGE, ANN_REPS = 3, 3


def find_shared_bench() -> Path:
    """shared/bench: $AUGCLI_SHARED_BENCH, else a shared/bench beside the repo or above it."""
    env = os.environ.get("AUGCLI_SHARED_BENCH")
    candidates = [Path(env)] if env else []
    candidates += [p / "shared" / "bench" for p in (REPO.parent, REPO, REPO.parent.parent)]
    for c in candidates:
        if (c / "io_floor.py").is_file():
            return c
    sys.exit("run_images: cannot find shared/bench (io_floor.py); set AUGCLI_SHARED_BENCH")


def find_augcli(given: str | None) -> str:
    if given:
        return given
    beside = Path(sys.executable).parent / "augcli"
    if beside.is_file():
        return str(beside)
    found = shutil.which("augcli")
    if not found:
        sys.exit("run_images: augcli not found; pass --augcli PATH (e.g. /work/venv/bin/augcli)")
    return found


def ensure_time() -> None:
    if not Path("/usr/bin/time").is_file():
        sys.exit("run_images: /usr/bin/time missing: apt-get update && apt-get install -y time")


def ensure_peers(python: Path) -> None:
    if python.is_file():
        return
    print(f"run_images: creating the peers' virtualenv {PEERS} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
    subprocess.run([str(PEERS / "bin" / "pip"), "install", "-q", *PEER_PACKAGES], check=True)


def ensure_corpus(peers_python: Path, bench: Path) -> tuple[Path, Path]:
    """.data/images (400 JPEG, made by make_images.py) and .data/images100 (25 per class)."""
    full, small = DATA / "images", DATA / "images100"
    if len(list(full.rglob("*.jpg"))) != N_INPUTS:
        shutil.rmtree(full, ignore_errors=True)
        subprocess.run(
            [str(peers_python), str(bench / "make_images.py"), str(full), "--n", str(N_INPUTS)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    if len(list(small.rglob("*.jpg"))) != N_SMALL:
        shutil.rmtree(small, ignore_errors=True)
        classes = sorted(p for p in full.iterdir() if p.is_dir())
        per = N_SMALL // len(classes)
        for c in classes:
            (small / c.name).mkdir(parents=True)
            for f in sorted(c.glob("*.jpg"))[:per]:
                shutil.copyfile(f, small / c.name / f.name)
    return full, small


def yolo_lines(rel: str, n: int = BOXES_PER_IMAGE) -> str:
    """``n`` deterministic YOLO boxes (``class cx cy w h``, normalised, 6 decimals) for the image
    ``rel``: class 0..3, width and height 0.08..0.40 of the image, wholly inside it with a
    margin of 0.01 (so neither reader has anything to clip on input)."""
    rng = random.Random(f"augcli-bench-yolo:{rel}")
    out = []
    for _ in range(n):
        w, h = rng.uniform(0.08, 0.40), rng.uniform(0.08, 0.40)
        cx = rng.uniform(w / 2 + 0.01, 1 - w / 2 - 0.01)
        cy = rng.uniform(h / 2 + 0.01, 1 - h / 2 - 0.01)
        out.append(f"{rng.randrange(4)} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n")
    return "".join(out)


def ensure_yolo_corpus(full: Path) -> Path:
    """.data/images_yolo: a copy of .data/images with a YOLO sidecar beside every JPEG (the
    plain corpus is left without sidecars)."""
    dst = DATA / "images_yolo"
    jpgs = sorted(full.rglob("*.jpg"))

    def current(j: Path) -> bool:
        rel = j.relative_to(full)
        img, side = dst / rel, (dst / rel).with_suffix(".txt")
        return (
            img.is_file()
            and img.stat().st_size == j.stat().st_size
            and side.is_file()
            and side.read_text() == yolo_lines(rel.as_posix())
        )

    n_files = sum(1 for f in dst.rglob("*") if f.is_file()) if dst.is_dir() else 0
    if n_files != 2 * len(jpgs) or not all(current(j) for j in jpgs):
        shutil.rmtree(dst, ignore_errors=True)
        for j in jpgs:
            rel = j.relative_to(full)
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(j, dst / rel)
            (dst / rel).with_suffix(".txt").write_text(yolo_lines(rel.as_posix()))
    return dst


# -- one timed run -----------------------------------------------------------------------------
def parse_time_v(text: str) -> dict[str, float]:
    def grab(label: str) -> str:
        m = re.search(rf"^\s*{re.escape(label)}: (.+)$", text, re.M)
        if not m:
            raise RuntimeError(f"no '{label}' in /usr/bin/time output:\n{text}")
        return m.group(1).strip()

    wall = 0.0
    for part in grab("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"):
        wall = wall * 60 + float(part)
    return {
        "wall": wall,
        "user": float(grab("User time (seconds)")),
        "sys": float(grab("System time (seconds)")),
        "max_rss_mib": int(grab("Maximum resident set size (kbytes)")) / 1024,
    }


def timed(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        proc = subprocess.run(
            ["/usr/bin/time", "-v", "-o", tf.name, *cmd],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
        return parse_time_v(tf.read())


def count_outputs(out: Path) -> int:
    return sum(1 for _ in out.rglob("*.jpg"))


def count_sidecars(out: Path) -> tuple[int, int]:
    """(number of YOLO sidecars, number of boxes in them) under ``out``."""
    files = boxes = 0
    for f in out.rglob("*.txt"):
        files += 1
        boxes += sum(1 for line in f.read_text().splitlines() if line.strip())
    return files, boxes


class Contender:
    def __init__(
        self, key: str, label: str, workers: int, argv: list[str], sidecars: bool = False
    ) -> None:
        self.key, self.label, self.workers, self.argv = key, label, workers, argv
        self.sidecars = sidecars  # writes a YOLO sidecar per output (checked, boxes counted)

    def command(self, src: Path, out: Path) -> list[str]:
        return [a.replace("{IN}", str(src)).replace("{OUT}", str(out)) for a in self.argv]


def peer_argv(peers_python: Path, script: Path, w: int) -> list[str]:
    return [
        str(peers_python),
        str(script),
        "{IN}",
        "{OUT}",
        "--copies",
        str(COPIES),
        "--workers",
        str(w),
        "--quality",
        "95",
    ]


def expand_argv(
    augcli: str, recipe: Path, w: int, src: str = "{IN}", copies: int | None = None
) -> list[str]:
    """``augcli expand`` of ``recipe`` from ``src`` into ``{OUT}`` with ``w`` workers (and
    ``--copies`` when given), quiet."""
    argv = [augcli, "expand", str(recipe), "--input", src, "--output", "{OUT}", "--workers", str(w)]
    if copies is not None:
        argv += ["--copies", str(copies)]
    return [*argv, "--quiet"]


def augcli_argv(augcli: str, recipe: Path, w: int) -> list[str]:
    return expand_argv(augcli, recipe, w, copies=COPIES)


def contenders(
    augcli: str, peers_python: Path, bench: Path, baseline: str | None = None
) -> list[Contender]:
    """The I/O floor, the Albumentations loop and augcli at W=1 and W=2 (and, with
    ``baseline``, an earlier augcli, so before and after are timed in the same sitting)."""
    out: list[Contender] = []
    for w in (1, 2):
        out.append(
            Contender(
                f"floor{w}",
                f"I/O floor (io_floor.py) W={w}",
                w,
                peer_argv(peers_python, bench / "io_floor.py", w),
            )
        )
        out.append(
            Contender(
                f"albu{w}",
                f"Albumentations loop (albu_loop.py) W={w}",
                w,
                peer_argv(peers_python, bench / "albu_loop.py", w),
            )
        )
        out.append(
            Contender(f"augcli{w}", f"augcli expand W={w}", w, augcli_argv(augcli, RECIPE, w))
        )
        if baseline:
            label = f"augcli before (baseline) W={w}"
            out.append(Contender(f"base{w}", label, w, augcli_argv(baseline, RECIPE, w)))
    return out


def annotation_contenders(augcli: str, peers_python: Path, bench: Path) -> list[Contender]:
    """Plain and annotated, side by side, so that they alternate: at each W, augcli with
    images.yaml then images_yolo.yaml, albu_loop.py then albu_loop_yolo.py (all on the corpus
    with sidecars; the plain contenders do not read them)."""
    out: list[Contender] = []
    for w in (1, 2):
        out += [
            Contender(
                f"ann-augcli{w}",
                f"augcli expand, images.yaml W={w}",
                w,
                augcli_argv(augcli, RECIPE, w),
            ),
            Contender(
                f"ann-augcli-yolo{w}",
                f"augcli expand, images_yolo.yaml W={w}",
                w,
                augcli_argv(augcli, RECIPE_YOLO, w),
                sidecars=True,
            ),
            Contender(
                f"ann-albu{w}",
                f"Albumentations loop (albu_loop.py) W={w}",
                w,
                peer_argv(peers_python, bench / "albu_loop.py", w),
            ),
            Contender(
                f"ann-albu-yolo{w}",
                f"Albumentations loop + BboxParams (albu_loop_yolo.py) W={w}",
                w,
                peer_argv(peers_python, ALBU_YOLO, w),
                sidecars=True,
            ),
        ]
    return out


def run_once(c: Contender, src: Path, n_expected: int, env: dict[str, str]) -> dict[str, float]:
    out = DATA / "out" / c.key
    shutil.rmtree(out, ignore_errors=True)
    res = timed(c.command(src, out), env)
    got = count_outputs(out)
    if got != n_expected:
        raise RuntimeError(f"{c.key}: {got} outputs, expected {n_expected}")
    if c.sidecars:
        files, boxes = count_sidecars(out)
        if files != n_expected:
            raise RuntimeError(f"{c.key}: {files} YOLO sidecars, expected {n_expected}")
        res["boxes_out"] = boxes
    return res


# -- per-process peak memory (untimed runs) ------------------------------------------------------
def _status(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except OSError:
        return {}


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (augcli's pool workers are the fork server's children, so
    the grandchildren of the command), started by any of its threads (a Dask LocalCluster's
    workers are started from its event-loop thread)."""
    kids: list[int] = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for tid in threads:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(x) for x in f.read().split()]
        except OSError:
            continue
    return [d for k in kids for d in (k, *_children(k))]


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def sampled_run(
    cmd: list[str], env: dict[str, str], every: float, tick: Callable[[int], None]
) -> tuple[int, int, bytes]:
    """Run ``cmd`` (stdout discarded) and call ``tick(pid)`` every ``every`` seconds from a
    thread until it exits; (pid, return code, stderr)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            tick(proc.pid)
            stop.wait(every)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    _, err = proc.communicate()
    stop.set()
    t.join()
    return proc.pid, proc.returncode, err


def save_results(kind: str, res: dict[str, object], md: str, script: str) -> None:
    """Write a run's report and data as ``<kind>-<stamp>`` and ``<kind>-latest`` (.md, .json)
    under ``.data/results``, and print the report."""
    outdir = DATA / "results"
    outdir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for name in (f"{kind}-{stamp}", f"{kind}-latest"):
        (outdir / f"{name}.md").write_text(md)
        (outdir / f"{name}.json").write_text(json.dumps(res, indent=2) + "\n")
    print(md)
    print(
        f"{script}: done in {res['total_seconds']:.0f} s; written to "
        f"{outdir / (kind + '-latest.md')} (+ .json)",
        file=sys.stderr,
    )


def tree_memory(cmd: list[str], env: dict[str, str], every: float = 0.02) -> dict[str, object]:
    """Run ``cmd``; sample its process tree: peak RSS (VmHWM) of the parent and of each child,
    and the peak of the summed PSS of the whole tree (shared pages counted once)."""
    hwm: dict[int, int] = {}
    peak_pss = 0

    def sample(root: int) -> None:
        nonlocal peak_pss
        pids = [root, *_children(root)]
        pss = 0
        for pid in pids:
            v = _status(pid).get("VmHWM")
            if v:
                hwm[pid] = max(hwm.get(pid, 0), int(v.split()[0]))
            pss += _pss_kib(pid)
        peak_pss = max(peak_pss, pss)

    root, code, err = sampled_run(cmd, env, every, sample)
    if code != 0:
        raise RuntimeError(f"failed ({code}): {' '.join(cmd)}\n{err.decode()}")
    workers = sorted(v for pid, v in hwm.items() if pid != root)
    return {
        "parent_peak_rss_mib": hwm.get(root, 0) / 1024,
        "worker_peak_rss_mib": [w / 1024 for w in workers],
        "tree_peak_pss_mib": peak_pss / 1024,
    }


# -- what every benchmark's main does ------------------------------------------------------------
REPORT_HELP = "only print the markdown report of a saved run, run nothing"


def add_report_option(ap: argparse.ArgumentParser, help: str = REPORT_HELP) -> None:
    ap.add_argument("--report", metavar="JSON", default=None, help=help)


def print_saved_report(path: str, report: Callable[[dict[str, Any]], str]) -> None:
    """The markdown report of the saved run ``path`` (a results JSON), on stdout."""
    print(report(json.loads(Path(path).read_text())), end="")


def rotated_rounds(
    cs: list[Any],
    reps: int,
    run: Callable[[Any], dict[str, Any]],
    line: Callable[[dict[str, Any]], str],
    width: int,
) -> dict[str, list[dict[str, Any]]]:
    """``reps`` timed rounds of every contender, each round starting one further along (so none
    always goes first); after each run, ``  round i/n <key> <line(result)>`` on stderr."""
    runs: dict[str, list[dict[str, Any]]] = {c.key: [] for c in cs}
    for rep in range(reps):
        shift = rep % len(cs)
        for c in cs[shift:] + cs[:shift]:
            r = run(c)
            runs[c.key].append(r)
            print(f"  round {rep + 1}/{reps} {c.key:{width}s} {line(r)}", file=sys.stderr)
    return runs


def finish(
    kind: str,
    script: str,
    res: dict[str, Any],
    report: Callable[[dict[str, Any]], str],
    t_start: float,
    load_start: list[float],
) -> None:
    """Add the run's duration and load averages to ``res``; save and print its report."""
    res["total_seconds"] = round(time.time() - t_start, 1)
    # other work on the machine during the run: 1/5/15-min load averages, before and after
    res["loadavg"] = {"start": load_start, "end": loadavg()}
    save_results(kind, res, report(res), script)


# -- start-up --------------------------------------------------------------------------------
def one_file_expand(augcli: str, full: Path, key: str) -> list[str]:
    """A shell command: ``augcli expand`` of the image recipe on one input, into a fresh folder
    (the start-up a one-off run pays: imports, plan, a worker, one output)."""
    one = DATA / "one"
    if not one.is_dir():
        one.mkdir(parents=True)
        first = sorted(full.rglob("*.jpg"))[0]
        shutil.copyfile(first, one / first.name)
    out = DATA / "out" / f"one-{key}"
    argv = [augcli, "expand", str(RECIPE), "--input", str(one), "--output", str(out), "-q"]
    return ["sh", "-c", f"rm -rf '{out}' && exec {' '.join(argv)}"]


def startup(
    augcli: str, env: dict[str, str], n: int, full: Path, baseline: str | None = None
) -> dict[str, dict[str, float]]:
    python = str(Path(augcli).parent / "python")
    if not Path(python).is_file():
        python = sys.executable
    cmds = {
        "python -c pass (interpreter floor)": [python, "-c", "pass"],
        "augcli --version": [augcli, "--version"],
        "augcli --help": [augcli, "--help"],
        "augcli ops": [augcli, "ops"],
        "augcli expand, 1 image": one_file_expand(augcli, full, "new"),
    }
    if baseline:
        cmds["before: augcli --help"] = [baseline, "--help"]
        cmds["before: augcli expand, 1 image"] = one_file_expand(baseline, full, "base")
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in cmds}
    for _ in range(n):  # alternate here too
        for k, cmd in cmds.items():
            runs[k].append(timed(cmd, env))
    return {
        k: {
            "wall": statistics.median(r["wall"] for r in v),
            "max_rss_mib": statistics.median(r["max_rss_mib"] for r in v),
        }
        for k, v in runs.items()
    }


# -- environment ---------------------------------------------------------------------------------
def versions(python: str, packages: list[str]) -> dict[str, str]:
    code = (
        "import json, platform, importlib.metadata as m\n"
        "out = {'python': platform.python_version()}\n"
        f"for p in {packages!r}:\n"
        "    try: out[p] = m.version(p)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))"
    )
    return json.loads(
        subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout
    )


def machine(augcli: str, peers_python: Path) -> dict[str, object]:
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    aug_python = str(Path(augcli).parent / "python")
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
        "augcli_env": versions(
            aug_python if Path(aug_python).is_file() else sys.executable,
            ["augcli", "numpy", "opencv-python-headless", "pyyaml", "typer"],
        ),
        "peers_env": versions(
            str(peers_python), ["numpy", "opencv-python-headless", "albumentations", "albucore"]
        ),
    }


def loadavg() -> list[float]:
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


# -- report ----------------------------------------------------------------------------------
def med(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def report(res: dict[str, object]) -> str:
    m = res["machine"]
    runs: dict[str, list[dict[str, float]]] = res["runs"]
    labels: dict[str, str] = res["labels"]
    n_out = N_INPUTS * COPIES
    lines = [
        f"### augcli image benchmark ({res['date']})",
        "",
        f"{N_INPUTS} JPEG 512x512 -> {n_out} JPEG q95 (copies {COPIES}); "
        f"{res['reps']} timed rounds after 1 warm-up round, contenders alternating; "
        "medians; whole processes under `/usr/bin/time -v`.",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB, Linux {m['kernel']}, "
        f"OPENBLAS_CORETYPE={m['OPENBLAS_CORETYPE']}.",
        "Load average (1/5/15 min) at start "
        f"{'/'.join(f'{x:.2f}' for x in res['loadavg']['start'])}, at end "
        f"{'/'.join(f'{x:.2f}' for x in res['loadavg']['end'])} (includes this benchmark's "
        "own load at the end).",
        f"augcli env: {', '.join(f'{k} {v}' for k, v in m['augcli_env'].items())}.",
        f"peers env: {', '.join(f'{k} {v}' for k, v in m['peers_env'].items())}.",
        "",
        "| contender | W | wall s (median) | min-max | outputs/s | max RSS MiB | "
        "x I/O floor | x Albumentations loop |",
        "|---|---|---|---|---|---|---|---|",
    ]
    kinds = ("floor", "albu", "augcli", "base") if "base1" in runs else ("floor", "albu", "augcli")
    for w in (1, 2):
        floor = med(runs[f"floor{w}"], "wall")
        albu = med(runs[f"albu{w}"], "wall")
        for kind in kinds:
            rs = runs[f"{kind}{w}"]
            wall = med(rs, "wall")
            lo, hi = min(r["wall"] for r in rs), max(r["wall"] for r in rs)
            lines.append(
                f"| {labels[f'{kind}{w}'].rsplit(' W=', 1)[0]} | {w} | {wall:.2f} | "
                f"{lo:.2f}-{hi:.2f} | {n_out / wall:.0f} | {med(rs, 'max_rss_mib'):.0f} | "
                f"{wall / floor:.2f} | {wall / albu:.2f} |"
            )
    r = res["ratios"]
    lines += [
        "",
        "Headline ratios (median wall clock, same worker count):",
        "",
        f"- augcli / I/O floor: W=1 **{r['augcli1/floor1']:.2f}x**, "
        f"W=2 **{r['augcli2/floor2']:.2f}x**",
        f"- augcli / Albumentations loop: W=1 **{r['augcli1/albu1']:.2f}x**, "
        f"W=2 **{r['augcli2/albu2']:.2f}x** (below 1 = augcli faster)",
        f"- speed-up W=1 -> W=2: augcli {r['augcli1/augcli2']:.2f}x, "
        f"Albumentations loop {r['albu1/albu2']:.2f}x, I/O floor {r['floor1/floor2']:.2f}x",
        f"- max RSS augcli / Albumentations loop: W=1 {r['rss augcli1/albu1']:.2f}x, "
        f"W=2 {r['rss augcli2/albu2']:.2f}x",
    ]
    if "base1/base2" in r:
        lines += [
            f"- before (baseline): x I/O floor W=1 {r['base1/floor1']:.2f}x, W=2 "
            f"{r['base2/floor2']:.2f}x; x Albumentations loop W=1 {r['base1/albu1']:.2f}x, "
            f"W=2 {r['base2/albu2']:.2f}x; speed-up {r['base1/base2']:.2f}x",
            f"- now / before: W=1 **{r['augcli1/base1']:.2f}x**, W=2 **{r['augcli2/base2']:.2f}x**",
        ]
    lines += [
        "",
        f"Start-up (median of {res['startup_n']}):",
        "",
        "| command | wall s | x `python -c pass` | max RSS MiB |",
        "|---|---|---|---|",
    ]
    st = res["startup"]
    base = st["python -c pass (interpreter floor)"]["wall"]
    for k, v in st.items():
        lines.append(
            f"| `{k}` | {v['wall']:.3f} | {v['wall'] / base:.1f} | {v['max_rss_mib']:.0f} |"
        )
    lines += [
        "",
        "Peak memory per process (separate untimed runs, /proc sampled every 20 ms; "
        "RSS counts pages shared with the parent after fork, PSS counts them once):",
        "",
        "| contender | parent peak RSS MiB | worker peak RSS MiB | whole tree peak PSS MiB |",
        "|---|---|---|---|",
    ]
    for key, v in res["tree"].items():
        ws = ", ".join(f"{x:.0f}" for x in v["worker_peak_rss_mib"]) or "-"
        lines.append(
            f"| {labels[key]} | {v['parent_peak_rss_mib']:.0f} | {ws} | "
            f"{v['tree_peak_pss_mib']:.0f} |"
        )
    fl = res["flatness"]
    lines += [
        "",
        f"Memory flatness: augcli max RSS (median of {res['flat_reps']}) on "
        f"{N_SMALL} vs {N_INPUTS} inputs:",
        "",
        f"| W | {N_SMALL} inputs MiB | {N_INPUTS} inputs MiB | ratio | wall ratio |",
        "|---|---|---|---|---|",
    ]
    for w in (1, 2):
        a, b = fl[f"W{w}"][str(N_SMALL)], fl[f"W{w}"][str(N_INPUTS)]
        lines.append(
            f"| {w} | {a['max_rss_mib']:.0f} | {b['max_rss_mib']:.0f} | "
            f"{b['max_rss_mib'] / a['max_rss_mib']:.2f} | {b['wall'] / a['wall']:.2f} |"
        )
    if res.get("annotations"):
        lines += annotation_report(res["annotations"])
    return "\n".join(lines) + "\n"


# -- annotation overhead ---------------------------------------------------------------------
def annotation_step(
    augcli: str, peers_python: Path, bench: Path, full: Path, env: dict[str, str]
) -> dict[str, object]:
    """The same job with YOLO boxes: plain and annotated recipes (and peer scripts) alternating,
    one untimed warm-up round, then ANN_REPS rounds (the order rotates), medians."""
    src = ensure_yolo_corpus(full)
    cs = annotation_contenders(augcli, peers_python, bench)
    n_out = N_INPUTS * COPIES
    print(f"run_images: annotation overhead, warm-up ({len(cs)} contenders)", file=sys.stderr)
    for c in cs:
        run_once(c, src, n_out, env)
    runs: dict[str, list[dict[str, float]]] = {c.key: [] for c in cs}
    for rep in range(ANN_REPS):
        shift = 2 * (rep % (len(cs) // 2))  # rotate by pairs: plain/annotated stay adjacent
        for c in cs[shift:] + cs[:shift]:
            r = run_once(c, src, n_out, env)
            runs[c.key].append(r)
            print(
                f"  annotations {rep + 1}/{ANN_REPS} {c.key:16s} {r['wall']:6.2f} s "
                f"{r['max_rss_mib']:6.0f} MiB",
                file=sys.stderr,
            )

    def wall(k: str) -> float:
        return med(runs[k], "wall")

    ratios: dict[str, float] = {}
    for w in (1, 2):
        ratios[f"augcli-yolo{w}/augcli{w}"] = wall(f"ann-augcli-yolo{w}") / wall(f"ann-augcli{w}")
        ratios[f"albu-yolo{w}/albu{w}"] = wall(f"ann-albu-yolo{w}") / wall(f"ann-albu{w}")
        ratios[f"augcli-yolo{w}/albu-yolo{w}"] = wall(f"ann-augcli-yolo{w}") / wall(
            f"ann-albu-yolo{w}"
        )
        ratios[f"augcli{w}/albu{w}"] = wall(f"ann-augcli{w}") / wall(f"ann-albu{w}")
    return {
        "corpus": str(src.relative_to(HERE)),
        "boxes_in": N_INPUTS * BOXES_PER_IMAGE,
        "reps": ANN_REPS,
        "labels": {c.key: c.label for c in cs},
        "runs": runs,
        "ratios": ratios,
    }


def paired(runs: dict[str, list[dict[str, float]]], a: str, b: str) -> float:
    """Median over rounds of wall(a) / wall(b) in the same round (run one after the other, so
    a load change on the machine that hits one round hits both)."""
    return statistics.median(x["wall"] / y["wall"] for x, y in zip(runs[a], runs[b], strict=True))


def annotation_report(ann: dict[str, object]) -> list[str]:
    runs: dict[str, list[dict[str, float]]] = ann["runs"]
    labels: dict[str, str] = ann["labels"]
    r = ann["ratios"]

    def pr(a: str, b: str) -> str:
        return f"W=1 {paired(runs, a % 1, b % 1):.2f}x, W=2 {paired(runs, a % 2, b % 2):.2f}x"

    n_boxes_out = ann["boxes_in"] * COPIES
    lines = [
        "",
        f"Annotation overhead: the same job with {BOXES_PER_IMAGE} YOLO boxes per image "
        f"(`{ann['corpus']}`, {ann['boxes_in']} boxes in, {n_boxes_out} box slots out), "
        f"plain and annotated alternating, 1 warm-up round, median of {ann['reps']}:",
        "",
        "| contender | W | wall s (median) | min-max | max RSS MiB | x plain (same tool) | "
        "boxes out |",
        "|---|---|---|---|---|---|---|",
    ]
    for w in (1, 2):
        for tool in ("augcli", "albu"):
            plain = med(runs[f"ann-{tool}{w}"], "wall")
            for key in (f"ann-{tool}{w}", f"ann-{tool}-yolo{w}"):
                rs = runs[key]
                wall = med(rs, "wall")
                lo, hi = min(x["wall"] for x in rs), max(x["wall"] for x in rs)
                boxes = {x.get("boxes_out") for x in rs} - {None}
                lines.append(
                    f"| {labels[key].rsplit(' W=', 1)[0]} | {w} | {wall:.2f} | {lo:.2f}-{hi:.2f} "
                    f"| {med(rs, 'max_rss_mib'):.0f} | {wall / plain:.2f} | "
                    f"{'/'.join(str(b) for b in sorted(boxes)) or '-'} |"
                )
    lines += [
        "",
        f"- annotated / plain, augcli: W=1 **{r['augcli-yolo1/augcli1']:.2f}x**, "
        f"W=2 **{r['augcli-yolo2/augcli2']:.2f}x**",
        f"- annotated / plain, Albumentations loop: W=1 **{r['albu-yolo1/albu1']:.2f}x**, "
        f"W=2 **{r['albu-yolo2/albu2']:.2f}x**",
        f"- augcli / Albumentations loop, annotated: W=1 **{r['augcli-yolo1/albu-yolo1']:.2f}x**, "
        f"W=2 **{r['augcli-yolo2/albu-yolo2']:.2f}x** "
        f"(plain, same rounds: W=1 {r['augcli1/albu1']:.2f}x, W=2 {r['augcli2/albu2']:.2f}x)",
        "",
        "The same ratios as medians of per-round ratios (each pair ran back to back): "
        f"annotated / plain, augcli {pr('ann-augcli-yolo%d', 'ann-augcli%d')}; "
        f"Albumentations loop {pr('ann-albu-yolo%d', 'ann-albu%d')}; "
        f"augcli / Albumentations loop, annotated {pr('ann-augcli-yolo%d', 'ann-albu-yolo%d')}.",
    ]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5, help="timed rounds (default 5, at least 3)")
    ap.add_argument("--quick", action="store_true", help="3 rounds, 5 start-up runs")
    ap.add_argument(
        "--no-annotations", action="store_true", help="skip the annotation-overhead step"
    )
    ap.add_argument("--augcli", default=None, help="the augcli executable")
    ap.add_argument(
        "--baseline", default=None, help="an earlier augcli executable, timed alongside"
    )
    add_report_option(
        ap, "only print the markdown report of a saved run (results/images-*.json), run nothing"
    )
    ap.add_argument("--peers-python", default=str(PEERS / "bin" / "python"))
    a = ap.parse_args()
    if a.report:
        print_saved_report(a.report, report)
        return
    reps = 3 if a.quick else max(3, a.reps)
    startup_n = 5 if a.quick else 10
    flat_reps = 3

    ensure_time()
    bench = find_shared_bench()
    augcli = find_augcli(a.augcli)
    peers_python = Path(a.peers_python)
    ensure_peers(peers_python)
    full, small = ensure_corpus(peers_python, bench)
    # The environment is left as it is (OPENBLAS_CORETYPE etc.), the same for every contender;
    # only albumentations' on-import network version check is switched off.
    env = dict(os.environ, NO_ALBUMENTATIONS_UPDATE="1")
    load_start = loadavg()
    t_start = time.time()

    cs = contenders(augcli, peers_python, bench, a.baseline)
    labels = {c.key: c.label for c in cs}
    print(f"run_images: warm-up round ({len(cs)} contenders)", file=sys.stderr)
    for c in cs:
        run_once(c, full, N_INPUTS * COPIES, env)
    runs = rotated_rounds(
        cs,
        reps,
        lambda c: run_once(c, full, N_INPUTS * COPIES, env),
        lambda r: f"{r['wall']:6.2f} s {r['max_rss_mib']:6.0f} MiB",
        8,
    )

    print("run_images: start-up", file=sys.stderr)
    st = startup(augcli, env, startup_n, full, a.baseline)

    print("run_images: per-process memory", file=sys.stderr)
    tree = {}
    for c in cs:
        if c.key.startswith(("albu", "augcli")):
            out = DATA / "out" / c.key
            shutil.rmtree(out, ignore_errors=True)
            tree[c.key] = tree_memory(c.command(full, out), env)

    print("run_images: memory flatness", file=sys.stderr)
    flat: dict[str, dict[str, dict[str, float]]] = {}
    for c in cs:
        if not c.key.startswith("augcli"):
            continue
        rows: dict[str, list[dict[str, float]]] = {str(N_SMALL): [], str(N_INPUTS): []}
        for _ in range(flat_reps):
            for n, src in ((N_SMALL, small), (N_INPUTS, full)):
                rows[str(n)].append(run_once(c, src, n * COPIES, env))
        flat[f"W{c.workers}"] = {
            n: {"wall": med(v, "wall"), "max_rss_mib": med(v, "max_rss_mib")}
            for n, v in rows.items()
        }

    ann = None if a.no_annotations else annotation_step(augcli, peers_python, bench, full, env)

    def wall(k: str) -> float:
        return med(runs[k], "wall")

    def rss(k: str) -> float:
        return med(runs[k], "max_rss_mib")

    ratios = {
        "augcli1/floor1": wall("augcli1") / wall("floor1"),
        "augcli2/floor2": wall("augcli2") / wall("floor2"),
        "augcli1/albu1": wall("augcli1") / wall("albu1"),
        "augcli2/albu2": wall("augcli2") / wall("albu2"),
        "albu1/floor1": wall("albu1") / wall("floor1"),
        "albu2/floor2": wall("albu2") / wall("floor2"),
        "augcli1/augcli2": wall("augcli1") / wall("augcli2"),
        "albu1/albu2": wall("albu1") / wall("albu2"),
        "floor1/floor2": wall("floor1") / wall("floor2"),
        "rss augcli1/albu1": rss("augcli1") / rss("albu1"),
        "rss augcli2/albu2": rss("augcli2") / rss("albu2"),
    }
    if a.baseline:
        for w in (1, 2):
            ratios[f"augcli{w}/base{w}"] = wall(f"augcli{w}") / wall(f"base{w}")
            ratios[f"base{w}/albu{w}"] = wall(f"base{w}") / wall(f"albu{w}")
            ratios[f"base{w}/floor{w}"] = wall(f"base{w}") / wall(f"floor{w}")
        ratios["base1/base2"] = wall("base1") / wall("base2")
    res = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": machine(augcli, peers_python),
        "reps": reps,
        "startup_n": startup_n,
        "flat_reps": flat_reps,
        "labels": labels,
        "runs": runs,
        "ratios": ratios,
        "startup": st,
        "tree": tree,
        "flatness": flat,
        "annotations": ann,
    }
    finish("images", "run_images", res, report, t_start, load_start)


if __name__ == "__main__":
    main()
