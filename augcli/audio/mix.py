"""Ops that mix in other recordings from a folder the recipe names (``audio.folders``):
background noise, room impulse responses, short noises. ``sample`` picks the files (their paths
are recorded as ``partners``); the modality decodes them, like image mixing partners, and
``apply`` converts them to the input's rate and channel count and mixes them in."""

from __future__ import annotations

from typing import Any

import numpy as np

from augcli.audio.adapt import rms
from augcli.audio.base import Audio, AudioOp
from augcli.core.errors import InputError
from augcli.params import Param

FOLDER = Param(kind="text", default="noise", help="name of a folder under audio.folders")
SNR = Param(
    default=[5.0, 20.0],
    low=-20.0,
    high=120.0,
    unit="dB",
    help="signal-to-noise ratio of what is mixed in",
)


def files_of(info: dict[str, Any], folder: str, op: str) -> tuple[str, ...]:
    folders = info.get("folders") or {}
    if folder not in folders:
        raise InputError(
            f"{op} names folder {folder!r}, which audio.folders does not define "
            f"(it has: {', '.join(folders) or 'none'}); add e.g. folders: {{{folder}: path/to/dir}}"
        )
    return folders[folder]


def conform(other: Audio, like: Audio) -> np.ndarray:
    """``other``'s samples at ``like``'s rate (polyphase resampling) and channel count (a mono
    source is copied to every channel; otherwise channels are averaged, then copied)."""
    samples = other.samples
    if other.rate != like.rate:
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(like.rate, other.rate)
        samples = resample_poly(samples, like.rate // g, other.rate // g, axis=1)
    if samples.shape[0] != like.channels:
        samples = np.repeat(samples.mean(axis=0, keepdims=True), like.channels, axis=0)
    return samples.astype(np.float32)


def scaled_to(noise: np.ndarray, signal: np.ndarray, snr_db: float) -> np.ndarray:
    """``noise`` scaled so that signal RMS / noise RMS is ``snr_db`` (silence stays silence)."""
    n, s = rms(noise), rms(signal)
    if n == 0 or s == 0:
        return np.zeros_like(noise)
    return noise * np.float32(s / (10 ** (snr_db / 20)) / n)


class BackgroundNoise(AudioOp):
    """Mix in a recording from a folder at ``snr_db``, looped to the input's length and started
    at a random offset; converted to the input's rate and channel count."""

    name = "background_noise"
    group = "noise"
    partners = 1
    params = {"folder": FOLDER, "snr_db": SNR}

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        files = files_of(info, params["folder"], self.name)
        params["partners"] = [files[int(rng.integers(len(files)))]]
        params["offset"] = round(float(rng.random()), 6)
        return params

    def apply(self, data: Audio, params: dict[str, Any], partners: Any = ()) -> Audio:
        noise = conform(partners[0], data)
        start = int(params["offset"] * noise.shape[1])
        reps = -(-(start + data.frames) // max(1, noise.shape[1]))
        looped = np.tile(noise, (1, reps))[:, start : start + data.frames]
        return data.with_samples(data.samples + scaled_to(looped, data.samples, params["snr_db"]))


class ImpulseResponse(AudioOp):
    """Convolve with a room impulse response from a folder (reverberation); the length is kept
    and the result is scaled back to the input's RMS."""

    name = "impulse_response"
    group = "noise"
    partners = 1
    params = {"folder": Param(kind="text", default="rooms", help=FOLDER.help)}

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        files = files_of(info, params["folder"], self.name)
        params["partners"] = [files[int(rng.integers(len(files)))]]
        return params

    def apply(self, data: Audio, params: dict[str, Any], partners: Any = ()) -> Audio:
        from scipy.signal import fftconvolve

        ir = conform(partners[0], data)
        wet = fftconvolve(data.samples, ir, axes=1)[:, : data.frames].astype(np.float32)
        level = rms(wet)
        if level > 0:
            wet *= np.float32(rms(data.samples) / level)
        return data.with_samples(wet)


class ShortNoises(AudioOp):
    """Add ``count`` short recordings from a folder at random places, each at its own
    ``snr_db``; a recording longer than the input is cut at the input's end."""

    name = "short_noises"
    group = "noise"
    partners = 1  # at least one; the actual files are in params["partners"]
    params = {
        "folder": FOLDER,
        "count": Param(kind="int", default=[1, 3], low=1, high=50, help="how many to add"),
        "snr_db": SNR,
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        files = files_of(info, params["folder"], self.name)
        count = params["count"]
        params["partners"] = [files[int(i)] for i in rng.integers(len(files), size=count)]
        params["starts"] = [round(float(v), 6) for v in rng.random(count)]
        spec = self.params["snr_db"]
        params["snrs_db"] = [spec.draw(self.config["snr_db"], rng) for _ in range(count)]
        return params

    def apply(self, data: Audio, params: dict[str, Any], partners: Any = ()) -> Audio:
        out = data.samples.copy()
        for other, start, snr in zip(partners, params["starts"], params["snrs_db"], strict=True):
            noise = conform(other, data)
            at = int(start * data.frames)
            piece = noise[:, : data.frames - at]
            out[:, at : at + piece.shape[1]] += scaled_to(piece, data.samples, snr)
        return data.with_samples(out)
