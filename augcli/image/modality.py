"""The image modality: which files are images, how they are read and written."""

from __future__ import annotations

import functools
import hashlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from augcli import deidentify
from augcli.core.errors import InputError, UsageError
from augcli.core.findings import Finding
from augcli.core.folders import named_folders
from augcli.image import annotations, dicom
from augcli.image.checks import check_ops, over_limits
from augcli.image.io import EXTENSIONS, FORMATS, encode_image, read_image
from augcli.image.targets import Annotated
from augcli.modality import KEEP_FOREGROUND, MIRROR_CLASSES, NO_MIRROR, RETRIES, Modality
from augcli.params import Nullable, Param, check_resources

# 2**26 = 8192 x 8192: above any radiograph or mammogram (~40 MP at most) and 61-MP cameras.
# A 16-bit BGRA image is then 512 MB and a worker holds several at once (an op's float working
# copies, each copy's result): max_bytes bounds every image, inputs and op outputs alike.
DEFAULT_MAX_PIXELS = 1 << 26


class ImageModality(Modality):
    """8- and 16-bit gray, BGR and BGRA images in PNG, JPEG, TIFF, BMP and WebP, written in the
    input's own format or in ``format``; single-frame DICOM (with pydicom) in and out."""

    name = "image"
    preview = "augcli.image.preview"
    preload = ("cv2",)
    extensions = EXTENSIONS + dicom.EXTENSIONS
    settings = {
        "format": Nullable(
            kind="choice",
            default=None,
            choices=FORMATS,
            meaning="each input's own format",
            sampled=False,
            help="format of the outputs (by extension); null = the input's own. DICOM inputs "
            "are always written as DICOM",
        ),
        "max_pixels": Nullable(
            kind="int",
            default=DEFAULT_MAX_PIXELS,
            low=1,
            sampled=False,
            meaning="no limit",
            help="larger inputs (width x height x frames, read from the file header) fail "
            "without being decoded, and an output whose op would make a larger image fails "
            "before the op runs; null = no limit",
        ),
        "max_bytes": Nullable(
            kind="int",
            default=None,
            low=1,
            sampled=False,
            meaning="no limit of its own (max_pixels still bounds every image)",
            help="largest image in memory, in bytes (width x height x channels x 2 for 16-bit, "
            "1 for 8-bit): a decoded input over it fails, and so does an output whose op would "
            "make a larger image, before the op runs. A worker's peak is a few times this",
        ),
        "jpeg_quality": Param(
            kind="int",
            default=95,
            low=1,
            high=100,
            sampled=False,
            help="JPEG (and WebP) quality of written outputs",
        ),
        "fuse_geometry": Param(
            kind="bool",
            default=True,
            help="apply consecutive geometric ops as one warp (one resampling)",
        ),
        "png_compression": Param(
            kind="int",
            default=3,
            low=0,
            high=9,
            sampled=False,
            help="PNG zlib level of written outputs (lossless at any level)",
        ),
        "units": Param(
            kind="choice",
            default="stored",
            choices=("stored", "physical"),
            sampled=False,
            help="what ops' lengths and intensities are in: pixels and the stored levels, or "
            "(DICOM inputs) mm through PixelSpacing (ImagerPixelSpacing on a radiograph; at the "
            "current size after a resize) and the scanner's units through RescaleSlope/"
            "Intercept (HU on a CT). Each op's docs name the params it converts; the values "
            "as given are recorded under 'physical' beside the converted ones",
        ),
        "retries": RETRIES,
        "keep_foreground": KEEP_FOREGROUND,
        "no_mirror": NO_MIRROR,
        "mirror_classes": MIRROR_CLASSES,
    }

    extra_keys = (*annotations.KEYS, "deidentify", "folders")
    extra_schema = {  # read by augcli schema
        "deidentify": deidentify.SCHEMA,
        "folders": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "named folders of reference images (histogram_matching, fda, "
            "stain_normalize), relative to the recipe",
        },
    }

    @classmethod
    def parse_extra(cls, section: dict[str, Any], where: str, base: Path) -> dict[str, Any]:
        """The annotations' settings; ``deidentify`` (its salt read from the environment);
        ``folders`` of reference images, listed once."""
        raw = section.get("folders", {})
        return {
            "annotations": annotations.parse_config(section, where, base),
            "deidentify": deidentify.parse(section.get("deidentify"), f"{where}.deidentify"),
            "folders": _folders(raw, f"{where}.folders", base),
            "folder_roots": tuple(str((base / d).resolve()) for d in raw.values())
            if isinstance(raw, dict)
            else (),
        }

    @property
    def profile(self) -> deidentify.Profile | None:
        """The de-identification written DICOM gets (None: off). Other formats: no effect."""
        return self.config.get("deidentify")

    @property
    def annotations(self) -> annotations.AnnotationConfig:
        return self.config.get("annotations") or annotations.AnnotationConfig()

    def label_fix(self, example: Any) -> str | None:
        """With no ``masks``: masks are read from a folder of their own."""
        if self.annotations.masks is not None:
            return None
        if example.suffix:
            return (
                f"Move the {example.suffix} files to a folder of their own (same subfolders) "
                f"and add masks: {{dir: <that folder>, suffix: {example.suffix}}}."
            )
        return (
            "Point input: at the images' folder and add masks: {dir: <the masks' folder>} "
            f"(here {example.folder}/), both relative to the recipe."
        )

    def ignored_dirs(self) -> list[Path]:
        """The masks' folder and a YOLO/VOC labels' folder (``boxes.dir``), when not the input's."""
        cfg = self.annotations
        dirs = [cfg.masks.dir] if cfg.masks is not None else []
        if cfg.boxes is not None and cfg.boxes.dir is not None:
            dirs.append(cfg.boxes.dir)
        dirs += [Path(p) for p in self.config.get("folder_roots", ())]
        return [d for d in dirs if d.resolve() != self.input_root.resolve()]

    def claims(self, relpath: str) -> bool:
        """Sidecars, YOLO's classes.txt/data.yaml and the COCO file: read with the images."""
        from augcli.image import yolo_files

        exts = (*EXTENSIONS, *dicom.EXTENSIONS)
        return yolo_files.is_side_file(self.annotations, self.input_root, relpath, exts)

    def check_files(self) -> None:
        """The COCO file, read and checked whole (polygons, no RLE masks) before any work."""
        boxes = self.annotations.boxes
        if boxes is not None and boxes.format == "coco":
            try:
                annotations.coco_index(self.annotations)
            except InputError as exc:
                raise UsageError(str(exc)) from None

    def missing_inputs(self, found: set[str]) -> list[tuple[str, str]]:
        boxes = self.annotations.boxes
        if boxes is None or boxes.format != "coco":
            return []
        index = annotations.coco_index(self.annotations)
        return [
            (name, f"listed in {boxes.file} but not found in the input folder")
            for name in sorted(index.file_names())
            if name not in found
        ]

    def applier(self) -> Any:
        from augcli.image.annotate import ImageApplier

        cfg = self.annotations
        names = None
        if cfg.flip_pairs and cfg.boxes is not None and cfg.boxes.format == "coco":
            names = annotations.coco_index(cfg).keypoint_names()
        masks = cfg.masks
        applier = ImageApplier(annotations.flip_indices(cfg, names), masks.fill if masks else 0)
        applier.limit = self.check_made
        return applier

    @classmethod
    def check_graph(cls, settings: dict[str, Any], graph: Any, where: str) -> None:
        check_ops(settings, graph, where, DEFAULT_MAX_PIXELS)

    def limits(self) -> tuple[int | None, int | None]:
        """(max_pixels, max_bytes) of this recipe's image section."""
        return (
            self.config.get("max_pixels", DEFAULT_MAX_PIXELS),
            self.config.get("max_bytes"),
        )

    def check_made(self, op: str, info: dict[str, Any]) -> None:
        """Refuse the image ``op`` would make (``info``: its declared size) over the limits."""
        over = over_limits(info, *self.limits())
        if over is not None:
            setting, size = over
            raise InputError(
                f"{op} would make a {size}, over image.{setting}: {self.config.get(setting):,}, "
                f"so this output was not made. Make {op}'s output smaller, or raise "
                f"image.{setting} in the recipe (null = no limit)"
            )

    def keep_original(self, data: Any, out_rel: str) -> dict[str, Any]:
        if not isinstance(data, Annotated):
            return {}
        return {"annotations": annotations.save(self.annotations, self.output_root, out_rel, data)}

    def dataset_files(self) -> list[str]:
        """The COCO document; YOLO's classes.txt and data.yaml when the input has them."""
        from augcli.image import yolo_files

        boxes = self.annotations.boxes
        copied = [rel for _, rel in yolo_files.dataset_files(self.annotations, self.input_root)]
        return [boxes.output] if boxes is not None and boxes.format == "coco" else copied

    def finalize(self, records: Callable[[], list[dict[str, Any]]]) -> list[str]:
        """YOLO's dataset files copied; the COCO document written from the records."""
        from augcli.image import yolo_files

        cfg = self.annotations
        files = yolo_files.dataset_files(cfg, self.input_root)
        copied = yolo_files.copy_files(files, self.input_root, self.output_root)
        if cfg.boxes is None or cfg.boxes.format != "coco":
            return copied  # no COCO document: the records are not even parsed
        written = annotations.write_coco(cfg, self.output_root, records())
        return [written] if written else []

    def check_installed(self, relpaths: list[str]) -> None:
        """DICOM inputs need pydicom 3 (the ``dicom`` extra): refused here, by file, so that
        ``validate`` fails exactly where ``expand`` would, and before any input is read."""
        first = next((r for r in relpaths if dicom.is_dicom(Path(r))), None)
        if first is not None:
            dicom.check_installed(first)

    def preload_modules(self, sources: list[str]) -> tuple[str, ...]:
        """cv2 always; pydicom only when there are DICOM inputs (it costs ~0.13 s, ~15 MiB)."""
        if any(dicom.is_dicom(Path(s)) for s in sources):
            return (*self.preload, "pydicom")
        return self.preload

    def environment(self) -> dict[str, str]:
        """OpenCV's own decoder guard (``max_pixels``), a backstop for headers augcli cannot
        parse. OpenCV reads it once, when it is loaded, so it is set only where OpenCV is not
        loaded yet: one process never mixes two recipes' limits."""
        limit = self.config.get("max_pixels", DEFAULT_MAX_PIXELS)
        if limit is None or "cv2" in sys.modules:
            return {}
        return {"OPENCV_IO_MAX_IMAGE_PIXELS": str(limit)}

    def setup_process(self, pooled: bool) -> None:
        if pooled:
            import cv2

            cv2.setNumThreads(1)  # the pool is the parallelism; avoid oversubscribing cores

    def setting_findings(self, inputs: list[Any], where: Callable[[str], str]) -> list[Finding]:
        """Besides ``no_mirror``'s: under ``units: physical``, the inputs that are not DICOM
        (no spacing or rescale: each would fail)."""
        out = super().setting_findings(inputs, where)
        if self.config.get("units") != "physical":
            return out
        plain = [
            f.relpath
            for f in inputs
            if f.modality == self.name and not dicom.is_dicom(self.input_root / f.relpath)
        ]
        if plain:
            shown = ", ".join(plain[:5]) + (
                f" (and {len(plain) - 5} more)" if len(plain) > 5 else ""
            )
            out.append(
                Finding(
                    "parameters",
                    f"{where(self.name + '.units')}: physical, but {len(plain)} input(s) are "
                    f"not DICOM and have no pixel spacing or rescale, so each would fail: {shown}. "
                    "Exclude them, or put them in a section with units: stored",
                    self.name,
                    files=tuple(plain),
                )
            )
        return out

    def near_duplicates(self, relpaths: list[str], digests: dict[str, str]) -> list[Finding]:
        from augcli.image.similar import near_duplicate_images

        return near_duplicate_images(relpaths, self.input_root, digests, self.decode)

    def context(self, path: Path) -> dict[str, Any]:
        """A DICOM's ``background`` (PixelPaddingValue, air on a CT without one) in the units
        ops see; under ``units: physical`` its spacing and rescale (None: not a DICOM)."""
        is_dicom = dicom.is_dicom(path)
        out: dict[str, Any] = {"folders": self.config.get("folders") or {}}
        if out["folders"]:
            out["reference"] = self.reference
        background = dicom.background(path) if is_dicom else None
        if background is not None:
            out["background"] = background
        if self.config.get("units") == "physical":
            out["units"] = "physical"
            out["physical"] = dicom.physical(path) if is_dicom else None
        return out

    def reference(self, path: str) -> np.ndarray:
        """A reference image of the section's ``folders`` (pixels only), decoded once per
        process: ops that match an input to it draw their statistics from it in ``sample``."""
        return _reference(path, self.limits())

    def output_suffix(self, source_suffix: str) -> str:
        fmt = self.config.get("format")
        if fmt is None or source_suffix.lower() in dicom.EXTENSIONS:
            return source_suffix
        return f".{fmt}"

    def decode(self, path: Path) -> Any:
        """The pixels of one input (DICOM or an image file), without its annotations."""
        max_pixels, max_bytes = self.limits()
        if dicom.is_dicom(path):
            image = dicom.read_dicom(path, max_pixels, self.profile)
        else:
            image = read_image(path, max_pixels)
        over = over_limits(self.info(image), None, max_bytes)
        if over is not None:
            raise InputError(
                f"image is over the memory limit (image.max_bytes: {max_bytes:,}); got a "
                f"{over[1]} decoded. Raise image.max_bytes in the recipe (null = no limit) to "
                "process it"
            )
        return image

    def read(self, path: Path) -> Any:
        image = self.decode(path)
        cfg = self.annotations
        if not cfg.active:
            return image
        relpath = path.relative_to(self.input_root).as_posix()
        return annotations.load(cfg, self.input_root, relpath, image, self.links_outside)

    def write(self, data: Any, path: Path, source: Path, meta: dict[str, Any]) -> str | None:
        if isinstance(data, Annotated):
            saved = annotations.save(self.annotations, self.output_root, meta["output"], data)
            meta["record"] = {"annotations": saved}
            data = data.image
        if dicom.is_dicom(source):
            key = self.config.get("recipe_key", "")
            dicom.write_dicom(data, path, source, meta, self.profile, key)
            return None
        encoded = self.encode(data, path.suffix)
        path.write_bytes(encoded)
        return hashlib.sha256(encoded).hexdigest()

    def encode(self, image: Any, suffix: str) -> bytes:
        """The bytes ``write`` stores for a (non-DICOM) image, with this recipe's settings."""
        return encode_image(
            image,
            suffix,
            self.config.get("jpeg_quality", 95),
            self.config.get("png_compression", 3),
        )

    def implausible(self, graph: Any, relpaths: list[str]) -> list[tuple[Any, str, str]]:
        """As every modality, with the decoders' own lines kept off stderr (the near-duplicate
        check reports them as warnings naming the file)."""
        from augcli.image.decode import decoder_notes

        with decoder_notes():
            return super().implausible(graph, relpaths)

    def facts(self, path: Path, data: Any) -> dict[str, Any]:
        """The image's full scale (255 for 8-bit, the bit depth in use for 16-bit) and, when its
        colour channels hold exactly two values, those two (a mask stored as an image)."""
        from augcli.image.ops.arrays import full_scale

        image = data.image if isinstance(data, Annotated) else data
        color = image[..., :3] if image.ndim == 3 and image.shape[2] == 4 else image
        lo, hi = (int(color.min()), int(color.max())) if color.size else (0, 0)
        two = lo != hi and not np.any((color != lo) & (color != hi))
        return {
            "dtype": str(image.dtype),
            "channels": 1 if image.ndim == 2 else int(image.shape[2]),
            "full_scale": full_scale(color),
            "two_values": (lo, hi) if two else None,
        }

    def content(self, data: Any) -> tuple[Any, ...]:
        """The pixels and, when annotated, the mask and the objects (boxes, keypoints and
        labels): an output whose boxes moved on a symmetric image is a new output."""
        if not isinstance(data, Annotated):
            return (data,)
        parts = [data.image] + ([] if data.mask is None else [data.mask])
        objs = data.objects
        if objs is not None:
            parts += [objs.boxes, np.frombuffer(repr(objs.labels).encode(), np.uint8)]
            parts += [] if objs.keypoints is None else [objs.keypoints]
        return tuple(parts)

    def info(self, data: Any) -> dict[str, Any]:
        """Size, channels and dtype; for an annotated image also its ``mask`` and ``boxes``
        (the arrays themselves, for random_crop's foreground; None when it has none)."""
        ann = data if isinstance(data, Annotated) else None
        image = data.image if ann is not None else data
        out = {
            "height": int(image.shape[0]),
            "width": int(image.shape[1]),
            "channels": 1 if image.ndim == 2 else int(image.shape[2]),
            "dtype": str(image.dtype),
        }
        if ann is not None:
            out["mask"] = ann.mask
            out["boxes"] = None if ann.objects is None else ann.objects.boxes
        return out

    def foreground(self, data: Any, matrix: Any = None) -> float | None:
        """Mask pixels > 0 (the mask's fill value excepted), else the area of the boxes and
        polygons that would be written (``min_visibility``), in source pixels: divided by the
        area scale of ``matrix`` (a crop resized back to full size has not grown its lesion).
        None for an image without annotations."""
        from augcli.image.annotate import foreground_area

        if not isinstance(data, Annotated) or (data.mask is None and data.objects is None):
            return None
        boxes, masks = self.annotations.boxes, self.annotations.masks
        area = foreground_area(
            data,
            masks.fill if masks is not None else 0,
            boxes.min_visibility if boxes is not None else 0.0,
        )
        return area / area_scale(matrix)


def area_scale(matrix: Any) -> float:
    """How many output pixels a source pixel became under ``matrix`` (3x3, source to output;
    its Jacobian at the origin for a perspective one); 1 for None."""
    if matrix is None:
        return 1.0
    m = np.asarray(matrix, dtype=np.float64)
    scale = abs(float(np.linalg.det(m))) / abs(float(m[2, 2])) ** 3
    return scale if scale > 0 else 1.0


@functools.lru_cache(maxsize=16)
def _reference(path: str, limits: tuple[int | None, int | None]) -> np.ndarray:
    image = read_image(Path(path), limits[0])
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[..., :3]
    return image


def _folders(raw: Any, where: str, base: Path) -> dict[str, tuple[str, ...]]:
    """The section's reference folders, listed; for ``replay`` (whose ops take what they
    used from their recorded params) only their names, so a folder since moved is no error."""
    if not check_resources() and isinstance(raw, dict):
        return {str(name): () for name in raw}
    return named_folders(raw, where, base, EXTENSIONS, "images", "{site_b: ../site_b}")
