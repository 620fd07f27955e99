"""The audio catalog of #20 end to end: every new op, through `expand` on files of five formats
(8 to 44.1 kHz, 1 to 3 channels), gives byte-identical outputs for any worker count, and
`replay` rebuilds each one from the manifest alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import read_manifest, run_augcli, tree_digest, write_recipe
from test_audio_modality import dataset

# What each op is set to here: ranges that fit the 8 kHz file (Nyquist 4 kHz) too.
CATALOG = {
    "band_stop": "{low_hz: [300, 500], high_hz: [900, 1500]}",
    "notch": "{freq_hz: [49.5, 60], harmonics: 5}",
    "peaking": "{center_hz: [200, 3000], gain_db: [-9, 9]}",
    "low_shelf": "{cutoff_hz: [80, 400]}",
    "high_shelf": "{cutoff_hz: [1000, 3000]}",
    "seven_band_eq": "{gain_db: [-6, 6]}",
    "loudness_normalize": "{lufs: [-30, -18]}",
    "limiter": "{threshold_db: [-20, -8]}",
    "colored_noise": "{color: [pink, brown, violet], snr_db: [10, 25]}",
    "tanh_distortion": "{distortion: [0.1, 0.6]}",
    "bit_crush": "{bits: [4, 8]}",
    "aliasing": "{rate_hz: [4000, 7000]}",
    "room_simulator": "{rt60_s: [0.2, 0.5], max_order: 12}",
    "air_absorption": "{distance_m: [50, 300]}",
    "resample": "{rate_hz: [4000, 6000]}",
    "padding": "{fraction: [0.1, 0.3], mode: wrap}",
    "adjust_duration": "{seconds: [0.3, 0.8], padding_mode: reflect}",
    "reverse": "{}",
    "repeat_part": "{part_seconds: [0.05, 0.15], repeats: [1, 2]}",
}


def recipe(tmp_path: Path, out: str) -> Path:
    ops = "".join(f"    - {name}: {raw}\n" for name, raw in CATALOG.items())
    text = (
        f"version: 1\nseed: 11\ninput: data\noutput: {out}\ncopies: 3\naudio:\n  pipeline:\n{ops}"
    )
    return write_recipe(tmp_path / f"{out}.yaml", text)


@pytest.mark.slow
def test_the_catalog_is_the_same_for_any_worker_count_and_replays(tmp_path: Path) -> None:
    dataset(tmp_path / "data")
    digests = []
    for workers in ("1", "2"):
        r = recipe(tmp_path, f"o{workers}")
        proc = run_augcli("expand", str(r), "--workers", workers, "-q")
        assert proc.returncode == 0, proc.stderr
        digests.append(tree_digest(tmp_path / f"o{workers}"))
    assert digests[0] == digests[1]
    lines = [x for x in read_manifest(tmp_path / "o1") if x["node"]]
    assert len(lines) == 6 * 3 and all(x["status"] == "ok" for x in lines)
    for x in lines:  # every op ran on every output, in order
        assert [op["op"] for op in x["ops"] if op["applied"]] == list(CATALOG)
    proc = run_augcli("replay", str(tmp_path / "o1.yaml"), "--to", str(tmp_path / "again"))
    assert proc.returncode == 0 and f"{len(lines)} byte-identical, 0 differ" in proc.stdout, (
        proc.stdout + proc.stderr
    )
