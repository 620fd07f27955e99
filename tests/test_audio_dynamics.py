"""Measured behaviour of augcli/audio/dynamics.py against independent references: pyloudnorm and
the EBU Tech 3341 test signals for loudness, a per-sample loop for the limiter, Welch
periodograms for coloured noise, the textbook quantisation SNR, and folded tones."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import welch
from test_audio_ops import build, info_of, sweep

from augcli.audio.base import Audio
from augcli.audio.dynamics import (
    COLORS,
    channel_weights,
    integrated_loudness,
    k_weighting,
    limiter_gain,
)
from augcli.core.errors import InputError, RecipeError
from augcli.core.seeding import generator

ROOT = Path(__file__).resolve().parent.parent
SPEECH = sorted((ROOT / "sample_data" / "audio").rglob("*.*"))


def run(name: str, audio: Audio, params: dict, seed: int = 0) -> Audio:
    op = build(name, params)
    op.check_input(info_of(audio))
    return op.apply(audio, op.sample(generator(seed), info_of(audio)))


def read(path: Path) -> Audio:
    import soundfile as sf

    samples, rate = sf.read(path, dtype="float32", always_2d=True)
    return Audio(np.ascontiguousarray(samples.T), rate)


def sine(dbfs: float, seconds: float, rate: int = 48000, freq: float = 1000.0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return 10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t)


def pyloudnorm_lufs(samples: np.ndarray, rate: int) -> float:
    import pyloudnorm

    return float(pyloudnorm.Meter(rate).integrated_loudness(samples.T.astype(np.float64)))


# -- loudness_normalize --------------------------------------------------------------------------
def test_k_weighting_at_48k_is_the_standards_table():
    """ITU-R BS.1770-4 Annex 1, tables 1 and 2."""
    shelf, highpass = k_weighting(48000)
    np.testing.assert_allclose(
        shelf,
        [1.53512485958697, -2.69169618940638, 1.19839281085285, 1.0, -1.69065929318241,
         0.73248077421585],
        atol=1e-8,
    )  # fmt: skip
    np.testing.assert_allclose(
        highpass, [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621], atol=1e-8
    )


def _signals(rate: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(rate)
    n = 3 * rate
    t = np.arange(n) / rate
    chirp = 0.3 * np.sin(2 * np.pi * (50 * t + (0.4 * rate - 50) * t * t / 6))
    noise = 0.05 * rng.standard_normal((2, n))
    noise[1] *= 0.5
    bursts = noise[:1] * (np.sin(2 * np.pi * 0.7 * t) > 0.3)  # gated quiet parts
    return {"sweep": chirp[None], "noise_stereo": noise, "bursts": bursts}


@pytest.mark.parametrize("rate", [16000, 44100, 48000])
def test_loudness_matches_pyloudnorm_on_synthetic_signals(rate: int):
    for name, x in _signals(rate).items():
        mine = integrated_loudness(x, rate)
        assert mine == pytest.approx(pyloudnorm_lufs(x, rate), abs=0.05), name


def test_five_channel_weights_match_pyloudnorm():
    rng = np.random.default_rng(5)
    x = 0.05 * rng.standard_normal((5, 3 * 48000)) * np.array([[1.0], [0.8], [0.5], [1.2], [0.3]])
    assert integrated_loudness(x, 48000) == pytest.approx(pyloudnorm_lufs(x, 48000), abs=0.05)


@pytest.mark.parametrize("path", SPEECH, ids=lambda p: p.name)
def test_loudness_matches_pyloudnorm_on_speech(path: Path):
    """Cut to whole 100 ms hops: pyloudnorm rounds the block count up and adds a zero-padded
    partial last block, which BS.1770-4 does not have (0.7 LU apart on a 0.87 s clip); on
    whole hops the two agree within 0.05 LU (pyloudnorm normalises the high-pass to unity
    gain, the standard's 48 kHz numerator [1, -2, 1] is 0.04 dB above it)."""
    audio = read(path)
    hops = (audio.frames - round(0.4 * audio.rate)) // round(0.1 * audio.rate)
    x = audio.samples[:, : round(0.4 * audio.rate) + hops * round(0.1 * audio.rate)]
    assert integrated_loudness(x, audio.rate) == pytest.approx(
        pyloudnorm_lufs(x, audio.rate), abs=0.05
    )


EBU_TECH3341 = [  # Table 1 cases 1-5: stereo 1 kHz sine, (peak dBFS per channel, seconds)
    ([(-23.0, 20.0)], -23.0),
    ([(-33.0, 20.0)], -33.0),
    ([(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)], -23.0),
    ([(-72.0, 10.0), (-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0), (-72.0, 10.0)], -23.0),
    ([(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)], -23.0),
]


@pytest.mark.parametrize(("steps", "expected"), EBU_TECH3341)
def test_ebu_tech_3341_minimum_requirements(steps: list, expected: float):
    x = np.concatenate([sine(db, s) for db, s in steps])
    assert integrated_loudness(np.stack([x, x]), 48000) == pytest.approx(expected, abs=0.1)


def test_ebu_tech_3341_case_6_five_channels():
    """5.0 sine, L R C Ls Rs at -28, -28, -24, -30, -30 dBFS reads -23.0 LUFS."""
    x = np.stack([sine(db, 20.0) for db in (-28.0, -28.0, -24.0, -30.0, -30.0)])
    assert integrated_loudness(x, 48000) == pytest.approx(-23.0, abs=0.1)
    np.testing.assert_array_equal(channel_weights(6), [1, 1, 1, 0, 1.41, 1.41])
    np.testing.assert_array_equal(channel_weights(2), [1, 1])


@pytest.mark.parametrize("rate", [16000, 44100, 48000])
@pytest.mark.parametrize("target", [-31.0, -23.0, -13.0])
def test_normalizing_reaches_the_target(rate: int, target: float):
    for name, x in _signals(rate).items():
        out = run("loudness_normalize", Audio(x.astype(np.float32), rate), {"lufs": target})
        assert integrated_loudness(out.samples, rate) == pytest.approx(target, abs=0.05), name
    speech = read(SPEECH[-1])
    out = run("loudness_normalize", speech, {"lufs": target})
    assert integrated_loudness(out.samples, speech.rate) == pytest.approx(target, abs=0.05)


def test_short_or_silent_files_are_left_unchanged():
    short = Audio((0.5 * np.ones((1, 6000))).astype(np.float32), 16000)  # 375 ms
    silent = Audio(np.full((2, 16000), 1e-5, np.float32), 16000)  # about -100 LUFS
    for audio in (short, silent):
        assert integrated_loudness(audio.samples, audio.rate) is None
        out = run("loudness_normalize", audio, {"lufs": -20})
        np.testing.assert_array_equal(out.samples, audio.samples)


# -- limiter -------------------------------------------------------------------------------------
def reference_gain(peak: np.ndarray, threshold: float, lookahead: int, release: int) -> np.ndarray:
    """The limiter's gain written as a per-sample loop, straight from its definition (the file
    preceded by lookahead - 1 silent frames)."""
    peak = np.concatenate([np.zeros(lookahead - 1), peak])
    n = peak.size
    cut = np.where(peak > threshold, 1 - threshold / np.maximum(peak, 1e-300), 0.0)
    ahead = np.array([cut[i : i + lookahead].max() for i in range(n)])
    held = np.zeros(n)
    for i in range(n):
        prev = held[i - 1] - 1 / max(release, 1) if i else 0.0
        held[i] = max(ahead[i], prev, 0.0)
    smooth = np.array([held[max(0, i - lookahead + 1) : i + 1].sum() / lookahead for i in range(n)])
    return (1 - smooth)[lookahead - 1 :]


@pytest.mark.parametrize(("lookahead", "release"), [(1, 0), (4, 10), (7, 3), (16, 40)])
def test_limiter_gain_equals_the_loop(lookahead: int, release: int):
    rng = np.random.default_rng(lookahead)
    peak = np.abs(rng.standard_normal(400)) * (rng.random(400) < 0.1)
    got = limiter_gain(peak, 0.5, lookahead, release)
    np.testing.assert_allclose(got, reference_gain(peak, 0.5, lookahead, release), atol=1e-12)
    assert np.all(peak * got <= 0.5 + 1e-12)


def spiky(rate: int) -> Audio:
    audio = sweep(rate, 2, seconds=2.0)
    x = audio.samples.copy()
    for at in (0.5, 0.9, 1.2):
        i = round(at * rate)
        x[:, i : i + 3] = [[0.99, -0.97, 0.9]]
    return Audio(x, rate)


@pytest.mark.parametrize("threshold_db", [-24.0, -12.0, -2.0])
def test_limiter_output_never_exceeds_the_threshold(threshold_db: float):
    ceiling = 10 ** (threshold_db / 20) + 1e-6
    for audio in (spiky(16000), spiky(44100), read(SPEECH[-1]), read(SPEECH[0])):
        out = run("limiter", audio, {"threshold_db": threshold_db})
        assert np.max(np.abs(out.samples)) <= ceiling
        assert out.samples.shape == audio.samples.shape


def test_limiter_leaves_frames_far_from_loud_parts_alone():
    rate = 16000
    x = 0.01 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)
    x[8000] = 0.9  # one loud sample
    audio = Audio(np.stack([x, -x]).astype(np.float32), rate)
    out = run("limiter", audio, {"threshold_db": -6, "attack_ms": 5, "release_ms": 50})
    reach = round(0.055 * rate) + 1
    far = np.r_[0 : 8000 - reach, 8000 + reach : rate]
    np.testing.assert_array_equal(out.samples[:, far], audio.samples[:, far])
    assert np.abs(out.samples[0, 8000]) <= 10 ** (-6 / 20) + 1e-6
    assert out.samples[0, 8000 - 40] != audio.samples[0, 8000 - 40], "look-ahead"


def test_limiter_below_the_threshold_is_exact():
    audio = sweep(44100, 2)  # peak 0.5, about -6 dBFS
    out = run("limiter", audio, {"threshold_db": -3})
    np.testing.assert_array_equal(out.samples, audio.samples)


def test_limiter_warns_when_the_threshold_is_above_the_peak():
    facts = {"peak": 0.5, "bits": 16, "lsb": 2.0**-15}  # -6.02 dBFS
    warning = build("limiter", {"threshold_db": [-6, -1]}).implausible(facts)
    assert warning and "threshold_db [-6, -1]" in warning and "-6.0 dBFS" in warning
    assert build("limiter", {"threshold_db": [-12, -1]}).implausible(facts) is None
    assert build("limiter", {"threshold_db": -3}).implausible({"peak": 0.0}) is None


# -- colored_noise -------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [16000, 44100])
@pytest.mark.parametrize("color", sorted(COLORS))
def test_colored_noise_slope_and_snr(rate: int, color: str):
    audio = sweep(rate, 2, seconds=4.0)
    out = run("colored_noise", audio, {"color": color, "snr_db": 10.0})
    noise = out.samples.astype(np.float64) - audio.samples
    snr = 10 * np.log10(np.mean(audio.samples.astype(np.float64) ** 2) / np.mean(noise**2))
    assert snr == pytest.approx(10.0, abs=0.01)
    for channel in noise:
        f, pxx = welch(channel, fs=rate, nperseg=8192)
        band = (f >= 50) & (f <= 0.4 * rate)
        slope = np.polyfit(np.log10(f[band]), np.log10(pxx[band]), 1)[0]
        assert slope == pytest.approx(COLORS[color], abs=0.15)
    assert not np.allclose(noise[0], noise[1]), "each channel its own noise"


def test_colored_noise_rejects_unknown_colours():
    with pytest.raises(RecipeError, match="known choice"):
        build("colored_noise", {"color": "grey"})
    with pytest.raises(RecipeError, match="known choice") as err:
        build("colored_noise", {"color": ["pink", "grey"]})
    assert err.value.path.endswith("color[1]")
    with pytest.raises(RecipeError, match="empty"):
        build("colored_noise", {"color": []})


def test_colored_noise_draws_from_a_list_of_colours():
    op = build("colored_noise", {"color": ["pink", "brown", "violet"]})
    info = info_of(sweep(16000, 1, seconds=0.2))
    drawn = {op.sample(generator(s), info)["color"] for s in range(40)}
    assert drawn == {"pink", "brown", "violet"}


# -- tanh_distortion -----------------------------------------------------------------------------
def test_tanh_distortion_is_the_formula():
    audio = sweep(16000, 2)
    x = audio.samples.astype(np.float64)
    out = run("tanh_distortion", audio, {"distortion": 0.3})
    t = np.percentile(np.abs(x), 100 - 99 * 0.3)
    y = np.tanh(0.5 / (t + 1e-6) * x)
    y *= np.sqrt(np.mean(x**2) / np.mean(y**2))
    np.testing.assert_allclose(out.samples, y, atol=1e-7)
    assert np.sqrt(np.mean(out.samples.astype(np.float64) ** 2)) == pytest.approx(
        np.sqrt(np.mean(x**2)), rel=1e-6
    )


def test_tanh_distortion_raises_the_third_harmonic():
    rate = 16000
    audio = Audio(sine(-6, 1.0, rate, 1000.0)[None].astype(np.float32), rate)
    ratios = []
    for amount in (0.05, 0.3, 0.6, 0.9):
        spectrum = np.abs(
            np.fft.rfft(run("tanh_distortion", audio, {"distortion": amount}).samples[0])
        )
        ratios.append(spectrum[3000] / spectrum[1000])  # 1 Hz bins
    assert all(a < b for a, b in itertools.pairwise(ratios)), ratios
    assert ratios[-1] > 0.1 and ratios[0] < 0.05


# -- bit_crush -----------------------------------------------------------------------------------
@pytest.mark.parametrize("bits", [1, 4, 8, 12])
def test_bit_crush_is_the_formula(bits: int):
    ramp = Audio(np.linspace(-1, 1, 40001, dtype=np.float32)[None], 16000)
    out = run("bit_crush", ramp, {"bits": bits})
    q = 2.0 ** (bits - 1)
    np.testing.assert_array_equal(out.samples, (np.round(ramp.samples * q) / q).astype(np.float32))
    assert len(np.unique(out.samples)) <= 2**bits + 1


@pytest.mark.parametrize("bits", [6, 8, 10, 12])
def test_bit_crush_snr_of_a_full_scale_sine(bits: int):
    x = sine(0.0, 1.0, 48000, 997.0)
    out = run("bit_crush", Audio(x[None].astype(np.float32), 48000), {"bits": bits})
    err = out.samples[0].astype(np.float64) - x
    snr = 10 * np.log10(np.mean(x**2) / np.mean(err**2))
    assert snr == pytest.approx(6.02 * bits + 1.76, abs=1.5)


def test_bit_crush_warns_at_or_above_the_pcm_written():
    assert "16-bit PCM" in build("bit_crush", {"bits": [16, 20]}).implausible({"bits": 16})
    assert build("bit_crush", {"bits": [8, 16]}).implausible({"bits": 16}) is None
    assert build("bit_crush", {"bits": 24}).implausible({"bits": None}) is None  # float output


# -- aliasing ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("freq", "new_rate", "folded"), [(7000, 8000, 1000), (5000, 8000, 3000),
                                                         (9000, 12000, 3000), (15000, 11025, 3975)])  # fmt: skip
def test_aliasing_folds_a_tone(freq: float, new_rate: float, folded: float):
    rate = 44100
    audio = Audio(sine(-6, 1.0, rate, freq)[None].astype(np.float32), rate)
    out = run("aliasing", audio, {"rate_hz": new_rate})
    spectrum = np.abs(np.fft.rfft(out.samples[0] * np.hanning(rate)))
    below = spectrum[: round(new_rate / 2)]  # 1 Hz bins
    assert np.argmax(below) == pytest.approx(folded, abs=2)
    assert spectrum[round(freq)] < below.max(), "the folded image dominates"


def test_aliasing_caps_the_range_and_refuses_rates_at_or_below():
    op = build("aliasing", {"rate_hz": [8000, 30000]})
    info = info_of(sweep(16000, 1, seconds=0.2))
    drawn = [op.sample(generator(s), info)["rate_hz"] for s in range(50)]
    assert all(8000 <= r <= 16000 for r in drawn)
    with pytest.raises(InputError, match="8000 Hz"):
        op.check_input(info_of(Audio(np.zeros((1, 100), np.float32), 8000)))
