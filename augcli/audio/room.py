"""Rooms for audio: a shoebox image-source room simulator and air absorption."""

from __future__ import annotations
