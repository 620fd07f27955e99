"""resample, padding, adjust_duration, reverse, repeat_part: measured, and against audiomentations."""

from __future__ import annotations

import numpy as np
import pytest
from test_audio_ops import build, info_of, sweep, tone

from augcli.audio.base import Audio
from augcli.core.errors import RecipeError
from augcli.core.seeding import generator


def run(name: str, audio: Audio, raw: dict, seed: int = 0) -> tuple[Audio, dict]:
    op = build(name, raw)
    params = op.sample(generator(seed), info_of(audio))
    return op.apply(audio, params), params


def amplitude_at(audio: Audio, freq: float) -> float:
    """The amplitude of a tone at ``freq`` (a least-squares fit of sine and cosine)."""
    x = audio.samples[0].astype(np.float64)
    t = np.arange(x.size) / audio.rate
    basis = np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)], axis=1)
    coef = np.linalg.lstsq(basis, x, rcond=None)[0]
    return float(np.hypot(*coef))


def middle(audio: Audio) -> Audio:
    """The audio without its first and last tenth (the resampler's edges)."""
    cut = audio.frames // 10
    return Audio(audio.samples[:, cut:-cut], audio.rate)


def audiomentations_call(cls_name: str, samples: np.ndarray, rate: int, **kw) -> np.ndarray:
    import audiomentations

    return getattr(audiomentations, cls_name)(p=1.0, **kw)(samples=samples, sample_rate=rate)


# -- resample ----------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [16000, 44100])
def test_resample_removes_what_the_lower_rate_cannot_hold(rate: int) -> None:
    mixed = Audio(tone(1000, rate).samples + tone(5000, rate).samples, rate)
    out, params = run("resample", mixed, {"rate_hz": 8000})
    assert params["rate_hz"] == pytest.approx(8000, rel=1e-3) and out.rate == rate
    assert out.frames == mixed.frames
    kept = 20 * np.log10(amplitude_at(middle(out), 1000) / 0.5)
    gone = 20 * np.log10(amplitude_at(middle(out), 5000) / 0.5)
    assert abs(kept) < 0.1, kept  # the pass band is untouched
    assert gone < -60, gone  # above 4 kHz: removed


def test_resample_snaps_the_ratio_and_records_the_rate_used() -> None:
    op = build("resample", {"rate_hz": 12347})
    params = op.sample(generator(1), {"rate": 44100, "frames": 44100})
    assert params["up"] <= 200 and params["down"] <= 200
    assert params["rate_hz"] == pytest.approx(44100 * params["up"] / params["down"], abs=1e-3)
    assert abs(params["rate_hz"] - 12347) / 12347 < 0.01


def test_resample_at_or_above_the_file_rate_is_the_identity() -> None:
    audio = sweep(16000, 2)
    out, params = run("resample", audio, {"rate_hz": 22050})
    assert (params["up"], params["down"]) == (1, 1)
    np.testing.assert_array_equal(out.samples, audio.samples)


# -- padding and adjust_duration -------------------------------------------------------------
@pytest.mark.parametrize("mode", ["silence", "wrap", "reflect"])
@pytest.mark.parametrize("side", ["start", "end"])
def test_padding_equals_audiomentations(mode: str, side: str) -> None:
    audio = sweep(16000, 2, seconds=0.5)
    out, params = run("padding", audio, {"fraction": 0.3, "mode": mode, "side": side})
    assert params["frames"] == round(0.3 * audio.frames)
    ref = audiomentations_call(
        "Padding",
        audio.samples,
        16000,
        mode=mode,
        min_fraction=0.3,
        max_fraction=0.3,
        pad_section=side,
    )
    np.testing.assert_array_equal(out.samples, ref)


def test_padding_silence_zeroes_exactly_the_drawn_share() -> None:
    audio = sweep(16000, 1)
    out, params = run("padding", audio, {"fraction": [0.1, 0.4]}, seed=4)
    k = params["frames"]
    assert 0.1 * audio.frames <= k <= 0.4 * audio.frames
    assert not out.samples[:, -k:].any()
    np.testing.assert_array_equal(out.samples[:, :-k], audio.samples[:, :-k])


@pytest.mark.parametrize("mode", ["silence", "wrap", "reflect"])
@pytest.mark.parametrize("side", ["start", "end"])
def test_adjust_duration_pads_as_audiomentations(mode: str, side: str) -> None:
    audio = sweep(16000, 2, seconds=0.3)
    out, _ = run(
        "adjust_duration", audio, {"frames": 16000, "padding_mode": mode, "padding_side": side}
    )
    ref = audiomentations_call(
        "AdjustDuration",
        audio.samples,
        16000,
        duration_samples=16000,
        padding_mode=mode,
        padding_position=side,
    )
    assert out.frames == 16000
    np.testing.assert_array_equal(out.samples, ref)


def test_adjust_duration_crops_longer_audio_at_the_recorded_offset() -> None:
    audio = sweep(16000, 1, seconds=2.0)
    out, params = run("adjust_duration", audio, {"seconds": 0.5}, seed=3)
    start = params["start_frame"]
    assert params["target_frames"] == 8000 and 0 <= start <= 24000 and out.frames == 8000
    np.testing.assert_array_equal(out.samples, audio.samples[:, start : start + 8000])
    assert (
        len(
            {run("adjust_duration", audio, {"seconds": 0.5}, s)[1]["start_frame"] for s in range(8)}
        )
        > 1
    )


def test_adjust_duration_takes_seconds_or_frames_not_both() -> None:
    with pytest.raises(RecipeError):
        build("adjust_duration", {"seconds": 1.0, "frames": 100})


# -- reverse -----------------------------------------------------------------------------------
def test_reverse_equals_audiomentations_and_twice_is_the_identity() -> None:
    audio = sweep(16000, 2)
    out, _ = run("reverse", audio, {})
    np.testing.assert_array_equal(out.samples, audiomentations_call("Reverse", audio.samples, 1))
    np.testing.assert_array_equal(run("reverse", out, {})[0].samples, audio.samples)


# -- repeat_part -------------------------------------------------------------------------------
def ramp(frames: int, channels: int = 2) -> Audio:
    x = np.arange(frames, dtype=np.float32) / frames
    return Audio(np.stack([x * (1 - 0.5 * c) for c in range(channels)]), 16000)


def test_repeat_part_insert_without_crossfade_is_exact() -> None:
    audio = ramp(16000)
    out, p = run("repeat_part", audio, {"part_seconds": 0.1, "repeats": 2, "crossfade_ms": 0})
    s, n = p["start_frame"], p["part_frames"]
    assert n == 1600 and out.frames == 16000 + 2 * n
    x = audio.samples
    expected = np.concatenate([x[:, : s + n], x[:, s : s + n], x[:, s : s + n], x[:, s + n :]], 1)
    np.testing.assert_array_equal(out.samples, expected)


def test_repeat_part_replace_keeps_the_duration_and_the_rest_in_place() -> None:
    audio = ramp(16000)
    raw = {"part_seconds": 0.05, "repeats": 3, "mode": "replace", "crossfade_ms": 0}
    out, p = run("repeat_part", audio, raw, seed=2)
    s, n = p["start_frame"], p["part_frames"]
    x = audio.samples
    assert out.frames == 16000
    resume = s + 4 * n
    np.testing.assert_array_equal(out.samples[:, : s + n], x[:, : s + n])
    np.testing.assert_array_equal(out.samples[:, s + 3 * n : resume], x[:, s : s + n])
    np.testing.assert_array_equal(out.samples[:, resume:], x[:, resume:])


def test_repeat_part_crossfades_at_equal_power() -> None:
    audio = ramp(16000, 1)
    raw = {"part_seconds": 0.1, "repeats": 1, "crossfade_ms": 5}
    out, p = run("repeat_part", audio, raw, seed=5)
    s, n, f = p["start_frame"], p["part_frames"], p["crossfade_frames"]
    assert f == 80 and out.frames == 16000 + n
    x = audio.samples[0].astype(np.float64)
    t = (np.arange(f) + 0.5) / f * np.pi / 2
    fade = x[s + n - f : s + n] * np.cos(t) + x[s - f : s] * np.sin(t)
    np.testing.assert_allclose(out.samples[0, s + n - f : s + n], fade, rtol=1e-6)
    np.testing.assert_array_equal(out.samples[0, s + n : s + 2 * n], x[s : s + n].astype("f4"))


def test_repeat_part_leaves_too_short_files_alone_and_checks_the_crossfade() -> None:
    tiny = ramp(100)
    out, p = run("repeat_part", tiny, {"part_seconds": 0.5, "crossfade_ms": 5})
    assert p["part_frames"] == 0
    np.testing.assert_array_equal(out.samples, tiny.samples)
    with pytest.raises(RecipeError, match="crossfade_ms"):
        build("repeat_part", {"part_seconds": [0.005, 0.1], "crossfade_ms": 5})
