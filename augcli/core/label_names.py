"""Inputs whose names say they are label maps or masks, not images: ``case01_seg.nii.gz`` beside
``case01.nii.gz``, or anything in a ``labelsTr/`` or ``masks/`` folder (the Medical
Segmentation Decathlon's and nnU-Net's layout). ``validate`` warns of them in a section with no
labels setting, where each would be augmented as an image of its own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

SUFFIXES = ("_seg", "_segmentation", "_label", "_labels", "_mask", "_masks", "_gt", "-seg")
FOLDERS = frozenset(
    {"labels", "labelstr", "labelsts", "labelsva", "masks", "mask", "segmentations"}
    | {"segmentation", "seg", "gt", "ground_truth", "groundtruth"}
)


@dataclass(frozen=True)
class LabelLike:
    """One such input: its path, and either the ``suffix`` that pairs it with ``image`` in the
    same folder or the ``folder`` (a path) it sits in."""

    relpath: str
    suffix: str = ""
    image: str = ""
    folder: str = ""


def label_like(
    relpaths: list[str], split_name: Callable[[str], tuple[str, str]]
) -> list[LabelLike]:
    """The inputs among ``relpaths`` that look like label maps (``split_name``: a path's stem
    and suffix, as the modality names them), in path order. A name with a label suffix counts
    only with its image beside it (``brain_seg`` alone may be an image named so)."""
    stems: dict[tuple[str, str], str] = {}
    for rel in relpaths:
        folder = rel.rpartition("/")[0]
        stems[folder, split_name(rel)[0].casefold()] = rel
    found = []
    for rel in sorted(relpaths):
        folder = rel.rpartition("/")[0]
        stem = split_name(rel)[0].casefold()
        suffix = next((s for s in SUFFIXES if stem.endswith(s) and len(stem) > len(s)), "")
        image = stems.get((folder, stem[: -len(suffix)])) if suffix else None
        named = [p for p in folder.split("/") if p.casefold() in FOLDERS]
        if image is not None:
            found.append(LabelLike(rel, split_name(rel)[0][-len(suffix) :], image))
        elif named:
            cut = folder.split("/").index(named[-1]) + 1
            found.append(LabelLike(rel, folder="/".join(folder.split("/")[:cut])))
    return found
