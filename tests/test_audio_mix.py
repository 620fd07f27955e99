"""Audio ops that mix in recordings from audio.folders: deterministic picks recorded as
partners, converted to the input's rate and channels, mixed at the asked level; end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import tree_digest, write_recipe
from rows_audio_mix import MIX_ROWS
from typer.testing import CliRunner

from augcli.audio.adapt import rms
from augcli.audio.base import Audio
from augcli.cli import app
from augcli.core.errors import InputError
from augcli.core.seeding import generator
from augcli.ops import registry

RATE = 16000


def tone(freq: float, seconds: float, rate: int = RATE, channels: int = 1) -> Audio:
    t = np.arange(int(rate * seconds)) / rate
    x = (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return Audio(np.repeat(x[None, :], channels, axis=0), rate)


def noise(seconds: float, rate: int, channels: int, seed: int) -> Audio:
    rng = np.random.default_rng(seed)
    return Audio(rng.normal(0, 0.1, (channels, int(rate * seconds))).astype(np.float32), rate)


FILES = {
    "/n/a.wav": noise(0.3, 8000, 1, 1),  # shorter, another rate, mono
    "/n/b.wav": noise(2.0, 44100, 2, 2),
    "/r/ir.wav": Audio(np.r_[1.0, np.zeros(99), 0.5, np.zeros(200)].astype(np.float32)[None], RATE),
}
FOLDERS = {"noise": ("/n/a.wav", "/n/b.wav"), "rooms": ("/r/ir.wav",)}


def info_of(audio: Audio) -> dict:
    return {
        "rate": audio.rate,
        "channels": audio.channels,
        "frames": audio.frames,
        "seconds": audio.seconds,
        "folders": FOLDERS,
    }


@pytest.mark.parametrize("name", sorted(MIX_ROWS))
@pytest.mark.parametrize("channels", [1, 2])
def test_mix_contract(name: str, channels: int) -> None:
    op = registry("audio")[name].from_recipe(dict(MIX_ROWS[name]), name)
    audio = tone(440, 1.0, channels=channels)
    params = op.sample(generator(4), info_of(audio))
    assert params == op.sample(generator(4), info_of(audio))
    assert json.loads(json.dumps(params)) == params
    assert all(p in FILES for p in params["partners"])
    partners = [FILES[p] for p in params["partners"]]
    out = op.apply(audio, params, partners=partners)
    again = op.apply(audio, params, partners=partners)
    np.testing.assert_array_equal(out.samples, again.samples)
    assert out.samples.shape == audio.samples.shape and out.rate == RATE
    assert out.samples.dtype == np.float32 and np.isfinite(out.samples).all()
    assert not np.array_equal(out.samples, audio.samples)


def test_background_noise_meets_the_snr() -> None:
    op = registry("audio")["background_noise"].from_recipe({"folder": "noise", "snr_db": 12}, "b")
    audio = tone(440, 1.0)
    params = op.sample(generator(0), info_of(audio))
    out = op.apply(audio, params, partners=[FILES[p] for p in params["partners"]])
    snr = 20 * np.log10(rms(audio.samples) / rms(out.samples - audio.samples))
    assert abs(snr - 12) < 0.01


def test_impulse_response_adds_the_echo_and_keeps_the_level() -> None:
    op = registry("audio")["impulse_response"].from_recipe({"folder": "rooms"}, "ir")
    click = Audio(np.zeros((1, 1000), np.float32), RATE)
    click.samples[0, 10] = 0.5
    params = op.sample(generator(0), info_of(click))
    out = op.apply(click, params, partners=[FILES["/r/ir.wav"]])
    assert out.samples[0, 110] == pytest.approx(out.samples[0, 10] / 2, rel=1e-5)
    assert rms(out.samples) == pytest.approx(rms(click.samples), rel=1e-5)


def test_an_unknown_folder_is_a_clear_error() -> None:
    op = registry("audio")["background_noise"].from_recipe({"folder": "street"}, "b")
    with pytest.raises(InputError, match=r"audio\.folders does not define"):
        op.sample(generator(0), info_of(tone(440, 0.2)))


def test_folders_end_to_end(tmp_path: Path) -> None:
    (tmp_path / "data/yes").mkdir(parents=True)
    (tmp_path / "noises/sub").mkdir(parents=True)
    for k in range(3):
        sf.write(
            str(tmp_path / f"data/yes/s{k}.wav"),
            tone(300 + 50 * k, 0.5).samples.T,
            RATE,
            subtype="PCM_16",
        )
    sf.write(str(tmp_path / "noises/hum.wav"), noise(1.0, 22050, 2, 5).samples.T, 22050)
    sf.write(str(tmp_path / "noises/sub/hiss.flac"), noise(0.2, RATE, 1, 6).samples.T, RATE)
    runner = CliRunner()
    digests = []
    for w in ("1", "2"):
        recipe = write_recipe(
            tmp_path / f"r{w}.yaml",
            f"""\
version: 1
input: data
output: out{w}
copies: 3
audio:
  folders: {{noise: noises}}
  pipeline:
    - background_noise: {{folder: noise, snr_db: [10, 20]}}
    - short_noises: {{folder: noise, count: 2}}
""",
        )
        result = runner.invoke(app, ["expand", str(recipe), "-q", "--workers", w])
        assert result.exit_code == 0, result.output
        digests.append(tree_digest(tmp_path / f"out{w}"))
    assert digests[0] == digests[1]
    rec = json.loads((tmp_path / "out1/manifest.jsonl").read_text().splitlines()[0])
    used = rec["ops"][0]["params"]["partners"][0]
    assert used.startswith(str(tmp_path / "noises")) and used.endswith((".wav", ".flac"))
    bad = write_recipe(
        tmp_path / "bad.yaml",
        "input: data\noutput: o\naudio:\n  folders: {noise: missing}\n  pipeline: [gain]\n",
    )
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2 and "audio.folders.noise" in result.output
