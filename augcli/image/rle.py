"""COCO run-length encoding (RLE) of a 0/1 mask: ``{"counts": ..., "size": [h, w]}``, runs
over the mask in column-major order (down each column, then the next), alternating 0s and 1s
and starting with 0s (a mask whose first pixel is 1 starts with a run of length 0).

``counts`` is a list of run lengths ("uncompressed", what augcli writes) or a string
("compressed", pycocotools' ``rleToString``: each run, as a difference from the run two before
it from the third on, in 5-bit groups with a continuation bit, as characters from ``0``)."""

from __future__ import annotations

from typing import Any

import numpy as np


def counts_of(counts: list[int] | str) -> list[int]:
    """The run lengths of an RLE's ``counts`` (a list as it is; a string decoded)."""
    if not isinstance(counts, str):
        return [int(c) for c in counts]
    out: list[int] = []
    p = 0
    while p < len(counts):
        x, k, more = 0, 0, True
        while more:
            if p >= len(counts):
                raise ValueError("the compressed counts end inside a number")
            c = ord(counts[p]) - 48
            if not 0 <= c < 64:
                raise ValueError(f"{counts[p]!r} is not a compressed RLE character")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(out) > 2:
            x += out[-2]
        out.append(x)
    return out


def decode(seg: dict[str, Any]) -> np.ndarray:
    """The (h, w) uint8 0/1 mask of an RLE (checked: ``check``)."""
    h, w = (int(v) for v in seg["size"])
    runs = counts_of(seg["counts"])
    flat = np.repeat(np.arange(len(runs), dtype=np.uint8) % 2, runs)
    return np.ascontiguousarray(flat.reshape(w, h).T)


def encode(mask: np.ndarray) -> dict[str, Any]:
    """The uncompressed RLE of a mask (non-zero = 1), in canonical form (no empty runs except
    a leading one)."""
    h, w = mask.shape
    flat = (mask.T.ravel() != 0).astype(np.int8)
    edges = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate([[0], edges, [flat.size]])).tolist()
    if flat.size and flat[0]:
        runs = [0, *runs]
    return {"counts": runs, "size": [h, w]}


def area(seg: dict[str, Any]) -> int:
    """The number of 1 pixels."""
    return int(sum(counts_of(seg["counts"])[1::2]))


def check(seg: Any) -> str | None:
    """What is wrong with an RLE segmentation, or None: ``size`` is [h, w] (whole numbers
    > 0), ``counts`` a list of whole numbers >= 0 or a compressed string, the runs covering
    exactly h x w pixels."""
    size, counts = seg.get("size"), seg.get("counts")
    if not (
        isinstance(size, list)
        and len(size) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)
    ):
        return "an RLE needs 'size': [height, width], whole numbers > 0"
    if isinstance(counts, list):
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
            return "an RLE's 'counts' must be whole numbers >= 0 (or a compressed string)"
    elif not isinstance(counts, str):
        return "an RLE needs 'counts': a list of run lengths or a compressed string"
    try:
        runs = counts_of(counts)
    except ValueError as exc:
        return f"an RLE's compressed 'counts' cannot be decoded ({exc})"
    if any(r < 0 for r in runs) or sum(runs) != size[0] * size[1]:
        return f"an RLE's runs must cover {size[0]} x {size[1]} pixels; they cover {sum(runs)}"
    return None
