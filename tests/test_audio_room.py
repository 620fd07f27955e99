"""room_simulator against pyroomacoustics (RIR energy, arrival times, RT60) and air_absorption
against ISO 9613-1's published table and a measured pure-tone attenuation."""

from __future__ import annotations

import math

import numpy as np
import pyroomacoustics as pra
import pytest

from augcli.audio.adapt import rms
from augcli.audio.base import Audio
from augcli.audio.room import (
    SPEED_OF_SOUND,
    AirAbsorption,
    RoomSimulator,
    image_sources,
    iso9613_alpha,
    sabine_absorption,
    shoebox_rir,
)
from augcli.core.errors import RecipeError
from augcli.core.seeding import generator

ROOMS = [
    # size (m), source, mic, absorption, max_order, rate
    ([5.0, 3.8, 2.7], [1.2, 1.5, 1.4], [3.9, 2.4, 1.1], 0.2, 12, 16000),
    ([4.1, 3.7, 2.5], [0.8, 2.9, 1.7], [2.6, 1.1, 1.2], 0.35, 10, 44100),
    ([7.5, 6.0, 3.2], [2.0, 1.0, 1.5], [5.5, 4.2, 1.6], 0.1, 8, 16000),
]


@pytest.fixture
def pra_no_highpass():
    """pyroomacoustics high-passes its RIRs at 10 Hz by default; the image-source method does
    not, so the reference is taken without it (restored afterwards)."""
    before = pra.constants.get("rir_hpf_enable")
    pra.constants.set("rir_hpf_enable", False)
    yield
    pra.constants.set("rir_hpf_enable", before)


def pra_room(size, source, mic, absorption, max_order, rate) -> pra.ShoeBox:
    room = pra.ShoeBox(
        size,
        fs=rate,
        materials=pra.Material(absorption),
        max_order=max_order,
        air_absorption=False,
    )
    room.add_source(source)
    room.add_microphone(mic)
    room.compute_rir()
    return room


def aligned(size, source, mic, absorption, max_order, rate):
    """(ours * 4 pi, pyroomacoustics') over a common length: pyroomacoustics' RIR starts
    frac_delay_length // 2 samples early and leaves out the 1/(4 pi) of the spherical wave."""
    ours = shoebox_rir(size, source, mic, absorption, max_order, rate) * 4 * np.pi
    room = pra_room(size, source, mic, absorption, max_order, rate)
    theirs = room.rir[0][0][pra.constants.get("frac_delay_length") // 2 :]
    n = min(ours.size, theirs.size)
    return ours[:n], theirs[:n], room


@pytest.mark.parametrize("case", ROOMS)
def test_rir_matches_pyroomacoustics(case, pra_no_highpass):
    size, source, mic, _, max_order, rate = case
    ours, theirs, room = aligned(*case)
    energy_db = 10 * np.log10(np.sum(ours**2) / np.sum(theirs**2))
    assert abs(energy_db) < 0.5  # measured: under 0.01 dB
    # the same images: every path length agrees
    dist, _ = image_sources(size, source, mic, max_order)
    pra_dist = np.linalg.norm(room.sources[0].images - np.asarray(mic)[:, None], axis=0)
    np.testing.assert_allclose(np.sort(dist), np.sort(pra_dist), rtol=1e-6)  # theirs: float32
    # direct path and first reflection arrive within a sample of pyroomacoustics'
    first_two = np.sort(dist)[:2] / SPEED_OF_SOUND * rate
    for t in first_two:
        k = round(t)
        window = slice(k - 2, k + 3)
        assert abs(np.argmax(ours[window]) - np.argmax(theirs[window])) <= 1
    assert np.argmax(np.abs(ours)) == np.argmax(np.abs(theirs))
    # sample by sample (pyroomacoustics interpolates its sinc from a look-up table)
    assert np.max(np.abs(ours - theirs)) < 0.01 * np.max(np.abs(theirs))


def schroeder_rt60(rir: np.ndarray, rate: int) -> float:
    """RT60 from the Schroeder backward integral: a least-squares line through its -5 to
    -25 dB part (T20), extrapolated to 60 dB."""
    energy = np.cumsum(rir[::-1] ** 2)[::-1]
    energy = energy[energy > 0]
    db = 10 * np.log10(energy / energy[0])
    part = np.flatnonzero((db <= -5) & (db >= -25))
    slope = np.polyfit(part / rate, db[part], 1)[0]
    return -60 / slope


@pytest.mark.parametrize("case", ROOMS)
def test_rt60_matches_pyroomacoustics(case, pra_no_highpass):
    ours, theirs, _ = aligned(*case)
    rate = case[-1]
    # measured: ours and theirs agree to 0.01 s in both measures (RT60 from -5 to -65 dB:
    # 0.148, 0.118, 0.175 s; T20: 0.170, 0.161, 0.220 s)
    ref = pra.experimental.measure_rt60(theirs, rate)
    assert abs(pra.experimental.measure_rt60(ours, rate) - ref) < 0.10 * ref
    t20 = pra.experimental.measure_rt60(theirs, rate, decay_db=20)
    assert abs(schroeder_rt60(ours, rate) - t20) < 0.10 * t20


def test_direct_path_arrives_at_d_over_c_and_full_absorption_leaves_only_it():
    rate = 16000
    k = 150  # samples: a source-mic distance that is a whole number of samples
    d = k * SPEED_OF_SOUND / rate
    source = [1.0, 2.0, 1.5]
    mic = [1.0 + d, 2.0, 1.5]
    rir = shoebox_rir([6.0, 4.0, 3.0], source, mic, 1.0, 10, rate)
    assert np.argmax(np.abs(rir)) == k
    assert rir[k] == pytest.approx(1 / (4 * np.pi * d), rel=1e-12)
    rest = np.delete(rir, k)
    assert np.max(np.abs(rest)) < 1e-12 * rir[k]  # a sinc at an integer delay is one sample


def test_more_absorption_decays_faster():
    size, source, mic = [5.0, 4.0, 3.0], [1.0, 1.2, 1.5], [3.5, 2.8, 1.4]
    # order 30: low absorption needs high orders before the RIR's truncation stops mattering
    rt = [
        pra.experimental.measure_rt60(shoebox_rir(size, source, mic, a, 30, 16000), 16000)
        for a in (0.15, 0.3, 0.5, 0.8)
    ]
    assert rt == sorted(rt, reverse=True)
    assert rt[0] > 2 * rt[-1]


@pytest.mark.parametrize("order", [0, 1, 5, 20])
def test_image_count(order):
    dist, reflections = image_sources([4.0, 3.0, 2.5], [1.0, 1.0, 1.0], [2.0, 2.0, 1.2], order)
    n = order
    assert dist.size == (2 * n + 1) * (2 * n * n + 2 * n + 3) // 3
    assert reflections.max() == order and np.sum(reflections == 0) == 1


def test_higher_order_lengthens_the_decay():
    size, source, mic = [4.6, 3.75, 2.7], [1.0, 1.2, 1.5], [3.2, 2.6, 1.3]
    absorption = sabine_absorption(size, 0.4)
    rirs = [shoebox_rir(size, source, mic, absorption, n, 16000) for n in (12, 20, 30)]
    lengths = [r.size / 16000 for r in rirs]
    decays = [schroeder_rt60(r, 16000) for r in rirs]
    # measured: 0.170, 0.277, 0.411 s long; T20 0.170, 0.275, 0.418 s
    assert lengths == sorted(lengths) and decays == sorted(decays)
    assert decays[-1] == pytest.approx(0.4, rel=0.1)


def _speech_like(rate: int = 16000, seconds: float = 1.0, channels: int = 2) -> Audio:
    rng = np.random.default_rng(5)
    n = round(rate * seconds)
    env = np.abs(np.sin(np.linspace(0, 9 * np.pi, n)))
    x = rng.normal(0, 0.1, (channels, n)) * env
    return Audio(x.astype(np.float32), rate)


def test_room_simulator_keeps_length_and_rms_and_records_positions():
    op = RoomSimulator.from_recipe({"wall_distance_m": 0.4}, "t")
    audio = _speech_like()
    for seed in range(20):
        params = op.sample(generator(seed), {"rate": 16000})
        size, src, mic = (np.asarray(params[k]) for k in ("size_m", "source_m", "mic_m"))
        assert np.all(src >= 0.4 - 1e-12) and np.all(src <= size - 0.4 + 1e-12)
        assert np.all(mic >= 0.4 - 1e-12) and np.all(mic <= size - 0.4 + 1e-12)
        assert 1.0 - 1e-9 <= np.linalg.norm(src - mic) <= 3.0 + 1e-9
        assert 0.075 <= params["absorption"] <= 0.4
    out = op.apply(audio, params)
    assert out.frames == audio.frames
    assert rms(out.samples) == pytest.approx(rms(audio.samples), rel=1e-5)
    assert not np.allclose(out.samples, audio.samples, atol=1e-3)


def test_dry_mix_is_the_input():
    op = RoomSimulator.from_recipe({"wet": 0.0}, "t")
    audio = _speech_like()
    out = op.apply(audio, op.sample(generator(1), {"rate": 16000}))
    np.testing.assert_allclose(out.samples, audio.samples, atol=1e-7)


def test_rt60_mode_uses_sabine_absorption():
    op = RoomSimulator.from_recipe({"rt60_s": [0.3, 0.5]}, "t")
    params = op.sample(generator(3), {"rate": 16000})
    x, y, z = params["size_m"]
    expected = 0.1611 * x * y * z / (2 * (x * y + x * z + y * z) * params["rt60_s"])
    assert params["absorption"] == pytest.approx(expected, rel=1e-3)
    assert params["absorption"] == sabine_absorption(params["size_m"], params["rt60_s"])


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        ({"rt60_s": 0.05}, "t.rt60_s"),  # needs absorption > 1 in a 5.6 x 3.9 x 3 m room
        ({"wall_distance_m": 1.5}, "t.wall_distance_m"),  # 2.4 m high: nothing left
        ({"source_mic_distance_m": [5.0, 6.0]}, "t.source_mic_distance_m"),
    ],
)
def test_impossible_rooms_are_recipe_errors(raw, where):
    with pytest.raises(RecipeError) as err:
        RoomSimulator.from_recipe(raw, "t")
    assert err.value.path == where
    assert err.value.fix


def test_absorption_and_rt60_are_exclusive():
    with pytest.raises(RecipeError):
        RoomSimulator.from_recipe({"absorption": 0.2, "rt60_s": 0.4}, "t")


# -- air absorption ----------------------------------------------------------------------------
# ISO 9613-1:1993 Table 1 entries (dB/km), as quoted next to the ITA-Toolbox's (RWTH Aachen)
# ISO 9613-1 implementation test: (frequency Hz, temperature C, relative humidity %, value).
ISO_TABLE = [
    (50, -20, 10, 0.589),
    (6300, 20, 15, 175.0),
    (50, 20, 80, 0.0501),
    (1000, 20, 80, 5.15),
    (10000, 20, 80, 105.0),
]


@pytest.mark.parametrize(("freq", "temp", "rh", "db_per_km"), ISO_TABLE)
def test_alpha_matches_the_iso_table(freq, temp, rh, db_per_km):
    assert iso9613_alpha(freq, temp, rh) * 1000 == pytest.approx(db_per_km, rel=0.03)


def test_alpha_at_20c_50_percent():
    # measured: 4.66, 9.89, 29.7, 105 dB/km (the brief's 4.66, 9.86, ~29.4, ~104: within 1.3 %)
    alpha = iso9613_alpha(np.array([1000.0, 2000.0, 4000.0, 8000.0])) * 1000
    np.testing.assert_allclose(alpha, [4.66, 9.86, 29.4, 104.0], rtol=0.03)
    assert np.all(np.diff(alpha) > 0)


def _tone_amplitude(x: np.ndarray, freq: float, rate: int) -> float:
    """Least-squares amplitude of a sinusoid at ``freq`` in the middle half of ``x``."""
    n = x.size
    t = np.arange(n // 4, 3 * n // 4) / rate
    basis = np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, x[n // 4 : 3 * n // 4], rcond=None)
    return float(np.hypot(*coef))


@pytest.mark.parametrize("freq", [1000.0, 4000.0, 8000.0, 15000.0])
def test_air_absorption_attenuates_a_tone_by_alpha_times_distance(freq):
    rate = 44100
    t = np.arange(rate) / rate
    audio = Audio((0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None], rate)
    params = {"distance_m": 100.0, "temperature_c": 20.0, "humidity": 50.0}
    out = AirAbsorption.for_replay().apply(audio, params)
    measured = 20 * np.log10(_tone_amplitude(out.samples[0], freq, rate) / 0.5)
    assert measured == pytest.approx(-float(iso9613_alpha(freq)) * 100, abs=0.1)


def test_air_absorption_at_zero_distance_is_the_identity():
    audio = _speech_like(44100)
    params = {"distance_m": 0.0, "temperature_c": 20.0, "humidity": 50.0}
    out = AirAbsorption.for_replay().apply(audio, params)
    np.testing.assert_allclose(out.samples, audio.samples, atol=1e-6)


def test_air_absorption_keeps_low_frequencies():
    audio = _speech_like(44100)
    rate = audio.rate
    t = np.arange(audio.frames) / rate
    low = Audio((0.3 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)[None], rate)
    params = {"distance_m": 100.0, "temperature_c": 20.0, "humidity": 50.0}
    out = AirAbsorption.for_replay().apply(low, params)
    loss_db = -20 * np.log10(_tone_amplitude(out.samples[0], 100, rate) / 0.3)
    assert 0 < loss_db < 0.05  # alpha(100 Hz) is about 0.3 dB/km
    assert math.isfinite(rms(out.samples))
