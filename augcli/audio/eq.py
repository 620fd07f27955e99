"""Equalisers for audio: band-stop, mains-hum notch, peaking and shelf filters, a seven-band parametric EQ."""

from __future__ import annotations
