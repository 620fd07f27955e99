"""Equalisers for audio: band-stop, mains-hum notch, peaking and shelf filters, a seven-band parametric EQ.

band_stop is level.py's Butterworth filter (SciPy) with btype "bandstop"; notch cascades
``scipy.signal.iirnotch`` sections. peaking, low_shelf, high_shelf and seven_band_eq are biquads
written here from Robert Bristow-Johnson's Audio EQ Cookbook (W3C Note, 2021:
https://www.w3.org/TR/audio-eq-cookbook/), as audiomentations does, so the maths is plain and
checked against SciPy's measured response. Everything is filtered with ``scipy.signal.sosfilt``
in float64.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np

from augcli.audio.base import Audio, AudioOp
from augcli.audio.level import ORDER, ZERO_PHASE, _Filter
from augcli.core.errors import InputError
from augcli.params import Param


def _top(value: Any) -> float:
    return value[1] if isinstance(value, tuple) else value


def _below_nyquist(op: str, key: str, value: Any, rate: int) -> None:
    """InputError when the largest ``value`` (a number or a range) is not below Nyquist."""
    nyquist, top = rate / 2, _top(value)
    if top >= nyquist:
        raise InputError(
            f"{op}: {key} up to {top:g} Hz is not below the Nyquist frequency of this {rate} Hz "
            f"file ({nyquist:g} Hz); use {key} below {nyquist:g} Hz, or run files of this rate "
            "through another recipe"
        )


# -- RBJ cookbook biquads: each returns one second-order section [b0, b1, b2, 1, a1, a2] --------
def _terms(freq_hz: float, gain_db: float, q: float, rate: int) -> tuple[float, float, float]:
    """The cookbook's A = 10^(gain/40), cos(w0) and alpha = sin(w0) / (2 Q)."""
    w0 = 2 * np.pi * freq_hz / rate
    return 10 ** (gain_db / 40), float(np.cos(w0)), float(np.sin(w0) / (2 * q))


def _section(b: list[float], a: list[float]) -> np.ndarray:
    return np.array([[b[0] / a[0], b[1] / a[0], b[2] / a[0], 1.0, a[1] / a[0], a[2] / a[0]]])


def peaking_sos(freq_hz: float, gain_db: float, q: float, rate: int) -> np.ndarray:
    """Cookbook peaking EQ: gain_db at freq_hz, bandwidth set by q."""
    amp, cos, alpha = _terms(freq_hz, gain_db, q, rate)
    b = [1 + alpha * amp, -2 * cos, 1 - alpha * amp]
    a = [1 + alpha / amp, -2 * cos, 1 - alpha / amp]
    return _section(b, a)


def low_shelf_sos(freq_hz: float, gain_db: float, q: float, rate: int) -> np.ndarray:
    """Cookbook low shelf: gain_db below freq_hz (half of it, in dB, at freq_hz)."""
    amp, cos, alpha = _terms(freq_hz, gain_db, q, rate)
    root = 2 * np.sqrt(amp) * alpha
    b = [
        amp * ((amp + 1) - (amp - 1) * cos + root),
        2 * amp * ((amp - 1) - (amp + 1) * cos),
        amp * ((amp + 1) - (amp - 1) * cos - root),
    ]
    a = [(amp + 1) + (amp - 1) * cos + root, -2 * ((amp - 1) + (amp + 1) * cos)]
    return _section(b, [*a, (amp + 1) + (amp - 1) * cos - root])


def high_shelf_sos(freq_hz: float, gain_db: float, q: float, rate: int) -> np.ndarray:
    """Cookbook high shelf: gain_db above freq_hz (half of it, in dB, at freq_hz)."""
    amp, cos, alpha = _terms(freq_hz, gain_db, q, rate)
    root = 2 * np.sqrt(amp) * alpha
    b = [
        amp * ((amp + 1) + (amp - 1) * cos + root),
        -2 * amp * ((amp - 1) + (amp + 1) * cos),
        amp * ((amp + 1) + (amp - 1) * cos - root),
    ]
    a = [(amp + 1) - (amp - 1) * cos + root, 2 * ((amp - 1) - (amp + 1) * cos)]
    return _section(b, [*a, (amp + 1) - (amp - 1) * cos - root])


def notch_sos(freq_hz: float, harmonics: int, q: float, rate: int) -> np.ndarray:
    """``scipy.signal.iirnotch`` at freq_hz and its multiples up to ``harmonics`` (the
    fundamental counts), each of quality factor q; multiples at or above Nyquist are skipped."""
    from scipy.signal import iirnotch

    rows = []
    for k in range(1, harmonics + 1):
        if k * freq_hz < rate / 2:
            b, a = iirnotch(k * freq_hz, q, fs=rate)
            rows.append(np.concatenate([b, a]))
    return np.array(rows).reshape(-1, 6)


def _filtered(data: Audio, sos: np.ndarray) -> Audio:
    from scipy.signal import sosfilt

    if not len(sos):
        return data.with_samples(data.samples.copy())
    return data.with_samples(sosfilt(sos, data.samples.astype(np.float64), axis=1))


GAIN_DB = Param(default=[-12.0, 12.0], low=-48.0, high=48.0, unit="dB", help="boost (+) or cut (-)")


class BandStop(_Filter):
    """Remove the band from ``low_hz`` to ``high_hz`` (Butterworth band-stop, -3 dB at both ends).

    SciPy's Butterworth design in second-order sections, as lowpass/bandpass (augcli.audio.level).
    Every low_hz must be below every high_hz (checked in the recipe), and high_hz below the
    file's Nyquist frequency. Each ``order`` step steepens both edges by 6 dB per octave.
    """

    name = "band_stop"
    btype = "bandstop"
    cutoffs = ("low_hz", "high_hz")
    params = {
        "low_hz": Param(default=[400.0, 800.0], low=1.0, high=1e6, unit="Hz", help="lower edge"),
        "high_hz": Param(default=[1200.0, 2400.0], low=1.0, high=1e6, unit="Hz", help="upper edge"),
        "order": ORDER,
        "zero_phase": ZERO_PHASE,
    }


class Notch(AudioOp):
    """Remove mains hum: notches at ``freq_hz`` (50 or 60 Hz) and its harmonics, quality ``q``.

    One ``scipy.signal.iirnotch`` section per multiple of freq_hz, ``harmonics`` of them counting
    the fundamental (3: 50, 100 and 150 Hz), cascaded. Each notch is freq/q wide at -3 dB (q 30 at
    50 Hz: 1.7 Hz) and takes about q/(pi*freq) seconds to settle (0.2 s). Harmonics at or above
    the file's Nyquist frequency are skipped; a fundamental at or above it fails the file with a
    message. freq_hz is a number (50 in Europe, Asia, Africa; 60 in the Americas) or a [lo, hi]
    range drawn uniformly, e.g. [49.5, 50.5] for a drifting supply.
    """

    name = "notch"
    group = "level"
    params = {
        "freq_hz": Param(
            default=50.0, low=40.0, high=1000.0, unit="Hz", help="hum fundamental: 50 or 60"
        ),
        "harmonics": Param(
            kind="int",
            default=3,
            low=1,
            high=40,
            sampled=False,
            help="multiples notched, the fundamental included",
        ),
        "q": Param(default=30.0, low=1.0, high=1000.0, help="quality factor: centre / width"),
    }

    def check_input(self, info: dict[str, Any]) -> None:
        _below_nyquist(self.name, "freq_hz", self.config["freq_hz"], info["rate"])

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        sos = notch_sos(params["freq_hz"], params["harmonics"], params["q"], data.rate)
        return _filtered(data, sos)


class _Biquad(AudioOp):
    """One cookbook biquad at ``self.freq`` (a param name), designed by ``design``."""

    group = "level"
    freq = ""

    @staticmethod
    @abstractmethod
    def design(freq_hz: float, gain_db: float, q: float, rate: int) -> np.ndarray:
        """The filter's second-order sections for these settings."""

    def check_input(self, info: dict[str, Any]) -> None:
        _below_nyquist(self.name, self.freq, self.config[self.freq], info["rate"])

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        sos = self.design(params[self.freq], params["gain_db"], params["q"], data.rate)
        return _filtered(data, sos)


class Peaking(_Biquad):
    """Boost or cut by ``gain_db`` around ``center_hz``, ``q`` wide (RBJ cookbook peaking biquad).

    The gain is exactly gain_db at center_hz and falls to 0 dB away from it; q is centre /
    bandwidth (1.41 is about one octave, 5 narrow). Hand-written from the Audio EQ Cookbook
    (https://www.w3.org/TR/audio-eq-cookbook/), filtered with scipy.signal.sosfilt. center_hz
    must be below the file's Nyquist frequency.
    """

    name = "peaking"
    freq = "center_hz"
    design = staticmethod(peaking_sos)
    params = {
        "center_hz": Param(
            default=[100.0, 6000.0], low=1.0, high=1e6, unit="Hz", help="centre frequency"
        ),
        "gain_db": GAIN_DB,
        "q": Param(default=[0.5, 5.0], low=0.0, low_open=True, high=100.0, help="centre / width"),
    }


SHELF_Q = Param(
    default=[0.5, 0.707],
    low=0.0,
    low_open=True,
    high=1.0,
    help="shelf Q: higher is steeper; above 0.707 the corner overshoots",
)


class LowShelf(_Biquad):
    """Boost or cut by ``gain_db`` below ``cutoff_hz`` (RBJ cookbook low-shelf biquad, slope ``q``).

    The response is gain_db at 0 Hz, half of it (in dB) at cutoff_hz, and 0 dB well above.
    q sets the steepness as in audiomentations' LowShelfFilter (at most 0.707 for no bump
    at the corner). Hand-written from the Audio EQ Cookbook
    (https://www.w3.org/TR/audio-eq-cookbook/), filtered with scipy.signal.sosfilt. cutoff_hz
    must be below the file's Nyquist frequency.
    """

    name = "low_shelf"
    freq = "cutoff_hz"
    design = staticmethod(low_shelf_sos)
    params = {
        "cutoff_hz": Param(
            default=[50.0, 4000.0], low=1.0, high=1e6, unit="Hz", help="half-gain frequency"
        ),
        "gain_db": GAIN_DB,
        "q": SHELF_Q,
    }


class HighShelf(_Biquad):
    """Boost or cut by ``gain_db`` above ``cutoff_hz`` (RBJ cookbook high-shelf biquad, slope ``q``).

    The response is gain_db at Nyquist, half of it (in dB) at cutoff_hz, and 0 dB well below.
    q sets the steepness as in audiomentations' HighShelfFilter (at most 0.707 for no bump
    at the corner). Hand-written from the Audio EQ Cookbook
    (https://www.w3.org/TR/audio-eq-cookbook/), filtered with scipy.signal.sosfilt. cutoff_hz
    must be below the file's Nyquist frequency.
    """

    name = "high_shelf"
    freq = "cutoff_hz"
    design = staticmethod(high_shelf_sos)
    params = {
        "cutoff_hz": Param(
            default=[300.0, 7000.0], low=1.0, high=1e6, unit="Hz", help="half-gain frequency"
        ),
        "gain_db": GAIN_DB,
        "q": SHELF_Q,
    }


# The geometric middles of audiomentations' seven centre ranges (42-95 Hz, ..., 4216-9486 Hz):
# about three bands per decade (63.2 Hz * 10^(k/3) within 0.2%).
SEVEN_BANDS_HZ = (63.2, 136.2, 294.0, 631.7, 1363.4, 2935.7, 6324.0)
SEVEN_SHELF_Q = 0.707


def seven_band_sos(gains_db: list[float], qs: list[float], rate: int) -> np.ndarray:
    """The seven sections (low shelf, five peaking, high shelf) at SEVEN_BANDS_HZ, leaving out
    bands at or above 0.45 * rate."""
    designs = [low_shelf_sos] + [peaking_sos] * 5 + [high_shelf_sos]
    band_q = [SEVEN_SHELF_Q, *qs, SEVEN_SHELF_Q]
    rows = [
        design(f, g, q, rate)
        for design, f, g, q in zip(designs, SEVEN_BANDS_HZ, gains_db, band_q, strict=True)
        if f < 0.45 * rate
    ]
    return np.concatenate(rows) if rows else np.zeros((0, 6))


class SevenBandEq(AudioOp):
    """Seven-band EQ: a gain from ``gain_db`` per band at 63, 136, 294, 632, 1363, 2936, 6324 Hz.

    A low shelf (half-gain at 63.2 Hz), five peaking bands (136.2, 294.0, 631.7, 1363.4,
    2935.7 Hz, each of its own ``q``) and a high shelf (half-gain at 6324.0 Hz), shelf Q 0.707,
    all RBJ cookbook biquads (https://www.w3.org/TR/audio-eq-cookbook/) written here and filtered
    with scipy.signal.sosfilt. The centres are fixed, about three per decade: the geometric
    middles of the ranges audiomentations' SevenBandParametricEQ draws them from. Each band gets
    its own gain; sample() records all seven as ``gain_db`` (a list, low to high) and the five
    peaking ``q``. A band at or above 0.45 times the file's sample rate (the high shelf at 8 and
    11.025 kHz) is left out, and its gain is recorded as 0.
    """

    name = "seven_band_eq"
    group = "level"
    params = {
        "gain_db": GAIN_DB,
        "q": Param(
            default=[0.7, 2.0], low=0.0, low_open=True, high=100.0, help="peaking centre / width"
        ),
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        gains = [self.params["gain_db"].draw(self.config["gain_db"], rng) for _ in SEVEN_BANDS_HZ]
        qs = [self.params["q"].draw(self.config["q"], rng) for _ in range(5)]
        kept = [
            g if f < 0.45 * info["rate"] else 0.0
            for g, f in zip(gains, SEVEN_BANDS_HZ, strict=True)
        ]
        return {"gain_db": kept, "q": qs}

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        return _filtered(data, seven_band_sos(params["gain_db"], params["q"], data.rate))
