"""Dataset checks before a run: what in the inputs would hurt a model trained on the output.

``dataset_warnings`` looks at the scanned inputs and returns one line per problem, each starting
with ``warning: ``, in a fixed order: class imbalance, exact duplicates, near-duplicate images,
near-duplicate text records, folders that look like an evaluation split, and train/eval leakage.
Every file is hashed once and every image decoded at most once."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from augcli.balance import TEST_SPLITS
from augcli.core.atomic import sha256_file
from augcli.core.errors import InputError
from augcli.engine.scan import InputFile

TRAIN_SPLITS = ("train", "training")
MAX_GROUPS = 5  # groups or pairs listed per warning
MAX_NEAR_DUP_IMAGES = 2000  # the near-duplicate image check is O(n^2)
HAMMING_MAX = 4  # dHash bits that may differ for two images to count as near-duplicates
TEXT_SETTINGS = {"text_field": "text", "text_column": "text"}
RECORD_KINDS = {".jsonl": "jsonl", ".csv": "csv", ".tsv": "tsv"}
_SPACE = re.compile(r"\s+")


def dataset_warnings(
    inputs: list[InputFile], input_root: Path, *, imbalance_ratio: float = 3.0
) -> list[str]:
    """Human-readable warnings (``warning: ...``) about ``inputs`` under ``input_root``."""
    inputs = sorted(inputs, key=lambda f: (f.modality, f.relpath))
    digests = {f.relpath: sha256_file(input_root / f.relpath) for f in inputs}
    out: list[str] = []
    out += _imbalance(inputs, imbalance_ratio)
    out += _exact_duplicates(inputs, digests)
    out += _near_duplicate_images([f for f in inputs if f.modality == "image"], input_root, digests)
    out += _near_duplicate_text([f for f in inputs if f.modality == "text"], input_root)
    out += _split_folders(inputs)
    out += _leakage(inputs, digests)
    return out


def _more(total: int) -> str:
    return f" (and {total - MAX_GROUPS} more)" if total > MAX_GROUPS else ""


def _by_modality(inputs: list[InputFile]) -> dict[str, list[InputFile]]:
    groups: dict[str, list[InputFile]] = defaultdict(list)
    for f in inputs:
        groups[f.modality].append(f)
    return dict(sorted(groups.items()))


def _imbalance(inputs: list[InputFile], ratio: float) -> list[str]:
    out = []
    for modality, files in _by_modality(inputs).items():
        counts = Counter(f.label for f in files if f.label is not None)
        if len(counts) < 2:
            continue
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        (big, n_big), (small, n_small) = ranked[0], ranked[-1]
        if n_big > ratio * n_small:
            out.append(
                f"warning: {modality}: class imbalance: '{big}' has {n_big} inputs but "
                f"'{small}' has {n_small} ({n_big / n_small:.1f}x, above {ratio:g}x); "
                f"add 'balance: match_largest' to the {modality} section to even out the output"
            )
    return out


def _exact_duplicates(inputs: list[InputFile], digests: dict[str, str]) -> list[str]:
    out = []
    for modality, files in _by_modality(inputs).items():
        groups: dict[str, list[str]] = defaultdict(list)
        for f in files:
            groups[digests[f.relpath]].append(f.relpath)
        dups = sorted(sorted(g) for g in groups.values() if len(g) > 1)
        if not dups:
            continue
        listed = "; ".join(", ".join(g) for g in dups[:MAX_GROUPS])
        n_files = sum(len(g) for g in dups)
        out.append(
            f"warning: {modality}: {len(dups)} group(s) of exact duplicate inputs "
            f"({n_files} files, same bytes): {listed}{_more(len(dups))}; each copy is augmented "
            "again, so these samples weigh more in training"
        )
    return out


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


def _near_duplicate_images(
    files: list[InputFile], root: Path, digests: dict[str, str]
) -> list[str]:
    if len(files) < 2:
        return []
    if len(files) > MAX_NEAR_DUP_IMAGES:
        return [
            f"warning: image: near-duplicate check skipped: {len(files)} images, more than "
            f"{MAX_NEAR_DUP_IMAGES} (exact duplicates were still checked)"
        ]
    from augcli.image.io import read_image

    names, hashes = [], []
    for f in files:
        try:
            img = read_image(root / f.relpath)
        except InputError:
            continue
        if img is None or img.size == 0:
            continue
        names.append(f.relpath)
        hashes.append(dhash(img))
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
    return [
        f"warning: image: {len(pairs)} pair(s) of near-duplicate images (difference hash within "
        f"{HAMMING_MAX} of 64 bits): {listed}{_more(len(pairs))}"
    ]


def normalise_text(text: str) -> str:
    """Casefolded, punctuation removed, whitespace collapsed."""
    kept = "".join(" " if unicodedata.category(c).startswith("P") else c for c in text.casefold())
    return _SPACE.sub(" ", kept).strip()


def _near_duplicate_text(files: list[InputFile], root: Path) -> list[str]:
    from augcli.text.records import read_records

    seen: dict[str, list[str]] = defaultdict(list)
    for f in files:
        suffix = Path(f.relpath).suffix.lower()
        path = root / f.relpath
        try:
            if suffix in RECORD_KINDS:
                rf = read_records(path, RECORD_KINDS[suffix], TEXT_SETTINGS)
                entries = [(r.text, r.line) for r in rf.records]
            elif suffix == ".txt":  # a document: one record
                entries = [(path.read_text(encoding="utf-8"), 1)]
            else:
                continue
        except (InputError, OSError, UnicodeDecodeError, ValueError):
            continue
        for text, line in entries:
            key = normalise_text(text)
            if key:
                seen[key].append(f"{f.relpath}:{line}")
    groups = [places for places in seen.values() if len(places) > 1]
    if not groups:
        return []
    listed = "; ".join(", ".join(g) for g in groups[:MAX_GROUPS])
    return [
        f"warning: text: {len(groups)} group(s) of duplicate records (same text after ignoring "
        f"case, punctuation and spacing): {listed}{_more(len(groups))}"
    ]


def _split_folders(inputs: list[InputFile]) -> list[str]:
    folders: Counter[str] = Counter()
    for f in inputs:
        parts = f.relpath.split("/")[:-1]
        for k, part in enumerate(parts):
            if part.lower() in TEST_SPLITS:
                folders["/".join(parts[: k + 1])] += 1
                break
    if not folders:
        return []
    listed = ", ".join(f"{d}/ ({n} inputs)" for d, n in sorted(folders.items()))
    return [
        f"warning: inputs in folders that look like an evaluation split are being augmented: "
        f"{listed}; augmenting evaluation data leaks into results; add 'splits: [train]' "
        "to the recipe to augment only the training split"
    ]


def _split_kind(folder: str) -> str | None:
    name = folder.lower()
    if name in TRAIN_SPLITS:
        return "train"
    if name in TEST_SPLITS:
        return "eval"
    return None


def _leakage(inputs: list[InputFile], digests: dict[str, str]) -> list[str]:
    by_digest: dict[str, list[str]] = defaultdict(list)
    for f in inputs:
        if "/" in f.relpath:
            by_digest[digests[f.relpath]].append(f.relpath)
    leaks = []
    for paths in by_digest.values():
        tops = {p.split("/", 1)[0] for p in paths}
        kinds = {_split_kind(t) for t in tops}
        if "train" in kinds and "eval" in kinds:
            train = sorted(p for p in paths if _split_kind(p.split("/", 1)[0]) == "train")
            held = sorted(p for p in paths if _split_kind(p.split("/", 1)[0]) == "eval")
            leaks.append((train, held))
    if not leaks:
        return []
    leaks.sort()
    listed = "; ".join(f"{', '.join(t)} = {', '.join(e)}" for t, e in leaks[:MAX_GROUPS])
    return [
        f"warning: leakage: {len(leaks)} file(s) in a training folder are byte-identical to "
        f"files in an evaluation folder: {listed}{_more(len(leaks))}; remove them from one "
        "side, or evaluation scores will be inflated"
    ]
