"""The modality plug-in contract: which files it takes, how it reads and writes them, and how
one input becomes its outputs. Text and audio plug in here without touching the engine."""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from augcli.core.atomic import atomic_path, sha256_file
from augcli.core.errors import InputError, output_unwritable
from augcli.core.findings import Finding
from augcli.core.paths import side_file
from augcli.core.records import Event, OutputRecord, side_files
from augcli.making import RETRIES_DEFAULT, Made, make_outputs
from augcli.ops import load_modality
from augcli.params import ClassNames, ClassPairs, Nullable, Param
from augcli.steps import PLAIN, Applier

_MODALITIES: dict[str, type[Modality]] = {}

RETRIES = Param(
    kind="int",
    default=RETRIES_DEFAULT,
    low=0,
    high=50,
    sampled=False,
    help="new sub-seeds tried for an output identical to its source or to another output of "
    "the same input, before it is recorded as unchanged (and not written)",
)
KEEP_FOREGROUND = Nullable(
    kind="float",
    default=None,
    low=0.0,
    low_open=True,
    high=1.0,
    sampled=False,
    meaning="no foreground check",
    help="an output that kept less than this fraction of its source's foreground (mask or "
    "label pixels, box and polygon area) is drawn again as an unchanged one is (retries), "
    "then failed and not written: a positive case never loses its lesion. Inputs without "
    "foreground are not checked",
)


MIRROR_CLASSES = ClassPairs(
    kind="pairs",
    default=None,
    sampled=False,
    meaning="no class changes when mirrored",
    help="pairs of classes that are each other's mirror image ({left_effusion: "
    "right_effusion}, both ways): an output its ops mirror as a whole (an odd number of "
    "flips or negative determinants) goes to the partner class (folder and manifest label, "
    "named <name>__mirrored)",
)
NO_MIRROR = ClassNames(
    kind="texts",
    default=None,
    sampled=False,
    meaning="every class may be mirrored",
    help="classes (input folder names) whose inputs no mirroring op touches (a flip, or any "
    "transform with a negative determinant): logged as not applied, skipped: no_mirror",
)


class Modality(ABC):
    """One kind of data. Subclasses set ``name``, ``extensions``, ``settings`` and implement
    ``read``, ``write`` and ``info``; ``process`` (one file in, one file per output) suits any
    modality whose samples are whole files, and may be overridden (e.g. for record files)."""

    name: ClassVar[str] = ""
    extensions: ClassVar[tuple[str, ...]] = ()
    settings: ClassVar[dict[str, Param]] = {}
    preload: ClassVar[tuple[str, ...]] = ()  # heavy modules imported once, before workers fork
    plan_note: ClassVar[str] = ""  # what `validate` adds under the section's plan
    preview: ClassVar[str | None] = None  # module of its preview renderer (augcli.preview_kit)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            _MODALITIES[cls.name] = cls

    extra_keys: ClassVar[tuple[str, ...]] = ()  # section keys parsed by ``parse_extra``
    extra_schema: ClassVar[dict[str, Any]] = {}  # JSON Schema of those keys (augcli schema)

    def __init__(self, settings: dict[str, Any]) -> None:
        self.config = settings
        self.input_root = Path()
        self.output_root = Path()
        self.links_outside = False

    @classmethod
    def parse_extra(cls, section: dict[str, Any], where: str, base: Path) -> dict[str, Any]:
        """Validate section keys richer than a Param (``extra_keys``); paths resolve against
        ``base``, the recipe's folder. Returns settings to merge."""
        return {}

    @classmethod  # noqa: B027 - optional hook
    def check_graph(cls, settings: dict[str, Any], graph: Any, where: str) -> None:
        """At recipe load: refuse a graph that could never make an output with these settings
        (e.g. an op whose fixed parameters alone exceed a size limit). Default: nothing to
        check."""

    @classmethod
    def excludes(cls, settings: dict[str, Any]) -> list[str]:
        """Globs the section's settings add to its ``exclude`` (files with this modality's
        extensions that are side files, e.g. label maps beside the volumes). Default: none."""
        return []

    def bind(self, input_root: Path, output_root: Path, links_outside: bool = False) -> None:
        """Where the roots are; ``links_outside``: files beside an input (sidecars, masks)
        may be symlinks that leave their folder (the recipe's ``follow_symlinks: outside``)."""
        self.input_root, self.output_root = input_root, output_root
        self.links_outside = links_outside

    def side_file(self, path: Path) -> Path | None:
        """A file beside an input (a sidecar): the path if it is a regular file in the input
        folder, None if nothing is there; an InputError if it is a FIFO, a device, a broken
        link or a link out of the input folder (``core.paths.side_file``)."""
        return side_file(path, self.input_root, self.links_outside)

    def ignored_dirs(self) -> list[Path]:
        """Folders under the input that hold this modality's side files (e.g. masks), not inputs."""
        return []

    def claims(self, relpath: str) -> bool:
        """Whether ``relpath``, a file in the input folder that no section takes as an input, is
        one this modality reads with its inputs (a label sidecar, a dataset file): counted as a
        side file, not as ignored."""
        return False

    def check_installed(self, relpaths: list[str]) -> None:  # noqa: B027 - optional hook
        """Refuse (``UsageError``) before any input is read when this install cannot decode
        some of ``relpaths`` (this modality's inputs, from the scan): an optional library
        missing, named with the file and the extra that brings it."""

    def check_files(self) -> None:  # noqa: B027 - optional hook
        """Read and check, before any input is read or anything is written, the files this
        modality reads besides its inputs (a COCO annotation file): a located ``UsageError``
        (exit 2) when one is malformed, so ``validate`` fails exactly where ``expand`` would."""

    def missing_inputs(self, found: set[str]) -> list[tuple[str, str]]:
        """Inputs the modality's own files name but the scan did not find: (path, reason)."""
        return []

    def plan_outputs(self, relpath: str) -> str | None:
        """For an input that becomes ONE output file holding everything made from it (a record
        file), that file's path; None for the usual one output per node and copy."""
        return None

    def plan_chunks(self, path: Path, models: bool = False) -> list[tuple[int, int]]:
        """For a record file (see ``plan_outputs``): the record ranges [first, stop) that run as
        separate tasks; one range means one task. The parent merges the parts (``merge``).
        ``models``: the section runs a model op (slow per record: smaller chunks, so progress
        and a resume move in steps of a few model batches)."""
        return [(0, 0)]

    def merge(self, output_root: Path, out_rel: str, parts: list[dict[str, Any]]) -> None:
        """Join a chunked record file's parts (in chunk order) into its output file."""
        raise TypeError(f"{self.name} files are not chunked")

    def worker_limit(self, graph: Any, relpaths: list[str]) -> tuple[int, str] | None:
        """At most this many processes may run this modality's tasks, and why (``validate``
        says it): each loads a large model, or the largest of ``relpaths`` (this section's
        inputs) needs much memory; None for no limit beyond ``workers``."""
        return None

    def class_detail(self, relpaths: list[str]) -> str:
        """What ``validate`` adds to a class's count of inputs (``relpaths``), e.g. how many
        have their label map; '' for nothing (default)."""
        return ""

    def preload_modules(self, sources: list[str]) -> tuple[str, ...]:
        """Modules the fork server imports once for these inputs (default: ``preload``)."""
        return self.preload

    def applier(self) -> Applier:
        """How ops meet this modality's data (see steps.Applier)."""
        return PLAIN

    def keep_original(self, data: Any, out_rel: str) -> dict[str, Any]:
        """Extra manifest fields for a kept original (and side files written for it)."""
        return {}

    def dataset_files(self) -> list[str]:
        """The paths (relative to the output folder) of the whole-dataset files ``finalize``
        writes: reserved, so no planned output may take them."""
        return []

    def finalize(self, records: Callable[[], list[dict[str, Any]]]) -> list[str]:
        """After a complete run, in the parent: write whole-dataset files from the manifest's
        records of this modality (``records()`` parses them, in manifest order, when a
        modality needs them); return their paths relative to the output folder."""
        return []

    def environment(self) -> dict[str, str]:
        """Environment variables a process needs before it loads this modality's libraries (a
        decoder's guard, say). The engine sets them in the parent before any worker starts;
        an executor whose workers do not inherit the parent's environment sets them in each
        worker's ``setup``."""
        return {}

    def setup_process(self, pooled: bool) -> None:  # noqa: B027 - optional hook
        """Once per process that runs this modality's tasks, before the first one; ``pooled``
        when the process is one of several workers (e.g. limit a library's own threads)."""

    def __getstate__(self) -> dict[str, Any]:
        """What a worker needs: the settings and roots, not this process's caches (attributes
        starting with ``_``, made again on first use in the worker)."""
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    # -- names and dataset checks ---------------------------------------------------------------
    @classmethod
    def split_name(cls, relpath: str) -> tuple[str, str]:
        """(stem, suffix) of a file name, the suffix being the longest of ``extensions`` it ends
        with (``brain.nii.gz`` -> ``brain``, ``.nii.gz``), else its last suffix."""
        name = relpath.rpartition("/")[2]
        lower = name.lower()
        matches = [e for e in cls.extensions if lower.endswith(e) and len(e) < len(name)]
        if matches:
            n = len(max(matches, key=len))
            return name[:-n], name[-n:]
        dot = name.rfind(".")  # as PurePosixPath's stem and suffix
        return (name[:dot], name[dot:]) if 0 < dot < len(name) - 1 else (name, "")

    def output_parts(self, relpath: str) -> tuple[str, str, str]:
        """(folder, stem, suffix) of an input's outputs, ``<folder>/<stem>__<node>_<copy>
        <suffix>``: by default the input's own folder and ``split_name``."""
        folder = relpath.rpartition("/")[0]
        return (folder, *self.split_name(relpath))

    @classmethod
    def inspects(cls, relpath: str) -> bool:
        """Whether this modality tells by content (``inspect``) if a file of this name is
        its own, before any section takes it by name. Default: no."""
        return False

    @classmethod
    def inspect(cls, root: Path, relpath: str) -> str | None:
        """For a file ``inspects`` names: 'input' (one of this section's inputs), 'folder'
        (an input that stands for the files of its folder, such as a DICOM series: its class
        is the folder above), 'part' (read with one of them, so no section takes it), or None
        (other sections may)."""
        return None

    @classmethod
    def accepts(cls, relpath: str) -> bool:
        """Whether a file is this modality's by its name (one of ``extensions``)."""
        return bool(cls.extensions) and relpath.rpartition("/")[2].lower().endswith(cls.extensions)

    @classmethod
    def digest(cls, path: Path) -> str:
        """The content hash of an input: what the manifest records of each source (so a changed
        input is made again) and what duplicate and leakage checks compare (sha256 of the
        file)."""
        return sha256_file(path)

    @classmethod
    def attribute(cls, path: Path, keyword: str) -> str | None:
        """A DICOM attribute of an input (``PatientID`` for ``groups``), None when the input
        is no DICOM file or lacks it."""
        from augcli import dicomkit

        return dicomkit.attribute(path, keyword)

    def group_name(self, group: str) -> str:
        """How the manifest names a patient group: as found, or, when this section
        de-identifies its outputs (``deidentify``), by the salted pseudonym its DICOM
        PatientID gets, so no identifier reaches the manifest."""
        profile = self.config.get("deidentify")
        if profile is None:
            return group
        from augcli.deidentify import pseudonym

        return pseudonym(group, profile.salt)

    @classmethod
    def stamp(cls, path: Path) -> tuple[int, int]:
        """(size, mtime in ns) of an input, which a resume compares before hashing it again:
        the file's own (a DICOM series: over all its slices)."""
        stat = path.stat()
        return stat.st_size, stat.st_mtime_ns

    def near_duplicates(self, relpaths: list[str], digests: dict[str, str]) -> list[Finding]:
        """Findings about inputs of this modality that are nearly the same,
        beyond exact copies (e.g. images with one difference hash, records with one text);
        ``digests`` are the inputs' ``digest`` values. Default: no such check."""
        return []

    @abstractmethod
    def read(self, path: Path) -> Any:
        """Decode one input file; raise InputError with the reason if it cannot."""

    @abstractmethod
    def write(self, data: Any, path: Path, source: Path, meta: dict[str, Any]) -> str | None:
        """Encode ``data`` to ``path`` (a temporary name with the final extension). ``meta`` holds
        what the ops did that a format may record: ``matrix``, the composed geometric transform
        (3x3, source sample coordinates to output ones; None where unknown), ``ops`` (the op
        log), ``output`` (its path relative to the output folder) and ``seed``. Returns the
        sha256 of the bytes written when it has them at hand (else the file is read back)."""

    @abstractmethod
    def info(self, data: Any) -> dict[str, Any]:
        """What ops may need to know about the data before sampling (sizes, dtype, ...)."""

    def output_suffix(self, source_suffix: str) -> str:
        """The extension of outputs made from an input with ``source_suffix`` (same by default)."""
        return source_suffix

    def process(self, task: Any, job: Any) -> list[Event]:
        """Make every output ``task`` asks for; return one ``OutputRecord`` per output.

        Reads the input once (an unreadable input raises InputError: one failed record for it);
        an op or write failure fails only that output."""
        source = job.input_root / task.source
        records: list[Event] = []
        data = self.read(source)  # first: an unreadable input is not copied as an original
        if task.original is not None:
            dest = job.output_root / task.original
            with atomic_path(dest, job.output_root) as tmp:
                shutil.copyfile(source, tmp)
            rec = task.output_record(output=task.original, sha256=sha256_file(dest))
            rec.extra.update(self.keep_original(data, task.original))
            records.append(_with_side_digests(rec, job.output_root))
        for out, made in zip(task.outputs, self.make(task, job, data, task.outputs), strict=True):
            records.append(self._written(task, job, source, out, made))
        return records

    def _written(self, task: Any, job: Any, source: Path, out: Any, made: Made) -> OutputRecord:
        """Write one made output atomically; its record (failed if it could not be made or
        written: a failure fails only this output)."""
        if made.unchanged:  # as text: recorded, not written
            rec = task.output_record(
                output=out.path,
                node=out.node,
                copy=out.copy,
                status="unchanged",
                error=made.unchanged,
            )
            rec.extra["attempt"] = made.attempt
            return rec
        path, paired = self._mirror_target(task.label, out.path, made)
        where = {"output": path, "node": out.node, "copy": out.copy, "seed": made.seed}
        if made.error is not None:
            rec = task.output_record(**where, status="failed", error=describe_error(made.error))
            return _with_kept(rec, made)
        dest = job.output_root / path
        meta = {"matrix": made.matrix, "ops": made.log, "output": path, "seed": made.seed}
        try:
            with atomic_path(dest, job.output_root) as tmp:
                digest = self.write(made.result, tmp, source, meta)
        except Exception as exc:
            if output_unwritable(exc):  # the folder, not this output: the run must stop
                raise
            return task.output_record(**where, status="failed", error=describe_error(exc))
        digest = digest or sha256_file(dest)
        rec = _with_kept(task.output_record(**where, ops=made.log, sha256=digest), made)
        if paired is not None:  # moved to the mirror class: its label, and where it was planned
            rec.label = paired
            rec.extra.update(mirrored_from=task.label, planned=out.path)
        rec.extra.update(meta.get("record", {}))
        _with_side_digests(rec, job.output_root)
        soft = [
            e["params"]["soft_label"]
            for e in made.log
            if e["applied"] and "soft_label" in (e["params"] or {})
        ]
        if soft:
            rec.extra["soft_label"] = soft[-1]
        return rec

    def _mirror_target(self, label: str | None, path: str, made: Made) -> tuple[str, str | None]:
        """Where a made output goes: its planned path, or, when its ops mirrored it and its
        class has a mirror partner (``mirror_classes``), the partner class's folder with
        ``__mirrored`` after the name (``left/x__aug_0.png`` -> ``right/x__aug_0__mirrored
        .png``), and the partner class."""
        pairs = self.config.get("mirror_classes") or {}
        if not made.mirrored or label not in pairs:
            return path, None
        parts = path.split("/")
        k = max(i for i, part in enumerate(parts[:-1]) if part == label)  # the class folder
        stem, suffix = self.split_name(parts[k + 1])
        parts[k], parts[k + 1] = pairs[label], f"{stem}__mirrored{suffix}"
        return "/".join(parts), pairs[label]

    def facts(self, path: Path, data: Any) -> dict[str, Any] | None:
        """What ops' ``implausible`` checks see of one input as read (e.g. its full scale, its
        distinct values); None: this modality has no such checks (default)."""
        return None

    def implausible(self, graph: Any, relpaths: list[str]) -> list[tuple[Any, str, str]]:
        """(op, why, input) for each op of ``graph`` that refuses one of ``relpaths`` as read
        (``refused``) or whose settings look wrong for it (``Op.implausible``), with the first
        input that shows it; ``relpaths`` is a small sample of the inputs (each is read). An
        unreadable input is skipped (``validate`` reports those already)."""
        found: dict[int, tuple[Any, str, str]] = {}
        for relpath in relpaths:
            path = self.input_root / relpath
            try:
                data = self.read(path)
                facts = self.facts(path, data)
                info = {**self.info(data), **self.context(path)} if facts is not None else {}
            except Exception:  # unreadable: the dataset checks report it, not this one
                continue
            if facts is None:
                return []
            for op in graph.ops():
                why = None if id(op) in found else refused(op, info) or op.implausible(facts)
                if why:
                    found[id(op)] = (op, why, relpath)
        return [found[id(op)] for op in graph.ops() if id(op) in found]

    def context(self, path: Path) -> dict[str, Any]:
        """What ops see of an input beyond its data, merged into their ``info`` (default:
        nothing): for images, the value invented pixels take by default (``background``: a
        DICOM's PixelPaddingValue) and the spacing and rescale ``units: physical`` converts
        with."""
        return {}

    def foreground(self, data: Any, matrix: Any = None) -> float | None:
        """How much foreground (lesion) ``data`` holds, in the source's units (``matrix``: the
        output's composed geometry, for a modality whose units change with it); None: nothing
        to measure (default). ``keep_foreground`` compares an output's with its source's."""
        return None

    def setting_findings(self, inputs: list[Any], where: Callable[[str], str]) -> list[Finding]:
        """``validate``'s warnings about this section's settings, given the scan's ``inputs``
        (``InputFile``s): a ``no_mirror`` class that no input of the section has, and inputs
        that look like label maps in a section that reads none (``label_fix``)."""
        classes = {f.label for f in inputs if f.modality == self.name}
        return self.label_findings(inputs, where) + [
            Finding(
                "parameters",
                f"{where(self.name + '.no_mirror')}: class {name!r} has no {self.name} inputs, so "
                f"it refuses nothing; classes found: {sorted(c for c in classes if c)}",
                self.name,
            )
            for name in self.config.get("no_mirror") or ()
            if name not in classes
        ]

    def label_fix(self, example: Any) -> str | None:
        """How to name this section's label maps, given one input that looks like one
        (``core.label_names.LabelLike``); None (default): the section has them named already,
        or takes none."""
        return None

    def label_findings(self, inputs: list[Any], where: Callable[[str], str]) -> list[Finding]:
        """The warning about inputs named like label maps or masks (``case_seg`` beside
        ``case``, a ``labelsTr/`` folder) when ``label_fix`` says the section reads none: each
        would be augmented as an image of its own."""
        from augcli.core.label_names import label_finding, label_like

        found = label_like([f.relpath for f in inputs if f.modality == self.name], self.split_name)
        fix = self.label_fix(found[0]) if found else None
        return [] if fix is None else [label_finding(found, self.name, where(self.name), fix)]

    def content(self, data: Any) -> tuple[Any, ...] | None:
        """The arrays that make a made output (or the input as read) what it is: compared,
        shapes and dtypes first, then bytes (``core.sameness``), to find an output identical
        to its source or to another output of the same input. None: never compared."""
        return None

    def make(self, task: Any, job: Any, data: Any, outputs: Any) -> Iterator[Made]:
        """Make outputs (anything with ``node`` and ``copy``) of one input in memory, in order,
        the same for ``expand`` and ``preview`` (``augcli.making``)."""
        return make_outputs(self, task, job, data, outputs)


def _with_kept(rec: OutputRecord, made: Made) -> OutputRecord:
    """The retry that made an output (attempt 0 is left out: the records of earlier versions
    stay as they were) and, under ``keep_foreground``, the share of foreground it kept."""
    if made.attempt:
        rec.extra["attempt"] = made.attempt
    if made.kept is not None:
        rec.extra["foreground_kept"] = round(made.kept, 4)
    return rec


def _with_side_digests(rec: OutputRecord, root: Path) -> OutputRecord:
    """The sha256 of every file an output brought along (mask, sidecars) in its line's
    ``files`` map, so ``verify`` checks them as it checks the output."""
    sides = side_files(rec.extra)
    if sides:
        rec.extra["files"] = {rel: sha256_file(root / rel) for rel in sides}
    return rec


def describe_error(exc: Exception) -> str:
    """An input problem is its own message; anything else (an op bug) names its type."""
    return str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"


def get_modality(name: str) -> type[Modality]:
    load_modality(name)
    return _MODALITIES[name]


def refused(op: Any, info: dict[str, Any]) -> str | None:
    """Why ``op`` refuses an input described by ``info`` as read (its ``check_input``: a
    channel count, dtype, size or sample rate it cannot take), or None. Ops earlier in the
    pipeline may change the size before it runs, so the words say so."""
    try:
        op.check_input(info)
    except InputError as exc:
        return f"{exc}: this input will fail here, unless an op before it changes that"
    except Exception:  # the check needs more than the input as read: it runs per output
        return None
    return None
