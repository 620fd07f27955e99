"""What the checks before a run found: one ``Finding`` per problem, with a ``kind`` a CI gate
can allow by name (``--strict --allow KIND``), the sentence a person reads, and the files it is
about. ``KINDS`` is the closed list, documented in the README and in ``validate --json``'s
schema; a finding of another kind is a programming error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS: dict[str, str] = {
    "skipped": "files or folders the scan left out (a link out of the input folder, a name "
    "that is not UTF-8, a folder that cannot be read)",
    "unreadable": "inputs that cannot be read or decoded: expand records them as failed",
    "will_fail": "inputs that expand will fail (a record file that cannot be parsed)",
    "decoder_errors": "images the decoder complained about but still decoded",
    "imbalance": "one class has more inputs than the imbalance ratio allows against another",
    "duplicates": "exact duplicate inputs (the same bytes) within a section",
    "near_duplicates": "inputs that are nearly the same (images by difference hash, records by "
    "normalised text)",
    "check_skipped": "a check that was not made (too many images for the near-duplicate check)",
    "mixed_geometry": "volume inputs of mixed voxel spacings or orientations",
    "evaluation_split": "inputs in folders that look like an evaluation split are augmented",
    "leakage": "a file in a training folder is byte-identical to one in an evaluation folder, "
    "or a patient (groups) has inputs in both",
    "groups": "inputs an explicit groups setting could not place (each counts as its own)",
    "label_maps": "inputs named like label maps or masks (case_seg beside case, a labelsTr "
    "folder) in a section that names none: each would be augmented as an image",
    "parameters": "op settings that look wrong for the data, judged on a sample of inputs",
    "memory": "the largest case needs more memory than this machine has available",
    "no_inputs": "no input files for the recipe's sections: expand would write nothing",
}


@dataclass(frozen=True)
class Finding:
    """One problem: ``kind`` (a key of ``KINDS``), ``message`` (what a person reads after
    ``warning: ``), the section it concerns (None: the dataset) and the input files named."""

    kind: str
    message: str
    modality: str | None = None
    files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown finding kind {self.kind!r}")

    def __str__(self) -> str:
        return f"warning: {self.message}"

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "section": self.modality,
            "message": self.message,
            "files": list(self.files),
        }
