"""Duration and order ops for audio: resample round trip, padding, adjust duration, reverse, repeat part.

All plain NumPy, and SciPy's polyphase resampler for ``resample``; every position is drawn in
``sample`` and recorded in frames, so ``apply`` replays an output exactly.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from augcli.audio.adapt import either, fit_length
from augcli.audio.base import Audio, AudioOp
from augcli.core.errors import RecipeError
from augcli.params import Param

PAD_MODES = ("silence", "wrap", "reflect")
SIDES = ("start", "end")
MAX_TERM = 200  # resample ratios are snapped to fractions with terms up to this


def _pad(x: np.ndarray, width: int, mode: str, side: str) -> np.ndarray:
    """``x`` with ``width`` frames added at ``side``: silence, or numpy's wrap/reflect."""
    if width <= 0:
        return x.copy()
    spec = ((0, 0), (width, 0) if side == "start" else (0, width))
    if mode == "silence":
        return np.pad(x, spec)
    return np.pad(x, spec, mode=mode)


class Resample(AudioOp):
    """Band-limit as a recording made at ``rate_hz`` would be: resample down to it and back.

    A polyphase resampler with its anti-alias filter (SciPy's resample_poly, Kaiser window) takes
    the audio to rate_hz and back to the file's own rate, so everything above rate_hz / 2 is gone
    and the file's rate, duration and channels are kept. The ratio is snapped to the nearest
    fraction with terms up to 200; the rate actually used is recorded as ``rate_hz`` (with
    ``up``/``down``). A rate_hz at or above the file's rate leaves it unchanged. audiomentations'
    Resample instead returns the samples at the new rate while the file keeps its old one (a
    change of speed and pitch); for that use ``speed``, and for outputs at another rate the
    section's ``sample_rate`` setting.
    """

    name = "resample"
    group = "level"
    params = {
        "rate_hz": Param(
            kind="int",
            default=[8000, 16000],
            low=1000,
            high=768_000,
            unit="Hz",
            help="the rate of the simulated recording; above half of it all is removed",
        ),
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        wanted = self.params["rate_hz"].draw(self.config["rate_hz"], rng)
        ratio = Fraction(wanted, info["rate"]).limit_denominator(MAX_TERM)
        if ratio >= 1 or ratio.numerator == 0:
            return {"rate_hz": wanted, "up": 1, "down": 1}
        used = info["rate"] * ratio.numerator / ratio.denominator
        return {"rate_hz": round(used, 3), "up": ratio.numerator, "down": ratio.denominator}

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        from scipy.signal import resample_poly

        up, down = params["up"], params["down"]
        if up == down:
            return data.with_samples(data.samples.copy())
        low = resample_poly(data.samples.astype(np.float64), up, down, axis=1)
        back = resample_poly(low, down, up, axis=1)
        return data.with_samples(fit_length(back, data.frames))


class Padding(AudioOp):
    """Replace a ``fraction`` of the audio at its start or end with padding; the duration is kept.

    As audiomentations' Padding: the padded share is drawn per output (recorded as
    ``frames``); ``mode`` silence writes zeros, wrap repeats the kept audio from its other end,
    reflect mirrors it at the edge.
    """

    name = "padding"
    group = "time"
    params = {
        "fraction": Param(
            default=[0.01, 0.7],
            low=0.0,
            high=1.0,
            unit="fraction of the duration",
            help="share of the audio replaced",
        ),
        "mode": Param(
            kind="choice", default="silence", choices=PAD_MODES, help="what the padding is"
        ),
        "side": Param(kind="choice", default="end", choices=SIDES, help="which end is replaced"),
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        fraction = self.params["fraction"].draw(self.config["fraction"], rng)
        frames = min(info["frames"] - 1, round(fraction * info["frames"]))
        return {"frames": max(0, frames), "mode": self.config["mode"], "side": self.config["side"]}

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        width = min(params["frames"], data.frames - 1)
        x = data.samples
        kept = x[:, width:] if params["side"] == "start" else x[:, : data.frames - width]
        return data.with_samples(_pad(kept, width, params["mode"], params["side"]))


class AdjustDuration(AudioOp):
    """Make every output exactly ``seconds`` (or ``frames``) long: longer audio is cropped at a
    random offset, shorter audio padded.

    As audiomentations' AdjustDuration. The crop's first frame is drawn per output (recorded as
    ``start_frame``); padding is silence, wrap or reflect (``padding_mode``) at the
    ``padding_side``. Give seconds or frames, not both.
    """

    name = "adjust_duration"
    group = "time"
    changes = frozenset({"duration"})
    params = {
        "seconds": Param(
            default=1.0, low=0.0, low_open=True, high=86400.0, unit="s", help="target duration"
        ),
        "frames": Param(
            kind="int",
            default=16000,
            low=1,
            high=2**31,
            unit="frames",
            help="target length in frames, instead of seconds",
        ),
        "padding_mode": Param(
            kind="choice", default="silence", choices=PAD_MODES, help="how short audio is padded"
        ),
        "padding_side": Param(
            kind="choice", default="end", choices=SIDES, help="where short audio is padded"
        ),
    }

    @classmethod
    def from_recipe(cls, raw: dict[str, Any], path: str) -> AdjustDuration:
        by = either(cls.name, raw, path, "seconds", "frames")
        op = super().from_recipe(raw, path)
        op.config["by"] = by
        return op

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        by = self.config.get("by", "seconds")
        value = self.params[by].draw(self.config[by], rng)
        target = max(1, round(value * info["rate"])) if by == "seconds" else int(value)
        spare = max(0, info["frames"] - target)
        return {
            "target_frames": target,
            "start_frame": int(rng.integers(0, spare + 1)),
            "padding_mode": self.config["padding_mode"],
            "padding_side": self.config["padding_side"],
        }

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        target, n = params["target_frames"], data.frames
        if n >= target:
            start = min(params["start_frame"], n - target)
            return data.with_samples(data.samples[:, start : start + target].copy())
        pad = _pad(data.samples, target - n, params["padding_mode"], params["padding_side"])
        return data.with_samples(pad)


class Reverse(AudioOp):
    """Play the audio backwards (time inversion), in every channel; the duration is kept."""

    name = "reverse"
    group = "time"
    params = {}

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        return data.with_samples(data.samples[:, ::-1])


class RepeatPart(AudioOp):
    """Repeat a part of ``part_seconds`` ``repeats`` more times right after itself (a stutter, a
    stuck needle, a looped frame).

    As audiomentations' RepeatPart. The part's start is drawn per output (recorded as
    ``start_frame`` with ``part_frames``). mode insert makes the audio longer by the repeats;
    replace writes them over what followed, keeping the duration, and the audio after them goes
    on from where it would have been. Each jump back to the part's start (and, in replace mode,
    the jump forward to the rest) is an equal-power crossfade of ``crossfade_ms``; going on from
    the last repeat into the rest is seamless in insert mode. A part is at most the file's length
    less one crossfade; a file too short for a part of twice the crossfade is left unchanged.
    """

    name = "repeat_part"
    group = "time"
    changes = frozenset({"duration"})
    params = {
        "part_seconds": Param(
            default=[0.25, 1.2],
            low=0.0,
            low_open=True,
            high=3600.0,
            unit="s",
            help="length of the repeated part",
        ),
        "repeats": Param(
            kind="int", default=[1, 3], low=1, high=100, help="repeats after the original part"
        ),
        "mode": Param(
            kind="choice",
            default="insert",
            choices=("insert", "replace"),
            help="insert (longer audio) or replace (duration kept)",
        ),
        "crossfade_ms": Param(
            default=5.0,
            low=0.0,
            high=1000.0,
            sampled=False,
            unit="ms",
            help="equal-power crossfade at each jump",
        ),
    }

    def check_config(self, path: str) -> None:
        part = self.config["part_seconds"]
        shortest = part[0] if isinstance(part, tuple) else part
        if self.config["crossfade_ms"] / 1000 > shortest / 2:
            raise RecipeError(
                "repeat_part crossfade_ms is longer than half the shortest part",
                path=path,
                value={"crossfade_ms": self.config["crossfade_ms"], "part_seconds": shortest},
                fix="Make crossfade_ms at most half of part_seconds (in ms), or longer parts.",
            )

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        n, rate = info["frames"], info["rate"]
        seconds = self.params["part_seconds"].draw(self.config["part_seconds"], rng)
        fade = round(self.config["crossfade_ms"] / 1000 * rate)
        part = min(max(1, round(seconds * rate)), n - fade)
        start = int(rng.integers(fade, n - part + 1)) if part >= max(1, 2 * fade) else 0
        return {
            "part_seconds": seconds,
            "part_frames": part if part >= max(1, 2 * fade) else 0,
            "start_frame": start,
            "repeats": self.params["repeats"].draw(self.config["repeats"], rng),
            "mode": self.config["mode"],
            "crossfade_frames": fade,
        }

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        x, n = data.samples.astype(np.float64), data.frames
        part, start, fade = params["part_frames"], params["start_frame"], params["crossfade_frames"]
        if part == 0:
            return data.with_samples(data.samples.copy())
        end = start + part
        pieces = [x[:, :end]]
        for _ in range(params["repeats"]):
            pieces = _join(pieces, x[:, start - fade : end], fade)
        if params["mode"] == "insert":
            return data.with_samples(np.concatenate([*pieces, x[:, end:]], axis=1))
        resume = end + part * params["repeats"]
        if resume < n:
            pieces = _join(pieces, x[:, resume - fade :], fade)
        return data.with_samples(np.concatenate(pieces, axis=1)[:, :n])


def _join(pieces: list[np.ndarray], nxt: np.ndarray, fade: int) -> list[np.ndarray]:
    """Append ``nxt``, whose first ``fade`` frames cross-fade (equal power) with the last ``fade``
    frames so far."""
    if fade == 0:
        return [*pieces, nxt]
    last = pieces[-1]
    t = (np.arange(fade) + 0.5) / fade * (np.pi / 2)
    mixed = last[:, -fade:] * np.cos(t) + nxt[:, :fade] * np.sin(t)
    return [*pieces[:-1], last[:, :-fade], mixed, nxt[:, fade:]]
