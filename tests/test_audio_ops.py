"""The op contract for every audio op (mono and stereo, 16 and 44.1 kHz) and measured behaviour."""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
from rows_audio import AUDIO_ROWS
from rows_audio_mix import MIX_ROWS

import augcli.audio.level
import augcli.audio.noise
import augcli.audio.time  # noqa: F401  (registers the ops)
from augcli.audio.base import CHANGES, Audio, AudioOp
from augcli.core.errors import InputError, RecipeError
from augcli.core.seeding import generator
from augcli.ops import MODALITY_MODULES, registry

ROOT = Path(__file__).resolve().parent.parent
SPEECH = ROOT / "sample_data" / "audio" / "yes" / "yes_stereo_44k.flac"
RATES = [16000, 44100]
CHANNELS = [1, 2]


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def audio_ops() -> dict[str, type[AudioOp]]:
    """The registered audio ops (the registry once the modality lists the modules)."""
    if "audio" in MODALITY_MODULES:
        return registry("audio")
    return {c.name: c for c in _subclasses(AudioOp) if c.name and c.modality == "audio"}


def info_of(audio: Audio) -> dict:
    return {
        "rate": audio.rate,
        "channels": audio.channels,
        "frames": audio.frames,
        "seconds": audio.seconds,
        "folders": {},
    }


def build(name: str, params: dict | None = None) -> AudioOp:
    cls = audio_ops()[name]
    return cls.from_recipe(dict(AUDIO_ROWS[name] if params is None else params), f"test.{name}")


def sweep(rate: int, channels: int, seconds: float = 1.0, seed: int = 0) -> Audio:
    """A 100 Hz -> 4 kHz sweep with 0.1 s of near-silence at both ends, a little noise, and a
    different level per channel."""
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    t = np.arange(n) / rate
    f0, f1 = 100.0, 4000.0
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t * t / (2 * seconds))
    tone = 0.5 * np.sin(phase)
    edge = round(0.1 * rate)
    tone[:edge] = 0
    tone[-edge:] = 0
    planes = [tone * (1.0 - 0.3 * c) + rng.normal(0, 1e-4, n) for c in range(channels)]
    return Audio(np.stack(planes).astype(np.float32), rate)


def tone(freq: float, rate: int = 16000, seconds: float = 1.0, channels: int = 1) -> Audio:
    t = np.arange(round(seconds * rate)) / rate
    x = 0.5 * np.sin(2 * np.pi * freq * t)
    return Audio(np.stack([x] * channels).astype(np.float32), rate)


def peak_hz(audio: Audio, channel: int = 0) -> float:
    x = audio.samples[channel].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / audio.rate)[np.argmax(spectrum)])


def level_db(audio: Audio) -> float:
    x = audio.samples.astype(np.float64)
    return 10 * np.log10(np.mean(x * x))


def run(name: str, audio: Audio, params: dict | None = None, seed: int = 0) -> Audio:
    op = build(name, params)
    return op.apply(audio, op.sample(generator(seed), info_of(audio)))


# -- the contract ----------------------------------------------------------------------------
def test_every_op_has_a_table_row():
    rows = set(AUDIO_ROWS) | set(MIX_ROWS)
    assert rows == set(audio_ops()), "add a row to rows_audio.py (or rows_audio_mix.py)"


@pytest.mark.parametrize("name", sorted(AUDIO_ROWS))
@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
def test_op_contract(name: str, rate: int, channels: int) -> None:
    op = build(name)
    assert op.group in ("noise", "time", "level")
    assert op.changes <= set(CHANGES) and not op.changes & {"rate", "channels"}
    audio = sweep(rate, channels)
    before = audio.samples.copy()
    info = info_of(audio)
    op.check_input(info)

    params = op.sample(generator(123), info)
    assert params == op.sample(generator(123), info), "sample must depend only on the generator"
    assert json.loads(json.dumps(params)) == params, "params must be JSON-safe"

    random.seed(1)
    np.random.seed(1)
    out = op.apply(audio, params)
    random.seed(2)
    np.random.seed(2)
    again = op.apply(audio, params)
    np.testing.assert_array_equal(out.samples, again.samples, err_msg="apply must be pure")
    np.testing.assert_array_equal(audio.samples, before, err_msg="apply must not modify its input")

    assert isinstance(out, Audio)
    assert out.samples.dtype == np.float32 and out.samples.ndim == 2
    assert out.channels == channels, "channels are kept"
    assert out.rate == rate, "the sample rate is kept"
    assert out.frames > 0
    if "duration" not in op.changes:
        assert out.frames == audio.frames, f"{name} must keep the duration"
    assert np.all(np.isfinite(out.samples))
    # the same params replay on an op built from nothing (as `steps.replay` does)
    fresh = type(op).from_recipe({}, "replay")
    np.testing.assert_array_equal(fresh.apply(audio, params).samples, out.samples)


def test_duration_changing_ops_do_change_it():
    audio = sweep(16000, 1)
    for name in ("time_stretch", "speed", "crop", "trim_silence"):
        op = build(name)
        assert "duration" in op.changes
        assert run(name, audio).frames != audio.frames, name


@pytest.mark.parametrize("name", sorted(AUDIO_ROWS))
def test_op_pickles_and_describes(name: str) -> None:
    op = build(name)
    clone = pickle.loads(pickle.dumps(op))
    audio = sweep(16000, 2, seconds=0.5)
    params = op.sample(generator(5), info_of(audio))
    assert params == clone.sample(generator(5), info_of(audio))
    np.testing.assert_array_equal(
        op.apply(audio, params).samples, clone.apply(audio, params).samples
    )
    desc = type(op).describe()
    assert desc["summary"] and "p" in desc["params"] and "changes" in desc
    json.dumps(desc)


@pytest.mark.parametrize("name", sorted(AUDIO_ROWS))
def test_on_speech(name: str) -> None:
    import soundfile as sf

    samples, rate = sf.read(SPEECH, dtype="float32", always_2d=True)
    audio = Audio(np.ascontiguousarray(samples.T), rate)
    op = build(name)
    op.check_input(info_of(audio))
    params = op.sample(generator(9), info_of(audio))
    out = op.apply(audio, params)
    assert out.channels == audio.channels and out.rate == audio.rate
    assert np.all(np.isfinite(out.samples))


@pytest.mark.parametrize("name", ["time_stretch", "pitch_shift", "gain", "lowpass"])
def test_more_than_two_channels(name: str) -> None:
    audio = sweep(16000, 3, seconds=0.5)
    out = run(name, audio)
    assert out.channels == 3
    if "duration" not in build(name).changes:
        assert out.frames == audio.frames


def test_apply_leaves_the_global_random_state_alone():
    audio = sweep(16000, 1, seconds=0.5)
    random.seed(7)
    np.random.seed(7)
    expected = (random.random(), np.random.random())
    random.seed(7)
    np.random.seed(7)
    run("pitch_shift", audio)
    run("time_stretch", audio)
    run("gaussian_noise", audio)
    assert (random.random(), np.random.random()) == expected


# -- measured behaviour ------------------------------------------------------------------------
@pytest.mark.parametrize("rate", RATES)
def test_time_stretch_keeps_the_pitch(rate: int):
    audio = tone(440, rate)
    out = run("time_stretch", audio, {"rate": 1.25})
    assert out.frames == round(audio.frames / 1.25)
    assert peak_hz(out) == pytest.approx(440, rel=0.02)


@pytest.mark.parametrize("rate", RATES)
def test_speed_changes_duration_and_pitch_together(rate: int):
    audio = tone(440, rate)
    out = run("speed", audio, {"factor": 1.25})
    assert out.frames == round(audio.frames / 1.25)
    assert peak_hz(out) == pytest.approx(550, rel=0.02)
    slow = run("speed", audio, {"factor": 0.8})
    assert slow.frames == round(audio.frames / 0.8)
    assert peak_hz(slow) == pytest.approx(352, rel=0.02)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
def test_pitch_shift_octave_doubles_the_peak(rate: int, channels: int):
    audio = tone(440, rate, channels=channels)
    out = run("pitch_shift", audio, {"semitones": 12})
    assert out.frames == audio.frames
    for c in range(channels):
        assert peak_hz(out, c) == pytest.approx(880, rel=0.02)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
def test_gaussian_noise_snr(rate: int, channels: int):
    audio = sweep(rate, channels)
    op = build("gaussian_noise", {"snr_db": 20})
    params = op.sample(generator(3), info_of(audio))
    assert params["snr_db"] == 20 and "amplitude" not in params
    out = op.apply(audio, params)
    noise = out.samples.astype(np.float64) - audio.samples
    snr = 10 * np.log10(np.mean(audio.samples.astype(np.float64) ** 2) / np.mean(noise**2))
    assert snr == pytest.approx(20, abs=1)
    assert not np.array_equal(noise[0], noise[-1]) or channels == 1, "noise per channel"


def test_gaussian_noise_amplitude():
    audio = Audio(np.zeros((1, 16000), np.float32), 16000)
    op = build("gaussian_noise", {"amplitude": 0.01})
    params = op.sample(generator(3), info_of(audio))
    assert set(params) == {"amplitude", "noise_seed"}
    assert np.std(op.apply(audio, params).samples) == pytest.approx(0.01, rel=0.05)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("gaussian_noise", {"snr_db": 10, "amplitude": 0.1}),
        ("time_shift", {"fraction": 0.1, "seconds": 1}),
    ],
)
def test_alternative_params_are_exclusive(name: str, raw: dict):
    with pytest.raises(RecipeError, match="not both"):
        build(name, raw)


def test_gain_is_exact():
    audio = sweep(16000, 2)
    out = run("gain", audio, {"db": 6})
    np.testing.assert_array_equal(out.samples, audio.samples * np.float32(10 ** (6 / 20)))
    np.testing.assert_allclose(out.samples, audio.samples * 1.9952623149688795, rtol=1e-6)


def test_polarity_inversion_is_exact():
    audio = sweep(16000, 2)
    np.testing.assert_array_equal(run("polarity_inversion", audio).samples, -audio.samples)


def test_normalize_sets_the_peak():
    audio = sweep(44100, 2)
    out = run("normalize", audio, {"peak_db": -3})
    assert np.max(np.abs(out.samples)) == pytest.approx(10 ** (-3 / 20), rel=1e-6)
    silent = Audio(np.zeros((1, 100), np.float32), 16000)
    np.testing.assert_array_equal(run("normalize", silent).samples, silent.samples)


@pytest.mark.parametrize("zero_phase", [False, True])
def test_filters_attenuate_the_right_side(zero_phase: bool):
    low, high = tone(200), tone(5000)
    lp = {"cutoff_hz": 1000, "zero_phase": zero_phase}
    hp = {"cutoff_hz": 1000, "zero_phase": zero_phase}
    assert level_db(run("lowpass", low, lp)) == pytest.approx(level_db(low), abs=1)
    assert level_db(run("lowpass", high, lp)) < level_db(high) - 40
    assert level_db(run("highpass", high, hp)) == pytest.approx(level_db(high), abs=1)
    assert level_db(run("highpass", low, hp)) < level_db(low) - 40
    band = {"low_hz": 500, "high_hz": 2000, "zero_phase": zero_phase}
    mid = tone(1000)
    assert level_db(run("bandpass", mid, band)) == pytest.approx(level_db(mid), abs=1)
    assert level_db(run("bandpass", low, band)) < level_db(low) - 20
    assert level_db(run("bandpass", high, band)) < level_db(high) - 20


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("lowpass", {"cutoff_hz": [3000, 9000]}),
        ("highpass", {"cutoff_hz": 8000}),
        ("bandpass", {"low_hz": 300, "high_hz": 8500}),
    ],
)
def test_filters_refuse_cutoffs_above_nyquist(name: str, raw: dict):
    op = build(name, raw)
    with pytest.raises(InputError, match="Nyquist"):
        op.check_input(info_of(sweep(16000, 1, seconds=0.3)))
    op.check_input(info_of(sweep(44100, 1, seconds=0.3)))


def test_bandpass_edges_must_be_ordered():
    with pytest.raises(RecipeError, match="below high_hz"):
        build("bandpass", {"low_hz": [200, 3000], "high_hz": [2500, 4000]})


def test_time_shift_rollover_and_padding():
    audio = Audio(np.arange(10, dtype=np.float32)[None, :], 10)
    rolled = run("time_shift", audio, {"fraction": 0.2, "rollover": True})
    np.testing.assert_array_equal(rolled.samples[0], np.roll(np.arange(10), 2))
    padded = run("time_shift", audio, {"seconds": -0.3, "rollover": False})
    np.testing.assert_array_equal(padded.samples[0], [3, 4, 5, 6, 7, 8, 9, 0, 0, 0])


def test_time_mask_silences_a_span():
    audio = Audio(np.ones((2, 1000), np.float32), 1000)
    out = run("time_mask", audio, {"fraction": 0.1, "fade_ms": 0})
    assert np.sum(out.samples == 0) == 2 * 100
    np.testing.assert_array_equal(out.samples[0], out.samples[1])


def test_crop_keeps_the_asked_length_and_short_files_whole():
    audio = sweep(16000, 2)
    out = run("crop", audio, {"seconds": 0.25})
    assert out.frames == 4000
    short = run("crop", audio, {"seconds": 5})
    np.testing.assert_array_equal(short.samples, audio.samples)


def test_trim_silence_cuts_the_quiet_ends():
    audio = sweep(16000, 1)
    out = run("trim_silence", audio, {"top_db": 30})
    assert 0.8 * 16000 <= out.frames < audio.frames
    silent = Audio(np.zeros((1, 5000), np.float32), 16000)
    assert run("trim_silence", silent).frames == 5000


def test_clipping_distortion_clips_the_asked_share():
    audio = sweep(16000, 1)
    out = run("clipping_distortion", audio, {"percentile": 20})
    changed = np.mean(out.samples != audio.samples)
    assert changed == pytest.approx(0.2, abs=0.02)
    np.testing.assert_array_equal(
        run("clipping_distortion", audio, {"percentile": 0}).samples, audio.samples
    )


def test_mp3_refuses_rates_and_channels_it_cannot_encode():
    op = build("mp3_compression")
    with pytest.raises(InputError, match="96000 Hz"):
        op.check_input(info_of(Audio(np.zeros((1, 10), np.float32), 96000)))
    with pytest.raises(InputError, match="3-channel"):
        op.check_input(info_of(Audio(np.zeros((3, 10), np.float32), 16000)))
