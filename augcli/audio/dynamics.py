"""Loudness and dynamics for audio: LUFS normalisation, a limiter, coloured noise and waveshaping distortions."""

from __future__ import annotations
