"""The volume modality: CT and MRI scans (NIfTI-1/2, NRRD, MetaImage; 3-D and 4-D) read with
their geometry, each with its label map when the recipe names one, and written back in their
own format, dtype and header (``augcli.volume.io``)."""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from augcli import deidentify, dicomkit
from augcli.core.atomic import atomic_path
from augcli.core.errors import InputError, RecipeError, UsageError
from augcli.core.findings import Finding
from augcli.modality import KEEP_FOREGROUND, MIRROR_CLASSES, NO_MIRROR, RETRIES, Modality
from augcli.params import Nullable, Param
from augcli.volume import dicom, dicom_write, io, memory
from augcli.volume.base import Volume

# 2**28 voxels: a 512x512x1024 CT, 512 MiB as int16 and 1 GiB as float32; a worker holds about
# three times its input while resampling.
DEFAULT_MAX_VOXELS = 1 << 28
GEOMETRY_TOL_MM = 1e-3  # origin and spacing of a label map may differ from its image by this
DIRECTION_TOL = 1e-4


@dataclass(frozen=True)
class LabelConfig:
    """Where each case's label map is: ``dir`` (None: beside the image in the input folder),
    the name's ``suffix`` before the extension, and ``output`` (None: beside each output)."""

    dir: Path | None
    suffix: str
    output: str | None


class VolumeModality(Modality):
    """CT and MRI volumes in NIfTI, NRRD and MetaImage, 3-D or 4-D, with optional label maps:
    read with SimpleITK/nibabel, written in the input's own format, dtype and header."""

    name = "volume"
    preview = "augcli.volume.preview"
    preload = ("SimpleITK",)
    extensions = io.EXTENSIONS
    extra_keys = ("labels", "deidentify")
    extra_schema = {"deidentify": deidentify.SCHEMA}
    plan_note = "volumes keep format, dtype, geometry and header; label maps move with them"
    settings = {
        "max_voxels": Nullable(
            kind="int",
            default=DEFAULT_MAX_VOXELS,
            low=1,
            sampled=False,
            meaning="no limit",
            help="larger volumes (x * y * z * frames, read from the header before any voxel) "
            "fail without being loaded; null = no limit",
        ),
        "max_workers": Nullable(
            kind="int",
            default=None,
            low=1,
            sampled=False,
            meaning="as many as this machine's available memory holds for the largest case",
            help="worker processes that run volume tasks at once; null (default): as many "
            "as the available memory holds, each at its peak on the largest case (from the "
            "headers; `validate` says the number and why). Set it for a Dask cluster, whose "
            "workers' memory the planning machine cannot see",
        ),
        "units": Param(
            kind="choice",
            default="stored",
            choices=("stored", "physical"),
            sampled=False,
            help="what intensity parameters (noise std and mean, rescale's window and output "
            "range) are in: the stored voxel values, or physical units through the file's "
            "slope and intercept (HU for a CT whose stored values are offset by 1024). "
            "Lengths are always mm and angles degrees",
        ),
        "retries": RETRIES,
        "keep_foreground": KEEP_FOREGROUND,
        "no_mirror": NO_MIRROR,
        "mirror_classes": MIRROR_CLASSES,
    }

    # -- which files, and their names -----------------------------------------------------------
    @classmethod
    def inspects(cls, relpath: str) -> bool:
        """DICOM files (``.dcm``, ``.dicom``, or no suffix): told apart by their headers."""
        return io.is_dicom(relpath)

    @classmethod
    def inspect(cls, root: Path, relpath: str) -> str | None:
        """A multi-frame DICOM image: an input; a series' first slice (by name): an input
        standing for its folder (``folder``: classed by the folder above); a series' other
        slices: parts of it; a lone slice: not a volume (the image section's)."""
        if not _installed("pydicom"):  # refused by check_installed, with the fix
            return "input" if relpath.lower().endswith(dicom.SUFFIXES) else None
        return dicom.role(root / relpath)

    def output_parts(self, relpath: str) -> tuple[str, str, str]:
        """A DICOM series is named by its folder and written as a folder of slices:
        ``ct/IM1.dcm`` (and the rest of its series) -> ``ct__aug_0/0001.dcm``, ...; other
        inputs by their file name (``brain.nii.gz`` -> ``brain__aug_0.nii.gz``)."""
        if io.is_dicom(relpath) and dicom.is_series(self.input_root / relpath):
            return _series_parts(relpath)
        return super().output_parts(relpath)

    @classmethod
    def digest(cls, path: Path) -> str:
        """A series' digest covers every slice, so editing any one of them makes it new."""
        return dicom.digest(path) if io.is_dicom(path.name) else super().digest(path)

    @classmethod
    def stamp(cls, path: Path) -> tuple[int, int]:
        """A series': its slices' total size and latest mtime."""
        return dicom.stamp(path) if io.is_dicom(path.name) else super().stamp(path)

    # -- recipe ---------------------------------------------------------------------------------
    @classmethod
    def parse_extra(cls, section: dict[str, Any], where: str, base: Path) -> dict[str, Any]:
        raw = section.get("labels")
        profile = deidentify.parse(section.get("deidentify"), f"{where}.deidentify")
        labels = None if raw is None else _label_config(raw, f"{where}.labels", base)
        return {"labels": labels, "deidentify": profile}

    @property
    def profile(self) -> deidentify.Profile | None:
        """DICOM outputs de-identified (PS3.15 Annex E), and the free text of NIfTI, NRRD and
        MetaImage headers cleared; None: off."""
        return self.config.get("deidentify")

    @classmethod
    def excludes(cls, settings: dict[str, Any]) -> list[str]:
        """With a label ``suffix``, files named like label maps are never inputs themselves
        (beside the images, or in a ``labels.dir`` that is the input folder)."""
        cfg = settings.get("labels")
        if cfg is None or not cfg.suffix:
            return []
        return [f"**/*{cfg.suffix}{ext}" for ext in io.EXTENSIONS]

    @classmethod
    def check_graph(cls, settings: dict[str, Any], graph: Any, where: str) -> None:
        """``keep_foreground`` needs label maps to measure the foreground in."""
        if settings.get("keep_foreground") is not None and settings.get("labels") is None:
            raise RecipeError(
                "keep_foreground needs label maps to measure the foreground in",
                path=f"{where}.keep_foreground",
                value=settings["keep_foreground"],
                fix="Add volume.labels (e.g. labels: {suffix: _seg}), or remove keep_foreground.",
            )

    @property
    def labels(self) -> LabelConfig | None:
        return self.config.get("labels")

    def label_fix(self, example: Any) -> str | None:
        """With no ``labels``: name them by the suffix found, or by their folder."""
        if self.labels is not None:
            return None
        if example.suffix:
            return f"Add labels: {{suffix: {example.suffix}}} to the volume section."
        return (
            "Point input: at the images' folder and add labels: {dir: <the labels' folder>} "
            f"(here {example.folder}/), both relative to the recipe."
        )

    def ignored_dirs(self) -> list[Path]:
        cfg = self.labels
        if cfg is None or cfg.dir is None or cfg.dir.resolve() == self.input_root.resolve():
            return []
        return [cfg.dir]

    def claims(self, relpath: str) -> bool:
        """The data file of a detached header (``brain.raw`` beside ``brain.mhd``), and the
        label maps beside the images."""
        lower = relpath.lower()
        cfg = self.labels
        if cfg is not None and cfg.dir is None and io.suffix_of(relpath):
            return self.split_name(relpath)[0].endswith(cfg.suffix)
        suffix = next((s for s in io.DATA_SUFFIXES if lower.endswith(s)), None)
        if suffix is None:
            return False
        stem = relpath[: -len(suffix)]
        return any((self.input_root / f"{stem}{h}").is_file() for h in io.DETACHED)

    def check_installed(self, relpaths: list[str]) -> None:
        """SimpleITK (and nibabel for NIfTI), the ``volume`` extra, and pydicom 3 for DICOM
        volumes: refused by file before any input is read, so ``validate`` fails where
        ``expand`` would."""
        if not relpaths:
            return
        need = [("SimpleITK", relpaths[0])]
        nifti = next((r for r in relpaths if io.suffix_of(r) in io.NIFTI), None)
        if nifti is not None:
            need.append(("nibabel", nifti))
        first_dicom = next((r for r in relpaths if io.is_dicom(r)), None)
        install = io.INSTALL if first_dicom is None else dicom.INSTALL
        for module, relpath in need:
            if not _installed(module):
                raise UsageError(
                    f"input {relpath!r} is a volume, which needs {module}, and {module} is not "
                    f"installed. Run: {install} (or leave volumes out with the section's "
                    "exclude)."
                )
        if first_dicom is not None:
            dicomkit.check_installed(first_dicom)

    def worker_limit(self, graph: Any, relpaths: list[str]) -> tuple[int, str] | None:
        """``max_workers``, or the workers this machine's memory holds for the largest case."""
        fixed = self.config.get("max_workers")
        if fixed is not None:
            return fixed, f"volume.max_workers: {fixed}"
        available = memory.available_memory()
        most = self.config.get("max_voxels", DEFAULT_MAX_VOXELS)
        largest = memory.largest_case(self.input_root, relpaths, io.probe, most)
        if available is None or largest is None:
            return None
        limit = memory.workers_for(largest, available)
        return limit, memory.note(largest, available, limit)

    def class_detail(self, relpaths: list[str]) -> str:
        """With ``labels``: how many cases have their label map (the others fail in expand)."""
        if self.labels is None:
            return ""
        found = 0
        for relpath in relpaths:
            try:
                self.find_label(self.input_root / relpath)
            except InputError:
                continue
            found += 1
        missing = len(relpaths) - found
        return f"{found} with a label map" + (
            f", {missing} without (expand fails {'it' if missing == 1 else 'them'})"
            if missing
            else ""
        )

    def preload_modules(self, sources: list[str]) -> tuple[str, ...]:
        """SimpleITK always; nibabel when there are NIfTI inputs."""
        extra = [
            module
            for module, present in (
                ("nibabel", any(io.suffix_of(s) in io.NIFTI for s in sources)),
                ("pydicom", any(io.is_dicom(s) for s in sources)),
            )
            if present
        ]
        return (*self.preload, *extra)

    def setup_process(self, pooled: bool) -> None:
        if pooled:
            import SimpleITK as sitk

            sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)  # the pool is the parallelism

    # -- reading --------------------------------------------------------------------------------
    def read(self, path: Path) -> Volume:
        self.check_data_file(path)
        vol = io.read_volume(path, self.config.get("max_voxels", DEFAULT_MAX_VOXELS), self.profile)
        if self.config.get("units") == "physical":
            vol = replace(vol, meta={**vol.meta, "units": "physical"})
        cfg = self.labels
        if cfg is None:
            return vol
        label_path = self.find_label(path)
        self.check_data_file(label_path)
        label = io.read_volume(label_path, self.config.get("max_voxels", DEFAULT_MAX_VOXELS))
        _check_label(vol, label, label_path)
        grid = (vol.spacing, vol.origin, vol.direction)
        meta = {**vol.meta, "label": {"path": str(label_path), "volume": label, "grid": grid}}
        return Volume(vol.array, vol.spacing, vol.origin, vol.direction, label.array, meta)

    def check_data_file(self, header: Path) -> None:
        """A header naming a separate data file: that file must be a regular file in the
        header's folder (no absolute path, no '..', no link out of it unless the recipe allows
        links outside), checked before any library opens it."""
        from augcli.core.errors import UnsafePath
        from augcli.core.paths import relative_parts

        name = io.data_file_name(header)
        if name is None:
            return
        try:
            relative_parts(name)
        except UnsafePath as exc:
            raise InputError(f"the header's data file {name!r} is refused: {exc}") from None
        if self.side_file_in(header.parent / name, header.parent) is None:
            raise InputError(f"the header names the data file {name!r}, which is not there")

    def near_duplicates(self, relpaths: list[str], digests: dict[str, str]) -> list[Finding]:
        """``validate``'s dataset warnings for volumes: inputs of mixed voxel spacings or
        orientations (read from the headers only). The ops work in mm whatever the grid, but
        a model trained on the outputs sees each case at its own resolution and axis order."""
        spacings: dict[str, list[str]] = {}
        orients: dict[str, list[str]] = {}
        for rel in relpaths:
            try:
                head = io.probe(self.input_root / rel)
            except Exception:  # unreadable: reported by the dataset checks already
                continue
            spacing = "x".join(f"{v:.3g}" for v in head["spacing"]) + " mm"
            spacings.setdefault(spacing, []).append(rel)
            orients.setdefault(io.orientation(head["direction"]), []).append(rel)
        out = []
        for what, groups, fix in (
            ("voxel spacings", spacings, "resample them to one spacing first if a model needs it"),
            ("orientations", orients, "reorient them to one axis order first if a model needs it"),
        ):
            if len(groups) > 1:
                listed = "; ".join(
                    f"{key}: {len(files)} (e.g. {files[0]})"
                    for key, files in sorted(groups.items())
                )
                out.append(
                    Finding(
                        "mixed_geometry",
                        f"volume inputs have {len(groups)} different {what}: {listed}; {fix}",
                        "volume",
                    )
                )
        return out

    def find_label(self, path: Path) -> Path:
        """The label map of an input: ``<stem><suffix><ext>`` in ``labels.dir`` (mirroring the
        input's folders) or beside it, ``ext`` any volume suffix (the input's first)."""
        cfg = self.labels
        assert cfg is not None
        relpath = path.relative_to(self.input_root).as_posix()
        parent, stem, suffix = self.output_parts(relpath)  # a series: named by its folder
        root = cfg.dir if cfg.dir is not None else self.input_root
        tried = []
        for ext in dict.fromkeys((suffix if io.suffix_of(suffix) else ".nii.gz", *io.EXTENSIONS)):
            cand = root / parent / f"{stem}{cfg.suffix}{ext}"
            if self.side_file_in(cand, root) is not None:
                return cand
            tried.append(str(cand))
        raise InputError(
            f"no label map found; looked for {tried[0]} (and the other volume suffixes). Add "
            "it, or check volume.labels.dir and volume.labels.suffix"
        )

    def side_file_in(self, path: Path, root: Path) -> Path | None:
        from augcli.core.paths import side_file

        return side_file(path, root, self.links_outside)

    def info(self, data: Volume) -> dict[str, Any]:
        return {
            "shape": data.shape,
            "frames": data.frames,
            "spacing": data.spacing,
            "origin": data.origin,
            "direction": data.direction,
            "dtype": str(data.array.dtype),
            "label_map": data.label,  # the array itself (random_crop's foreground), not a copy
        }

    def foreground(self, data: Any, matrix: Any = None) -> float | None:
        """The label map's voxels > 0 times the voxel volume (mm^3: a resampled grid compares
        fairly); None for a case without a label map."""
        if not isinstance(data, Volume) or data.label is None:
            return None
        return float(np.count_nonzero(data.label)) * float(np.prod(data.spacing))

    def content(self, data: Volume) -> tuple[Any, ...]:
        """The voxels, the label map and the geometry: a crop that only moved the origin is a
        new output."""
        geometry = np.array([*data.spacing, *data.origin, *data.direction], np.float64)
        parts = [data.array, geometry]
        return tuple(parts if data.label is None else [*parts, data.label])

    # -- writing --------------------------------------------------------------------------------
    def write(self, data: Volume, path: Path, source: Path, meta: dict[str, Any]) -> str | None:
        out_rel = meta["output"]
        final = PurePosixPath(out_rel).name
        if data.meta.get("format") == "dicom":
            key = self.config.get("recipe_key", "")
            out = dicom_write.Output(
                out_rel, meta.get("seed"), meta.get("ops") or [], self.profile, key
            )
            digest, moved = dicom_write.write(data, path, out, self.output_root)
        else:
            clean = io.without_free_text(data) if self.profile is not None else data
            digest, moved = io.write_volume(clean, path, final)
        parent = PurePosixPath(out_rel).parent
        sides = [str(parent / m.name) for m in moved]
        record: dict[str, Any] = {
            "volume": {
                "format": data.meta.get("format"),
                "dtype": str(data.array.dtype),
                "shape": list(reversed(data.array.shape)),
                "spacing": [round(v, 6) for v in data.spacing],
                "origin": [round(v, 6) for v in data.origin],
            }
        }
        if data.label is not None and "label" in data.meta:
            rel, extra = self._write_label(data, out_rel, path.parent, _is_series(data))
            record["label_map"] = rel
            sides += [rel, *extra]
        if sides:
            record["sidecars"] = sides
        meta["record"] = record
        return digest

    def label_rel(self, out_rel: str, label_source: str, series: bool = False) -> str:
        """Where an output's label map goes: beside it (``<stem><suffix><label ext>``; a
        series' beside its folder) or, with ``labels.output``, at the same place under that
        folder."""
        cfg = self.labels
        assert cfg is not None
        folder, stem, _ = _series_parts(out_rel) if series else Modality.output_parts(self, out_rel)
        _, ext = self.split_name(label_source)
        name = f"{stem}{cfg.suffix or '_seg'}{ext}"
        parent = PurePosixPath(folder)
        if cfg.output is not None:
            parent = PurePosixPath(cfg.output) / parent
        return str(parent / name)

    def _write_label(
        self, data: Volume, out_rel: str, folder: Path, series: bool
    ) -> tuple[str, list[str]]:
        """The moved label map, in its own file's format and header, on the output's grid."""
        source = data.meta["label"]
        like: Volume = source["volume"]
        rel = self.label_rel(out_rel, Path(source["path"]).name, series)
        moved_grid = (data.spacing, data.origin, data.direction) != source["grid"]
        geometry = (
            {"spacing": data.spacing, "origin": data.origin, "direction": data.direction}
            if moved_grid
            else {}  # the label's own header geometry, exactly as read
        )
        label = like.with_array(np.ascontiguousarray(data.label, like.array.dtype), **geometry)
        if self.profile is not None:
            label = io.without_free_text(label)
        dest = self._label_dest(folder, out_rel, rel)
        out_root = self.output_root.resolve()
        root = out_root if dest.is_relative_to(out_root) else None
        with atomic_path(dest, root) as tmp:
            _digest, moved = io.write_volume(label, tmp, dest.name)
        base = PurePosixPath(rel).parent
        return rel, [str(base / m.name) for m in moved]

    def _label_dest(self, folder: Path, out_rel: str, rel: str) -> Path:
        """The label's path on disk: ``folder`` holds the output being written."""
        depth = len(PurePosixPath(out_rel).parts) - 1
        root = folder
        for _ in range(depth):
            root = root.parent
        return (root / rel).resolve()

    def keep_original(self, data: Any, out_rel: str) -> dict[str, Any]:
        """A kept original brings its data file (detached header), the rest of its series and
        its label map."""
        sides = []
        for part in (data.meta.get("dicom") or {}).get("files", []) if _is_series(data) else []:
            rel = str(PurePosixPath(out_rel).parent / Path(part).name)
            if rel != out_rel:
                self._copy(Path(part), rel)
                sides.append(rel)
        data_file = data.meta.get("data_file")
        if data_file is not None:
            rel = str(PurePosixPath(out_rel).parent / data_file.name)
            self._copy(data_file, rel)
            sides.append(rel)
        label = data.meta.get("label")
        out: dict[str, Any] = {}
        if label is not None:
            rel = self.label_rel(out_rel, Path(label["path"]).name, _is_series(data))
            self._copy(Path(label["path"]), rel)
            sides.append(rel)
            label_data = label["volume"].meta.get("data_file")
            if label_data is not None:
                extra = str(PurePosixPath(rel).parent / label_data.name)
                self._copy(label_data, extra)
                sides.append(extra)
            out["label_map"] = rel
        if sides:
            out["sidecars"] = sides
        return out

    def _copy(self, source: Path, rel: str) -> None:
        with atomic_path(self.output_root / rel, self.output_root) as tmp:
            shutil.copyfile(source, tmp)


def _is_series(data: Volume) -> bool:
    return (data.meta.get("dicom") or {}).get("kind") == "series"


def _series_parts(relpath: str) -> tuple[str, str, str]:
    """(folder, stem, suffix) of a series whose slice is ``relpath``: named by its folder
    (``ct/IM1.dcm`` -> ``ct`` + ``/0001.dcm``); one at the input's top by its first file."""
    folder, _, name = relpath.rpartition("/")
    ext = next((s for s in dicom.SUFFIXES if name.lower().endswith(s)), ".dcm")
    suffix = "/" + dicom_write.slice_name(0, ext)
    if not folder:
        return "", name[: -len(ext)] if name.lower().endswith(ext) else name, suffix
    parent, _, stem = folder.rpartition("/")
    return parent, stem, suffix


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _check_label(image: Volume, label: Volume, path: Path) -> None:
    """A label map must share its image's voxel grid (shape, spacing, origin, direction)."""
    if label.array.ndim != 3:
        raise InputError(f"label map {path.name} is {label.array.ndim}-D; a label map is 3-D")
    problems = []
    if label.shape != image.shape:
        problems.append(f"shape {label.shape[::-1]} vs the image's {image.shape[::-1]} (x, y, z)")
    if not np.allclose(label.spacing, image.spacing, atol=GEOMETRY_TOL_MM):
        problems.append(f"spacing {label.spacing} vs {image.spacing} mm")
    if not np.allclose(label.origin, image.origin, atol=GEOMETRY_TOL_MM):
        problems.append(f"origin {label.origin} vs {image.origin} mm")
    if not np.allclose(label.direction, image.direction, atol=DIRECTION_TOL):
        problems.append("direction cosines differ")
    if problems:
        raise InputError(
            f"label map {path.name} does not match its image's geometry: "
            + "; ".join(problems)
            + ". Resample the label map onto the image's grid"
        )


def _label_config(raw: Any, path: str, base: Path) -> LabelConfig:
    """``labels: {dir: ../labels, suffix: _seg, output: labels}`` (each key optional, but a
    label map beside its image needs a suffix)."""
    if not isinstance(raw, dict):
        raise RecipeError(
            "must be a mapping", path=path, value=raw, fix="Write e.g. labels: {suffix: _seg}."
        )
    allowed = ("dir", "suffix", "output")
    for key in raw:
        if key not in allowed:
            raise RecipeError(
                "unknown key",
                path=f"{path}.{key}",
                value=key,
                fix=f"It takes: {', '.join(allowed)}.",
            )
    suffix = raw.get("suffix", "")
    if not isinstance(suffix, str) or "/" in suffix:
        raise RecipeError("must be text (no '/')", path=f"{path}.suffix", value=suffix)
    folder = raw.get("dir")
    if folder is not None and (not isinstance(folder, str) or not (base / folder).is_dir()):
        raise RecipeError(
            "is not a folder",
            path=f"{path}.dir",
            value=folder,
            fix="Paths resolve against the recipe file.",
        )
    if folder is None and not suffix:
        raise RecipeError(
            "label maps beside their images need a suffix",
            path=path,
            value=raw,
            fix="Write e.g. labels: {suffix: _seg} (brain.nii.gz -> brain_seg.nii.gz), or give dir.",
        )
    output = raw.get("output")
    if output is not None:
        p = PurePosixPath(str(output))
        if not isinstance(output, str) or not output or p.is_absolute() or ".." in p.parts:
            raise RecipeError(
                "must be a relative path inside the output folder",
                path=f"{path}.output",
                value=output,
                fix="Use e.g. 'labels', or leave it out to write each label map beside its output.",
            )
        output = str(p)
    return LabelConfig((base / folder).resolve() if folder else None, suffix, output)
