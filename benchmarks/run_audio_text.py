#!/usr/bin/env python3
"""Audio and text benchmark: augcli against the hand-written peer loops of shared/bench.

Same sitting rules as run_images.py: every contender is a whole process under
``/usr/bin/time -v`` (wall clock, maximum resident set size), its output folder deleted
beforehand and its output count checked; one untimed warm-up round, then ``--reps`` rounds
(default 3) with the contenders alternating round-robin (the order rotates every round).
Reported: medians, and ratios augcli / peer at the same worker count.

- audio: 100 speech WAVs (shared/bench/make_audio.py: espeak-ng + sox, 16 kHz PCM16, 2-4 s)
  -> 200; ``audio_loop.py`` (audiomentations Compose) against ``augcli expand
  recipes/audio.yaml``, W=1 and W=2.
- text: 1,968 sentences in one JSONL (shared/bench/make_text.py, Debian ``fortunes``) ->
  2 copies each; ``text_loop.py --engine nlpaug`` against ``recipes/text.yaml`` (swap, delete,
  keyboard typo) and ``text_loop.py --engine eda`` against ``recipes/text_eda.yaml`` (swap,
  delete, insert), W=1 and W=2 (augcli runs the file as chunks of 500 records).

usage: python benchmarks/run_audio_text.py [--reps 3] [--only audio|text] [--augcli PATH]
                                           [--peers-python PATH]
       python benchmarks/run_audio_text.py --report benchmarks/.data/results/audio-text-latest.json

Needs: /usr/bin/time, espeak-ng and sox (``apt-get install -y time espeak-ng sox fortunes
fortune-mod``), and the peers' virtualenv benchmarks/.peers with audiomentations, soundfile,
nlpaug and nltk (installed into it with pip if missing).
Writes: benchmarks/.data/results/audio-text-latest.{md,json} (and a timestamped copy).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_images import (
    DATA,
    HERE,
    PEERS,
    add_report_option,
    ensure_time,
    expand_argv,
    find_augcli,
    find_shared_bench,
    finish,
    loadavg,
    machine,
    med,
    print_saved_report,
    rotated_rounds,
    timed,
    versions,
)

RECIPES = HERE / "recipes"
PEER_PACKAGES = ["audiomentations", "soundfile", "nlpaug", "nltk"]
COPIES = 2
N_AUDIO = 100
TEXT_IN = DATA / "text"  # a folder holding only sentences.jsonl (augcli takes a folder)
AUDIO_IN = DATA / "audio"


# -- setup -------------------------------------------------------------------------------------
def ensure_peer_packages(python: Path) -> None:
    if not python.is_file():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
    probe = "import audiomentations, soundfile, nlpaug, nltk"
    if subprocess.run([str(python), "-c", probe], capture_output=True).returncode != 0:
        print("run_audio_text: installing the audio/text peers ...", file=sys.stderr)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)


def ensure_corpora(python: Path, bench: Path) -> int:
    """.data/text/sentences.jsonl and .data/audio (100 WAVs); returns the sentence count."""
    sentences = TEXT_IN / "sentences.jsonl"
    if not sentences.is_file():
        if not Path("/usr/share/games/fortunes/computers").is_file():
            sys.exit("run_audio_text: apt-get install -y fortunes fortune-mod (make_text.py)")
        TEXT_IN.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(python), str(bench / "make_text.py"), str(sentences)], check=True)
    if len(list(AUDIO_IN.rglob("*.wav"))) != N_AUDIO:
        for tool in ("espeak-ng", "sox", "soxi"):
            if not shutil.which(tool):
                sys.exit("run_audio_text: apt-get install -y espeak-ng sox (make_audio.py)")
        shutil.rmtree(AUDIO_IN, ignore_errors=True)
        subprocess.run(
            [
                str(python),
                str(bench / "make_audio.py"),
                str(sentences),
                str(AUDIO_IN),
                "--n",
                str(N_AUDIO),
            ],
            check=True,
        )
    return sum(1 for line in sentences.open() if line.strip())


# -- contenders --------------------------------------------------------------------------------
class Contender:
    def __init__(
        self,
        key: str,
        label: str,
        group: str,
        workers: int,
        argv: list[str],
        counter,
        n_expected: int,
        tol: float = 0.0,
    ) -> None:
        self.key, self.label, self.group, self.workers = key, label, group, workers
        self.argv, self.counter, self.n_expected, self.tol = argv, counter, n_expected, tol

    def command(self, out: Path) -> list[str]:
        return [a.replace("{OUT}", str(out)) for a in self.argv]


def count_wavs(out: Path) -> int:
    return sum(1 for _ in out.rglob("*.wav"))


def count_peer_text(out: Path) -> int:
    return sum(1 for line in (out / "augmented.jsonl").open() if line.strip())


def count_augcli_text(out: Path) -> int:
    return sum(1 for line in (out / "sentences.jsonl").open() if line.strip())


def contenders(
    augcli: str, python: Path, bench: Path, n_text: int, only: str | None, baseline: str | None
):
    """The peers and augcli at W=1 and W=2 (and, with ``baseline``, each augcli contender again
    run by an earlier augcli: key ``before-<key>``)."""
    cs: list[Contender] = []
    n_text_out = n_text * COPIES
    for w in (1, 2):
        peer = [str(python), "--copies", str(COPIES), "--workers", str(w)]
        if only in (None, "audio"):
            cs.append(
                Contender(
                    f"audio-peer{w}",
                    f"audiomentations loop (audio_loop.py) W={w}",
                    "audio",
                    w,
                    [str(python), str(bench / "audio_loop.py"), str(AUDIO_IN), "{OUT}", *peer[1:]],
                    count_wavs,
                    N_AUDIO * COPIES,
                )
            )
            cs.append(
                Contender(
                    f"audio-augcli{w}",
                    f"augcli expand, audio.yaml W={w}",
                    "audio",
                    w,
                    expand_argv(augcli, RECIPES / "audio.yaml", w, str(AUDIO_IN)),
                    count_wavs,
                    N_AUDIO * COPIES,
                )
            )
        if only in (None, "text"):
            for engine, recipe in (("nlpaug", "text.yaml"), ("eda", "text_eda.yaml")):
                cs.append(
                    Contender(
                        f"text-{engine}{w}",
                        f"text_loop.py --engine {engine} W={w}",
                        engine,
                        w,
                        [
                            str(python),
                            str(bench / "text_loop.py"),
                            str(TEXT_IN / "sentences.jsonl"),
                            "{OUT}",
                            *peer[1:],
                            "--engine",
                            engine,
                        ],
                        count_peer_text,
                        n_text_out,
                    )
                )
                # augcli drops an output identical to its source or to the record's other copy
                # (after `retries`): allow up to 2 % fewer records than the peer writes.
                cs.append(
                    Contender(
                        f"text-augcli-{engine}{w}",
                        f"augcli expand, {recipe} W={w}",
                        engine,
                        w,
                        expand_argv(augcli, RECIPES / recipe, w, str(TEXT_IN)),
                        count_augcli_text,
                        n_text_out,
                        tol=0.02,
                    )
                )
    if baseline:
        cs += [before(c, augcli, baseline) for c in cs if "augcli" in c.key]
    return cs


def before(c: Contender, augcli: str, baseline: str) -> Contender:
    """``c`` run by the ``baseline`` augcli."""
    argv = [baseline if a == augcli else a for a in c.argv]
    label = c.label.replace("augcli expand", "augcli before (baseline)")
    return Contender(
        f"before-{c.key}", label, c.group, c.workers, argv, c.counter, c.n_expected, c.tol
    )


def run_once(c: Contender, env: dict[str, str]) -> dict[str, float]:
    out = DATA / "out" / c.key
    shutil.rmtree(out, ignore_errors=True)
    res = timed(c.command(out), env)
    got = c.counter(out)
    if not (c.n_expected * (1 - c.tol) <= got <= c.n_expected):
        raise RuntimeError(f"{c.key}: {got} outputs, expected {c.n_expected}")
    res["outputs"] = got
    return res


# -- report ------------------------------------------------------------------------------------
PAIRS = [  # (group, augcli key prefix, peer key prefix, peer name)
    ("audio", "audio-augcli", "audio-peer", "audiomentations loop"),
    ("nlpaug", "text-augcli-nlpaug", "text-nlpaug", "nlpaug loop"),
    ("eda", "text-augcli-eda", "text-eda", "pure-Python EDA loop"),
]


def ratios_of(runs: dict[str, list[dict[str, float]]]) -> dict[str, float]:
    r: dict[str, float] = {}
    for _, a, p, _ in PAIRS:
        for w in (1, 2):
            if f"{a}{w}" in runs and f"{p}{w}" in runs:
                r[f"{a}{w}/{p}{w}"] = med(runs[f"{a}{w}"], "wall") / med(runs[f"{p}{w}"], "wall")
                r[f"rss {a}{w}/{p}{w}"] = med(runs[f"{a}{w}"], "max_rss_mib") / med(
                    runs[f"{p}{w}"], "max_rss_mib"
                )
            if f"before-{a}{w}" in runs:
                r[f"{a}{w}/before"] = med(runs[f"{a}{w}"], "wall") / med(
                    runs[f"before-{a}{w}"], "wall"
                )
                r[f"before-{a}{w}/{p}{w}"] = med(runs[f"before-{a}{w}"], "wall") / med(
                    runs[f"{p}{w}"], "wall"
                )
        for k in (a, p):
            if f"{k}1" in runs and f"{k}2" in runs:
                r[f"{k}1/{k}2"] = med(runs[f"{k}1"], "wall") / med(runs[f"{k}2"], "wall")
    return r


def report(res: dict[str, object]) -> str:
    runs: dict[str, list[dict[str, float]]] = res["runs"]
    labels: dict[str, str] = res["labels"]
    r = res["ratios"]
    m = res["machine"]
    la = res["loadavg"]
    lines = [
        f"Run of {res['date']}: {m['nproc']} CPUs ({m['cpu']}), augcli env "
        + ", ".join(f"{k} {v}" for k, v in m["augcli_env"].items())
        + "; peers env "
        + ", ".join(f"{k} {v}" for k, v in m["peers_env"].items())
        + f"; load average {la['start'][0]:.2f} at the start, {la['end'][0]:.2f} at the end.",
        "",
        f"1 warm-up round, {res['reps']} timed rounds, medians; copies {COPIES}; "
        f"{res['n_audio']} WAV -> {res['n_audio'] * COPIES}, {res['n_text']} sentences -> "
        f"{res['n_text'] * COPIES} (augcli: fewer by the outputs it drops as duplicates):",
        "",
        "| contender | W | wall s (median) | min-max | outputs | max RSS MiB | x peer (same W) |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, a, p, _ in PAIRS:
        for w in (1, 2):
            for k in (f"{p}{w}", f"{a}{w}", f"before-{a}{w}"):
                if k not in runs:
                    continue
                rs = runs[k]
                wall = med(rs, "wall")
                lo, hi = min(x["wall"] for x in rs), max(x["wall"] for x in rs)
                x = wall / med(runs[f"{p}{w}"], "wall") if f"{p}{w}" in runs else float("nan")
                outs = "/".join(str(int(o)) for o in sorted({x["outputs"] for x in rs}))
                lines.append(
                    f"| {labels[k].rsplit(' W=', 1)[0]} | {w} | {wall:.2f} | {lo:.2f}-{hi:.2f} | "
                    f"{outs} | {med(rs, 'max_rss_mib'):.0f} | {x:.2f} |"
                )
    lines += [
        "",
        "| augcli / peer (wall, ratio of medians) | W=1 | W=2 | "
        "speed-up W=1 -> W=2 augcli; peer | max RSS augcli / peer W=1; W=2 |",
        "|---|---|---|---|---|",
    ]
    for _, a, p, name in PAIRS:
        if f"{a}1/{p}1" not in r:
            continue
        lines.append(
            f"| vs {name} | **{r[f'{a}1/{p}1']:.2f}x** | **{r[f'{a}2/{p}2']:.2f}x** | "
            f"{r[f'{a}1/{a}2']:.2f}x; {r[f'{p}1/{p}2']:.2f}x | "
            f"{r[f'rss {a}1/{p}1']:.2f}x; {r[f'rss {a}2/{p}2']:.2f}x |"
        )
    if any(k.endswith("/before") for k in r):
        lines += [
            "",
            "| now / before (wall) | W=1 | W=2 | before x peer W=1; W=2 |",
            "|---|---|---|---|",
        ]
        for _, a, p, name in PAIRS:
            if f"{a}1/before" in r:
                lines.append(
                    f"| {name} job | **{r[f'{a}1/before']:.2f}x** | **{r[f'{a}2/before']:.2f}x** | "
                    f"{r[f'before-{a}1/{p}1']:.2f}x; {r[f'before-{a}2/{p}2']:.2f}x |"
                )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3, help="timed rounds (default 3)")
    ap.add_argument("--only", choices=["audio", "text"], default=None)
    ap.add_argument("--augcli", default=None, help="the augcli executable")
    ap.add_argument("--baseline", default=None, help="an earlier augcli, timed alongside")
    ap.add_argument("--peers-python", default=str(PEERS / "bin" / "python"))
    add_report_option(ap)
    a = ap.parse_args()
    if a.report:
        print_saved_report(a.report, report)
        return
    ensure_time()
    bench = find_shared_bench()
    augcli = find_augcli(a.augcli)
    python = Path(a.peers_python)
    ensure_peer_packages(python)
    n_text = ensure_corpora(python, bench)
    env = dict(os.environ)
    load_start = loadavg()
    t0 = time.time()
    cs = contenders(augcli, python, bench, n_text, a.only, a.baseline)
    print(f"run_audio_text: warm-up round ({len(cs)} contenders)", file=sys.stderr)
    for c in cs:
        run_once(c, env)
    runs = rotated_rounds(
        cs,
        a.reps,
        lambda c: run_once(c, env),
        lambda r: f"{r['wall']:6.2f} s {r['max_rss_mib']:6.0f} MiB {r['outputs']:5d} out",
        22,
    )
    mach = machine(augcli, python)
    mach["augcli_env"] = versions(
        str(Path(augcli).parent / "python"),
        ["augcli", "numpy", "scipy", "soundfile", "audiomentations"],
    )
    mach["peers_env"] = versions(
        str(python), ["numpy", "scipy", "soundfile", "audiomentations", "nlpaug", "nltk"]
    )
    res = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": mach,
        "reps": a.reps,
        "n_audio": N_AUDIO,
        "n_text": n_text,
        "labels": {c.key: c.label for c in cs},
        "runs": runs,
        "ratios": ratios_of(runs),
    }
    finish("audio-text", "run_audio_text", res, report, t0, load_start)


if __name__ == "__main__":
    main()
