"""Helpers audio ops share: noise seeds, either-or params, and calling audiomentations deterministically.

audiomentations draws from Python's ``random`` and NumPy's global state (its ``p`` test and its
``[min, max]`` draws, and for a few transforms the noise itself, audiomentations#362). augcli
calls a transform with a degenerate range (min = max = the value augcli drew) and ``p = 1``, so
those draws cannot change the result, and ``run_transform`` still seeds both global states from
the params right before the call and restores them afterwards: the output depends only on the
params, and the caller's global random state is left as it was.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import numpy as np

from augcli.core.errors import RecipeError

NOISE_SEED_END = 2**53  # exact in JSON (a double) and in any language reading the manifest


def draw_noise_seed(rng: np.random.Generator) -> int:
    """An integer seed for bulk noise, recorded in the params; ``apply`` rebuilds the noise."""
    return int(rng.integers(0, NOISE_SEED_END))


def noise_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def either(name: str, raw: dict[str, Any], path: str, a: str, b: str) -> str:
    """Which of two alternative params the recipe uses (``a`` unless only ``b`` is given)."""
    if a in raw and b in raw:
        raise RecipeError(
            f"{name} takes '{a}' or '{b}', not both",
            path=path,
            value={a: raw[a], b: raw[b]},
            fix=f"Keep one of them (without either, {name} uses '{a}').",
        )
    return b if b in raw else a


@contextlib.contextmanager
def global_random(seed: int) -> Iterator[None]:
    """Seed ``random`` and ``np.random`` from ``seed`` for the block; restore them afterwards."""
    py_state = random.getstate()
    np_state = np.random.get_state()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


@lru_cache(maxsize=128)
def _transform(cls_name: str, kwargs: tuple[tuple[str, Any], ...]) -> Any:
    """Build an audiomentations transform once per process for these arguments.

    Construction is cheap (under 1 microsecond, measured for TimeStretch and PitchShift); the
    cost is importing audiomentations (about 1 s, librosa included), paid once per process on the
    first call, never when augcli merely lists or validates ops.
    """
    import audiomentations

    return getattr(audiomentations, cls_name)(**dict(kwargs))


def run_transform(
    cls_name: str, samples: np.ndarray, rate: int, seed: int = 0, **kwargs: Any
) -> np.ndarray:
    """Apply ``audiomentations.<cls_name>(**kwargs, p=1)`` to (channels, frames) float32 samples
    with the global random states seeded from ``seed``; returns (channels, frames') float32.

    Mono goes in as 1-D (what every transform supports); multichannel as (channels, frames).
    """
    transform = _transform(cls_name, tuple(sorted({**kwargs, "p": 1.0}.items())))
    x = np.ascontiguousarray(samples, dtype=np.float32)
    mono = x.shape[0] == 1
    with global_random(seed):
        out = transform(x[0] if mono else x, rate)
    out = np.asarray(out, dtype=np.float32)
    return out[None, :] if out.ndim == 1 else out


def in_pairs(samples: np.ndarray, fn: Any) -> np.ndarray:
    """Apply ``fn`` to channels in groups of at most two (Signalsmith Stretch, which time_stretch
    and pitch_shift use, handles mono and stereo) and stack the results back."""
    if samples.shape[0] <= 2:
        return fn(samples)
    parts = [fn(samples[i : i + 2]) for i in range(0, samples.shape[0], 2)]
    n = min(p.shape[1] for p in parts)
    return np.concatenate([p[:, :n] for p in parts], axis=0)


def fit_length(samples: np.ndarray, frames: int) -> np.ndarray:
    """Cut or zero-pad (channels, n) samples to exactly ``frames``."""
    n = samples.shape[1]
    if n >= frames:
        return samples[:, :frames]
    return np.pad(samples, ((0, 0), (0, frames - n)))


def rms(samples: np.ndarray) -> float:
    """Root mean square over all channels and frames, in float64."""
    x = samples.astype(np.float64)
    return float(np.sqrt(np.mean(x * x))) if x.size else 0.0
