"""What audio ops take and return, and the audio op base."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from augcli.ops import Op

CHANGES = ("duration", "rate", "channels")


@dataclass(frozen=True)
class Audio:
    """Samples as float32 in [-1, 1] (beyond it when an op overshoots: writing counts the
    clipping), shaped (channels, frames), always 2-D, at ``rate`` Hz."""

    samples: np.ndarray
    rate: int

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def frames(self) -> int:
        return int(self.samples.shape[1])

    @property
    def seconds(self) -> float:
        return self.frames / self.rate

    def with_samples(self, samples: np.ndarray, rate: int | None = None) -> Audio:
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim == 1:
            samples = samples[None, :]
        return replace(self, samples=np.ascontiguousarray(samples), rate=rate or self.rate)


class AudioOp(Op):
    """Base of audio ops. ``changes`` declares which of duration, rate and channels the op may
    change (a test holds every op to it); everything else about the audio is kept."""

    modality = "audio"
    changes: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def describe(cls) -> dict[str, Any]:
        out = super().describe()
        out["changes"] = sorted(cls.changes)
        return out
