#!/usr/bin/env python3
"""The audio catalog of issue 20, op by op, against audiomentations' own transforms.

For each new augcli audio op with an audiomentations equivalent, both are set to the same
values (audiomentations with degenerate ranges and p = 1; augcli with the same fixed params)
and applied to the same signals: 3 s of speech-like audio at 16 kHz mono and at 44.1 kHz
stereo (a sweep with noise and bursts; deterministic). Timed in one process, one sitting: one
untimed warm-up call each, then ``--reps`` rounds (default 15) in which the two alternate;
reported: the median per call, and the ratio augcli / audiomentations (below 1: augcli is
faster). augcli's time is ``apply`` only, as audiomentations' is its ``__call__`` minus its
(cheap) parameter draw: both are the work of one output.

usage: python benchmarks/audio_catalog.py [--reps 15] [--out benchmarks/.data/results]
Needs: augcli's venv with the test extra (audiomentations is a dependency; pyroomacoustics
comes with the test extra), plus what audiomentations 0.43 itself needs for two of its
transforms: ``pip install loudness numpy-audio-limiter`` (LoudnessNormalization, Limiter);
a peer that cannot run says why in its row.
Writes: <out>/audio-catalog-latest.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from augcli.audio.base import Audio
from augcli.ops import registry

HERE = Path(__file__).resolve().parent
SECONDS = 3.0

# augcli op -> (augcli params, audiomentations class, its arguments): the same settings.
PAIRS: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    (
        "band_stop",
        {"low_hz": 500.0, "high_hz": 1500.0, "order": 4, "zero_phase": False},
        "BandStopFilter",
        # centre sqrt(500 * 1500), bandwidth 1000 Hz; 24 dB/octave = order 4
        {
            "min_center_freq": 866.0,
            "max_center_freq": 866.0,
            "min_bandwidth_fraction": 1.1547,
            "max_bandwidth_fraction": 1.1547,
            "min_rolloff": 24,
            "max_rolloff": 24,
        },
    ),
    (
        "peaking",
        {"center_hz": 1000.0, "gain_db": 6.0, "q": 1.0},
        "PeakingFilter",
        {
            "min_center_freq": 1000.0,
            "max_center_freq": 1000.0,
            "min_gain_db": 6.0,
            "max_gain_db": 6.0,
            "min_q": 1.0,
            "max_q": 1.0,
        },
    ),
    (
        "low_shelf",
        {"cutoff_hz": 300.0, "gain_db": 6.0, "q": 0.7},
        "LowShelfFilter",
        {
            "min_center_freq": 300.0,
            "max_center_freq": 300.0,
            "min_gain_db": 6.0,
            "max_gain_db": 6.0,
            "min_q": 0.7,
            "max_q": 0.7,
        },
    ),
    (
        "high_shelf",
        {"cutoff_hz": 3000.0, "gain_db": -6.0, "q": 0.7},
        "HighShelfFilter",
        {
            "min_center_freq": 3000.0,
            "max_center_freq": 3000.0,
            "min_gain_db": -6.0,
            "max_gain_db": -6.0,
            "min_q": 0.7,
            "max_q": 0.7,
        },
    ),
    (
        "seven_band_eq",
        {"gain_db": [3.0, -3.0, 2.0, -2.0, 1.0, -1.0, 4.0], "q": [1.0] * 5},
        "SevenBandParametricEQ",
        {"min_gain_db": 3.0, "max_gain_db": 3.0},
    ),
    (
        "loudness_normalize",
        {"lufs": -23.0},
        "LoudnessNormalization",
        {"min_lufs": -23.0, "max_lufs": -23.0},
    ),
    (
        "limiter",
        {"threshold_db": -12.0, "attack_ms": 5.0, "release_ms": 50.0},
        "Limiter",
        {
            "min_threshold_db": -12.0,
            "max_threshold_db": -12.0,
            "min_attack": 0.005,
            "max_attack": 0.005,
            "min_release": 0.05,
            "max_release": 0.05,
            "threshold_mode": "absolute",
        },
    ),
    (
        "colored_noise",
        {"color": "pink", "snr_db": 20.0, "noise_seed": 7},
        "AddColorNoise",
        {"min_snr_db": 20.0, "max_snr_db": 20.0, "min_f_decay": -3.01, "max_f_decay": -3.01},
    ),
    (
        "tanh_distortion",
        {"distortion": 0.4},
        "TanhDistortion",
        {"min_distortion": 0.4, "max_distortion": 0.4},
    ),
    ("bit_crush", {"bits": 6}, "BitCrush", {"min_bit_depth": 6, "max_bit_depth": 6}),
    (
        "aliasing",
        {"rate_hz": 8000.0},
        "Aliasing",
        {"min_sample_rate": 8000, "max_sample_rate": 8000},
    ),
    (
        "room_simulator",
        {
            "size_m": [4.6, 3.75, 2.7],
            "absorption": 0.2,
            "source_m": [1.0, 1.2, 1.5],
            "mic_m": [1.2, 1.3, 1.5],
            "max_order": 12,
            "wet": 1.0,
        },
        "RoomSimulator",
        {
            "min_size_x": 4.6,
            "max_size_x": 4.6,
            "min_size_y": 3.75,
            "max_size_y": 3.75,
            "min_size_z": 2.7,
            "max_size_z": 2.7,
            "min_absorption_value": 0.2,
            "max_absorption_value": 0.2,
            "min_source_x": 1.0,
            "max_source_x": 1.0,
            "min_source_y": 1.2,
            "max_source_y": 1.2,
            "min_source_z": 1.5,
            "max_source_z": 1.5,
            "min_mic_distance": 0.2236,
            "max_mic_distance": 0.2236,
            "min_mic_azimuth": 0.4636,
            "max_mic_azimuth": 0.4636,
            "min_mic_elevation": 0.0,
            "max_mic_elevation": 0.0,
            "calculation_mode": "absorption",
            "use_ray_tracing": False,
            "max_order": 12,
            "leave_length_unchanged": True,
        },
    ),
    (
        "air_absorption",
        {"distance_m": 50.0, "temperature_c": 20.0, "humidity": 50.0},
        "AirAbsorption",
        {
            "min_distance": 50.0,
            "max_distance": 50.0,
            "min_temperature": 20.0,
            "max_temperature": 20.0,
            "min_humidity": 50.0,
            "max_humidity": 50.0,
        },
    ),
    (
        "padding",
        {"frames": None, "mode": "reflect", "side": "end"},
        "Padding",
        {"mode": "reflect", "min_fraction": 0.3, "max_fraction": 0.3, "pad_section": "end"},
    ),
    (
        "adjust_duration",
        {"target_frames": None, "start_frame": 0, "padding_mode": "wrap", "padding_side": "end"},
        "AdjustDuration",
        {"duration_seconds": 4.0, "padding_mode": "wrap", "padding_position": "end"},
    ),
    ("reverse", {}, "Reverse", {}),
    (
        "repeat_part",
        {
            "part_seconds": 0.5,
            "part_frames": None,
            "start_frame": None,
            "repeats": 2,
            "mode": "insert",
            "crossfade_frames": None,
        },
        "RepeatPart",
        {
            "min_repeats": 2,
            "max_repeats": 2,
            "min_part_duration": 0.5,
            "max_part_duration": 0.5,
            "mode": "insert",
            "crossfade_duration": 0.005,
        },
    ),
]


def signal(rate: int, channels: int) -> Audio:
    """3 s: a 100 Hz -> 4 kHz sweep with bursts above -6 dBFS and a little noise per channel."""
    rng = np.random.default_rng(rate + channels)
    t = np.arange(round(SECONDS * rate)) / rate
    sweep = 0.3 * np.sin(2 * np.pi * (100 * t + (3900 / (2 * SECONDS)) * t * t))
    bursts = (np.sin(2 * np.pi * 2 * t) > 0.95) * 0.5
    planes = [(sweep + bursts * np.sign(sweep)) * (1 - 0.2 * c) for c in range(channels)]
    x = np.stack(planes) + rng.normal(0, 1e-3, (channels, t.size))
    return Audio(x.astype(np.float32), rate)


def fill(params: dict[str, Any], audio: Audio) -> dict[str, Any]:
    """The frame counts of the params that depend on the signal (what sample() would record)."""
    out = dict(params)
    n = audio.frames
    if "frames" in out:
        out["frames"] = round(0.3 * n)
    if "target_frames" in out:
        out["target_frames"] = round(4.0 * audio.rate)
    if "part_frames" in out:
        out["crossfade_frames"] = round(0.005 * audio.rate)
        out["part_frames"] = round(0.5 * audio.rate)
        out["start_frame"] = n // 3
    return out


def timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(name: str, ours: dict, theirs_cls: str, theirs: dict, audio: Audio, reps: int) -> dict:
    import audiomentations

    op = registry("audio")[name].from_recipe({}, "bench")
    params = fill(ours, audio)
    row: dict[str, Any] = {"op": name, "peer": theirs_cls}
    try:
        peer = getattr(audiomentations, theirs_cls)(p=1.0, **theirs)
        x = audio.samples if audio.channels > 1 else audio.samples[0]
        run_peer = lambda: peer(samples=x, sample_rate=audio.rate)  # noqa: E731
        run_peer()
    except Exception as exc:  # a peer that needs a package not installed (cylimiter)
        row["peer_error"] = f"{type(exc).__name__}: {str(exc)[:120]}"
        run_peer = None
    run_ours = lambda: op.apply(audio, params)  # noqa: E731
    run_ours()
    ours_t, peer_t = [], []
    for k in range(reps):
        order = (run_ours, run_peer) if k % 2 == 0 else (run_peer, run_ours)
        for fn in order:
            if fn is None:
                continue
            (ours_t if fn is run_ours else peer_t).append(timed(fn))
    row["augcli_ms"] = 1000 * statistics.median(ours_t)
    if peer_t:
        row["peer_ms"] = 1000 * statistics.median(peer_t)
        row["ratio"] = row["augcli_ms"] / row["peer_ms"]
    return row


def table(results: dict[str, list[dict]]) -> str:
    lines = [
        "| op | audiomentations | 16 kHz mono: augcli ms | peer ms | ratio "
        "| 44.1 kHz stereo: augcli ms | peer ms | ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    mono, stereo = results["16k-mono"], results["44k-stereo"]
    for a, b in zip(mono, stereo, strict=True):
        cells = [f"`{a['op']}`", a["peer"]]
        for r in (a, b):
            cells.append(f"{r['augcli_ms']:.2f}")
            if "ratio" in r:
                cells += [f"{r['peer_ms']:.2f}", f"{r['ratio']:.2f}"]
            else:
                cells += ["n/a", "n/a"]
        lines.append("| " + " | ".join(cells) + " |")
    ratios = [r["ratio"] for r in mono + stereo if "ratio" in r]
    lines.append("")
    lines.append(f"Geometric mean of the ratios: {statistics.geometric_mean(ratios):.2f}.")
    missing = sorted({r["peer"] + ": " + r["peer_error"] for r in mono if "peer_error" in r})
    lines += [f"Not compared: {m}" for m in missing]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--out", type=Path, default=HERE / ".data" / "results")
    args = ap.parse_args()
    results = {}
    for key, audio in (("16k-mono", signal(16000, 1)), ("44k-stereo", signal(44100, 2))):
        results[key] = [compare(*pair, audio, args.reps) for pair in PAIRS]
    args.out.mkdir(parents=True, exist_ok=True)
    report = table(results)
    (args.out / "audio-catalog-latest.md").write_text(report)
    (args.out / "audio-catalog-latest.json").write_text(json.dumps(results, indent=1))
    sys.stdout.write(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
