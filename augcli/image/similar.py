"""Near-duplicate images for the dataset checks: a 64-bit difference hash per image, pairs
within a few bits of each other."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from augcli.core.errors import InputError
from augcli.core.findings import Finding
from augcli.image.decode import decoder_notes

MAX_GROUPS = 5  # pairs listed per warning
MAX_NEAR_DUP_IMAGES = 2000  # the check is O(n^2)
HAMMING_MAX = 4  # dHash bits that may differ for two images to count as near-duplicates


def _more(total: int) -> str:
    return f" (and {total - MAX_GROUPS} more)" if total > MAX_GROUPS else ""


def _gray8(img: np.ndarray) -> np.ndarray:
    import cv2

    if img.dtype not in (np.uint8, np.uint16, np.float32):
        img = img.astype(np.float32)
    if img.ndim == 3:
        if img.shape[2] == 1:
            img = img[..., 0]
        else:
            code = cv2.COLOR_BGRA2GRAY if img.shape[2] == 4 else cv2.COLOR_BGR2GRAY
            img = cv2.cvtColor(img[..., : 4 if img.shape[2] >= 4 else 3], code)
    if img.dtype == np.uint8:
        return img
    img = img.astype(np.float64)
    lo, hi = float(np.nanmin(img)), float(np.nanmax(img))
    if hi <= lo:
        return np.zeros(img.shape, np.uint8)
    return np.clip((img - lo) * (255.0 / (hi - lo)), 0, 255).round().astype(np.uint8)


def dhash(img: np.ndarray) -> int:
    """A 64-bit difference hash: gray, 9x8 (INTER_AREA), each pixel brighter than its right
    neighbour sets a bit."""
    import cv2

    small = cv2.resize(_gray8(img), (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, :-1] > small[:, 1:]).ravel()
    return int(sum(1 << i for i, b in enumerate(bits) if b))


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)


def near_duplicate_images(
    relpaths: list[str], root: Path, digests: dict[str, str], read: Callable[[Path], Any]
) -> list[Finding]:
    """The finding about pairs of images whose difference hashes are within ``HAMMING_MAX``
    bits (exact copies aside), after those about inputs that cannot be decoded or that the
    decoder complained about (never its raw lines on stderr); ``read`` decodes one image."""
    if len(relpaths) < 2:
        return []
    if len(relpaths) > MAX_NEAR_DUP_IMAGES:
        return [
            Finding(
                "check_skipped",
                f"image: near-duplicate check skipped: {len(relpaths)} images, more than "
                f"{MAX_NEAR_DUP_IMAGES} (exact duplicates were still checked)",
                "image",
            )
        ]
    names, hashes, said = [], [], _Said()
    for rel in relpaths:
        img = said.read(read, root, rel)
        if img is None or img.size == 0:
            continue
        names.append(rel)
        hashes.append(dhash(img))
    return said.warnings() + _near_pairs(names, hashes, digests)


class _Said:
    """What decoding the inputs said, by file: those that cannot be decoded (the reason), and
    what a decoder printed about those it still decoded (kept from stderr)."""

    def __init__(self) -> None:
        self.failed: list[str] = []
        self.noted: list[str] = []
        self.files: dict[str, list[str]] = {"failed": [], "noted": []}

    def read(self, read: Callable[[Path], Any], root: Path, rel: str) -> Any:
        """``read(root / rel)``, or None when it cannot be decoded."""
        with decoder_notes() as notes:
            try:
                img = read(root / rel)
            except InputError as exc:
                self.failed.append(f"{rel} ({exc})")
                self.files["failed"].append(rel)
                return None
        if notes:
            self.noted.append(f"{rel} ({notes[0]!r})")
            self.files["noted"].append(rel)
        return img

    def warnings(self) -> list[Finding]:
        out = []
        if self.failed:
            out.append(
                Finding(
                    "unreadable",
                    f"image: {len(self.failed)} input(s) cannot be decoded: "
                    f"{'; '.join(self.failed[:MAX_GROUPS])}{_more(len(self.failed))}; expand "
                    "will record them as failed",
                    "image",
                    tuple(self.files["failed"]),
                )
            )
        if self.noted:
            out.append(
                Finding(
                    "decoder_errors",
                    f"image: the decoder reported errors in {len(self.noted)} input(s) that it "
                    f"still decoded: {'; '.join(self.noted[:MAX_GROUPS])}"
                    f"{_more(len(self.noted))}; check them (re-export or re-download)",
                    "image",
                    tuple(self.files["noted"]),
                )
            )
        return out


def _near_pairs(names: list[str], hashes: list[int], digests: dict[str, str]) -> list[Finding]:
    """The near-duplicate warning for these difference hashes, or nothing."""
    h = np.array(hashes, dtype=np.uint64)
    pairs = []
    for i in range(len(h) - 1):
        dist = _popcount(h[i + 1 :] ^ h[i])
        for j in np.flatnonzero(dist <= HAMMING_MAX):
            a, b = names[i], names[i + 1 + int(j)]
            if digests[a] != digests[b]:
                pairs.append((a, b, int(dist[j])))
    if not pairs:
        return []
    listed = "; ".join(f"{a} ~ {b} ({d} bits)" for a, b, d in pairs[:MAX_GROUPS])
    files = tuple(sorted({p for a, b, _d in pairs for p in (a, b)}))
    return [
        Finding(
            "near_duplicates",
            f"image: {len(pairs)} pair(s) of near-duplicate images (difference hash within "
            f"{HAMMING_MAX} of 64 bits): {listed}{_more(len(pairs))}",
            "image",
            files,
        )
    ]
