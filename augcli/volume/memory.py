"""How many worker processes this machine's memory holds for a volume section: each worker
holds one case at a time, and its peak while resampling is a few times the case's size
(``benchmarks/volume_memory.py`` measures it per op), so a dataset of large CTs on a small
machine runs fewer workers at once rather than swapping or being killed.

The estimate is deliberately simple and errs high: the largest case's voxels (from the headers,
nothing loaded) times ``PEAK_BYTES_PER_VOXEL``, plus ``PROCESS_BYTES`` for the interpreter and
libraries; the machine's available memory (``MemAvailable``) divided by that, with
``HEADROOM`` of it left to everything else."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Measured per op on a 512x512x300 int16 CT (benchmarks/volume_memory.py, benchmarks/README.md):
# the resampling ops peak at ~3.2x the int16 array (~6.4 bytes a voxel), the k-space ops at
# 2.1-4.2x, blur (scipy's float64 gaussian_filter) at 9.1x, ~18 bytes a voxel. 20 covers the
# worst with a margin; a label map adds 1-2 bytes.
PEAK_BYTES_PER_VOXEL = 20
PROCESS_BYTES = 200 * 2**20  # Python, numpy, SimpleITK and nibabel loaded in a worker
HEADROOM = 0.2  # of the available memory, left to the parent and everything else


@dataclass(frozen=True)
class Largest:
    """The largest case of a section, by voxels in its header."""

    relpath: str
    size: tuple[int, ...]
    voxels: int

    @property
    def per_worker(self) -> int:
        """Bytes a worker needs at its peak while it processes this case (an estimate)."""
        return self.voxels * PEAK_BYTES_PER_VOXEL + PROCESS_BYTES


def available_memory() -> int | None:
    """Bytes this machine can give to new processes without swapping (``MemAvailable``), or
    None where that cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def largest_case(
    root: Path, relpaths: list[str], probe: Any, max_voxels: int | None
) -> Largest | None:
    """The case with the most voxels by its header (``probe(path)`` -> dict with ``size`` and
    ``voxels``) of those under ``max_voxels``; unreadable headers and cases over the limit are
    left out (they fail as cases, unloaded, with their reason)."""
    best: Largest | None = None
    for relpath in relpaths:
        try:
            head = probe(root / relpath)
        except Exception:  # the case itself fails later with the reason; not this estimate's
            continue
        if max_voxels is not None and head["voxels"] > max_voxels:
            continue
        if best is None or head["voxels"] > best.voxels:
            best = Largest(relpath, tuple(head["size"]), int(head["voxels"]))
    return best


def workers_for(largest: Largest, available: int) -> int:
    """How many workers, each at its peak on ``largest``, fit in ``available`` bytes less the
    headroom (at least one: a case too large for the machine still runs, alone)."""
    usable = int(available * (1 - HEADROOM))
    return max(1, usable // largest.per_worker)


def note(largest: Largest, available: int, limit: int) -> str:
    """What ``validate`` says about the limit."""
    dims = "x".join(str(s) for s in largest.size)
    if largest.per_worker > available * (1 - HEADROOM):
        return (
            f"warning: the largest case, {largest.relpath} ({dims}), needs about "
            f"{_mb(largest.per_worker)} in a worker and this machine has {_mb(available)} "
            "available: it runs alone (1 worker) and may still not fit; lower volume.max_voxels "
            "to leave such cases out, or run on a larger machine"
        )
    return (
        f"at most {limit} worker{'s' if limit > 1 else ''} at once: the largest case, "
        f"{largest.relpath} ({dims}), needs about {_mb(largest.per_worker)} per worker and "
        f"this machine has {_mb(available)} available (volume.max_workers sets the number)"
    )


def _mb(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"
