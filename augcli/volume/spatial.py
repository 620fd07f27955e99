"""Spatial volume ops: flip, affine, elastic, anisotropy, crop_or_pad, random_crop.

Every length is in millimetres and every angle in degrees, taken in the scan's physical (ITK
LPS) space through its spacing, origin and direction, so an op means the same on a 0.7 mm and
a 5 mm grid. Resampling is SimpleITK's (``ResampleImageFilter``): linear for the voxels,
nearest-neighbour for the label map (its values kept exactly), with the same transform; a 4-D
scan gets the same transform on every frame. ITK splits a slab between its threads by whole
scanlines and computes every voxel on its own, so the result does not depend on the thread
count (a test holds it to that): outputs are byte-identical for any worker count. Integer voxels are interpolated in float64 and
rounded to nearest (ITK itself would truncate), a slab of slices at a time, so a worker's peak
stays near three times the volume's own size. The output grid is the input's (crops and pads
excepted), so a resampled output keeps its header's geometry exactly.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from augcli.core.errors import InputError, RecipeError
from augcli.params import Param
from augcli.volume.base import Volume, VolumeOp

SLAB = 4  # output slices resampled at once (float64: 512x512x4 = 8 MiB, a few temporaries)
AXES = {"x": 2, "y": 1, "z": 0}  # image index axis -> array axis (z, y, x)
WORLD = {"LR": 0, "AP": 1, "IS": 2}  # patient axis -> LPS world axis


class Shape(Param):
    """A fixed ``[x, y, z]`` size in voxels (three positive whole numbers)."""

    def validate(self, value: Any, path: str) -> Any:
        ok = (
            isinstance(value, list)
            and len(value) == 3
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
        )
        if not ok:
            raise RecipeError(
                "must be [x, y, z] in voxels, three positive whole numbers",
                path=path,
                value=value,
                fix="Write e.g. shape: [96, 96, 48].",
            )
        return tuple(int(v) for v in value)


class Pairs(Param):
    """Label value pairs ``[[a, b], ...]`` swapped with each other."""

    def validate(self, value: Any, path: str) -> Any:
        ok = isinstance(value, list) and all(
            isinstance(p, list)
            and len(p) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in p)
            and p[0] != p[1]
            for p in value
        )
        if not ok:
            raise RecipeError(
                "must be a list of [a, b] pairs of distinct whole label values",
                path=path,
                value=value,
                fix="Write e.g. label_swap: [[1, 2]] (left and right swap when LR flips).",
            )
        return tuple((int(a), int(b)) for a, b in value)


def _direction(info_or_vol: Any) -> np.ndarray:
    d = info_or_vol["direction"] if isinstance(info_or_vol, dict) else info_or_vol.direction
    return np.asarray(d, np.float64).reshape(3, 3)


# -- resampling ------------------------------------------------------------------------------
def _frame_image(frame: np.ndarray, vol: Volume) -> Any:
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(frame)
    img.SetSpacing(vol.spacing)
    img.SetOrigin(vol.origin)
    img.SetDirection(vol.direction)
    return img


def _cast(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Interpolated values as ``dtype``: rounded to nearest and clipped for integers."""
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    return values.astype(dtype, copy=False)


def resample_frame(
    frame: np.ndarray,
    vol: Volume,
    transform: Any,
    nearest: bool,
    default: float,
    grid: tuple[Any, Any, Any, Any] | None = None,
    edge: bool = False,
    dest: np.ndarray | None = None,
) -> np.ndarray:
    """``frame`` (z, y, x) of ``vol`` resampled through ``transform`` (output physical point ->
    input physical point) onto ``grid`` ((size x, y, z), spacing, origin, direction; None: the
    input's own grid), a slab of slices at a time. ``edge``: points beyond the input's outer
    voxel centres take the nearest voxel instead of ``default``."""
    import SimpleITK as sitk

    img = _frame_image(frame, vol)
    size, spacing, origin, direction = grid or (
        img.GetSize(),
        vol.spacing,
        vol.origin,
        vol.direction,
    )
    d = np.asarray(direction, np.float64).reshape(3, 3)
    out = np.empty((size[2], size[1], size[0]), frame.dtype) if dest is None else dest
    f = sitk.ResampleImageFilter()
    f.SetOutputSpacing(tuple(spacing))
    f.SetOutputDirection(tuple(direction))
    f.SetTransform(transform)
    f.SetDefaultPixelValue(float(default))
    f.SetUseNearestNeighborExtrapolator(edge)
    f.SetInterpolator(sitk.sitkNearestNeighbor if nearest else sitk.sitkLinear)
    exact = nearest or frame.dtype.kind == "f"
    f.SetOutputPixelType(img.GetPixelID() if exact else sitk.sitkFloat64)
    for z0 in range(0, size[2], SLAB):
        n = min(SLAB, size[2] - z0)
        start = np.asarray(origin, np.float64) + d @ (np.asarray(spacing) * np.array([0, 0, z0]))
        f.SetSize((int(size[0]), int(size[1]), int(n)))
        f.SetOutputOrigin(tuple(float(v) for v in start))
        made = f.Execute(img)  # kept alive while its view is read
        part = sitk.GetArrayViewFromImage(made)
        out[z0 : z0 + n] = part if exact else _cast(part, frame.dtype)
        del part, made
    return out


def resample(vol: Volume, transform: Any, move_label: bool = True) -> Volume:
    """Every frame through ``transform`` (linear) and the label (nearest, background 0) on the
    input's grid; voxels from outside the input take the volume's minimum (air on CT)."""
    default = float(vol.array.min()) if vol.array.size else 0.0
    out = np.empty_like(vol.array)  # filled frame by frame: no second copy while stacking
    frames = vol.array if vol.array.ndim == 4 else vol.array[None]
    for frame, dest in zip(frames, out if out.ndim == 4 else out[None], strict=True):
        resample_frame(frame, vol, transform, False, default, dest=dest)
    label = vol.label
    if move_label and label is not None:
        label = resample_frame(label, vol, transform, True, 0)
    return vol.with_array(out, label=label)


def centre_mm(info: dict[str, Any]) -> list[float]:
    """The physical point (LPS mm) of the volume's centre: the middle of its voxel grid."""
    z, y, x = info["shape"]
    half = np.array([(x - 1) / 2, (y - 1) / 2, (z - 1) / 2])
    point = np.asarray(info["origin"]) + _direction(info) @ (np.asarray(info["spacing"]) * half)
    return [float(v) for v in point]


def rotation(degrees: list[float]) -> np.ndarray:
    """Rotation about the world x, then y, then z axis (degrees, right-handed)."""
    ax, ay, az = np.radians(degrees)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _mm(value: float) -> float:
    return round(float(value), 6)


# -- ops -------------------------------------------------------------------------------------
class Flip(VolumeOp):
    """Mirror the volume along axes named by patient direction or image axis.

    `LR`, `AP`, `IS` are the patient's left-right, anterior-posterior and inferior-superior
    axes, found from the direction cosines (the image axis closest to each); `x`, `y`, `z` are
    the image's own index axes. The geometry is kept: the anatomy is mirrored about the grid's
    centre. `label_swap` pairs (e.g. left and right hippocampus) swap their values in the
    flipped label map."""

    name = "flip"
    group = "spatial"
    spatial = True
    params: ClassVar[dict[str, Param]] = {
        "axes": Param(
            kind="texts",
            default="LR",
            help="the axes to mirror, each one of LR, AP, IS (patient) or x, y, z (image)",
        ),
        "label_swap": Pairs(
            kind="texts",
            default=[],
            sampled=False,
            help="label value pairs [[a, b], ...] that trade places in a flipped label map",
        ),
    }

    def check_config(self, path: str) -> None:
        for name in self.config["axes"]:
            if name not in AXES and name not in WORLD:
                raise RecipeError(
                    "is not an axis name",
                    path=f"{path}.axes",
                    value=name,
                    fix="Use LR, AP, IS (patient axes) or x, y, z (image axes).",
                )

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        d = _direction(info)
        axes = []
        for name in self.config["axes"]:
            if name in AXES:
                axes.append(AXES[name])
            else:  # the index axis whose direction is closest to that world axis
                axes.append(2 - int(np.argmax(np.abs(d[WORLD[name]]))))
        return {
            "axes": list(self.config["axes"]),
            "array_axes": sorted(set(axes)),
            "label_swap": [list(p) for p in self.config["label_swap"]],
        }

    def apply(self, data: Volume, params: dict[str, Any]) -> Volume:
        lead = data.array.ndim - 3
        array = np.flip(data.array, axis=tuple(a + lead for a in params["array_axes"]))
        label = data.label
        if label is not None:
            label = np.flip(label, axis=tuple(params["array_axes"]))
            swapped = label.copy()
            for a, b in params["label_swap"]:
                swapped[label == a] = b
                swapped[label == b] = a
            label = swapped
        return data.with_array(array, label=None if label is None else np.ascontiguousarray(label))

    def mirrors(self, params: dict[str, Any], info: dict[str, Any]) -> bool:
        """An odd number of flipped axes mirrors (two make a half turn, which does not)."""
        return len(params["array_axes"]) % 2 == 1


def _rotate_param(axis: str) -> Param:
    return Param(
        kind="float",
        default=0.0,
        low=-180,
        high=180,
        unit="degrees",
        help=f"rotation about the patient's {axis} axis (LPS world), about the volume's centre",
    )


def _translate_param(axis: str) -> Param:
    return Param(
        kind="float",
        default=0.0,
        unit="mm",
        help=f"shift along the world {axis} axis (LPS: +x left, +y posterior, +z superior)",
    )


class Affine(VolumeOp):
    """Rotate, scale and shift the volume in physical space about its centre.

    Angles are degrees about the world (LPS) axes, applied x, then y, then z; the shift is in
    millimetres along them; scale > 1 magnifies. The voxels are resampled (linear) onto the
    input's own grid with SimpleITK and the label map by nearest neighbour through the same
    transform; voxels from outside the input take its minimum (air on CT)."""

    name = "affine"
    group = "spatial"
    spatial = True
    params: ClassVar[dict[str, Param]] = {
        "rotate_x": _rotate_param("x (left-right)"),
        "rotate_y": _rotate_param("y (anterior-posterior)"),
        "rotate_z": _rotate_param("z (inferior-superior)"),
        "scale": Param(
            kind="float",
            default=1.0,
            low=0.2,
            high=5.0,
            unit="ratio",
            help="zoom about the centre (> 1 magnifies); one draw for all axes if isotropic",
        ),
        "isotropic": Param(
            kind="bool", default=True, help="one scale for the three axes (else one draw each)"
        ),
        "translate_x": _translate_param("x"),
        "translate_y": _translate_param("y"),
        "translate_z": _translate_param("z"),
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        out = {k: self.params[k].draw(self.config[k], rng) for k in ("rotate_x", "rotate_y")}
        out["rotate_z"] = self.params["rotate_z"].draw(self.config["rotate_z"], rng)
        n = 1 if self.config["isotropic"] else 3
        scales = [self.params["scale"].draw(self.config["scale"], rng) for _ in range(n)]
        out["scale"] = scales * 3 if n == 1 else scales
        for k in ("translate_x", "translate_y", "translate_z"):
            out[k] = self.params[k].draw(self.config[k], rng)
        out["centre_mm"] = centre_mm(info)
        return out

    @staticmethod
    def transform(params: dict[str, Any]) -> Any:
        """The SimpleITK transform from output points to input points (the inverse of the
        forward move p -> A (p - c) + c + t)."""
        import SimpleITK as sitk

        a = rotation([params["rotate_x"], params["rotate_y"], params["rotate_z"]])
        a = a @ np.diag(params["scale"])
        inv = np.linalg.inv(a)
        t = np.array([params["translate_x"], params["translate_y"], params["translate_z"]])
        tf = sitk.AffineTransform(3)
        tf.SetMatrix(tuple(float(v) for v in inv.reshape(-1)))
        tf.SetCenter(tuple(float(v) for v in params["centre_mm"]))
        tf.SetTranslation(tuple(float(v) for v in -inv @ t))
        return tf

    def apply(self, data: Volume, params: dict[str, Any]) -> Volume:
        return resample(data, self.transform(params))

    def mirrors(self, params: dict[str, Any], info: dict[str, Any]) -> bool:
        """Whether the rotation and scale have a negative determinant (not with the scale's
        positive bounds: kept for the contract)."""
        a = rotation([params["rotate_x"], params["rotate_y"], params["rotate_z"]])
        return bool(np.linalg.det(a @ np.diag(params["scale"])) < 0)


class Elastic(VolumeOp):
    """Deform the volume smoothly with a random B-spline control grid.

    Each control point moves by up to `max_displacement_mm` along each world axis (uniform,
    drawn from `noise_seed`), the outer ring of points is held still, and a cubic B-spline
    interpolates between them (its weights sum to one, so no voxel moves further than the
    maximum), sampled four times per control interval and linear in between. The voxels are
    resampled linearly, the label map by nearest neighbour through the same deformation."""

    name = "elastic"
    group = "spatial"
    spatial = True
    params: ClassVar[dict[str, Param]] = {
        "max_displacement_mm": Param(
            kind="float",
            default=(2.0, 6.0),
            low=0.0,
            unit="mm",
            help="largest shift of a control point along each axis",
        ),
        "control_points": Param(
            kind="int",
            default=7,
            low=4,
            high=20,
            sampled=False,
            help="control points per axis (the outer ring stays still): fewer = smoother",
        ),
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        spec = self.params["max_displacement_mm"]
        return {
            "max_displacement_mm": spec.draw(self.config["max_displacement_mm"], rng),
            "control_points": self.config["control_points"],
            "noise_seed": int(rng.integers(0, 2**31 - 1)),
        }

    @staticmethod
    def transform(vol: Volume, params: dict[str, Any]) -> Any:
        import SimpleITK as sitk

        n = int(params["control_points"])
        z, y, x = vol.shape
        ref = sitk.Image(x, y, z, sitk.sitkUInt8)
        ref.SetSpacing(vol.spacing)
        ref.SetOrigin(vol.origin)
        ref.SetDirection(vol.direction)
        tf = sitk.BSplineTransformInitializer(ref, [n - 3] * 3, 3)
        rng = np.random.default_rng(int(params["noise_seed"]))
        top = float(params["max_displacement_mm"])
        shift = rng.uniform(-top, top, size=(3, n, n, n))  # per axis, (k, j, i) node order
        shift[:, [0, -1], :, :] = 0
        shift[:, :, [0, -1], :] = 0
        shift[:, :, :, [0, -1]] = 0
        tf.SetParameters(tuple(float(v) for v in shift.reshape(-1)))
        return tf

    def apply(self, data: Volume, params: dict[str, Any]) -> Volume:
        return resample(data, field_of(self.transform(data, params), data, params))


FIELD_STEPS = 4  # displacement samples per control-point interval (the field between is linear)


def field_of(bspline: Any, vol: Volume, params: dict[str, Any]) -> Any:
    """The B-spline deformation as a dense displacement field sampled ``FIELD_STEPS`` times
    per control-point interval (never finer than the voxels) and interpolated linearly: the
    same smooth deformation (its largest shift still at most the maximum) at a fraction of
    the B-spline's per-voxel cost (64 control points per voxel)."""
    import SimpleITK as sitk

    z, y, x = vol.shape
    size = np.array([x, y, z])
    extent = np.asarray(vol.spacing) * np.maximum(size - 1, 1)
    n = int(params["control_points"]) - 3  # B-spline mesh intervals across the extent
    step = np.maximum(extent / (n * FIELD_STEPS), np.asarray(vol.spacing))
    coarse = np.ceil(extent / step).astype(int) + 1
    spacing = extent / np.maximum(coarse - 1, 1)
    spacing[spacing == 0] = 1.0
    field = sitk.TransformToDisplacementField(
        bspline,
        sitk.sitkVectorFloat64,
        [int(v) for v in coarse],
        vol.origin,
        [float(v) for v in spacing],
        vol.direction,
    )
    return sitk.DisplacementFieldTransform(field)


class Anisotropy(VolumeOp):
    """Simulate thick slices: downsample along one image axis, then resample back.

    As TorchIO's RandomAnisotropy: the volume is resampled (linear) to `factor` times the
    spacing along `axis`, over the same physical extent, then linearly back onto its own grid,
    so the output has the input's shape and geometry and the blur of a thick-slice scan. The
    label map is kept as it is (it is the anatomy, which did not change)."""

    name = "anisotropy"
    group = "spatial"
    spatial = True
    params: ClassVar[dict[str, Param]] = {
        "axis": Param(
            kind="choice",
            default="z",
            choices=("x", "y", "z"),
            sampled=False,
            help="the image axis made coarse (z: the slice axis of most scans)",
        ),
        "factor": Param(
            kind="float",
            default=(2.0, 5.0),
            low=1.0,
            high=20.0,
            unit="ratio",
            help="how many times thicker the simulated slices are than the input's",
        ),
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        factor = self.params["factor"].draw(self.config["factor"], rng)
        i = "xyz".index(self.config["axis"])
        return {
            "axis": self.config["axis"],
            "factor": factor,
            "slice_mm": _mm(info["spacing"][i] * factor),
        }

    def apply(self, data: Volume, params: dict[str, Any]) -> Volume:
        import SimpleITK as sitk

        i = "xyz".index(params["axis"])
        size = [data.shape[2], data.shape[1], data.shape[0]]
        factor = float(params["factor"])
        n = max(1, round(size[i] / factor))
        spacing = list(data.spacing)
        spacing[i] = data.spacing[i] * size[i] / n  # the same extent in n thick slices
        # The first thick slice's centre: half a thick slice in from the grid's first edge.
        shift = np.zeros(3)
        shift[i] = (spacing[i] - data.spacing[i]) / 2
        origin = np.asarray(data.origin) + _direction(data) @ shift
        small = list(size)
        small[i] = n
        coarse_grid = (small, spacing, tuple(float(v) for v in origin), data.direction)
        identity = sitk.Transform(3, sitk.sitkIdentity)
        default = float(data.array.min()) if data.array.size else 0.0
        frames = data.array if data.array.ndim == 4 else data.array[None]
        out = []
        for frame in frames:
            coarse = resample_frame(frame, data, identity, False, default, coarse_grid)
            low = Volume(coarse, tuple(spacing), coarse_grid[2], data.direction)
            grid = ((size[0], size[1], size[2]), data.spacing, data.origin, data.direction)
            out.append(resample_frame(coarse, low, identity, False, default, grid, edge=True))
        array = np.stack(out)
        return data.with_array(array if data.array.ndim == 4 else array[0])


def _window(n: int, target: int, start: int) -> tuple[slice, slice]:
    """(source slice, destination slice) of a window of ``target`` voxels starting at
    ``start`` (negative: padding before) on an axis of ``n`` voxels."""
    src0, src1 = max(start, 0), min(start + target, n)
    dst0 = src0 - start
    return slice(src0, src1), slice(dst0, dst0 + max(src1 - src0, 0))


def crop_to(data: Volume, start_xyz: list[int], shape_xyz: list[int]) -> Volume:
    """The window of ``shape_xyz`` voxels whose first voxel is input index ``start_xyz``
    (negative or beyond the edge: padded with the volume's minimum, the label with 0); the
    origin moves so every kept voxel stays where it was in physical space."""
    start = [int(v) for v in reversed(start_xyz)]  # (z, y, x)
    shape = [int(v) for v in reversed(shape_xyz)]
    windows = [_window(n, t, s) for n, t, s in zip(data.shape, shape, start, strict=True)]
    src = tuple(w[0] for w in windows)
    dst = tuple(w[1] for w in windows)
    fill = data.array.min() if data.array.size else 0
    lead = data.array.shape[:-3]
    array = np.full((*lead, *shape), fill, data.array.dtype)
    array[(..., *dst)] = data.array[(..., *src)]
    label = None
    if data.label is not None:
        label = np.zeros(shape, data.label.dtype)
        label[dst] = data.label[src]
    offset = np.asarray(data.spacing) * np.asarray(start_xyz, np.float64)
    origin = np.asarray(data.origin) + _direction(data) @ offset
    return data.with_array(array, label=label, origin=tuple(float(v) for v in origin))


class CropOrPad(VolumeOp):
    """Crop or pad the volume to `shape` voxels, centred.

    An axis longer than the target is cropped equally from both ends (the odd voxel from
    the end), a shorter one padded with the volume's minimum (the label with 0). No
    resampling: voxels keep their values and their physical positions (the origin moves)."""

    name = "crop_or_pad"
    group = "spatial"
    spatial = True
    params: ClassVar[dict[str, Param]] = {
        "shape": Shape(kind="size", default=[128, 128, 64], sampled=False, help="[x, y, z] voxels"),
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        shape = list(self.config["shape"])
        z, y, x = info["shape"]
        start = [(n - t) // 2 for n, t in zip((x, y, z), shape, strict=True)]
        return {"shape": shape, "start": start}

    def apply(self, data: Volume, params: dict[str, Any]) -> Volume:
        return crop_to(data, params["start"], params["shape"])


class RandomCrop(VolumeOp):
    """Crop a window of `shape` voxels at a random place, or around the label's foreground.

    `around: foreground` centres the window on a label voxel drawn at random (every labelled
    voxel equally likely), clamped inside the volume, so the window always holds labelled
    tissue (a large lesion may still be cut at the window's edge); a case whose label map is
    empty falls back to anywhere. An axis shorter than the window is padded, centred."""

    name = "random_crop"
    group = "spatial"
    spatial = True
    params: ClassVar[dict[str, Param]] = {
        "shape": Shape(kind="size", default=[96, 96, 48], sampled=False, help="[x, y, z] voxels"),
        "around": Param(
            kind="choice",
            default="anywhere",
            choices=("anywhere", "foreground"),
            sampled=False,
            help="anywhere, or centred on a random label voxel (needs volume.labels)",
        ),
    }

    def check_input(self, info: dict[str, Any]) -> None:
        if self.config["around"] == "foreground" and info.get("label_map") is None:
            raise InputError(
                "random_crop around: foreground needs the case's label map; set volume.labels "
                "in the recipe (or use around: anywhere)"
            )

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        shape = list(self.config["shape"])
        z, y, x = info["shape"]
        size = [x, y, z]
        label = info.get("label_map")
        centre = None
        if self.config["around"] == "foreground" and label is not None:
            hits = np.flatnonzero(label)
            if hits.size:
                k, j, i = np.unravel_index(hits[int(rng.integers(hits.size))], label.shape)
                centre = [int(i), int(j), int(k)]
        start = []
        for a in range(3):
            n, t = size[a], shape[a]
            if t >= n:
                start.append((n - t) // 2)
            elif centre is not None:
                start.append(int(np.clip(centre[a] - t // 2, 0, n - t)))
            else:
                start.append(int(rng.integers(0, n - t + 1)))
        d = _direction(info)
        first = np.asarray(info["origin"]) + d @ (np.asarray(info["spacing"]) * np.array(start))
        return {
            "shape": shape,
            "start": start,
            "voxel": centre,
            "start_mm": [_mm(v) for v in first],
        }

    def apply(self, data: Volume, params: dict[str, Any]) -> Volume:
        return crop_to(data, params["start"], params["shape"])
