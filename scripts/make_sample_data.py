"""Rebuild ``sample_data/``: small, real, redistributable samples for augcli.

Usage::

    python scripts/make_sample_data.py sample_data

This is a development tool, not a runtime dependency of augcli. It needs
(inside a throw-away virtualenv, so the project's own venv stays untouched)::

    python3 -m venv /work/venv-sample
    /work/venv-sample/bin/pip install scikit-image scikit-learn pydicom pillow \
        soundfile numpy opencv-python-headless
    apt-get update && apt-get install -y espeak-ng sox

What it writes (every file's source and licence ends up in the generated
``sample_data/README.md``):

* ``images/scene``, ``images/texture``: 8-bit photos that ship inside the
  scikit-image and scikit-learn wheels (no download), resized to 160-320 px,
  as RGB JPEG, grayscale JPEG, grayscale PNG, RGBA PNG (real photo + soft
  circular alpha) and one JPEG whose pixels are stored rotated with an EXIF
  Orientation tag of 6.
* ``images/medical``: 16-bit grayscale PNGs holding the stored pixel values
  of pydicom's bundled test DICOM files (no windowing, no rescale).
* ``dicom/CT_small.dcm``: a byte-for-byte copy of pydicom's test file.
* ``text``: original clinical-style sentences (JSONL + CSV) and short
  plain-text documents in class folders.
* ``audio/yes``, ``audio/no``: espeak-ng speech, resampled with sox.

Only ``images/``, ``text/``, ``audio/``, ``dicom/`` and ``README.md`` inside
the output directory are replaced. The output is deterministic for a given
set of library / espeak-ng / sox versions. After writing, the script checks
the files (dtype, channels, sample rates, subtypes, EXIF) and fails loudly on
any mismatch.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import soundfile as sf
from PIL import Image, ImageOps
from pydicom.data import get_testdata_file
from skimage import data as skdata
from sklearn.datasets import load_sample_image

MANAGED_DIRS = ("images", "text", "audio", "dicom", "detection")

# Boxes drawn by hand (by eye, on a 16-px grid) for the detection sample: pixel corners
# x0, y0, x1, y1 of the photos as written to images/scene/. Classes: see DETECTION_CLASSES.
DETECTION_CLASSES = ("face", "rocket", "helmet", "tower")
DETECTION_BOXES = {
    "astronaut.jpg": [(0, 92, 36, 146, 90), (1, 176, 0, 226, 140), (2, 138, 170, 256, 256)],
    "rocket.jpg": [(1, 151, 63, 171, 206), (3, 0, 0, 48, 214), (3, 280, 0, 320, 214)],
}
EXIF_ORIENTATION_TAG = 0x0112
JPEG_QUALITY = 90

# --------------------------------------------------------------------------- licences

LIC_SKIMAGE_CC0 = "CC0 (scikit-image docstring: {note})"
LIC_PD = "Public domain (scikit-image docstring: {note})"
LIC_SKLEARN_CHINA = (
    "CC BY 2.0, attribution: danielbuechele on Flickr "
    "(scikit-learn `sklearn/datasets/images/README.txt`)"
)
LIC_PYDICOM_NEMA = (
    "Redistributable test data: pydicom `data/test_files/README.txt` says of its test files "
    '"I believe there is no restriction on using any of these files in this manner"; '
    "original is a NEMA WG04 sample data set"
)
LIC_PYDICOM_GDCM = (
    "BSD-3-Clause (GDCM licence, (c) 2006-2016 Mathieu Malaterre, (c) 1993-2005 CREATIS), "
    "as quoted in pydicom `data/test_files/README.txt`"
)
LIC_OWN = "CC0 1.0 (written for augcli)"
LIC_ESPEAK = "CC0 1.0 (synthesised for augcli with espeak-ng; the words are our own)"


@dataclass(frozen=True)
class Entry:
    """One generated file, for the README table."""

    path: str  # relative to the output directory
    what: str
    source: str
    licence: str


# --------------------------------------------------------------------------- helpers


def resize_long_side(img: Image.Image, long_side: int) -> Image.Image:
    """Resize so the longer side is ``long_side`` px (Lanczos, aspect kept)."""
    w, h = img.size
    scale = long_side / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return img.resize(size, Image.Resampling.LANCZOS)


def save_jpeg(img: Image.Image, path: Path, exif: bytes | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, object] = {"quality": JPEG_QUALITY, "optimize": False}
    if exif is not None:
        kwargs["exif"] = exif
    img.save(path, format="JPEG", **kwargs)


def save_png(img: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG", optimize=False, compress_level=9)


def exif_with_orientation(orientation: int) -> bytes:
    """A minimal EXIF block: a TIFF header and IFD0 holding only Orientation."""
    exif = Image.Exif()
    exif[EXIF_ORIENTATION_TAG] = orientation
    return exif.tobytes()


def soft_circular_alpha(height: int, width: int, inner: float = 0.55) -> np.ndarray:
    """uint8 alpha mask: opaque inside an ellipse, smoothly fading to 0 at the edge."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    r = np.sqrt(((yy - cy) / (height / 2.0)) ** 2 + ((xx - cx) / (width / 2.0)) ** 2)
    t = np.clip((1.0 - r) / (1.0 - inner), 0.0, 1.0)
    smooth = t * t * (3.0 - 2.0 * t)  # smoothstep
    return np.round(smooth * 255.0).astype(np.uint8)


def to_uint16(pixels: np.ndarray) -> tuple[np.ndarray, int]:
    """Stored DICOM values as uint16; returns (array, offset added)."""
    offset = 0 if int(pixels.min()) >= 0 else 32768
    out = pixels.astype(np.int32) + offset
    if out.min() < 0 or out.max() > 65535:
        raise ValueError("pixel values do not fit in uint16 even with an offset")
    return out.astype(np.uint16), offset


# --------------------------------------------------------------------------- images


def make_images(out: Path) -> list[Entry]:
    entries: list[Entry] = []
    scene = out / "images" / "scene"
    texture = out / "images" / "texture"

    # --- scene: RGB JPEGs
    rgb_jpegs: list[tuple[str, Callable[[], np.ndarray], int, str, str, str]] = [
        (
            "astronaut.jpg",
            skdata.astronaut,
            256,
            "Astronaut Eileen Collins (NASA portrait)",
            "`skimage.data.astronaut()` (astronaut.png)",
            LIC_PD.format(note="no known copyright restrictions, released into the public domain"),
        ),
        (
            "rocket.jpg",
            skdata.rocket,
            320,
            "SpaceX Falcon 9 on the launch pad",
            "`skimage.data.rocket()` (rocket.jpg)",
            LIC_PD.format(note="captured by SpaceX and released in the public domain"),
        ),
        (
            "china.jpg",
            lambda: load_sample_image("china.jpg"),
            256,
            "Chinese temple building",
            "`sklearn.datasets.load_sample_image('china.jpg')`",
            LIC_SKLEARN_CHINA,
        ),
    ]
    for name, loader, long_side, what, source, licence in rgb_jpegs:
        img = resize_long_side(Image.fromarray(loader()).convert("RGB"), long_side)
        save_jpeg(img, scene / name)
        w, h = img.size
        entries.append(
            Entry(
                f"images/scene/{name}",
                f"{what}; RGB JPEG, {w}x{h}",
                f"{source}, resized (Lanczos), JPEG q{JPEG_QUALITY}",
                licence,
            )
        )

    # --- scene: JPEG with EXIF Orientation = 6 (display = rotate stored pixels 90° CW)
    upright = resize_long_side(Image.fromarray(skdata.coffee()).convert("RGB"), 240)
    # Stored pixels are the upright picture turned 90° counter-clockwise, so a viewer that
    # honours Orientation=6 (rotate 90° clockwise) shows it upright again.
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    save_jpeg(stored, scene / "coffee_exif6.jpg", exif=exif_with_orientation(6))
    uw, uh = upright.size
    sw, sh = stored.size
    entries.append(
        Entry(
            "images/scene/coffee_exif6.jpg",
            f"Cup of coffee; RGB JPEG with EXIF Orientation=6. Stored pixels {sw}x{sh} "
            f"(portrait, lying on its side); displays upright as {uw}x{uh} landscape "
            "(cup upright, saucer at the bottom) when EXIF orientation is honoured",
            "`skimage.data.coffee()` (coffee.png), resized, rotated 90° CCW, "
            "EXIF IFD0 with tag 0x0112=6 added",
            LIC_SKIMAGE_CC0.format(note="CC0 by the photographer (Rachel Michetti)"),
        )
    )

    # --- scene: RGBA PNG (real photo + soft circular alpha)
    cat = resize_long_side(Image.fromarray(skdata.chelsea()).convert("RGB"), 256)
    cat_rgba = np.dstack([np.asarray(cat), soft_circular_alpha(cat.size[1], cat.size[0])])
    save_png(Image.fromarray(cat_rgba, mode="RGBA"), scene / "chelsea_rgba.png")
    entries.append(
        Entry(
            "images/scene/chelsea_rgba.png",
            f"Chelsea the cat; 8-bit RGBA PNG, {cat.size[0]}x{cat.size[1]}, alpha is a soft "
            "elliptical vignette (opaque centre, transparent corners)",
            "`skimage.data.chelsea()` (chelsea.png), resized; alpha channel computed by the script",
            LIC_SKIMAGE_CC0.format(note="CC0 by the photographer (Stefan van der Walt)"),
        )
    )

    # --- scene: 8-bit grayscale PNG
    cam = resize_long_side(Image.fromarray(skdata.camera()).convert("L"), 256)
    save_png(cam, scene / "camera_gray.png")
    entries.append(
        Entry(
            "images/scene/camera_gray.png",
            f"Photographer with a camera; 8-bit grayscale PNG, {cam.size[0]}x{cam.size[1]}",
            "`skimage.data.camera()` (camera.png), resized",
            LIC_SKIMAGE_CC0.format(note="CC0 by the photographer (Lav Varshney)"),
        )
    )

    # --- texture: grayscale PNGs and a grayscale (1-component) JPEG
    textures: list[tuple[str, Callable[[], np.ndarray], str, str, str]] = [
        (
            "brick.png",
            skdata.brick,
            "Brick wall",
            "`skimage.data.brick()` (brick.png)",
            "CC0 (scikit-image docstring: from CC0Textures, Creative Commons CC0 License)",
        ),
        (
            "gravel.png",
            skdata.gravel,
            "Gravel",
            "`skimage.data.gravel()` (gravel.png)",
            "CC0 (scikit-image docstring: from CC0Textures, Creative Commons CC0 License)",
        ),
        (
            "grass_gray.jpg",
            skdata.grass,
            "Grass",
            "`skimage.data.grass()` (grass.png)",
            "CC0 (scikit-image docstring: from DeviantArt (linolafett), "
            "Creative Commons CC0 License)",
        ),
    ]
    for name, loader, what, source, licence in textures:
        img = resize_long_side(Image.fromarray(loader()).convert("L"), 192)
        w, h = img.size
        if name.endswith(".png"):
            save_png(img, texture / name)
            kind = "8-bit grayscale PNG"
        else:
            save_jpeg(img, texture / name)
            kind = "8-bit grayscale (1-component) JPEG"
        entries.append(
            Entry(
                f"images/texture/{name}", f"{what}; {kind}, {w}x{h}", f"{source}, resized", licence
            )
        )

    entries.extend(make_medical(out))
    return entries


def make_detection(out: Path) -> list[Entry]:
    """Two of the scene photos with hand-drawn YOLO boxes (class cx cy w h, normalised)."""
    entries = []
    det = out / "detection"
    det.mkdir(parents=True, exist_ok=True)
    (det / "classes.txt").write_text("\n".join(DETECTION_CLASSES) + "\n")
    entries.append(
        Entry(
            "detection/classes.txt",
            "YOLO class names, one per line (id = line)",
            "written by hand",
            "CC0 (own work)",
        )
    )
    for name, boxes in DETECTION_BOXES.items():
        shutil.copyfile(out / "images" / "scene" / name, det / name)
        with Image.open(det / name) as im:
            w, h = im.size
        lines = [
            f"{c} {(x0 + x1) / 2 / w:.6f} {(y0 + y1) / 2 / h:.6f} {(x1 - x0) / w:.6f} "
            f"{(y1 - y0) / h:.6f}"
            for c, x0, y0, x1, y1 in boxes
        ]
        label = Path(name).with_suffix(".txt").name
        (det / label).write_text("\n".join(lines) + "\n")
        entries.append(
            Entry(
                f"detection/{name}",
                f"copy of images/scene/{name}",
                "see images/scene",
                "see images/scene",
            )
        )
        entries.append(
            Entry(
                f"detection/{label}",
                f"{len(boxes)} YOLO boxes, drawn by hand",
                "written by hand",
                "CC0 (own work)",
            )
        )
    return entries


def make_medical(out: Path) -> list[Entry]:
    entries: list[Entry] = []
    medical = out / "images" / "medical"
    medical.mkdir(parents=True, exist_ok=True)
    dicoms: list[tuple[str, str, tuple[slice, slice] | None, str, str]] = [
        (
            "CT_small.dcm",
            "ct_small_u16.png",
            None,
            "CT slice (thorax, vertebra)",
            LIC_PYDICOM_NEMA + " ('CT1_UNC', downsized to 128x128 by pydicom)",
        ),
        (
            "MR_small.dcm",
            "mr_small_u16.png",
            None,
            "MR slice (head)",
            LIC_PYDICOM_NEMA + " ('MR1_UNC', downsized to 64x64 by pydicom)",
        ),
        (
            "examples_overlay.dcm",
            "mr_abdomen_u16.png",
            (slice(0, 300), slice(82, 402)),
            "MR slice (abdomen: liver, kidneys), 12 bits stored",
            LIC_PYDICOM_GDCM + " (from GDCM's MR-SIEMENS-DICOM-WithOverlays.dcm)",
        ),
    ]
    for dcm_name, png_name, crop, what, licence in dicoms:
        ds = pydicom.dcmread(get_testdata_file(dcm_name))
        pixels = ds.pixel_array
        if crop is not None:
            pixels = pixels[crop]
        arr, offset = to_uint16(pixels)
        img = Image.fromarray(arr)  # mode "I;16" -> 16-bit grayscale PNG
        save_png(img, medical / png_name)
        h, w = arr.shape
        if offset:
            note = f"offset +{offset} added to make the signed values unsigned"
        elif int(ds.PixelRepresentation) == 1:
            note = "no offset needed: DICOM is signed but all stored values are >= 0"
        else:
            note = "no offset needed: DICOM is unsigned"
        crop_note = (
            f", cropped to rows {crop[0].start}:{crop[0].stop}, cols {crop[1].start}:{crop[1].stop}"
            if crop
            else ""
        )
        entries.append(
            Entry(
                f"images/medical/{png_name}",
                f"{what}; 16-bit grayscale PNG, {w}x{h}, values {int(arr.min())}..{int(arr.max())}",
                f"pydicom test file `{dcm_name}` (`pydicom.data.get_testdata_file`), "
                f"stored pixel values unchanged (no rescale, no windowing){crop_note}; {note}",
                licence,
            )
        )

    dicom_dir = out / "dicom"
    dicom_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(get_testdata_file("CT_small.dcm"), dicom_dir / "CT_small.dcm")
    entries.append(
        Entry(
            "dicom/CT_small.dcm",
            "CT slice, 128x128, 16-bit signed, Explicit VR Little Endian DICOM "
            "(RescaleIntercept -1024)",
            "pydicom test file `CT_small.dcm`, byte-for-byte copy",
            LIC_PYDICOM_NEMA,
        )
    )
    return entries


# --------------------------------------------------------------------------- text

CLINICAL_NOTES: list[tuple[str, str]] = [
    ("Chest X-ray shows a small right-sided pleural effusion.", "positive"),
    ("No evidence of pneumothorax.", "negative"),
    ("Mild cardiomegaly is noted on the frontal view.", "positive"),
    ("Lungs are clear; no focal consolidation, effusion, or pneumothorax.", "negative"),
    ("CT demonstrates a 6 mm nodule in the right upper lobe.", "positive"),
    ("No acute fracture or dislocation is identified.", "negative"),
    ("There is a displaced fracture of the left distal radius.", "positive"),
    ("Heart size is within normal limits.", "negative"),
    ("Patchy consolidation in the left lower lobe, consistent with pneumonia.", "positive"),
    ("No intracranial hemorrhage or mass effect.", "negative"),
    ("ECG shows atrial fibrillation with a rapid ventricular response.", "positive"),
    ("The patient denies chest pain, shortness of breath, or palpitations.", "negative"),
    ("Ultrasound reveals gallstones without gallbladder wall thickening.", "positive"),
    ("Abdominal ultrasound is unremarkable.", "negative"),
    ("MRI shows a small area of restricted diffusion in the left frontal lobe.", "positive"),
    ("No suspicious pulmonary nodules are seen.", "negative"),
    ("Blood cultures grew Staphylococcus aureus.", "positive"),
    ("Blood cultures show no growth after five days.", "negative"),
    ('Patient describes the chest pain as "pressure-like", radiating to the left arm.', "positive"),
    ("Negative for deep vein thrombosis in both legs.", "negative"),
    ("Moderate degenerative changes at L4-L5 with disc space narrowing.", "positive"),
    ("Troponin is within the reference range.", "negative"),
    ("Hemoglobin is low at 8.9 g/dL, suggesting anemia.", "positive"),
    ('The patient reports feeling "completely fine" today.', "negative"),
    ("A 2 cm hypodense lesion is seen in segment VI of the liver.", "positive"),
    ("No signs of infection at the surgical site.", "negative"),
    ("Bilateral lower limb edema, worse on the right.", "positive"),
    ("ECG shows normal sinus rhythm without ST changes.", "negative"),
    ("Urinalysis is positive for nitrites and leukocyte esterase.", "positive"),
    ("Liver and spleen are normal in size and echotexture.", "negative"),
    ("Echocardiogram shows a reduced ejection fraction of 35%.", "positive"),
    ("There is no free fluid in the pelvis.", "negative"),
    ("There is a small subdural hematoma along the right convexity.", "positive"),
    ("Urinalysis is negative for protein and blood.", "negative"),
    ("The wound is red, warm, and draining purulent fluid.", "positive"),
    ("MRI of the brain shows no abnormal enhancement.", "negative"),
    ("Fundoscopy shows dot-and-blot hemorrhages in both eyes.", "positive"),
    ("Skin is intact, with no rash or lesions.", "negative"),
    ("Troponin is elevated on repeat testing.", "positive"),
    ("Pulmonary embolism was ruled out on CT angiography.", "negative"),
]

DOCS: dict[str, dict[str, str]] = {
    "weather": {
        "morning_fog.txt": (
            "Thick fog settled over the valley before dawn. By nine o'clock the sun had burned\n"
            "through it, and the temperature climbed from 4 °C to a mild 12 °C by noon.\n"
        ),
        "storm_warning.txt": (
            "A line of thunderstorms is expected to cross the coast this evening.\n"
            "Gusts may reach 80 km/h, with heavy rain and a risk of local flooding.\n"
            "Secure loose objects in gardens and avoid travel after dark if you can.\n"
        ),
        "dry_spell.txt": (
            "It has not rained for three weeks. The reservoirs are low, the lawns have\n"
            "turned brown, and farmers are watching the sky. Forecasters see no change\n"
            "before the weekend.\n"
        ),
    },
    "cooking": {
        "pancakes.txt": (
            "Whisk one egg with a cup of milk and a cup of flour until smooth.\n"
            "Rest the batter for ten minutes, then fry thin rounds in a hot buttered pan,\n"
            "turning once when bubbles appear on the surface.\n"
        ),
        "tomato_soup.txt": (
            "Soften an onion in olive oil, add a kilo of chopped tomatoes and a pinch of salt,\n"
            "and simmer for twenty minutes. Blend, season with pepper, and finish with a\n"
            "spoonful of crème fraîche.\n"
        ),
        "roast_vegetables.txt": (
            "Cut carrots, parsnips and red onions into even pieces. Toss them with oil and\n"
            "thyme, spread them on a tray, and roast at 200 °C for forty minutes, turning\n"
            "them halfway through.\n"
        ),
    },
}


def make_text(out: Path) -> list[Entry]:
    entries: list[Entry] = []
    text_dir = out / "text"
    text_dir.mkdir(parents=True, exist_ok=True)
    n_pos = sum(1 for _, label in CLINICAL_NOTES if label == "positive")
    n_neg = len(CLINICAL_NOTES) - n_pos

    jsonl = text_dir / "clinical_notes.jsonl"
    with jsonl.open("w", encoding="utf-8", newline="\n") as f:
        for text, label in CLINICAL_NOTES:
            f.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")
    entries.append(
        Entry(
            "text/clinical_notes.jsonl",
            f"{len(CLINICAL_NOTES)} short clinical-style sentences, fields `text`, `label` "
            f"(`positive` = finding present: {n_pos}; `negative` = finding absent, mostly "
            f"negations such as 'No evidence of ...': {n_neg}); UTF-8, one JSON object per line",
            "Written for augcli (fictional, no patient data)",
            LIC_OWN,
        )
    )

    csv_path = text_dir / "clinical_notes.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        writer.writerow(["text", "label"])
        writer.writerows(CLINICAL_NOTES)
    entries.append(
        Entry(
            "text/clinical_notes.csv",
            "Same rows as the JSONL; header `text,label`; RFC 4180 quoting (fields with "
            'commas are quoted, embedded quotes doubled as `""`)',
            "Written for augcli",
            LIC_OWN,
        )
    )

    for cls, docs in DOCS.items():
        for name, body in docs.items():
            path = text_dir / "docs" / cls / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body, encoding="utf-8", newline="\n")
            non_ascii = "" if body.isascii() else " (contains non-ASCII: UTF-8)"
            entries.append(
                Entry(
                    f"text/docs/{cls}/{name}",
                    f"Short plain-text document, class `{cls}`{non_ascii}",
                    "Written for augcli",
                    LIC_OWN,
                )
            )
    return entries


# --------------------------------------------------------------------------- audio


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def synth(text: str, voice: str, speed: int, pitch: int, rate: int, tmp: Path) -> np.ndarray:
    """espeak-ng -> sox (trim silence, resample to ``rate``) -> float32 mono samples."""
    raw = tmp / "raw.wav"
    trimmed = tmp / "trimmed.wav"
    run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(raw), text])
    run(
        [
            "sox",
            "-D",  # no dither: deterministic output
            "-V1",
            str(raw),
            "-e",
            "floating-point",
            "-b",
            "32",
            "-c",
            "1",
            str(trimmed),
            "silence",
            "1",
            "0.01",
            "0.1%",
            "reverse",
            "silence",
            "1",
            "0.01",
            "0.1%",
            "reverse",
            "rate",
            "-v",
            str(rate),
        ]
    )
    samples, sr = sf.read(trimmed, dtype="float32", always_2d=False)
    if sr != rate:
        raise RuntimeError(f"sox produced {sr} Hz, expected {rate}")
    return samples


def finish(samples: np.ndarray, rate: int, min_s: float = 0.6, margin_s: float = 0.1) -> np.ndarray:
    """Pad with silence (``margin_s`` each side, at least ``min_s`` total), peak -1 dBFS."""
    margin = round(margin_s * rate)
    total = max(len(samples) + 2 * margin, round(min_s * rate))
    left = (total - len(samples)) // 2
    out = np.zeros(total, dtype=np.float32)
    out[left : left + len(samples)] = samples
    peak = float(np.max(np.abs(out)))
    if peak > 0:
        out *= np.float32(10 ** (-1 / 20) / peak)
    return out


@dataclass(frozen=True)
class Clip:
    path: str
    text: str
    voice: str
    speed: int
    pitch: int


CLIPS: list[Clip] = [
    Clip("yes/yes_en-us.wav", "yes", "en-us", 160, 50),
    Clip("yes/yes_please_en-gb.wav", "yes please", "en-gb", 140, 45),
    Clip("yes/yes_slow_en-us+f3.wav", "yes", "en-us+f3", 100, 60),
    Clip("yes/yes_sure_en-gb-scotland+m3.wav", "yes, sure", "en-gb-scotland+m3", 190, 40),
    Clip("no/no_en-us.wav", "no", "en-us", 160, 50),
    Clip("no/no_thank_you_en-gb.wav", "no thank you", "en-gb", 150, 45),
    Clip("no/no_slow_en-us+f2.wav", "no", "en-us+f2", 100, 65),
    Clip("no/no_not_really_en-029+m2.wav", "no, not really", "en-029+m2", 180, 40),
]


def write_float32_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """Mono IEEE-float WAV (fmt tag 3 + fact chunk).

    Written by hand because libsndfile adds a PEAK chunk with a wall-clock timestamp to
    float WAVs, which would make the file differ on every run.
    """
    pcm = np.ascontiguousarray(samples, dtype="<f4").tobytes()
    # WAVE_FORMAT_IEEE_FLOAT, mono; cbSize=0 (18-byte fmt, as the spec wants for non-PCM)
    fmt = struct.pack("<HHIIHHH", 3, 1, rate, rate * 4, 4, 32, 0)
    fact = struct.pack("<I", len(samples))
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"fact"
        + struct.pack("<I", len(fact))
        + fact
        + b"data"
        + struct.pack("<I", len(pcm))
        + pcm
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def make_audio(out: Path) -> list[Entry]:
    entries: list[Entry] = []
    audio = out / "audio"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for clip in CLIPS:
            y = finish(synth(clip.text, clip.voice, clip.speed, clip.pitch, 16000, tmp), 16000)
            path = audio / clip.path
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, y, 16000, subtype="PCM_16", format="WAV")
            entries.append(
                Entry(
                    f"audio/{clip.path}",
                    f'Speech "{clip.text}"; WAV, 16 kHz, mono, PCM_16, {len(y) / 16000:.2f} s',
                    f"espeak-ng voice `{clip.voice}`, speed {clip.speed} wpm, pitch {clip.pitch}; "
                    "sox: trim silence, resample (rate -v); padded, peak -1 dBFS",
                    LIC_ESPEAK,
                )
            )

        # Stereo 44.1 kHz FLAC: two different voices saying "yes", one per channel.
        left = synth("yes", "en-us", 150, 50, 44100, tmp)
        right = synth("yes", "en-us+f4", 150, 70, 44100, tmp)
        n = max(len(left), len(right))
        stereo = np.zeros((n, 2), dtype=np.float32)
        stereo[: len(left), 0] = left
        stereo[: len(right), 1] = right
        padded = np.stack([finish(stereo[:, c], 44100) for c in range(2)], axis=1)
        flac = audio / "yes" / "yes_stereo_44k.flac"
        sf.write(flac, padded, 44100, subtype="PCM_16", format="FLAC")
        entries.append(
            Entry(
                "audio/yes/yes_stereo_44k.flac",
                f'Speech "yes"; FLAC, 44.1 kHz, stereo, PCM_16, {len(padded) / 44100:.2f} s; '
                "left channel voice `en-us`, right channel voice `en-us+f4` (channels differ)",
                "espeak-ng (speed 150) x2; sox: trim silence, resample to 44100 Hz; "
                "each channel padded, peak -1 dBFS",
                LIC_ESPEAK,
            )
        )

        # Float32 WAV at espeak-ng's native 22050 Hz (no resampling).
        y = finish(synth("no thanks", "en-gb+m4", 150, 45, 22050, tmp), 22050)
        fwav = audio / "no" / "no_thanks_float32.wav"
        write_float32_wav(fwav, y, 22050)
        entries.append(
            Entry(
                "audio/no/no_thanks_float32.wav",
                f'Speech "no thanks"; WAV, 22.05 kHz, mono, FLOAT (32-bit IEEE float), '
                f"{len(y) / 22050:.2f} s",
                "espeak-ng voice `en-gb+m4`, speed 150; sox: trim silence; padded, peak -1 dBFS",
                LIC_ESPEAK,
            )
        )
    return entries


# --------------------------------------------------------------------------- README

README_HEAD = """\
# sample_data

Small, **real** (not random) samples for trying and testing augcli, one folder per
class. Everything here may be redistributed; every file's source and licence is in
the table below. `images/scene/china.jpg` (CC BY 2.0) requires its attribution to be
kept, and `images/medical/mr_abdomen_u16.png` (BSD-3-Clause) requires the GDCM notice
at the end of this file to be kept.

*Generated by `scripts/make_sample_data.py` — do not edit by hand; change the script
and run `python scripts/make_sample_data.py sample_data` (dev dependencies are listed
in the script's docstring).*

## Layout

```
images/scene/      8-bit photos: RGB JPEG, RGBA PNG, grayscale PNG, EXIF-rotated JPEG
images/texture/    8-bit grayscale textures: PNG and a 1-component JPEG
images/medical/    16-bit grayscale PNGs from DICOM test files (true stored values)
dicom/             one small DICOM file (CT_small.dcm)
text/              clinical_notes.jsonl / .csv (labels positive|negative)
text/docs/<class>/ short plain-text documents (weather, cooking)
audio/yes/, audio/no/  espeak-ng speech: 16 kHz mono PCM_16 WAV, plus one stereo
                   44.1 kHz FLAC (yes/) and one 22.05 kHz float32 WAV (no/)
```

## Things to know

- **`images/scene/coffee_exif6.jpg`** carries EXIF Orientation = 6. Its stored pixels
  are a portrait image with the cup lying on its side (rotated 90° counter-clockwise);
  a reader that honours EXIF orientation (e.g. `PIL.ImageOps.exif_transpose`,
  `cv2.imread(path, cv2.IMREAD_COLOR)`) must rotate it 90° clockwise and show a
  **landscape** picture with the cup **upright**. `cv2.IMREAD_UNCHANGED` and a plain
  `PIL.Image.open` return the stored (sideways) pixels.
- **`images/medical/*.png`** are 16-bit (`uint16`) grayscale PNGs holding the DICOM
  *stored* pixel values unchanged: no RescaleSlope/Intercept applied, no windowing.
  `CT_small.dcm` and `MR_small.dcm` are signed (PixelRepresentation = 1) but all of
  their stored values are non-negative, so **no offset was added** (the script would add
  +32768 to signed data containing negative values, and the table would say so). To get
  Hounsfield units for the CT add its RescaleIntercept (-1024). The values use only
  11-12 bits of the 16, so an 8-bit preview must rescale them. `mr_small_u16.png` is only
  64x64 px because the source DICOM is.
- Images from scikit-image/scikit-learn were resized (Lanczos) to 192-320 px on the long
  side; the 16-bit ones were not resampled (only cropped) so their values stay exact.
- Audio peaks at -1 dBFS, with ~0.1 s of silence on each side.
- Text files are UTF-8 with `\\n` line endings; `clinical_notes.csv` contains fields
  with commas and with embedded (doubled) quotes. The sentences are fictional and
  contain no patient data.

## Files

| path | what | source | licence |
| --- | --- | --- | --- |
"""

README_TAIL = """
## Licence sources

- **scikit-image** (`skimage/data/*`): the wheel's `skimage/data/README.txt` carries no
  licence text; each image's licence is stated in the docstring of its loader in
  `skimage/data/_fetchers.py` (quoted in the table). Only images stated there as CC0
  or public domain are used. Not used: `logo.png` (no licence statement for the
  scikit-image logo), `coins.png` ("no known copyright restrictions" only).
- **scikit-learn** (`sklearn/datasets/images/README.txt`): `china.jpg` is CC BY 2.0,
  "Some rights reserved by danielbuechele",
  https://www.flickr.com/photos/danielbuechele/6061409035/ .
  `flower.jpg` is not used (its README entry names the same author but links a
  different Flickr account).
- **pydicom** (`pydicom/data/test_files/README.txt`): for its test files the author
  writes "I believe there is no restriction on using any of these files in this manner";
  `CT_small.dcm` / `MR_small.dcm` are downsized NEMA WG04 sample images;
  `examples_overlay.dcm` is a cropped copy of GDCM's `MR-SIEMENS-DICOM-WithOverlays.dcm`,
  used under GDCM's BSD-3-Clause licence (Copyright (c) 2006-2016 Mathieu Malaterre,
  Copyright (c) 1993-2005 CREATIS; full text below).
- **espeak-ng** output and all text were made for augcli and are dedicated to the public
  domain under CC0 1.0.

## GDCM licence (for `images/medical/mr_abdomen_u16.png`)

As quoted in pydicom's `data/test_files/README.txt`:

```
Program: GDCM (Grassroots DICOM). A DICOM library

Copyright (c) 2006-2016 Mathieu Malaterre
Copyright (c) 1993-2005 CREATIS
(CREATIS = Centre de Recherche et d'Applications en Traitement de l'Image)
All rights reserved.

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

 * Redistributions of source code must retain the above copyright notice,
   this list of conditions and the following disclaimer.

 * Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer in the documentation
   and/or other materials provided with the distribution.

 * Neither name of Mathieu Malaterre, or CREATIS, nor the names of any
   contributors (CNRS, INSERM, UCB, Universite Lyon I), may be used to
   endorse or promote products derived from this software without specific
   prior written permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS ``AS IS''
AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE
ARE DISCLAIMED. IN NO EVENT SHALL THE AUTHORS OR CONTRIBUTORS BE LIABLE FOR
ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
```
"""


def write_readme(out: Path, entries: list[Entry]) -> None:
    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    rows = [
        f"| `{e.path}` | {cell(e.what)} | {cell(e.source)} | {cell(e.licence)} |"
        for e in sorted(entries, key=lambda e: e.path)
    ]
    (out / "README.md").write_text(
        README_HEAD + "\n".join(rows) + "\n" + README_TAIL, encoding="utf-8", newline="\n"
    )


# --------------------------------------------------------------------------- checks


def verify(out: Path, entries: list[Entry]) -> None:
    """Fail loudly if a file is not what the README claims."""
    import cv2  # only needed for the check

    listed = {e.path for e in entries} | {"README.md"}
    on_disk = {p.relative_to(out).as_posix() for d in MANAGED_DIRS for p in (out / d).rglob("*")}
    on_disk = {p for p in on_disk if (out / p).is_file()} | {"README.md"}
    if listed != on_disk:
        raise AssertionError(f"README/disk mismatch: {sorted(listed ^ on_disk)}")

    for p in sorted((out / "images").rglob("*")):
        if not p.is_file():
            continue
        a = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        assert a is not None, p
        if "medical" in p.parts:
            assert a.dtype == np.uint16 and a.ndim == 2, (p, a.dtype, a.shape)
            assert len(np.unique(a)) > 500 and int(a.max()) > 255, (p, "no real 16-bit spread")
        else:
            assert a.dtype == np.uint8, (p, a.dtype)
    rgba = cv2.imread(str(out / "images/scene/chelsea_rgba.png"), cv2.IMREAD_UNCHANGED)
    assert rgba.ndim == 3 and rgba.shape[2] == 4, rgba.shape
    assert rgba[..., 3].min() == 0 and rgba[..., 3].max() == 255
    for gray in ("scene/camera_gray.png", "texture/brick.png", "texture/grass_gray.jpg"):
        g = cv2.imread(str(out / "images" / gray), cv2.IMREAD_UNCHANGED)
        assert g.ndim == 2, (gray, g.shape)

    exif_path = out / "images/scene/coffee_exif6.jpg"
    with Image.open(exif_path) as im:
        assert im.getexif().get(EXIF_ORIENTATION_TAG) == 6
        stored_size = im.size
        upright = ImageOps.exif_transpose(im)
    assert stored_size[1] > stored_size[0] and upright.size == stored_size[::-1]
    ref = resize_long_side(Image.fromarray(skdata.coffee()).convert("RGB"), 240)
    diff = np.abs(np.asarray(upright, np.int16) - np.asarray(ref, np.int16)).mean()
    assert diff < 8, f"EXIF-transposed coffee differs from upright original: {diff}"
    cv_color = cv2.imread(str(exif_path), cv2.IMREAD_COLOR)
    assert cv_color.shape[:2] == (upright.size[1], upright.size[0]), cv_color.shape

    expect = {
        ".wav": None,
        ".flac": (44100, 2, "PCM_16"),
    }
    for p in sorted((out / "audio").rglob("*.*")):
        info = sf.info(str(p))
        if p.name == "no_thanks_float32.wav":
            want = (22050, 1, "FLOAT")
        else:
            want = expect[p.suffix] or (16000, 1, "PCM_16")
        got = (info.samplerate, info.channels, info.subtype)
        assert got == want, (p, got, want)
        assert 0.5 <= info.duration <= 2.0, (p, info.duration)
    flac, _ = sf.read(str(out / "audio/yes/yes_stereo_44k.flac"))
    assert not np.allclose(flac[:, 0], flac[:, 1]), "stereo channels are identical"

    rows = list(csv.DictReader(io.StringIO((out / "text/clinical_notes.csv").read_text("utf-8"))))
    jsonl_lines = (out / "text/clinical_notes.jsonl").read_text("utf-8").splitlines()
    jrows = [json.loads(line) for line in jsonl_lines]
    assert rows == jrows and len(rows) == len(CLINICAL_NOTES)
    assert any("," in r["text"] for r in rows) and any('"' in r["text"] for r in rows)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="output directory, e.g. sample_data")
    args = parser.parse_args(argv)
    out: Path = args.out_dir
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} not found: apt-get install -y espeak-ng sox")
    out.mkdir(parents=True, exist_ok=True)
    for d in MANAGED_DIRS:
        shutil.rmtree(out / d, ignore_errors=True)

    entries = make_images(out)
    entries += make_detection(out) + make_text(out) + make_audio(out)
    write_readme(out, entries)
    verify(out, entries)

    total = 0
    for p in sorted(out.rglob("*")):
        if p.is_file():
            size = p.stat().st_size
            total += size
            print(f"{size:>8}  {p.relative_to(out).as_posix()}")
    print(f"{total:>8}  total bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
