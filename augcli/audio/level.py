"""Level and colour ops for audio: gain, normalize, filters, clipping, polarity, MP3 artefacts.

All plain NumPy/SciPy except mp3_compression, which encodes and decodes in memory with the
LAME/mpg123 built into libsndfile (soundfile), so it needs no extra package.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from augcli.audio.adapt import fit_length
from augcli.audio.base import Audio, AudioOp
from augcli.core.errors import InputError, RecipeError
from augcli.params import Param


def _db_to_gain(db: float) -> np.float32:
    return np.float32(10 ** (db / 20))


class Gain(AudioOp):
    """Multiply every sample by 10^(``db``/20): +6 dB is about twice as loud.

    Samples may go beyond full scale; writing to integer PCM counts the clipping.
    """

    name = "gain"
    group = "level"
    params = {
        "db": Param(default=[-6.0, 6.0], low=-120.0, high=60.0, unit="dB", help="gain"),
    }

    def implausible(self, facts: dict[str, Any]) -> str | None:
        """A gain that moves even the loudest sample by less than one step of the integer PCM
        written: the output equals the input."""
        lsb, db = facts.get("lsb"), self.config["db"]
        if lsb is None or not facts["peak"]:
            return None
        ends = db if isinstance(db, (tuple, list)) else (db,)
        most = max(abs(_db_to_gain(d) - 1) for d in ends) * facts["peak"]
        if 0 < most < lsb:
            return (
                f"db {db} changes the loudest sample (peak {facts['peak']:.3g} of full scale) "
                f"by {most:.2g}, below one step of the {facts['bits']}-bit PCM written "
                f"({lsb:.2g}), so the output equals the input; db is in decibels (6 dB is about "
                "twice as loud)"
            )
        return None

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        return data.with_samples(data.samples * _db_to_gain(params["db"]))


class Normalize(AudioOp):
    """Scale so the highest absolute sample (over all channels) is at ``peak_db`` dBFS.

    0 dBFS is full scale (1.0). A silent file is left unchanged.
    """

    name = "normalize"
    group = "level"
    params = {
        "peak_db": Param(
            default=-1.0, low=-120.0, high=0.0, unit="dBFS", help="peak level after scaling"
        ),
    }

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        peak = float(np.max(np.abs(data.samples))) if data.samples.size else 0.0
        if peak == 0.0:
            return data.with_samples(data.samples.copy())
        scale = 10 ** (params["peak_db"] / 20) / peak
        return data.with_samples(data.samples.astype(np.float64) * scale)


ORDER = Param(
    kind="int",
    default=4,
    low=1,
    high=10,
    sampled=False,
    help="Butterworth order: each step adds 6 dB per octave of roll-off",
)
ZERO_PHASE = Param(
    kind="bool",
    default=False,
    help="filter forwards and backwards (no phase shift, twice the roll-off)",
)


class _Filter(AudioOp):
    """A Butterworth filter (SciPy, second-order sections) of the cutoffs named in ``cutoffs``."""

    group = "level"
    btype = ""
    cutoffs: tuple[str, ...] = ()

    def check_config(self, path: str) -> None:
        """A band's edges (two cutoffs) must be ordered for every draw."""
        if len(self.cutoffs) != 2:
            return
        lo, hi = (self.config[k] for k in self.cutoffs)
        lo_top = lo[1] if isinstance(lo, tuple) else lo
        hi_bottom = hi[0] if isinstance(hi, tuple) else hi
        if lo_top >= hi_bottom:
            raise RecipeError(
                f"{self.name} low_hz must be below high_hz",
                path=path,
                value={"low_hz": list(lo) if isinstance(lo, tuple) else lo, "high_hz": hi},
                fix="Make the largest low_hz smaller than the smallest high_hz.",
            )

    def check_input(self, info: dict[str, Any]) -> None:
        nyquist = info["rate"] / 2
        for key in self.cutoffs:
            value = self.config[key]
            top = value[1] if isinstance(value, tuple) else value
            if top >= nyquist:
                raise InputError(
                    f"{self.name}: {key} up to {top:g} Hz is not below the Nyquist frequency "
                    f"of this {info['rate']} Hz file ({nyquist:g} Hz); use {key} below "
                    f"{nyquist:g} Hz, or run files of this rate through another recipe"
                )

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        from scipy.signal import butter, sosfilt

        freqs = [params[k] for k in self.cutoffs]
        sos = butter(
            params["order"],
            freqs[0] if len(freqs) == 1 else freqs,
            btype=self.btype,
            fs=data.rate,
            output="sos",
        )
        x = data.samples.astype(np.float64)
        if not params["zero_phase"]:
            return data.with_samples(sosfilt(sos, x, axis=1))
        # Forwards, then backwards over the reversed result, with silence (not a mirror image,
        # which adds a step at the ends) beyond both ends for the filter's ringing to decay in.
        pad = round(8 * data.rate / min(freqs))
        y = sosfilt(sos, np.pad(x, ((0, 0), (pad, pad))), axis=1)
        y = sosfilt(sos, y[:, ::-1], axis=1)[:, ::-1]
        return data.with_samples(y[:, pad : pad + data.frames])


class Lowpass(_Filter):
    """Keep frequencies below ``cutoff_hz`` (Butterworth low-pass: -3 dB at the cutoff).

    The cutoff must be below the file's Nyquist frequency (half its sample rate): files where it
    is not fail with a message. Roll-off is 6 dB per octave per ``order``.
    """

    name = "lowpass"
    btype = "lowpass"
    cutoffs = ("cutoff_hz",)
    params = {
        "cutoff_hz": Param(
            default=[2000.0, 7000.0], low=1.0, high=1e6, unit="Hz", help="-3 dB point"
        ),
        "order": ORDER,
        "zero_phase": ZERO_PHASE,
    }


class Highpass(_Filter):
    """Remove frequencies below ``cutoff_hz`` (Butterworth high-pass: -3 dB at the cutoff).

    The cutoff must be below the file's Nyquist frequency; roll-off is 6 dB per octave per
    ``order``.
    """

    name = "highpass"
    btype = "highpass"
    cutoffs = ("cutoff_hz",)
    params = {
        "cutoff_hz": Param(default=[20.0, 400.0], low=1.0, high=1e6, unit="Hz", help="-3 dB point"),
        "order": ORDER,
        "zero_phase": ZERO_PHASE,
    }


class Bandpass(_Filter):
    """Keep the band from ``low_hz`` to ``high_hz`` (Butterworth band-pass, -3 dB at both ends).

    Every low_hz must be below every high_hz (checked in the recipe), and high_hz below the
    file's Nyquist frequency.
    """

    name = "bandpass"
    btype = "bandpass"
    cutoffs = ("low_hz", "high_hz")
    params = {
        "low_hz": Param(default=[200.0, 400.0], low=1.0, high=1e6, unit="Hz", help="lower edge"),
        "high_hz": Param(default=[3000.0, 4000.0], low=1.0, high=1e6, unit="Hz", help="upper edge"),
        "order": ORDER,
        "zero_phase": ZERO_PHASE,
    }


class ClippingDistortion(AudioOp):
    """Hard-clip the loudest ``percentile`` percent of samples (over all channels).

    The thresholds are the (percentile/2)-th and (100 - percentile/2)-th percentiles of the
    samples, as audiomentations' ClippingDistortion; 0 leaves the audio unchanged.
    """

    name = "clipping_distortion"
    group = "level"
    params = {
        "percentile": Param(
            default=[0.0, 20.0],
            low=0.0,
            high=100.0,
            unit="% of samples",
            help="share of samples clipped",
        ),
    }

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        x = data.samples
        half = params["percentile"] / 2
        lo, hi = np.percentile(x, [half, 100 - half])
        return data.with_samples(np.clip(x, lo, hi))


class PolarityInversion(AudioOp):
    """Multiply every sample by -1 (inaudible on its own; changes how the signal mixes)."""

    name = "polarity_inversion"
    group = "level"
    params = {}

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        return data.with_samples(-data.samples)


MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


class Mp3Compression(AudioOp):
    """MP3 artefacts: encode at ``compression_level`` and decode again, in memory.

    Uses the LAME encoder and mpg123 decoder built into libsndfile (soundfile), constant bit
    rate. compression_level is libsndfile's: 0 is the highest bit rate of the MPEG version for
    the file's rate (about 320 kbps at 32-48 kHz, 160 kbps at 16-24 kHz), 0.5 about half, 0.99
    the lowest (32 / 8 kbps). MP3 takes mono or stereo at 8, 11.025, 12, 16, 22.05, 24, 32, 44.1
    or 48 kHz; other files fail with a message. The duration is kept exactly.
    """

    name = "mp3_compression"
    group = "level"
    params = {
        "compression_level": Param(
            default=[0.5, 0.9],
            low=0.0,
            high=0.99,
            unit="libsndfile level",
            help="0 = highest bit rate, 0.99 = lowest",
        ),
    }

    def check_input(self, info: dict[str, Any]) -> None:
        if info["rate"] not in MP3_RATES:
            raise InputError(
                f"mp3_compression does not work on {info['rate']} Hz audio (MP3 takes "
                f"{', '.join(f'{r / 1000:g}' for r in MP3_RATES)} kHz)"
            )
        if info["channels"] > 2:
            raise InputError(
                f"mp3_compression does not work on {info['channels']}-channel audio "
                "(MP3 takes mono or stereo)"
            )

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        import soundfile as sf

        blob = io.BytesIO()
        sf.write(
            blob,
            np.clip(data.samples, -1.0, 1.0).T,
            data.rate,
            format="MP3",
            subtype="MPEG_LAYER_III",
            bitrate_mode="CONSTANT",
            compression_level=params["compression_level"],
        )
        blob.seek(0)
        decoded, _ = sf.read(blob, dtype="float32", always_2d=True)
        return data.with_samples(fit_length(decoded.T, data.frames))
