"""Inputs whose names say they are label maps or masks, not images: ``case01_seg.nii.gz`` beside
``case01.nii.gz``, or anything in a ``labelsTr/`` or ``masks/`` folder (the Medical
Segmentation Decathlon's and nnU-Net's layout). ``validate`` warns of them in a section with no
labels setting, where each would be augmented as an image of its own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from augcli.core.findings import Finding

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
    and suffix, as the modality names them), in path order. Each must pair with an image: a
    label suffix with the image of the same stem beside it (``brain_seg`` alone may be an image
    named so), a label folder with an input of the same stem outside such folders (a class
    folder named ``mask`` of face photos is no label folder)."""
    beside: dict[tuple[str, str], str] = {}
    elsewhere: set[str] = set()
    for rel in relpaths:
        folder, stem = rel.rpartition("/")[0], split_name(rel)[0].casefold()
        beside[folder, stem] = rel
        if not _label_folder(folder):
            elsewhere.add(stem)
    found = []
    for rel in sorted(relpaths):
        folder = rel.rpartition("/")[0]
        name = split_name(rel)[0]
        stem = name.casefold()
        suffix = next((s for s in SUFFIXES if stem.endswith(s) and len(stem) > len(s)), "")
        image = beside.get((folder, stem[: -len(suffix)])) if suffix else None
        labels = _label_folder(folder)
        if image is not None:
            found.append(LabelLike(rel, name[-len(suffix) :], image))
        elif labels and stem in elsewhere:
            found.append(LabelLike(rel, folder=labels))
    return found


def _label_folder(folder: str) -> str:
    """The part of ``folder`` up to its last label-folder name (``Task01/labelsTr``), or ''."""
    parts = folder.split("/")
    named = [k for k, p in enumerate(parts) if p.casefold() in FOLDERS]
    return "/".join(parts[: named[-1] + 1]) if named else ""


def label_finding(found: list[LabelLike], section: str, where: str, fix: str) -> Finding:
    """The ``label_maps`` warning about ``found`` (the first three named) in ``section``, at
    ``where`` (the recipe's file, line and YAML path), ending with ``fix``."""
    shown = "; ".join(
        f"{x.relpath} (beside {x.image})" if x.image else f"{x.relpath} (in {x.folder}/)"
        for x in found[:3]
    ) + (f" (and {len(found) - 3} more)" if len(found) > 3 else "")
    message = (
        f"{where}: {len(found)} input(s) look like label maps or masks: {shown}. Nothing names "
        "this section's label maps, so each is augmented as an image of its own (smoothly "
        f"resampled, changed by intensity ops), not moved with its image. {fix}"
    )
    return Finding("label_maps", message, section, tuple(x.relpath for x in found))
