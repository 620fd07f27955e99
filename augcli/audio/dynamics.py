"""Loudness and dynamics for audio: LUFS normalisation, a limiter, coloured noise, waveshaping.

All plain NumPy/SciPy, hand-written: the loudness meter follows ITU-R BS.1770-4 (a short, exact
spec; pyloudnorm is only the tests' reference), the limiter is vectorised (audiomentations'
Limiter needs the compiled numpy-audio-limiter), and tanh_distortion, bit_crush and aliasing are the
formulas of audiomentations' TanhDistortion, BitCrush and Aliasing (differences are stated in
each op's docstring).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from augcli.audio.adapt import draw_noise_seed, noise_rng, rms
from augcli.audio.base import Audio, AudioOp
from augcli.core.errors import InputError
from augcli.params import Param

# -- ITU-R BS.1770-4 loudness -------------------------------------------------------------------
# The K-weighting's two biquads as analog prototypes (centre frequency, Q, gain), fitted to the
# standard's 48 kHz coefficients (as libebur128 does) and discretised for any rate with the
# bilinear transform: at 48 kHz they reproduce the standard's table to 1e-8.
SHELF_HZ, SHELF_Q, SHELF_DB = 1681.974450955533, 0.7071752369554196, 3.999843853973347
SHELF_VB_EXPONENT = 0.4996667741545416
HIGHPASS_HZ, HIGHPASS_Q = 38.13547087602444, 0.5003270373238773
BLOCK_S, STEP_S = 0.4, 0.1  # 400 ms gating blocks, 75 % overlap
ABSOLUTE_GATE, RELATIVE_GATE = -70.0, -10.0


def k_weighting(rate: int) -> np.ndarray:
    """The BS.1770-4 K-weighting filter at ``rate`` Hz as SciPy second-order sections
    (high shelf, then the RLB high-pass): the standard's coefficients at 48 kHz."""
    k = math.tan(math.pi * SHELF_HZ / rate)
    vh = 10 ** (SHELF_DB / 20)
    vb = vh**SHELF_VB_EXPONENT
    a0 = 1 + k / SHELF_Q + k * k
    shelf = [
        (vh + vb * k / SHELF_Q + k * k) / a0,
        2 * (k * k - vh) / a0,
        (vh - vb * k / SHELF_Q + k * k) / a0,
        1.0,
        2 * (k * k - 1) / a0,
        (1 - k / SHELF_Q + k * k) / a0,
    ]
    highpass = _highpass(rate)
    highpass[:3] *= HIGHPASS_TOP / _highpass_top(rate)
    return np.array([shelf, highpass])


def _highpass(rate: int) -> np.ndarray:
    k = math.tan(math.pi * HIGHPASS_HZ / rate)
    a0 = 1 + k / HIGHPASS_Q + k * k
    return np.array([1.0, -2.0, 1.0, 1.0, 2 * (k * k - 1) / a0, (1 - k / HIGHPASS_Q + k * k) / a0])


def _highpass_top(rate: int) -> float:
    """The gain at Nyquist of the high-pass with numerator [1, -2, 1] (the standard's form)."""
    _, _, _, _, a1, a2 = _highpass(rate)
    return 4 / (1 - a1 + a2)


# The standard's numerator [1, -2, 1] gives the 48 kHz high-pass a gain of 1.005 (+0.043 dB)
# above its cutoff, and the -0.691 dB offset counts on it. Kept as the same gain at every rate
# (the numerator scaled), so a tone reads the same at any rate, as at 48 kHz.
HIGHPASS_TOP = _highpass_top(48000)


def channel_weights(channels: int) -> np.ndarray:
    """BS.1770-4 channel weights: 1.0 for left, right and centre; 1.41 for the surround pair.

    5 channels are taken as L R C Ls Rs (surrounds 1.41, as pyloudnorm), 6 as 5.1 in WAV order
    L R C LFE Ls Rs (the LFE is not measured, weight 0); any other count weighs every channel 1.
    """
    weights = np.ones(channels)
    if channels == 5:
        weights[3:5] = 1.41
    elif channels == 6:
        weights[3] = 0.0
        weights[4:6] = 1.41
    return weights


def block_powers(samples: np.ndarray, rate: int) -> np.ndarray:
    """Mean square of the K-weighted signal per channel and 400 ms block (hop 100 ms; only whole
    blocks), shaped (channels, blocks); no blocks when the file is shorter than one block."""
    from scipy.signal import sosfilt

    y = sosfilt(k_weighting(rate), samples.astype(np.float64), axis=1)
    size, hop = round(BLOCK_S * rate), round(STEP_S * rate)
    if y.shape[1] < size:
        return np.zeros((y.shape[0], 0))
    energy = np.concatenate([np.zeros((y.shape[0], 1)), np.cumsum(y * y, axis=1)], axis=1)
    starts = np.arange(0, y.shape[1] - size + 1, hop)
    return (energy[:, starts + size] - energy[:, starts]) / size


def _lufs(power: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return -0.691 + 10 * np.log10(power)


def integrated_loudness(samples: np.ndarray, rate: int) -> float | None:
    """Integrated loudness of (channels, frames) samples in LUFS (ITU-R BS.1770-4: K-weighting,
    channel weights, absolute gate -70 LUFS, relative gate -10 LU); None when the file is
    shorter than one 400 ms block or no block passes the absolute gate (silence)."""
    z = block_powers(samples, rate)
    weighted = channel_weights(z.shape[0]) @ z
    loudness = _lufs(weighted)
    gated = loudness > ABSOLUTE_GATE
    if not np.any(gated):
        return None
    relative = _lufs(np.mean(weighted[gated])) + RELATIVE_GATE
    gated &= loudness > relative
    return float(_lufs(np.mean(weighted[gated])))


class LoudnessNormalize(AudioOp):
    """Scale to an integrated loudness of ``lufs`` LUFS (ITU-R BS.1770-4, as EBU R 128 measures).

    Loudness is measured per the standard: K-weighting, 400 ms blocks with 75 % overlap, channel
    weights (1.41 for the surround pair of 5- and 6-channel files, LFE excluded), absolute gate
    -70 LUFS, relative gate -10 LU; hand-written (no dependency), within 0.1 LU of pyloudnorm.
    One gain is applied to all channels; peaks may go beyond full scale (follow with limiter).
    A file shorter than one 400 ms block, or silent (below the -70 LUFS gate), has no integrated
    loudness and is left unchanged rather than failing the run, as normalize leaves silence.
    """

    name = "loudness_normalize"
    group = "level"
    params = {
        "lufs": Param(
            default=[-31.0, -13.0],
            low=-70.0,
            high=0.0,
            unit="LUFS",
            help="integrated loudness after scaling",
        ),
    }

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        measured = integrated_loudness(data.samples, data.rate)
        if measured is None:
            return data.with_samples(data.samples.copy())
        scale = 10 ** ((params["lufs"] - measured) / 20)
        return data.with_samples(data.samples.astype(np.float64) * scale)


def _lowest(value: Any) -> float:
    return value[0] if isinstance(value, tuple) else value


def _shown(value: Any) -> str:
    return f"[{value[0]:g}, {value[1]:g}]" if isinstance(value, tuple) else f"{value:g}"


# -- limiter ------------------------------------------------------------------------------------
def _window(fn: Any, x: np.ndarray, size: int, forward: bool) -> np.ndarray:
    """``fn`` (a SciPy ndimage 1-D filter) over the window [n, n + size - 1] (``forward``) or
    [n - size + 1, n] of every frame n, with zeros beyond both ends."""
    pad = np.zeros(size - 1)
    padded = np.concatenate([x, pad] if forward else [pad, x])
    return fn(padded, size, mode="constant", cval=0.0)[size // 2 : size // 2 + x.size]


def limiter_gain(peak: np.ndarray, threshold: float, lookahead: int, release: int) -> np.ndarray:
    """Gain per frame (1.0 exactly where nothing is limited) that keeps ``peak * gain`` at or
    below ``threshold``: the required gain's forward minimum over ``lookahead`` frames, a linear
    release (back to full gain over ``release`` frames), then a trailing mean over ``lookahead``
    frames. Every frame of the mean's window has at most the gain frame n needs, so the output
    never exceeds the threshold; the file is taken as preceded by ``lookahead - 1`` silent frames
    so that this holds for a peak at its very start."""
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    cut = np.zeros(peak.size + lookahead - 1)  # gain reduction, 1 - gain
    loud = np.flatnonzero(peak > threshold)
    cut[loud + lookahead - 1] = 1.0 - threshold / peak[loud]
    ahead = _window(maximum_filter1d, cut, lookahead, forward=True)
    slope = np.arange(cut.size, dtype=np.float64) / max(release, 1)
    held = np.maximum(np.maximum.accumulate(ahead + slope) - slope, 0.0)
    smooth = _window(uniform_filter1d, held, lookahead, forward=False)
    touched = _window(maximum_filter1d, ahead, release + lookahead + 1, forward=False) > 0
    return np.where(touched, 1.0 - smooth, 1.0)[lookahead - 1 :]


class Limiter(AudioOp):
    """Look-ahead peak limiter: no sample exceeds ``threshold_db`` dBFS; quieter parts untouched.

    The gain is linked over channels: per frame the gain the loudest channel needs, reduced
    ``attack_ms`` ahead of each peak (the look-ahead), recovering linearly over ``release_ms``
    and smoothed by a moving average of the look-ahead's length, which keeps every output
    sample at or below the threshold exactly. Frames farther than attack + release from any
    sample above the threshold are unchanged, and audio already below it is returned as is.
    Hand-written and vectorised with NumPy/SciPy (no per-sample loop): audiomentations' Limiter
    needs the compiled numpy-audio-limiter package; this one needs no compiled extra and its
    ceiling is exact by construction.
    """

    name = "limiter"
    group = "level"
    params = {
        "threshold_db": Param(
            default=[-24.0, -2.0], low=-60.0, high=0.0, unit="dBFS", help="output ceiling"
        ),
        "attack_ms": Param(
            default=5.0,
            low=0.1,
            high=100.0,
            sampled=False,
            unit="ms",
            help="look-ahead: how long before a peak the gain starts to fall",
        ),
        "release_ms": Param(
            default=50.0,
            low=0.0,
            high=5000.0,
            sampled=False,
            unit="ms",
            help="how long the gain takes to recover from full reduction",
        ),
    }

    def implausible(self, facts: dict[str, Any]) -> str | None:
        """Every threshold at or above the input's peak: nothing is limited."""
        value, peak = self.config["threshold_db"], facts.get("peak")
        if not peak:
            return None
        peak_db = 20 * math.log10(peak)
        if _lowest(value) < peak_db:
            return None
        return (
            f"threshold_db {_shown(value)} is at or above the input's peak ({peak_db:.1f} dBFS), "
            "so nothing is limited and the output equals the input; threshold_db is the output "
            f"ceiling in dBFS (0 = full scale): use one below {peak_db:.1f}"
        )

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        x = data.samples.astype(np.float64)
        threshold = 10 ** (params["threshold_db"] / 20)
        if x.size == 0 or np.max(np.abs(x)) <= threshold:
            return data.with_samples(data.samples.copy())
        lookahead = max(1, round(params["attack_ms"] * data.rate / 1000))
        release = round(params["release_ms"] * data.rate / 1000)
        gain = limiter_gain(np.max(np.abs(x), axis=0), threshold, lookahead, release)
        return data.with_samples(x * gain)


# -- coloured noise -----------------------------------------------------------------------------
COLORS = {"white": 0.0, "pink": -1.0, "brown": -2.0, "blue": 1.0, "violet": 2.0}


def colored(white: np.ndarray, rate: int, beta: float) -> np.ndarray:
    """``white`` noise (channels, frames) shaped so its power spectral density is proportional
    to f^beta: each rfft bin scaled by f^(beta/2), the DC bin set to 0."""
    n = white.shape[1]
    freqs = np.fft.rfftfreq(n, 1 / rate)
    scale = np.zeros_like(freqs)
    scale[1:] = freqs[1:] ** (beta / 2)
    return np.fft.irfft(np.fft.rfft(white, axis=1) * scale, n=n, axis=1)


class ColoredNoise(AudioOp):
    """Add Gaussian noise of a ``color`` (power spectral density ∝ f^beta) at ``snr_db`` dB.

    white beta 0, pink -1, brown -2, blue +1, violet +2 (audiomentations' AddColorNoise writes
    the same as f_decay). White Gaussian noise from ``noise_seed`` is shaped in the rfft domain
    (each bin times f^(beta/2), DC removed), then scaled as gaussian_noise does: its RMS is
    exactly the signal's RMS (over all channels) divided by 10^(snr_db/20), so the measured SNR
    is the asked one; a silent file stays silent. Each channel gets its own noise. ``color``
    may be a list (e.g. [pink, brown]): one of them is drawn per output and recorded.
    """

    name = "colored_noise"
    group = "noise"
    params = {
        "color": Param(
            kind="choice",
            choice_list=True,
            default="pink",
            choices=tuple(COLORS),
            help="white 0, pink -1, brown -2, blue +1, violet +2 (exponent of f in the PSD); "
            "a list draws one per output",
        ),
        "snr_db": Param(
            default=[15.0, 30.0], low=-20.0, high=120.0, unit="dB", help="signal-to-noise ratio"
        ),
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        return {**super().sample(rng, info), "noise_seed": draw_noise_seed(rng)}

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        x = data.samples
        white = noise_rng(params["noise_seed"]).standard_normal(x.shape)
        noise = colored(white, data.rate, COLORS[params["color"]])
        level = rms(x) / 10 ** (params["snr_db"] / 20)
        noise *= level / max(rms(noise), 1e-300)
        return data.with_samples(x.astype(np.float64) + noise)


# -- waveshaping and sample-grid distortions ----------------------------------------------------
class TanhDistortion(AudioOp):
    """Soft-clip with tanh by a ``distortion`` amount in [0, 1]; the RMS is kept.

    As audiomentations' TanhDistortion: the pre-gain is 0.5 / (t + 1e-6), where t is the
    (100 - 99 * distortion)-th percentile of |samples| (all channels), then tanh, then the
    output is scaled back to the input's RMS (unless the input is silent, RMS <= 1e-9). More
    distortion squashes more of the waveform and adds odd harmonics. Computed in float64.
    """

    name = "tanh_distortion"
    group = "level"
    params = {
        "distortion": Param(
            default=[0.01, 0.7], low=0.0, high=1.0, unit="0-1", help="amount of soft clipping"
        ),
    }

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        x = data.samples.astype(np.float64)
        t = np.percentile(np.abs(x), 100 - 99 * params["distortion"])
        y = np.tanh(x * (0.5 / (t + 1e-6)))
        before = rms(x)
        if before > 1e-9:
            y *= before / rms(y)
        return data.with_samples(y)


class BitCrush(AudioOp):
    """Quantise to ``bits`` bits over [-1, 1]: round(x * 2^(bits-1)) / 2^(bits-1), no dither.

    The grid is the one of b-bit PCM (steps of 2^(1-bits), 2^bits + 1 levels from -1 to 1, so
    a full-scale sine gets an SNR of about 6.02 * bits + 1.76 dB). audiomentations' BitCrush
    divides by 2^(bits-1) + 1 instead, a slightly finer grid that is not a power of two.
    Samples beyond full scale are quantised on the same grid, not clipped (writing counts it).
    """

    name = "bit_crush"
    group = "level"
    params = {
        "bits": Param(kind="int", default=[4, 12], low=1, high=32, unit="bits", help="bit depth"),
    }

    def implausible(self, facts: dict[str, Any]) -> str | None:
        """Every bit depth at or above the integer PCM written: the grid is no coarser."""
        value, pcm = self.config["bits"], facts.get("bits")
        if pcm is None or _lowest(value) < pcm:
            return None
        return (
            f"bits {_shown(value)} is no coarser than the {pcm}-bit PCM written, so the output "
            f"equals what writing alone gives; use bits below {pcm} (e.g. [4, 12])"
        )

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        # Scaling by a power of two, rounding and scaling back are exact in float32 (for up to
        # 24 bits), so this is the float64 result without the conversion's cost.
        q = np.float32(2.0 ** (params["bits"] - 1))
        if params["bits"] > 24:
            return data.with_samples(np.round(data.samples.astype(np.float64) * q) / q)
        return data.with_samples(np.round(data.samples * q) / q)


class Aliasing(AudioOp):
    """Alias: sample at ``rate_hz`` Hz without an anti-alias filter, then back up (linear).

    As audiomentations' Aliasing: the audio is read at rate_hz by linear interpolation (no
    low-pass, so content above rate_hz / 2 folds down to |f - k * rate_hz|) and interpolated
    linearly back to the file's rate; duration kept. Frames sit at their exact times (i / rate),
    where audiomentations spreads both grids over [0, n]; rate_hz is drawn uniformly in Hz
    (audiomentations draws on the mel scale). A range reaching the file's rate is capped there;
    a file whose rate is at or below every rate_hz fails with a message.
    """

    name = "aliasing"
    group = "level"
    params = {
        "rate_hz": Param(
            default=[8000.0, 30000.0],
            low=2.0,
            high=1e6,
            unit="Hz",
            help="sample rate to alias at (below the file's)",
        ),
    }

    def _range(self) -> tuple[float, float]:
        value = self.config["rate_hz"]
        return value if isinstance(value, tuple) else (value, value)

    def check_input(self, info: dict[str, Any]) -> None:
        low = self._range()[0]
        if low >= info["rate"]:
            raise InputError(
                f"aliasing: rate_hz from {low:g} Hz is not below this {info['rate']} Hz file's "
                f"rate, so nothing would alias; use rate_hz below {info['rate']} Hz, or run "
                "files of this rate through another recipe"
            )

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        low, high = self._range()
        high = min(high, float(info["rate"]))
        return {"rate_hz": self.params["rate_hz"].draw((low, high), rng)}

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        x = data.samples.astype(np.float64)
        if data.frames < 2:
            return data.with_samples(data.samples.copy())
        t = np.arange(data.frames) / data.rate
        coarse = np.arange(math.floor(t[-1] * params["rate_hz"]) + 1) / params["rate_hz"]
        return data.with_samples(
            np.stack([np.interp(t, coarse, np.interp(coarse, t, channel)) for channel in x])
        )
