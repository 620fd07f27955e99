"""Duration and order ops for audio: resample round trip, padding, adjust duration, reverse, repeat part."""

from __future__ import annotations
