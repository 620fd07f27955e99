"""`augcli init`: the text of a commented starter recipe, one short pipeline per modality.

Every op and parameter here is a real one; tests/test_docs.py checks that each starter loads and
validates against `augcli schema`."""

from __future__ import annotations

MODALITIES = ("image", "text", "audio", "volume")
INPUT = "input"  # the header's `input:` folder, beside the recipe; `augcli init -o` makes it

HEADER = """\
# augcli starter recipe. Check it with:  augcli validate {name}
# Look before you expand:  augcli preview {name}   (images)
# Every op and parameter:  augcli ops   (or docs/OPS.md)
# Editor completion: augcli schema > augcli.schema.json, then make this the first line:
#   # yaml-language-server: $schema=augcli.schema.json
version: 1                     # recipe format version (always 1)
seed: 0                        # every output's randomness derives from this; same seed, same bytes
input: input                   # folder to read, relative to this file
output: out                    # folder to write, relative to this file; never inside input
copies: 3                      # augmented outputs per input (per emitting node)
keep_originals: true           # also copy each input, byte for byte, beside its outputs
"""

SECTIONS = {
    "image": """\
image:                         # every image extension under input/ (include:/exclude: globs narrow it)
  pipeline:                    # a list is one chain of ops, applied in order
    - hflip: {p: 0.5}                                   # mirror left-right for half the outputs
    - rotate: {degrees: [-10, 10], border_mode: reflect}  # small tilt, corners filled by mirroring
    - random_crop: {scale: [0.8, 1.0], p: 0.5}          # keep 80-100% of the area (changes size)
    - brightness_contrast: {brightness: [-0.1, 0.1], contrast: [-0.1, 0.1]}  # mild lighting change
    - one_of:                                           # exactly one of these per output
        - gaussian_blur: {sigma: [0.5, 1.0]}            # slight defocus, sigma in pixels
        - sharpen: {amount: [0.2, 0.5]}                 # or slight sharpening
""",
    "text": """\
text:                          # .txt documents and .jsonl/.csv/.tsv record files under input/
  text_field: text             # JSONL field holding the text (text_column: for CSV/TSV)
  max_change: 0.4              # an output may differ from its source by at most 40% of its words
  domain: clinical             # findings, anatomy, drugs, devices, hedges, side: never changed
  protect: ["left lobe"]       # and your own words, phrases or 're:' patterns
  pipeline:                    # negations and numbers with units are protected by default
    - one_of:                                 # exactly one word-level edit per output
        - synonym_replace: {fraction: [0.1, 0.2]}  # replace 10-20% of words with synonyms
        - random_swap: {n: 1}                 # swap two words once
    - keyboard_typo: {fraction: 0.05, p: 0.3}  # a few typos in 30% of the outputs
    # Model ops (pip install 'augcli[translate]' / 'augcli[llm]'; models are never downloaded
    # unless an op says allow_download: true; see README "Model ops"):
    # - back_translate: {pivot: de}             # en -> de -> en with opus-mt models
    # - paraphrase: {backend: openai, base_url: "http://127.0.0.1:11434/v1", model: llama3.2}
""",
    "audio": """\
audio:                         # every audio file under input/; outputs keep format and sample rate
  pipeline:
    - gaussian_noise: {snr_db: [20, 35]}      # background hiss, 20-35 dB below the signal
    - time_shift: {fraction: [-0.1, 0.1]}     # shift by up to 10% of the length
    - gain: {db: [-4, 2], p: 0.5}             # louder or quieter for half the outputs
""",
    "volume": """\
volume:                        # CT/MRI: .nii, .nii.gz, .nrrd, .nhdr, .mha, .mhd (pip install 'augcli[volume]')
  # labels: {suffix: _seg}     # each case's label map beside it (brain_seg.nii.gz), moved with it
  pipeline:                    # lengths in mm, angles in degrees: the same on any voxel spacing
    - flip: {axes: LR, p: 0.5}                          # mirror left-right (patient axis)
    - affine: {rotate_z: [-10, 10], translate_x: [-5, 5]}  # small turn and shift about the centre
    - elastic: {max_displacement_mm: [1, 3], p: 0.3}    # smooth random deformation
""",
}


def starter_recipe(modalities: list[str] | tuple[str, ...], name: str = "recipe.yaml") -> str:
    """The starter recipe for ``modalities`` (each once, in the canonical order)."""
    unknown = [m for m in modalities if m not in SECTIONS]
    if unknown:
        raise ValueError(f"unknown modality {unknown[0]!r}; use one of: {', '.join(MODALITIES)}")
    chosen = [m for m in MODALITIES if m in modalities] or ["image"]
    return HEADER.format(name=name) + "".join(SECTIONS[m] for m in chosen)
