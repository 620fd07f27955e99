"""Stable per-output seeds: sha256 of (recipe seed, input path, node, copy), never Python's hash()."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

SEED_SCHEME = "augcli-seed-v1"


def item_seed(recipe_seed: int, relpath: str, node: str, copy: int) -> int:
    """A 63-bit seed that depends only on its arguments (same on every machine, worker and run)."""
    key = "\x1f".join((SEED_SCHEME, str(recipe_seed), relpath, node, str(copy)))
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def generator(seed: int) -> np.random.Generator:
    """The generator every op of one node and copy draws from."""
    import numpy as np  # here, not at import: the parent plans without numpy

    return np.random.Generator(np.random.PCG64(seed))
