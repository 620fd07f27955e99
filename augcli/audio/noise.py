"""Noise injection ops for audio: gaussian_noise.

Bulk noise (a value per sample) cannot be a recorded parameter, so ``sample`` draws an integer
``noise_seed`` and ``apply`` rebuilds the same noise from it with its own generator: the manifest
replays outputs exactly, whatever the global random state.

The folder-based ops (``background_noise``, ``impulse_response``, ``short_noises``) are in
``augcli.audio.mix``: their files are decoded by the modality as partners, as image mixing does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from augcli.audio.adapt import draw_noise_seed, either, noise_rng, rms
from augcli.audio.base import Audio, AudioOp
from augcli.params import Param


class GaussianNoise(AudioOp):
    """Add white Gaussian noise at a signal-to-noise ratio ``snr_db``, or of a fixed ``amplitude``.

    Give one of the two. With snr_db (the default) the noise is scaled so that its RMS is exactly
    the signal's RMS divided by 10^(snr_db/20) (RMS over all channels together), so the measured
    SNR is the asked one; a silent file stays silent. With amplitude the noise has that standard
    deviation in full-scale units (1.0 = full scale), whatever the signal. Each channel gets its
    own noise, from ``noise_seed``.
    """

    name = "gaussian_noise"
    group = "noise"
    params = {
        "snr_db": Param(
            default=[15.0, 30.0],
            low=-20.0,
            high=120.0,
            unit="dB",
            help="signal-to-noise ratio (used unless amplitude is given)",
        ),
        "amplitude": Param(
            default=[0.001, 0.015],
            low=0.0,
            high=1.0,
            unit="full scale",
            help="noise standard deviation; give it instead of snr_db for a fixed noise level",
        ),
    }

    @classmethod
    def from_recipe(cls, raw: dict[str, Any], path: str) -> GaussianNoise:
        by = either(cls.name, raw, path, "snr_db", "amplitude")
        op = super().from_recipe(raw, path)
        op.config["by"] = by
        return op

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        by = self.config.get("by", "snr_db")
        return {
            by: self.params[by].draw(self.config[by], rng),
            "noise_seed": draw_noise_seed(rng),
        }

    def implausible(self, facts: dict[str, Any]) -> str | None:
        """A fixed amplitude entirely below one step of the integer PCM written."""
        lsb, amp = facts.get("lsb"), self.config.get("amplitude")
        if self.config.get("by") != "amplitude" or lsb is None:
            return None
        top = max(amp) if isinstance(amp, (tuple, list)) else amp
        if 0 < top < lsb:
            return (
                f"amplitude {amp} is the noise's standard deviation in full-scale units (1.0 = "
                f"full scale): {top:g} is below one step of the {facts['bits']}-bit PCM written "
                f"({lsb:.2g}), so the noise rounds away; give at least {lsb:.2g}, or snr_db"
            )
        return None

    def apply(self, data: Audio, params: dict[str, Any]) -> Audio:
        x = data.samples
        noise = noise_rng(params["noise_seed"]).standard_normal(x.shape)
        if "amplitude" in params:
            noise *= params["amplitude"]
        else:
            level = rms(x) / 10 ** (params["snr_db"] / 20)
            noise *= level / max(rms(noise), 1e-300)
        return data.with_samples(x.astype(np.float64) + noise)
