"""Rooms for audio: a shoebox image-source room simulator and air absorption.

Both are hand-written NumPy/SciPy (no pyroomacoustics at run time; it is the reference in the
tests): room_simulator is the image-source method of Allen & Berkley (1979) for a shoebox room,
vectorised over all images; air_absorption is ISO 9613-1's pure-tone attenuation coefficient,
applied as a zero-phase magnitude response.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from augcli.audio.adapt import either, rms
from augcli.audio.base import Audio, AudioOp
from augcli.core.errors import RecipeError
from augcli.params import Param

SPEED_OF_SOUND = 343.0  # m/s, as pyroomacoustics
SINC_TAPS = 81  # fractional-delay kernel length (Hann-windowed sinc), as pyroomacoustics
SABINE = 24 * math.log(10) / SPEED_OF_SOUND  # RT60 = SABINE * V / (S * absorption), ~0.161 s/m
AXES = ("x", "y", "z")


# -- image-source method ------------------------------------------------------------------------
def _axis_images(size: float, src: float, mic: float, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Along one axis: each image's offset from the mic and its number of wall reflections.

    Images are (1 - 2q) * src + 2 n size for integer n and parity q in {0, 1}; an image has
    |n - q| + |n| reflections (walls at 0 and size). Only those with at most ``order`` are kept.
    """
    n = np.arange(-order, order + 1)
    n, q = np.repeat(n, 2), np.tile([0, 1], n.size)
    reflections = np.abs(n - q) + np.abs(n)
    keep = reflections <= order
    offset = (1 - 2 * q) * src + 2 * n * size - mic
    return offset[keep].astype(np.float64), reflections[keep]


def image_sources(
    size: list[float], source: list[float], mic: list[float], max_order: int
) -> tuple[np.ndarray, np.ndarray]:
    """Distances (m) from the mic of every image with at most ``max_order`` reflections in all,
    and each one's reflection count (memory in proportion to the images kept)."""
    (dx, rx), (dy, ry), (dz, rz) = (
        _axis_images(size[i], source[i], mic[i], max_order) for i in range(3)
    )
    yz_r = (ry[:, None] + rz[None, :]).ravel()
    order = np.argsort(yz_r, kind="stable")
    yz_r = yz_r[order]
    yz_d2 = (dy[:, None] ** 2 + dz[None, :] ** 2).ravel()[order]
    ends = np.searchsorted(yz_r, max_order - rx, side="right")  # yz images that fit each x one
    dist = np.concatenate([np.sqrt(x * x + yz_d2[:e]) for x, e in zip(dx, ends, strict=True)])
    total = np.concatenate([r + yz_r[:e] for r, e in zip(rx, ends, strict=True)])
    return dist, total


CHUNK = 16384  # images per kernel block (bounds memory: CHUNK x 81 taps)


def shoebox_rir(
    size: list[float],
    source: list[float],
    mic: list[float],
    absorption: float,
    max_order: int,
    rate: int,
) -> np.ndarray:
    """The room impulse response (float64, 1-D) from ``source`` to ``mic`` (metres).

    Each image contributes beta^reflections / (4 pi d), beta = sqrt(1 - absorption) (the
    pressure reflection coefficient of an energy absorption coefficient), delayed by d / c with
    c = 343 m/s, as a Hann-windowed sinc of 81 taps centred on the exact (fractional) delay.
    Sample 0 is the moment the source emits: the direct path arrives at d / c. The response
    ends with the latest image's kernel (taps before sample 0 are dropped).
    """
    dist, reflections = image_sources(size, source, mic, max_order)
    beta = math.sqrt(max(0.0, 1.0 - absorption))
    gain = np.power(beta, reflections) / (4 * np.pi * dist)
    keep = gain > 0
    dist, gain = dist[keep], gain[keep]
    delay = dist / SPEED_OF_SOUND * rate
    half = SINC_TAPS // 2
    taps = np.arange(SINC_TAPS) - half
    window = np.hanning(SINC_TAPS)
    length = int(np.floor(delay.max())) + SINC_TAPS
    rir = np.zeros(length)
    for at in range(0, delay.size, CHUNK):
        d, g = delay[at : at + CHUNK], gain[at : at + CHUNK]
        whole = np.floor(d)
        kernel = np.sinc(taps[None, :] - (d - whole)[:, None]) * window[None, :] * g[:, None]
        index = whole.astype(np.int64)[:, None] + taps[None, :] + half  # shifted: all >= 0
        rir += np.bincount(index.ravel(), weights=kernel.ravel(), minlength=length)
    return rir[half:]


# -- drawing a room -------------------------------------------------------------------------------
def sabine_absorption(size: list[float], rt60: float) -> float:
    """The absorption coefficient (all six surfaces) that gives ``rt60`` seconds by Sabine's
    formula RT60 = 0.161 V / (S a) in a room of ``size`` metres."""
    x, y, z = size
    volume, surface = x * y * z, 2 * (x * y + x * z + y * z)
    return SABINE * volume / (surface * rt60)


def _lo(value: Any) -> float:
    return float(value[0] if isinstance(value, tuple) else value)


def _hi(value: Any) -> float:
    return float(value[1] if isinstance(value, tuple) else value)


def draw_positions(
    rng: np.random.Generator, size: list[float], margin: float, distance: float
) -> tuple[list[float], list[float]]:
    """A source and a mic ``distance`` metres apart, both at least ``margin`` from every wall:
    the source uniform in the allowed box, the mic in a uniform direction from it (rejection
    sampling, 1000 tries; then both on the box's diagonal, centred)."""
    lo = np.full(3, margin)
    hi = np.asarray(size, dtype=np.float64) - margin
    for _ in range(1000):
        src = rng.uniform(lo, hi)
        direction = rng.normal(size=3)
        mic = src + distance * direction / np.linalg.norm(direction)
        if np.all(mic >= lo) and np.all(mic <= hi):
            return src.tolist(), mic.tolist()
    centre, unit = (lo + hi) / 2, (hi - lo) / np.linalg.norm(hi - lo)
    return (centre - unit * distance / 2).tolist(), (centre + unit * distance / 2).tolist()


def _size_param(default: list[float], what: str) -> Param:
    return Param(default=default, low=1.0, high=50.0, unit="m", help=f"room {what}")


class RoomSimulator(AudioOp):
    """Reverberate as in a simulated shoebox room (image-source method): sides in m, RT60 in s.

    A room of ``size_x_m`` x ``size_y_m`` x ``size_z_m`` metres whose six surfaces share one
    energy ``absorption`` coefficient (0 = fully reflective, 1 = anechoic; about 0.05 for a
    factory, 0.15 an office, above 0.4 a treated studio), or give ``rt60_s`` instead: the
    absorption is then Sabine's for the drawn room (a = 0.161 V / (S RT60)). A source and a
    microphone are placed at least ``wall_distance_m`` from every wall, ``source_mic_distance_m``
    apart; all positions are recorded (``source_m``, ``mic_m``, metres from the room's corner).

    Hand-written shoebox image-source method (Allen & Berkley 1979), vectorised in NumPy, with
    pyroomacoustics' conventions (c = 343 m/s, 81-tap Hann-windowed-sinc fractional delays,
    reflection coefficient sqrt(1 - absorption), ``max_order`` = most reflections per path):
    the tests hold it to pyroomacoustics' RIR (which omits the 1/(4 pi)). There are
    (2N + 1)(2N^2 + 2N + 3) / 3 images for max_order N, so the cost grows as N^3: 11,521 at
    the default 20 (about 0.03 s per RIR), 295,361 at 60, the cap (about 0.6 s). The RIR ends
    with the latest image, about N times the room's mean side / c, so a longer decay is cut
    short: in a 4.6 x 3.75 x 2.7 m room the RIR lasts 0.17 s at order 12, 0.28 s at 20, 0.41 s
    at 30 and 0.81 s at 60, and with rt60_s 0.4 (Sabine) the simulated decay (Schroeder T20)
    is 0.17, 0.28 and 0.42 s at orders 12, 20 and 30, settling near 0.54 s from order 50 on
    (a shoebox with one absorption for all surfaces decays slower than Sabine's formula says).
    Raise max_order for long reverberation. The RIR is rebuilt from the params and convolved
    with every channel (one microphone: the channels keep their relation; SciPy fftconvolve).
    The output keeps the input's length: the direct path arrives d / c later (a few ms) and the
    reverberation ringing on past the end is cut. The reverberant signal is scaled to the
    input's RMS (as impulse_response; its peaks may then pass full scale, which writing
    counts), then mixed ``wet`` : 1 - wet with the dry input; level changes are gain's job.
    Air absorption is not included (see air_absorption).
    """

    name = "room_simulator"
    group = "noise"
    params = {
        "size_x_m": _size_param([3.6, 5.6], "width (x)"),
        "size_y_m": _size_param([3.6, 3.9], "depth (y)"),
        "size_z_m": _size_param([2.4, 3.0], "height (z)"),
        "absorption": Param(
            default=[0.075, 0.4],
            low=0.0,
            high=1.0,
            unit="energy absorption coefficient",
            help="of all six surfaces (used unless rt60_s is given)",
        ),
        "rt60_s": Param(
            default=[0.2, 0.6],
            low=0.0,
            low_open=True,
            high=10.0,
            unit="s",
            help="reverberation time; give it instead of absorption (Sabine's formula)",
        ),
        "max_order": Param(
            kind="int",
            default=20,
            low=0,
            high=60,
            sampled=False,
            help="most wall reflections per path (cost grows as max_order^3; sets the RIR's length)",
        ),
        "wall_distance_m": Param(
            default=0.5,
            low=0.0,
            high=10.0,
            sampled=False,
            unit="m",
            help="least distance of source and mic from any wall",
        ),
        "source_mic_distance_m": Param(
            default=[1.0, 3.0], low=0.0, low_open=True, high=50.0, unit="m", help="source to mic"
        ),
        "wet": Param(
            default=1.0, low=0.0, high=1.0, unit="fraction", help="share of reverberant signal"
        ),
    }

    @classmethod
    def from_recipe(cls, raw: dict[str, Any], path: str) -> RoomSimulator:
        by = either(cls.name, raw, path, "absorption", "rt60_s")
        op = super().from_recipe(raw, path)
        op.config["by"] = by
        op.check_rt60(path)
        return op

    def check_config(self, path: str) -> None:
        margin = self.config["wall_distance_m"]
        smallest = [_lo(self.config[f"size_{a}_m"]) for a in AXES]
        inner = [s - 2 * margin for s in smallest]
        if min(inner) <= 0:
            raise RecipeError(
                "room_simulator wall_distance_m leaves no room for source and mic",
                path=f"{path}.wall_distance_m",
                value=margin,
                fix=f"Use a wall_distance_m below half the smallest room side ({min(smallest) / 2:g} m).",
            )
        diagonal = math.sqrt(sum(s * s for s in inner))
        shortest = _lo(self.config["source_mic_distance_m"])
        if shortest > diagonal:
            raise RecipeError(
                "room_simulator source_mic_distance_m does not fit in the smallest room",
                path=f"{path}.source_mic_distance_m",
                value=self.config["source_mic_distance_m"],
                fix=(
                    f"The smallest room leaves {diagonal:.3g} m corner to corner "
                    f"{margin:g} m from the walls; use source_mic_distance_m at most that, "
                    "a larger room or a smaller wall_distance_m."
                ),
            )

    def check_rt60(self, path: str) -> None:
        """With rt60_s: the shortest RT60 in the largest room must need absorption <= 1."""
        if self.config.get("by") != "rt60_s":
            return
        largest = [_hi(self.config[f"size_{a}_m"]) for a in AXES]
        shortest = _lo(self.config["rt60_s"])
        need = sabine_absorption(largest, shortest)
        if need > 1.0:
            reachable = sabine_absorption(largest, 1.0)
            raise RecipeError(
                "room_simulator rt60_s is shorter than any absorption gives in the largest room",
                path=f"{path}.rt60_s",
                value=self.config["rt60_s"],
                fix=(
                    f"A {'x'.join(f'{s:g}' for s in largest)} m room reverberates at least "
                    f"{reachable:.3g} s even fully absorbing (Sabine); use rt60_s of at least "
                    "that, or smaller rooms."
                ),
            )

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        size = [self.params[f"size_{a}_m"].draw(self.config[f"size_{a}_m"], rng) for a in AXES]
        out: dict[str, Any] = {"size_m": size}
        if self.config.get("by") == "rt60_s":
            out["rt60_s"] = self.params["rt60_s"].draw(self.config["rt60_s"], rng)
            out["absorption"] = min(1.0, sabine_absorption(size, out["rt60_s"]))
        else:
            out["absorption"] = self.params["absorption"].draw(self.config["absorption"], rng)
        distance = self.params["source_mic_distance_m"].draw(
            self.config["source_mic_distance_m"], rng
        )
        out["source_m"], out["mic_m"] = draw_positions(
            rng, size, self.config["wall_distance_m"], distance
        )
        out["max_order"] = self.config["max_order"]
        out["wet"] = self.params["wet"].draw(self.config["wet"], rng)
        return out

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        from scipy.signal import fftconvolve

        rir = shoebox_rir(
            params["size_m"],
            params["source_m"],
            params["mic_m"],
            params["absorption"],
            params["max_order"],
            data.rate,
        )
        dry = data.samples.astype(np.float64)
        wet = fftconvolve(dry, rir[None, :], axes=1)[:, : data.frames]
        level = rms(wet)
        if level > 0:
            wet *= rms(dry) / level
        mix = params["wet"]
        return data.with_samples(mix * wet + (1.0 - mix) * dry)


# -- air absorption ------------------------------------------------------------------------------
REFERENCE_KPA = 101.325
T20 = 293.15  # K, reference temperature
T01 = 273.16  # K, triple-point isotherm temperature


def iso9613_alpha(
    freq_hz: np.ndarray | float,
    temperature_c: float = 20.0,
    humidity: float = 50.0,
    pressure_kpa: float = REFERENCE_KPA,
) -> np.ndarray:
    """ISO 9613-1 pure-tone attenuation coefficient alpha(f) in dB/m, for air at
    ``temperature_c`` deg C, ``humidity`` % relative humidity and ``pressure_kpa``
    (equations (1) to (5) and annex B of the standard)."""
    f = np.asarray(freq_hz, dtype=np.float64)
    t = temperature_c + 273.15
    pr = pressure_kpa / REFERENCE_KPA
    psat = 10 ** (-6.8346 * (T01 / t) ** 1.261 + 4.6151)  # saturation pressure / p_ref
    h = humidity * psat / pr  # molar concentration of water vapour, %
    fro = pr * (24 + 4.04e4 * h * (0.02 + h) / (0.391 + h))
    frn = pr * (t / T20) ** -0.5 * (9 + 280 * h * np.exp(-4.170 * ((t / T20) ** (-1 / 3) - 1)))
    classical = 1.84e-11 / pr * (t / T20) ** 0.5
    oxygen = 0.01275 * np.exp(-2239.1 / t) / (fro + f * f / fro)
    nitrogen = 0.1068 * np.exp(-3352.0 / t) / (frn + f * f / frn)
    return 8.686 * f * f * (classical + (t / T20) ** -2.5 * (oxygen + nitrogen))


class AirAbsorption(AudioOp):
    """Damp high frequencies as air does over ``distance_m`` metres (ISO 9613-1, dB/m).

    Each frequency f is attenuated by alpha(f) * distance_m dB, alpha from ISO 9613-1's formulas
    for air at ``temperature_c`` deg C and ``humidity`` % relative humidity at 101.325 kPa
    (hand-written; about 4.7 dB/km at 1 kHz, 105 dB/km at 8 kHz at 20 deg C, 50 %). The gain is
    applied as a zero-phase magnitude response to the rfft of the whole signal (zero-padded to
    twice its length so nothing wraps around); the duration is kept. The 1/r spreading loss is
    not included (level changes are gain's job), as audiomentations' AirAbsorption; unlike it,
    alpha is the standard's continuous formula, not a table of octave bands. Over 100 m at
    20 deg C and 50 % the loss is 0.47 dB at 1 kHz, 3.0 dB at 4 kHz, 10.5 dB at 8 kHz and 36 dB
    at 16 kHz, so files sampled at 16 kHz (up to 8 kHz) change less than 44.1 kHz ones.
    """

    name = "air_absorption"
    group = "level"
    params = {
        "distance_m": Param(
            default=[10.0, 100.0], low=0.0, high=10000.0, unit="m", help="source to listener"
        ),
        "temperature_c": Param(
            default=20.0, low=-20.0, high=50.0, unit="deg C", help="air temperature"
        ),
        "humidity": Param(
            default=50.0, low=10.0, high=100.0, unit="% relative", help="relative humidity"
        ),
    }

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        from scipy.fft import irfft, next_fast_len, rfft, rfftfreq

        n = data.frames
        size = next_fast_len(2 * max(n, 1), real=True)
        freqs = rfftfreq(size, 1.0 / data.rate)
        alpha = iso9613_alpha(freqs, params["temperature_c"], params["humidity"])
        gain = 10 ** (-alpha * params["distance_m"] / 20)
        spectrum = rfft(data.samples.astype(np.float64), n=size, axis=1) * gain[None, :]
        return data.with_samples(irfft(spectrum, n=size, axis=1)[:, :n])
