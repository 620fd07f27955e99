"""The EQ ops (augcli/audio/eq.py) measured: each op's impulse response through scipy.signal.freqz
against the filters' definitions (Butterworth -3 dB edges, notch depth, cookbook gains at the
centre and on the shelves), against audiomentations' own filters, and on tones."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.signal import freqz, sosfreqz

from augcli.audio import eq
from augcli.audio.base import Audio
from augcli.core.errors import InputError, RecipeError
from augcli.core.seeding import generator
from augcli.ops import registry


def info_of(audio: Audio) -> dict:
    return {"rate": audio.rate, "channels": audio.channels, "frames": audio.frames}


def build(name: str, raw: dict):
    return registry("audio")[name].from_recipe(dict(raw), f"test.{name}")


def run(name: str, raw: dict, audio: Audio, seed: int = 0) -> Audio:
    op = build(name, raw)
    op.check_input(info_of(audio))
    return op.apply(audio, op.sample(generator(seed), info_of(audio)))


def impulse(rate: int, seconds: float = 4.0, channels: int = 1) -> Audio:
    x = np.zeros((channels, round(rate * seconds)), np.float32)
    x[:, 0] = 1.0
    return Audio(x, rate)


def measured_db(name: str, raw: dict, rate: int, freqs: list[float]) -> np.ndarray:
    """The op's gain in dB at ``freqs``: the DTFT (scipy.signal.freqz) of its impulse response."""
    h = run(name, raw, impulse(rate)).samples[0].astype(np.float64)
    _, resp = freqz(h, 1, worN=np.asarray(freqs, float), fs=rate)
    return 20 * np.log10(np.abs(resp))


def sos_db(sos: np.ndarray, rate: int, freqs: list[float]) -> np.ndarray:
    _, resp = sosfreqz(sos, worN=np.asarray(freqs, float), fs=rate)
    return 20 * np.log10(np.abs(resp))


def tone(freq: float, rate: int, seconds: float, amp: float = 0.3) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(round(rate * seconds)) / rate)


def rms_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2))


# -- band_stop ---------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [16000, 44100])
def test_band_stop_is_butterworth(rate: int):
    raw = {"low_hz": 500, "high_hz": 2000, "order": 4}
    db = measured_db("band_stop", raw, rate, [500, 2000, 1000, 100, 6000])
    np.testing.assert_allclose(db[:2], -3.0103, atol=0.05)  # Butterworth: -3 dB at both edges
    assert db[2] < -60
    np.testing.assert_allclose(db[3:], 0.0, atol=0.1)


def test_band_stop_zero_phase_doubles_the_edge_loss():
    raw = {"low_hz": 500, "high_hz": 2000, "zero_phase": True}
    tones = np.stack([tone(f, 16000, 2.0) for f in (500, 1000, 6000)]).astype(np.float32)
    out = run("band_stop", raw, Audio(tones, 16000)).samples[:, 8000:24000]
    loss = [rms_db(o) - rms_db(t[8000:24000]) for o, t in zip(out, tones, strict=True)]
    assert loss[0] == pytest.approx(-6.02, abs=0.1)
    assert loss[1] < -60
    assert loss[2] == pytest.approx(0.0, abs=0.05)


def test_band_stop_edges_must_be_ordered_and_below_nyquist():
    with pytest.raises(RecipeError, match="band_stop low_hz must be below high_hz"):
        build("band_stop", {"low_hz": [200, 3000], "high_hz": [2500, 4000]})
    op = build("band_stop", {"low_hz": 300, "high_hz": [4000, 8500]})
    with pytest.raises(InputError, match=r"high_hz up to 8500 Hz.*16000 Hz"):
        op.check_input({"rate": 16000})
    op.check_input({"rate": 44100})


# -- notch -------------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [16000, 44100])
@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_notch_depth_and_pass_band(rate: int, mains: float):
    raw = {"freq_hz": mains, "harmonics": 3, "q": 30}
    centres = [mains * k for k in (1, 2, 3)]
    depth = measured_db("notch", raw, rate, centres)
    assert np.all(depth <= -30), depth
    # 0.7 and 1.3 times each centre, leaving out 1.3*f1 and 0.7*f2 (65 and 70 Hz at 50 Hz mains),
    # which fall between two notches: 1.4 and 1.3 times the next centre's half width away.
    sides = [0.7 * centres[0], 1.3 * centres[1], 0.7 * centres[2], 1.3 * centres[2]]
    np.testing.assert_allclose(measured_db("notch", raw, rate, sides), 0.0, atol=1.0)
    between = measured_db("notch", raw, rate, [1.3 * centres[0], 0.7 * centres[1]])
    np.testing.assert_allclose(between, 0.0, atol=1.0)


def test_notch_on_tones_settles_to_the_measured_depth():
    rate = 16000
    for f in (50.0, 100.0, 150.0):
        out = run("notch", {"freq_hz": 50, "q": 30}, Audio(tone(f, rate, 3.0)[None], rate))
        assert rms_db(out.samples[0, rate:]) - rms_db(tone(f, rate, 2.0)) < -30


def test_notch_removes_hum_and_keeps_the_tone():
    rate, seconds = 16000, 3.0
    hum = sum(tone(50.0 * k, rate, seconds, amp=0.3 / k) for k in (1, 2, 3))
    speech_like = tone(1000.0, rate, seconds, amp=0.3)
    out = run(
        "notch", {"freq_hz": 50, "harmonics": 3, "q": 30}, Audio((hum + speech_like)[None], rate)
    )
    settled = slice(rate, None)  # after 1 s (five time constants of the 50 Hz notch)
    left = out.samples[0, settled] - speech_like[settled]
    assert rms_db(left) - rms_db(hum[settled]) < -30, "hum gone"
    assert rms_db(out.samples[0, settled]) == pytest.approx(rms_db(speech_like[settled]), abs=0.05)


def test_notch_skips_harmonics_at_or_above_nyquist():
    assert len(eq.notch_sos(400.0, 40, 30.0, 8000)) == 9  # 400..3600 Hz; 4000 Hz is Nyquist
    assert len(eq.notch_sos(50.0, 3, 30.0, 8000)) == 3
    rate = 8000
    out = run("notch", {"freq_hz": 400, "harmonics": 40}, impulse(rate, 1.0))
    assert np.all(np.isfinite(out.samples)) and out.samples.dtype == np.float32
    with pytest.raises(InputError, match=r"freq_hz up to 600 Hz.*1000 Hz"):
        build("notch", {"freq_hz": [50, 600]}).check_input({"rate": 1000})


# -- peaking and shelves -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rate", "center", "gain", "q"),
    [(16000, 1000, 6, 1), (16000, 150, -12, 5), (44100, 9000, 9.5, 0.7), (44100, 60, -3, 2)],
)
def test_peaking_gain_at_the_centre(rate: int, center: float, gain: float, q: float):
    raw = {"center_hz": center, "gain_db": gain, "q": q}
    freqs = [center, center / 30, min(center * 30, rate * 0.49)]
    db = measured_db("peaking", raw, rate, freqs)
    assert db[0] == pytest.approx(gain, abs=0.05)
    assert abs(db[1]) < 0.05 * abs(gain) + 0.01 and abs(db[2]) < 0.1 * abs(gain) + 0.01
    theory = sos_db(eq.peaking_sos(center, gain, q, rate), rate, freqs)
    np.testing.assert_allclose(db, theory, atol=1e-3)


@pytest.mark.parametrize("rate", [16000, 44100])
@pytest.mark.parametrize("gain", [-12.0, 7.0])
@pytest.mark.parametrize("q", [0.5, 0.707])
def test_shelf_plateaus(rate: int, gain: float, q: float):
    cutoff = 400.0
    far_low, far_high = cutoff / 20, min(cutoff * 20, 0.45 * rate)
    raw = {"cutoff_hz": cutoff, "gain_db": gain, "q": q}
    low = measured_db("low_shelf", raw, rate, [far_low, cutoff, far_high])
    np.testing.assert_allclose(low, [gain, gain / 2, 0.0], atol=0.2)
    assert low[1] == pytest.approx(gain / 2, abs=0.01)  # the cookbook's midpoint
    raw["cutoff_hz"] = cutoff = 500.0
    far_low, far_high = cutoff / 20, min(cutoff * 20, 0.49 * rate)
    high = measured_db("high_shelf", raw, rate, [far_low, cutoff, far_high])
    np.testing.assert_allclose(high, [0.0, gain / 2, gain], atol=0.2)
    assert high[1] == pytest.approx(gain / 2, abs=0.01)


@pytest.mark.parametrize(
    ("name", "ours", "theirs", "key"),
    [
        ("peaking", "center_hz", "PeakingFilter", 2.0),
        ("low_shelf", "cutoff_hz", "LowShelfFilter", 0.6),
        ("high_shelf", "cutoff_hz", "HighShelfFilter", 0.6),
    ],
)
def test_biquads_match_audiomentations(name: str, ours: str, theirs: str, key: float):
    import audiomentations

    rate = 22050
    rng = np.random.default_rng(4)
    x = np.zeros((2, rate), np.float32)
    x[:, 10:] = rng.normal(0, 0.1, (2, rate - 10))  # starts at 0: their initial state is zero too
    other = getattr(audiomentations, theirs)(p=1.0)
    other.parameters = {
        "should_apply": True,
        "center_freq": 1234.5,
        "gain_db": -7.5,
        "q_factor": key,
    }
    expected = other.apply(x, rate)
    out = run(name, {ours: 1234.5, "gain_db": -7.5, "q": key}, Audio(x, rate))
    np.testing.assert_allclose(out.samples, expected, atol=2e-6)


@pytest.mark.parametrize("name", ["peaking", "low_shelf", "high_shelf"])
def test_zero_gain_is_identity(name: str):
    freq = "center_hz" if name == "peaking" else "cutoff_hz"
    audio = Audio(np.random.default_rng(1).normal(0, 0.2, (2, 8000)).astype(np.float32), 16000)
    out = run(name, {freq: [100, 5000], "gain_db": 0, "q": [0.3, 0.7]}, audio)
    np.testing.assert_allclose(out.samples, audio.samples, rtol=0, atol=1e-7)


@pytest.mark.parametrize(
    ("name", "freq"),
    [("peaking", "center_hz"), ("low_shelf", "cutoff_hz"), ("high_shelf", "cutoff_hz")],
)
def test_biquads_refuse_frequencies_at_nyquist(name: str, freq: str):
    op = build(name, {freq: [1000, 8000]})
    with pytest.raises(InputError, match=f"{freq} up to 8000 Hz is not below the Nyquist"):
        op.check_input({"rate": 16000})
    op.check_input({"rate": 16001})


# -- seven_band_eq -----------------------------------------------------------------------------
def _bands_db(params: dict, rate: int, freqs: list[float]) -> np.ndarray:
    """The sum, in dB, of each band's own response (from the biquad functions, via sosfreqz)."""
    designs = [eq.low_shelf_sos] + [eq.peaking_sos] * 5 + [eq.high_shelf_sos]
    qs = [eq.SEVEN_SHELF_Q, *params["q"], eq.SEVEN_SHELF_Q]
    total = np.zeros(len(freqs))
    for design, f, g, q in zip(designs, eq.SEVEN_BANDS_HZ, params["gain_db"], qs, strict=True):
        total += sos_db(design(f, g, q, rate), rate, freqs)
    return total


@pytest.mark.parametrize("rate", [16000, 44100])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_seven_band_response_is_the_sum_of_its_bands(rate: int, seed: int):
    op = build("seven_band_eq", {"gain_db": [-12, 12], "q": [0.7, 2.0]})
    params = op.sample(generator(seed), {"rate": rate})
    assert len(params["gain_db"]) == 7 and len(params["q"]) == 5
    assert json.loads(json.dumps(params)) == params
    h = op.apply(impulse(rate), params).samples[0].astype(np.float64)
    freqs = [*eq.SEVEN_BANDS_HZ, 30.0, 1000.0, 0.45 * rate]
    _, resp = freqz(h, 1, worN=np.asarray(freqs), fs=rate)
    np.testing.assert_allclose(
        20 * np.log10(np.abs(resp)), _bands_db(params, rate, freqs), atol=1e-3
    )


def test_seven_band_all_zero_gains_is_identity():
    audio = Audio(np.random.default_rng(2).normal(0, 0.2, (2, 8000)).astype(np.float32), 16000)
    out = run("seven_band_eq", {"gain_db": 0.0}, audio)
    np.testing.assert_array_equal(out.samples, audio.samples)


def test_seven_band_leaves_out_bands_near_nyquist():
    op = build("seven_band_eq", {"gain_db": [3, 12]})
    low_rate = op.sample(generator(0), {"rate": 8000})
    assert low_rate["gain_db"][6] == 0.0 and all(g >= 3 for g in low_rate["gain_db"][:6])
    assert all(g >= 3 for g in op.sample(generator(0), {"rate": 16000})["gain_db"])
    assert len(eq.seven_band_sos(low_rate["gain_db"], low_rate["q"], 8000)) == 6
    out = op.apply(impulse(8000, 1.0), low_rate)
    assert np.all(np.isfinite(out.samples)) and out.samples.dtype == np.float32
