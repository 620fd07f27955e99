"""Intensity and MRI/CT artefact maths shared by volume ops and 2-D image ops: pure numpy/scipy.

Every function takes an n-D real array (a 2-D slice or a 3-D volume alike, axes in numpy
order: (z, y, x) or (y, x); float64, or any real dtype for the k-space ones) and returns
float64; the k-space ones (motion, ghosting, spike, gibbs) take a ``dtype`` to return instead
(the volume ops pass the stored one, so an int16 CT's result is built, rounded, a slab at a
time). Where a length matters it takes the voxel spacing in millimetres, in the same axis
order; every random value is an argument: nothing here draws. The ``draw_*`` functions at the
end are what ops call in ``sample`` (with the op's generator), so that image and volume ops
draw alike; their results are JSON-safe lists, recorded in the manifest.

k-space follows TorchIO: ``fftshift(fftn(x))``, the centre of k-space (DC) at index ``n // 2``
on each axis. The code keeps the uncentred spectrum and centres its masks and indices
instead: the same result without the full-size copies that shifting makes. The image comes
back as the real part of the inverse (the input is real, so a symmetric change of k-space
gives a real result; a one-sided one, such as a spike, keeps its real part, as TorchIO's
ghosting and spike do; its motion takes the magnitude, see ``motion``). The real part of the
inverse of K is the inverse of its Hermitian part (K(f) + conj K(-f)) / 2, so every op works
on ``half_spectrum`` (``rfftn``'s half of k-space) or, for ghosting, along one axis only.

Memory (a worker's peak on a 512x512x300 int16 CT, ``benchmarks/volume_memory.py``): the
input, the result and at most one full-size complex array (complex64 for 16-bit and float32
data, ``working_dtype``), everything else a slab of ``SLAB_VOXELS`` at a time in float64.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from augcli.core.errors import RecipeError
from augcli.params import Param

# -- k-space ---------------------------------------------------------------------------------
# Whole-array ops run a slab of first-axis planes (or a block of columns) at a time, about this
# many voxels (16 MB of complex128), so that nothing full-size is held but the result.
SLAB_VOXELS = 1 << 18


def slabs(n: int, plane: int) -> list[slice]:
    """Slices cutting ``n`` planes of ``plane`` voxels each into slabs of about SLAB_VOXELS."""
    step = max(1, SLAB_VOXELS // max(1, plane))
    return [slice(i, min(n, i + step)) for i in range(0, n, step)]


def working_dtype(dtype: Any) -> np.dtype:
    """The complex type k-space is held in for data of ``dtype``: complex64 for data of at most
    16 bits (int16 CT, uint8/uint16 scans) and for float32/float16 (its 24-bit mantissa is
    float32's own precision), complex128 otherwise (float64, 32/64-bit integers). Arithmetic is
    float64 throughout; only the full-size array is stored at this precision. For int16 CT that
    changes no voxel by more than one level after rounding (``benchmarks/volume_memory.py
    --check`` measures it) and halves the op's peak memory."""
    dtype = np.dtype(dtype)
    if dtype in (np.float16, np.float32) or (dtype.kind in "biu" and dtype.itemsize <= 2):
        return np.dtype(np.complex64)
    return np.dtype(np.complex128)


def as_dtype(values: np.ndarray, dtype: Any) -> np.ndarray:
    """float64 ``values`` in ``dtype`` (``values``, a temporary, is overwritten): float64 as it
    is, integers rounded to nearest and clipped to the dtype's range (never wrapping), booleans
    thresholded at 0.5, other floats clipped to the dtype's finite range and cast."""
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return values
    if dtype == np.bool_:
        return values >= 0.5
    top: Any = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else np.finfo(dtype)
    if np.issubdtype(dtype, np.integer):
        np.rint(values, out=values)
    np.clip(values, top.min, top.max, out=values)
    return values.astype(dtype)


def copy_as(x: np.ndarray, dtype: Any = np.float64) -> np.ndarray:
    """x unchanged, in ``dtype`` (``as_dtype``), converted a slab at a time."""
    out = np.empty(x.shape, dtype)
    for planes in slabs(len(x), x[0].size if len(x) else 1):
        out[planes] = as_dtype(x[planes].astype(np.float64), dtype)
    return out


def along_first(k: np.ndarray, inverse: bool = False) -> None:
    """The (inverse) FFT along axis 0 of complex ``k``, in place, a block of columns at a time
    (float64 arithmetic whatever k's precision)."""
    from scipy import fft

    transform = fft.ifft if inverse else fft.fft
    columns = k.reshape(len(k), -1)  # a view: k is contiguous
    for block in slabs(columns.shape[1], len(k)):
        columns[:, block] = transform(columns[:, block].astype(np.complex128), axis=0)


def half_spectrum(x: np.ndarray) -> np.ndarray:
    """The uncentred spectrum of real ``x`` (2-D or more, any real dtype: the volume ops pass
    the stored int16 frame itself) as ``rfftn`` gives it: the last axis halved (its n // 2 + 1
    first frequencies; the others follow by Hermitian symmetry, K(-f) = conj K(f)), in
    ``working_dtype(x.dtype)``. Built a slab of planes at a time (the other axes' transform),
    then along the first axis a block of columns at a time: the result is the only full-size
    array it makes (complex64: 2x an int16 volume's size)."""
    from scipy import fft

    k = np.empty((*x.shape[:-1], x.shape[-1] // 2 + 1), working_dtype(x.dtype))
    axes = tuple(range(1, x.ndim))
    for planes in slabs(len(x), x[0].size):
        k[planes] = fft.rfftn(x[planes].astype(np.float64), axes=axes)
    along_first(k)
    return k


def image_into(
    k: np.ndarray,
    shape: Sequence[int],
    dtype: Any = np.float64,
    add: Any = None,
) -> np.ndarray:
    """The real image of the half spectrum ``k`` (``irfftn`` to ``shape``; ``k`` is overwritten),
    in ``dtype`` (``as_dtype``), a slab of planes at a time: with an int16 dtype the result is
    the only other full-size array. ``add(planes, values)`` may change each float64 slab in
    place before it is stored."""
    from scipy import fft

    along_first(k, inverse=True)
    out = np.empty(tuple(shape), dtype)
    axes = tuple(range(1, len(shape)))
    for planes in slabs(shape[0], math.prod(shape[1:])):
        values = fft.irfftn(k[planes].astype(np.complex128), s=tuple(shape[1:]), axes=axes)
        if add is not None:
            add(planes, values)
        out[planes] = as_dtype(values, dtype)
    return out


def uncentred(index: np.ndarray | int, n: int) -> np.ndarray | int:
    """Where centred k-space index ``index`` (DC at n // 2) lies in the uncentred spectrum."""
    return (index - n // 2) % n


def peak_magnitude(k: np.ndarray) -> float:
    """The largest |k|, a slab of planes at a time (no full-size temporary). On a half spectrum
    it is the whole spectrum's (|K(-f)| = |K(f)|)."""
    return max(float(np.abs(k[planes]).max()) for planes in slabs(len(k), k[0].size))


# -- intensity -------------------------------------------------------------------------------
def gamma(
    x: np.ndarray, value: float, lo: float | None = None, hi: float | None = None
) -> np.ndarray:
    """Gamma on an intensity range: lo + (hi - lo) * ((x - lo) / (hi - lo)) ** value, lo and hi
    by default the array's minimum and maximum (give them to treat a part of a volume as the
    whole); a flat range returns x as it is.

    TorchIO's RandomGamma raises the raw values to the power (sign kept for negative values),
    so its result depends on the units (HU, arbitrary MRI units); here the minimum and maximum
    stay where they are and the curve acts between them, so CT in HU and MRI in any scale are
    treated alike. TorchIO draws log(gamma) uniformly; the ops here draw gamma itself.
    """
    lo = float(x.min()) if lo is None else lo
    hi = float(x.max()) if hi is None else hi
    if hi <= lo:
        return x.copy()
    return lo + (hi - lo) * (np.clip((x - lo) / (hi - lo), 0, 1)) ** value


def gaussian_noise(x: np.ndarray, normal: np.ndarray, std: float, mean: float = 0.0) -> np.ndarray:
    """x + mean + std * normal, ``normal`` standard normal noise of x's shape (drawn outside).

    As TorchIO's RandomNoise (std and mean in the data's own units: HU for CT) and MONAI's
    RandGaussianNoise; neither clips, the ops round and clip only when writing the dtype back.
    """
    return x + (mean + std * normal)


def rician_noise(x: np.ndarray, normal1: np.ndarray, normal2: np.ndarray, std: float) -> np.ndarray:
    """Rician noise: the magnitude of the signal with complex Gaussian noise added,
    sqrt((x + std n1)^2 + (std n2)^2), n1 and n2 independent standard normals (drawn outside).

    What a magnitude MR image shows: on zero signal its mean is std * sqrt(pi / 2), not 0.
    As MONAI's RandRicianNoise with mean 0 and ``relative=False`` (std in the data's units);
    TorchIO has no Rician noise. The result is never negative, so it is meant for magnitude
    (MRI) data: negative values (CT in HU) are folded up.
    """
    return np.hypot(x + std * normal1, std * normal2)


def blur(x: np.ndarray, sigma_mm: Sequence[float], spacing: Sequence[float]) -> np.ndarray:
    """Gaussian blur of standard deviation ``sigma_mm`` per axis in millimetres, i.e.
    sigma_mm / spacing voxels (reflected borders, kernel cut at 4 sigma).

    As TorchIO's RandomBlur (std in mm, converted with the spacing, scipy's gaussian_filter);
    MONAI's GaussianSmooth takes sigma in voxels. Same physical blur on a 0.5 mm and a 2 mm grid.
    """
    from scipy import ndimage

    sigma = [float(s) / float(d) for s, d in zip(sigma_mm, spacing, strict=True)]
    return ndimage.gaussian_filter(x, sigma, mode="reflect", truncate=4.0)


def bias_terms(order: int, ndim: int) -> list[tuple[int, ...]]:
    """The exponents of the monomials of total degree <= ``order`` in ``ndim`` variables, in
    TorchIO's loop order (the first axis's power outermost)."""
    if ndim == 0:
        return [()]
    return [
        (first, *rest) for first in range(order + 1) for rest in bias_terms(order - first, ndim - 1)
    ]


def bias_field(
    shape: Sequence[int],
    order: int,
    coefficients: Sequence[float],
    planes: slice | None = None,
) -> np.ndarray:
    """A smooth multiplicative field exp(sum_i c_i * m_i), the m_i the monomials of
    ``bias_terms(order, len(shape))`` in coordinates normalised to [-1, 1] per axis (voxel
    centres; a length-1 axis is at 0).

    As TorchIO's RandomBiasField: the same polynomial, the same normalised coordinates, the
    exponential, coefficients drawn uniformly in [-c, c] (outside, ``draw_uniform``). Here the
    coefficients follow numpy's axis order, and TorchIO's transposition of the first two axes of
    each term is not copied (it only works on cubes). Order 0 is the constant exp(c_0).
    ``planes`` gives only those planes of the first axis (the field of a slab of the volume).
    """
    terms = bias_terms(order, len(shape))
    if len(coefficients) != len(terms):
        raise ValueError(f"order {order} needs {len(terms)} coefficients, got {len(coefficients)}")
    axes = [(np.arange(n) - (n - 1) / 2) / ((n - 1) / 2) if n > 1 else np.zeros(1) for n in shape]
    if planes is not None:
        axes[0] = axes[0][planes]
    grids = np.meshgrid(*axes, indexing="ij", sparse=True)
    log_field = np.zeros(tuple(len(a) for a in axes))
    for c, powers in zip(coefficients, terms, strict=True):
        term = np.ones(1)
        for grid, p in zip(grids, powers, strict=True):
            term = term * grid**p
        log_field = log_field + c * term
    return np.exp(log_field)


def rescale(x: np.ndarray, in_lo: float, in_hi: float, out_lo: float, out_hi: float) -> np.ndarray:
    """Map [in_lo, in_hi] linearly onto [out_lo, out_hi], clipping outside (a CT window).

    As TorchIO's RescaleIntensity with ``in_min_max`` (and MONAI's ScaleIntensityRange with
    ``clip=True``); ``percentile_range`` gives the input range of its ``percentiles``.
    """
    if in_hi <= in_lo:
        return np.full_like(x, (out_lo + out_hi) / 2)
    scaled = (np.clip(x, in_lo, in_hi) - in_lo) / (in_hi - in_lo)
    return out_lo + (out_hi - out_lo) * scaled


def window_range(center: float, width: float) -> tuple[float, float]:
    """The input range of a display window: [center - width / 2, center + width / 2]."""
    return center - width / 2, center + width / 2


def percentile_range(x: np.ndarray, low: float, high: float) -> tuple[float, float]:
    """The values at percentiles ``low`` and ``high`` (0..100) of x (linear interpolation)."""
    lo, hi = np.percentile(x, [low, high])
    return float(lo), float(hi)


# -- MRI/CT artefacts ------------------------------------------------------------------------
def rigid_matrix(
    angles: Sequence[float], translation: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """A rotation (degrees) and translation (mm) given in ITK's (x, y, z) order, as the matrix
    and vector acting on physical points in numpy's (z, y, x) order. 3-D: angles about x, y and
    z composed as ITK's Euler3DTransform (R = Rz Rx Ry); 2-D: one angle, (x, y) translation."""
    t = np.asarray(translation, float)
    if len(t) == 2:
        (a,) = np.radians(angles)
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    else:
        ax, ay, az = np.radians(angles)
        cx, sx, cy, sy, cz, sz = (f(v) for v in (ax, ay, az) for f in (math.cos, math.sin))
        rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
        ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
        rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
        rot = rz @ rx @ ry
    return rot[::-1, ::-1], t[::-1]


def rigid_resample(
    x: np.ndarray,
    spacing: Sequence[float],
    angles: Sequence[float],
    translation: Sequence[float],
    region: Sequence[slice] | None = None,
    cval: float | None = None,
) -> np.ndarray:
    """x moved rigidly about the grid's centre in physical space (linear interpolation; the
    array's minimum outside, as TorchIO's resampler): out(p) = x(R (p - c) + c + t), float64
    whatever x's dtype. ``region`` (a slice per axis) gives only that box of the output (the
    same values, a block at a time); ``cval`` the value outside (x's minimum by default)."""
    from scipy import ndimage

    rot, t = rigid_matrix(angles, translation)
    s = np.asarray(spacing, float)
    centre = s * (np.asarray(x.shape) - 1) / 2
    matrix = rot * s[None, :] / s[:, None]
    offset = (centre - rot @ centre + t) / s
    shape = x.shape
    if region is not None:
        first = np.array([r.indices(n)[0] for r, n in zip(region, x.shape, strict=True)])
        shape = tuple(len(range(*r.indices(n))) for r, n in zip(region, x.shape, strict=True))
        offset = offset + matrix @ first
    return ndimage.affine_transform(
        x,
        matrix,
        offset,
        output_shape=shape,
        output=np.float64,
        order=1,
        mode="constant",
        cval=float(x.min()) if cval is None else cval,
    )


def motion_planes(times: Sequence[float], n: int) -> np.ndarray:
    """Which copy (0 the unmoved one, i the i-th movement) fills each plane of the uncentred
    spectrum along the first axis, ``n`` planes: segments of centred k-space cut at ``times``
    filled in turn, the segment holding the centre swapped with copy 0's."""
    above = [i for i, time in enumerate(times) if time > 0.5]
    centre = min(above) if above else len(times)
    order = list(range(len(times) + 1))  # segment i is filled by copy order[i]
    order[0], order[centre] = order[centre], order[0]
    bounds = [int(n * time) for time in times] + [n]
    filled = np.empty(n, int)  # by centred plane
    start = 0
    for copy, stop in zip(order, bounds, strict=True):
        filled[start : max(start, stop)] = copy
        start = max(start, stop)
    return filled[(np.arange(n) + n // 2) % n]  # uncentred plane u is centred (u + n // 2) % n


def motion(
    x: np.ndarray,
    spacing: Sequence[float],
    angles: Sequence[Sequence[float]],
    translations: Sequence[Sequence[float]],
    times: Sequence[float],
    dtype: Any = np.float64,
) -> np.ndarray:
    """Motion during the acquisition: k-space filled, in segments along the first axis, from
    the spectra of rigidly moved copies (``rigid_resample``: angles in degrees, translations in
    mm); the real part of its inverse, in ``dtype`` (``as_dtype``).

    As TorchIO's RandomMotion (Shaw et al. 2019): copy 0 is the unmoved image, ``times``
    (sorted fractions in (0, 1), one per movement) cut the axis into segments filled in turn by
    the copies, and the unmoved spectrum is swapped into the segment holding the centre of
    k-space (the first time above 0.5), so the image stays recognisable. Differences: TorchIO
    splits along the last axis of its (x, y, z) array, which is z = axis 0 here, and for 2-D
    images along a length-1 axis; here 2-D images split along rows. TorchIO rotates about
    physical (LPS) axes through the direction cosines and about the index centre size / 2; here
    about the grid's own axes and its true centre (n - 1) / 2. TorchIO returns the magnitude of
    the inverse transform (warning that negative values are lost); here the real part, so CT
    keeps its negative HU.

    Memory: TorchIO holds every moved copy and its full spectrum at once; here one half
    spectrum (``half_spectrum``'s layout) is the only full-size array besides the result. The
    real part of the inverse of K is the inverse of its Hermitian part (K(f) + conj K(-f)) / 2,
    and each copy's spectrum is Hermitian, so a plane f of that part is the mean of the copies
    filling planes f and -f: each copy adds its planes, weighted, to one accumulator. A copy is
    resampled and transformed a block of rows (axis 1) at a time along the first and last axes,
    the middle axis transformed once at the end (the transforms along different axes commute).
    """
    from scipy import fft

    moves = list(zip(angles, translations, strict=True))
    n = x.shape[0]
    by_plane = motion_planes(times, n)
    mirror = by_plane[(-np.arange(n)) % n]
    k = np.zeros((*x.shape[:-1], x.shape[-1] // 2 + 1), working_dtype(x.dtype))
    cval = float(x.min())
    full = [slice(None)] * x.ndim
    blocks = (
        [tuple(full)]
        if x.ndim < 3
        else [(slice(None), rows, *full[2:]) for rows in slabs(x.shape[1], n * x[0, 0].size)]
    )
    for copy in range(len(moves) + 1):
        weight = 0.5 * (by_plane == copy) + 0.5 * (mirror == copy)
        planes = np.flatnonzero(weight)
        if not planes.size:
            continue
        w = weight[planes].reshape(-1, *[1] * (x.ndim - 1))
        for block in blocks:  # one block of one moved copy in memory at a time
            if copy == 0:
                moved = x[block].astype(np.float64)
            else:
                moved = rigid_resample(x, spacing, *moves[copy - 1], region=block, cval=cval)
            part = fft.fft(fft.rfft(moved, axis=-1), axis=0, overwrite_x=True)
            k[(planes, *block[1:])] += w * part[planes]
    if x.ndim > 2:  # the middle axes, a slab of planes at a time
        middle = tuple(range(1, x.ndim - 1))
        for planes in slabs(n, k[0].size):
            k[planes] = fft.fftn(k[planes].astype(np.complex128), axes=middle)
    return image_into(k, x.shape, dtype)


def ghosting_mask(n: int, num_ghosts: int, intensity: float, restore: float) -> np.ndarray:
    """The factor applied to each k-space plane along the ghosting axis: every ``num_ghosts``-th
    plane (0, n, 2n, ...) multiplied by 1 - intensity, the centre plane ``n // 2`` and the
    ``restore`` fraction of planes around it kept as they were."""
    mask = np.ones(n)
    if num_ghosts > 0:
        mask[::num_ghosts] = 1 - intensity
    half = round(restore * n / 2)
    mid = n // 2
    mask[max(0, mid - half) : mid + half + 1] = 1.0
    return mask


def ghosting(
    x: np.ndarray,
    num_ghosts: int,
    axis: int,
    intensity: float,
    restore: float,
    dtype: Any = np.float64,
) -> np.ndarray:
    """Periodic ghosts along ``axis`` (the phase-encoding direction): k-space planes attenuated
    by ``ghosting_mask`` along that axis; the real part, in ``dtype`` (``as_dtype``).

    As TorchIO's RandomGhosting: planes ``[::num_ghosts]`` of the centred spectrum times
    (1 - intensity), and the centre plane restored. TorchIO always restores only the centre
    plane (its ``restore`` fraction is computed but unused in the version read); here
    ``restore`` is the fraction of planes around the centre kept (0: the centre plane only,
    TorchIO's behaviour). ``num_ghosts`` 0 or ``intensity`` 0 leaves the image as it is.

    The mask varies along ``axis`` only, so the transforms along the other axes cancel: the
    same result is a 1-D filter along ``axis``, and its real part the filter by the mask
    symmetrised about DC, (m(f) + m(-f)) / 2. It runs a slab at a time in float64: memory
    holds little more than the input and the result.
    """
    if not num_ghosts or not intensity:
        return copy_as(x, dtype)
    from scipy import fft

    n = x.shape[axis]
    mask = np.fft.ifftshift(ghosting_mask(n, num_ghosts, intensity, restore))  # uncentred
    mask = (mask + np.roll(mask[::-1], 1)) / 2  # np.roll(mask[::-1], 1)[f] is mask[-f]
    view = [1] * x.ndim
    view[axis] = -1
    half = mask[: n // 2 + 1].reshape(view)
    cut = 1 if axis == 0 else 0  # slabs along another axis
    out = np.empty(x.shape, dtype)
    for part in slabs(x.shape[cut], x.size // max(1, x.shape[cut])):
        index: list[Any] = [slice(None)] * x.ndim
        index[cut] = part
        lines = fft.rfft(x[tuple(index)].astype(np.float64), axis=axis)
        lines *= half
        out[tuple(index)] = as_dtype(fft.irfft(lines, n, axis=axis), dtype)
    return out


def spike_indices(shape: Sequence[int], positions: Sequence[Sequence[float]]) -> list[tuple]:
    """k-space indices of spikes at fractional ``positions`` in [0, 1) per axis:
    floor(position * n), as TorchIO."""
    return [
        tuple(min(math.floor(p * n), n - 1) for p, n in zip(pos, shape, strict=True))
        for pos in positions
    ]


def spike(
    x: np.ndarray, positions: Sequence[Sequence[float]], intensity: float, dtype: Any = np.float64
) -> np.ndarray:
    """Herringbone stripes: k-space points set to ``intensity`` times the spectrum's largest
    magnitude, at ``spike_indices(x.shape, positions)``; the real part, in ``dtype``.

    As TorchIO's RandomSpike: a spike on one side of k-space only (a real scanner's bad data
    point), its value set (not added), the real part kept. TorchIO takes the spectrum's
    ``max()``, which for complex numbers compares real parts; here the largest magnitude (the
    DC term's for a non-negative image, so the same there), with phase 0.

    Setting K(f) to v adds (v - K(f)) at f, whose inverse's real part is a plane wave: the
    result is x plus one wave per spiked frequency, built a slab at a time. Only the largest
    magnitude and the spiked values need the spectrum (``half_spectrum``, freed before the
    result is made); x itself is not transformed back, so it loses nothing to rounding.
    """
    k = half_spectrum(x)
    top = peak_magnitude(k)
    shape = x.shape
    changes: dict[tuple[int, ...], complex] = {}
    for index in spike_indices(shape, positions):
        f = tuple(int(uncentred(i, n)) for i, n in zip(index, shape, strict=True))
        if f[-1] < k.shape[-1]:
            here = complex(k[f])
        else:  # in the half not stored: K(f) = conj K(-f)
            here = complex(k[tuple((-i) % n for i, n in zip(f, shape, strict=True))]).conjugate()
        changes[f] = top * intensity - here
    del k
    size = x.size
    out = np.empty(shape, dtype)
    for planes in slabs(shape[0], x[0].size):
        values = x[planes].astype(np.float64)
        for f, change in changes.items():
            wave: Any = change / size
            for axis, (i, n) in enumerate(zip(f, shape, strict=True)):
                r = np.arange(n)[planes] if axis == 0 else np.arange(n)
                view = [1] * len(shape)
                view[axis] = -1
                wave = wave * np.exp(2j * np.pi * ((i * r) % n) / n).reshape(view)
            values += wave.real
        out[planes] = as_dtype(values, dtype)
    return out


def gibbs_mask(
    shape: Sequence[int],
    alpha: float,
    centred: bool = True,
    planes: slice | None = None,
    half: bool = False,
) -> np.ndarray:
    """True where k-space is kept: within radius (1 - alpha) * R of the centre ``n // 2``, R the
    distance from the centre to the farthest corner (alpha 0 keeps all, 1 only the DC term).
    ``centred=False`` gives the same mask in the uncentred spectrum's order; ``planes`` only
    those planes of the first axis, ``half`` only the first n // 2 + 1 of the last (uncentred:
    ``half_spectrum``'s layout)."""
    far2 = sum(max(n // 2, n - 1 - n // 2) ** 2 for n in shape)
    radius2 = ((1 - alpha) ** 2) * far2 + 1e-9
    dist2: Any = 0.0
    for axis, n in enumerate(shape):  # squared distance, one broadcast axis at a time
        index = np.arange(n)
        offset = index - n // 2 if centred else (index + n // 2) % n - n // 2
        if axis == 0 and planes is not None:
            offset = offset[planes]
        if axis == len(shape) - 1 and half:
            offset = offset[: n // 2 + 1]
        view = [1] * len(shape)
        view[axis] = -1
        dist2 = dist2 + (offset.astype(np.float64) ** 2).reshape(view)
    return dist2 <= radius2


def gibbs(x: np.ndarray, alpha: float, dtype: Any = np.float64) -> np.ndarray:
    """Gibbs ringing: k-space truncated to a ball (``gibbs_mask``), ripples beside every edge
    (an overshoot of about 9 % of a step's height); in ``dtype`` (``as_dtype``).

    As MONAI's GibbsNoise(alpha): alpha in [0, 1], 0 the identity, the real part kept. MONAI's
    radius is (1 - alpha) * max(shape) * sqrt(2) / 2 about (n - 1) / 2, which in 3-D cuts the
    corners even at alpha 0; here the radius reaches the farthest corner, so alpha 0 is the
    identity in any dimension, and the ball is centred on the DC term (n // 2). The ball is
    symmetric about DC, so the result is real: the half spectrum (``half_spectrum``) is all it
    needs, masked a slab at a time.
    """
    if alpha <= 0:
        return copy_as(x, dtype)
    k = half_spectrum(x)
    for planes in slabs(len(k), k[0].size):
        k[planes] *= gibbs_mask(x.shape, alpha, centred=False, planes=planes, half=True)
    return image_into(k, x.shape, dtype)


def swap(
    x: np.ndarray, patch: Sequence[int], pairs: Sequence[Sequence[Sequence[int]]]
) -> np.ndarray:
    """Patch shuffling: for each pair of corners (first, second), the patch of size ``patch``
    voxels at first and the one at second exchanged, pair after pair.

    As TorchIO's RandomSwap (sequential swaps of equal patches at random places). TorchIO
    refuses only a second patch inside the first, so overlapping pairs copy some voxels twice;
    ``draw_swap_pairs`` draws disjoint pairs only, so every swap is a permutation and the
    histogram is kept exactly. Patch size may be given in mm by the op (converted with the
    spacing); TorchIO's is in voxels.
    """
    out = x.copy()
    size = [int(p) for p in patch]
    for first, second in pairs:
        a = tuple(slice(s, s + n) for s, n in zip(first, size, strict=True))
        b = tuple(slice(s, s + n) for s, n in zip(second, size, strict=True))
        out[a], out[b] = out[b].copy(), out[a].copy()
    return out


# -- draws (the ops' ``sample`` calls these with their generator) --------------------------------
def draw_uniform(rng: np.random.Generator, spread: float, count: int) -> list[float]:
    """``count`` values uniform in [-spread, spread] (0 when spread is 0)."""
    if spread == 0:
        return [0.0] * count
    return [float(v) for v in rng.uniform(-spread, spread, count)]


def draw_motion(
    rng: np.random.Generator, count: int, degrees: float, translation: float, ndim: int
) -> dict[str, Any]:
    """``count`` movements (angles in [-degrees, degrees], 3 in 3-D and 1 in 2-D; translations
    in [-translation, translation] per axis, in ITK's (x, y, z) order) and their sorted times:
    the k/(count + 1) plus a perturbation of up to 0.3 of that step, as TorchIO's get_params."""
    angles = [draw_uniform(rng, degrees, 3 if ndim == 3 else 1) for _ in range(count)]
    moves = [draw_uniform(rng, translation, ndim) for _ in range(count)]
    step = 1 / (count + 1)
    times = [(i + 1) * step + float(rng.uniform(-0.3 * step, 0.3 * step)) for i in range(count)]
    return {"angles": angles, "translations": moves, "times": sorted(times)}


def draw_positions(rng: np.random.Generator, count: int, ndim: int) -> list[list[float]]:
    """``count`` points uniform in [0, 1) per axis (k-space spike positions, as TorchIO)."""
    return [[float(v) for v in rng.random(ndim)] for _ in range(count)]


def disjoint(first: Sequence[int], second: Sequence[int], patch: Sequence[int]) -> bool:
    """Whether two patches of size ``patch`` at these corners share no voxel."""
    return any(abs(a - b) >= p for a, b, p in zip(first, second, patch, strict=True))


def can_swap(shape: Sequence[int], patch: Sequence[int]) -> bool:
    """Whether two disjoint patches fit: along some axis, twice the patch fits the array."""
    return all(p <= n for p, n in zip(patch, shape, strict=True)) and any(
        2 * p <= n for p, n in zip(patch, shape, strict=True)
    )


SWAP_TRIES = 100_000


def draw_swap_pairs(
    rng: np.random.Generator, shape: Sequence[int], patch: Sequence[int], count: int
) -> list[list[list[int]]]:
    """``count`` pairs of disjoint patch corners, uniform over the disjoint pairs (both corners
    redrawn until they are disjoint; ``can_swap`` must hold, so such pairs exist)."""
    if not can_swap(shape, patch):
        raise ValueError(f"no two disjoint {list(patch)} patches fit in {list(shape)}")
    ends = [n - p + 1 for n, p in zip(shape, patch, strict=True)]
    pairs = []
    for _ in range(count):
        for _ in range(SWAP_TRIES):
            first = [int(rng.integers(0, e)) for e in ends]
            second = [int(rng.integers(0, e)) for e in ends]
            if disjoint(first, second, patch):
                break
        else:
            raise ValueError(f"{list(patch)} patches in {list(shape)}: no disjoint pair drawn")
        pairs.append([first, second])
    return pairs


# Parameters the 2-D scanner ops (image) and the volume ops share, so that they read and
# behave the same in both sections (lines of k-space on a slice are planes in a volume).
BIAS_COEFFICIENTS = Param(
    default=0.5,
    low=0.0,
    high=10.0,
    sampled=False,
    unit="log gain",
    help="largest magnitude of each polynomial coefficient",
)
BIAS_ORDER = Param(
    kind="int", default=3, low=0, high=8, sampled=False, help="degree of the polynomial"
)
MOTION_TRANSFORMS = Param(
    kind="int", default=2, low=1, high=20, help="number of movements during the scan"
)
GHOST_COUNT = Param(
    kind="int",
    default=[4, 10],
    low=0,
    high=1000,
    help="spacing of the attenuated k-space lines (planes in a volume)",
)
GHOST_INTENSITY = Param(
    default=[0.5, 1.0],
    low=0.0,
    high=1.0,
    unit="fraction",
    help="how much of each attenuated line (plane) is removed",
)
GHOST_RESTORE = Param(
    default=0.02,
    low=0.0,
    high=1.0,
    sampled=False,
    unit="fraction of the axis",
    help="share of k-space lines (planes) around the centre left untouched",
)
SPIKE_COUNT = Param(kind="int", default=1, low=0, high=100, help="number of spikes")
SWAP_ITERATIONS = Param(
    kind="int", default=100, low=0, high=100000, help="number of patch pairs swapped"
)
RESCALE_BY = ("window", "percentiles")  # where rescale takes its input range from
LOW_PERCENTILE = Param(
    default=0.5, low=0.0, high=100.0, unit="percent", help="input minimum (percentiles)"
)
HIGH_PERCENTILE = Param(
    default=99.5, low=0.0, high=100.0, unit="percent", help="input maximum (percentiles)"
)


def check_rescale(config: dict[str, Any], path: str) -> None:
    """A rescale's settings (either section's): percentiles in order, out_min below out_max."""
    lo, hi = config["low_percentile"], config["high_percentile"]
    low = max(lo) if isinstance(lo, tuple) else lo
    high = min(hi) if isinstance(hi, tuple) else hi
    if config["by"] == "percentiles" and low >= high:
        raise RecipeError(
            "low_percentile must stay below high_percentile",
            path=f"{path}.low_percentile",
            value=lo,
            fix=f"Use values below high_percentile ({hi}).",
        )
    if config["out_min"] >= config["out_max"]:
        raise RecipeError(
            "out_min must be below out_max",
            path=f"{path}.out_min",
            value=config["out_min"],
            fix=f"Use a value below out_max ({config['out_max']:g}).",
        )
