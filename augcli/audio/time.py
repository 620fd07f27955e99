"""Time ops for audio: shifting, masking, trimming and cropping; stretching, speed and pitch.

time_shift, time_mask, trim_silence, crop and speed are plain NumPy/SciPy. time_stretch and
pitch_shift wrap audiomentations' TimeStretch and PitchShift (Signalsmith Stretch: deterministic,
mono and stereo; more channels are processed in pairs), called with a degenerate range.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from augcli.audio.adapt import either, fit_length, in_pairs, run_transform
from augcli.audio.base import Audio, AudioOp
from augcli.params import Param


class TimeShift(AudioOp):
    """Shift the audio in time by a ``fraction`` of its duration or by ``seconds``.

    Give one of the two (fraction by default). Positive values delay the audio (it moves later),
    negative ones advance it. With rollover what falls off one end comes back at the other;
    without it the gap is filled with silence. The duration is kept.
    """

    name = "time_shift"
    group = "time"
    params = {
        "fraction": Param(
            default=[-0.2, 0.2],
            low=-1.0,
            high=1.0,
            unit="fraction of the duration",
            help="shift; positive = later",
        ),
        "seconds": Param(
            default=0.0,
            low=-3600.0,
            high=3600.0,
            unit="s",
            help="shift in seconds instead of a fraction; positive = later",
        ),
        "rollover": Param(
            kind="bool", default=True, help="wrap around; false pads the gap with silence"
        ),
    }

    @classmethod
    def from_recipe(cls, raw: dict[str, Any], path: str) -> TimeShift:
        by = either(cls.name, raw, path, "fraction", "seconds")
        op = super().from_recipe(raw, path)
        op.config["by"] = by
        return op

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        by = self.config.get("by", "fraction")
        return {by: self.params[by].draw(self.config[by], rng), "rollover": self.config["rollover"]}

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        x = data.samples
        n = data.frames
        if "seconds" in params:
            shift = round(params["seconds"] * data.rate)
        else:
            shift = round(params["fraction"] * n)
        if params["rollover"]:
            return data.with_samples(np.roll(x, shift, axis=1))
        out = np.zeros_like(x)
        if abs(shift) < n:
            if shift >= 0:
                out[:, shift:] = x[:, : n - shift]
            else:
                out[:, :shift] = x[:, -shift:]
        return data.with_samples(out)


class TimeMask(AudioOp):
    """Silence a random span of ``fraction`` of the duration, in all channels.

    The span's start is drawn per output (recorded as ``start``, a fraction of the duration).
    Its edges fade out and back in over ``fade_ms`` (within the span) to avoid clicks. The
    duration is kept.
    """

    name = "time_mask"
    group = "time"
    params = {
        "fraction": Param(
            default=[0.02, 0.1],
            low=0.0,
            high=1.0,
            unit="fraction of the duration",
            help="length of the silenced span",
        ),
        "fade_ms": Param(
            default=5.0,
            low=0.0,
            high=1000.0,
            sampled=False,
            unit="ms",
            help="fade out and in at the span's edges",
        ),
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        fraction = self.params["fraction"].draw(self.config["fraction"], rng)
        start = float(rng.uniform(0.0, 1.0 - fraction)) if fraction < 1.0 else 0.0
        return {"fraction": fraction, "start": start, "fade_ms": self.config["fade_ms"]}

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        n = data.frames
        length = round(params["fraction"] * n)
        start = min(round(params["start"] * n), n - length)
        gain = np.zeros(length, np.float32)
        fade = min(round(params["fade_ms"] / 1000 * data.rate), length // 2)
        if fade > 0:
            ramp = (0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, fade))).astype(np.float32)
            gain[:fade] = ramp
            gain[length - fade :] = ramp[::-1]
        out = data.samples.copy()
        out[:, start : start + length] *= gain
        return data.with_samples(out)


class TrimSilence(AudioOp):
    """Cut leading and trailing silence: frames quieter than ``top_db`` below the loudest.

    Loudness is the RMS of 2048-sample frames every 512 samples (centred, as librosa's trim): a
    frame is kept when any channel is within top_db of the loudest frame of any channel, and the
    audio from the first to the end of the last kept frame is returned. Silence inside is kept.
    An all-silent file is returned unchanged (never emptied).
    """

    name = "trim_silence"
    group = "time"
    changes = frozenset({"duration"})
    params = {
        "top_db": Param(
            default=30.0,
            low=0.0,
            low_open=True,
            high=200.0,
            unit="dB",
            help="how far below the loudest frame counts as silence",
        ),
    }

    FRAME = 2048
    HOP = 512

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        x = data.samples.astype(np.float64)
        n = data.frames
        pad = self.FRAME // 2
        power = np.pad(x * x, ((0, 0), (pad, pad)))
        csum = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(power, axis=1)], axis=1)
        count = 1 + max(0, power.shape[1] - self.FRAME) // self.HOP
        starts = np.arange(count) * self.HOP
        frame_rms = np.sqrt(
            np.maximum((csum[:, starts + self.FRAME] - csum[:, starts]) / self.FRAME, 0.0)
        )
        peak = frame_rms.max()
        if peak <= 0:
            return data.with_samples(data.samples.copy())
        loud = np.any(frame_rms > peak * 10 ** (-params["top_db"] / 20), axis=0)
        kept = np.flatnonzero(loud)
        begin = int(kept[0]) * self.HOP
        end = min(n, (int(kept[-1]) + 1) * self.HOP)
        return data.with_samples(data.samples[:, begin:end].copy())


class Crop(AudioOp):
    """Keep ``seconds`` of the audio from a random start (recorded as ``start_frame``).

    Files no longer than seconds are kept whole (never padded).
    """

    name = "crop"
    group = "time"
    changes = frozenset({"duration"})
    params = {
        "seconds": Param(
            default=[1.0, 2.0],
            low=0.0,
            low_open=True,
            high=86400.0,
            unit="s",
            help="length kept",
        ),
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        seconds = self.params["seconds"].draw(self.config["seconds"], rng)
        keep = max(1, round(seconds * info["rate"]))
        spare = max(0, info["frames"] - keep)
        return {"seconds": seconds, "start_frame": int(rng.integers(0, spare + 1))}

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        keep = max(1, round(params["seconds"] * data.rate))
        if keep >= data.frames:
            return data.with_samples(data.samples.copy())
        start = min(params["start_frame"], data.frames - keep)
        return data.with_samples(data.samples[:, start : start + keep].copy())


class TimeStretch(AudioOp):
    """Play faster or slower without changing the pitch: ``rate`` > 1 is faster (shorter).

    The duration becomes duration / rate (rounded to whole samples). audiomentations'
    TimeStretch with Signalsmith Stretch; channels beyond stereo are processed in pairs.
    """

    name = "time_stretch"
    group = "time"
    changes = frozenset({"duration"})
    params = {
        "rate": Param(
            default=[0.8, 1.25], low=0.1, high=10.0, unit="x", help="speed factor; pitch is kept"
        ),
    }

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        rate = params["rate"]
        frames = max(1, round(data.frames / rate))

        def stretch(x: np.ndarray) -> np.ndarray:
            out = run_transform(
                "TimeStretch",
                x,
                data.rate,
                min_rate=rate,
                max_rate=rate,
                leave_length_unchanged=False,
                method="signalsmith_stretch",
            )
            return fit_length(out, frames)

        return data.with_samples(in_pairs(data.samples, stretch))


class Speed(AudioOp):
    """Tape speed: play ``factor`` times faster, so duration and pitch change together.

    factor 1.25 makes the audio 1.25 times shorter and 1.25 times higher (a 440 Hz tone comes
    out at 550 Hz); the sample rate is kept. Polyphase resampling (SciPy's resample_poly) by the
    ratio nearest to 1/factor with terms up to 1000 (within 1e-6 of the asked factor).
    """

    name = "speed"
    group = "time"
    changes = frozenset({"duration"})
    params = {
        "factor": Param(
            default=[0.9, 1.1],
            low=0.25,
            high=4.0,
            unit="x",
            help="playback speed; > 1 is faster and higher",
        ),
    }

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        from scipy.signal import resample_poly

        ratio = Fraction(params["factor"]).limit_denominator(1000)
        if ratio == 1:
            return data.with_samples(data.samples.copy())
        x = data.samples.astype(np.float64)
        out = resample_poly(x, ratio.denominator, ratio.numerator, axis=1)
        frames = max(1, round(data.frames * ratio.denominator / ratio.numerator))
        return data.with_samples(fit_length(out, frames))


class PitchShift(AudioOp):
    """Shift the pitch by ``semitones`` (12 = an octave up), keeping the duration.

    audiomentations' PitchShift with Signalsmith Stretch; channels beyond stereo are processed
    in pairs.
    """

    name = "pitch_shift"
    group = "time"
    params = {
        "semitones": Param(
            default=[-4.0, 4.0], low=-24.0, high=24.0, unit="semitones", help="negative = lower"
        ),
    }

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        st = params["semitones"]

        def shift(x: np.ndarray) -> np.ndarray:
            out = run_transform(
                "PitchShift",
                x,
                data.rate,
                min_semitones=st,
                max_semitones=st,
                method="signalsmith_stretch",
            )
            return fit_length(out, x.shape[1])

        return data.with_samples(in_pairs(data.samples, shift))
