"""Intensity and MRI/CT artefact maths shared by volume ops and 2-D image ops: pure numpy/scipy.

Every function takes an n-D real array (a 2-D slice or a 3-D volume alike, axes in numpy
order: (z, y, x) or (y, x); float64, or any real dtype for the k-space ones) and returns
float64. Where a length matters it takes the voxel spacing in millimetres, in the same axis
order; every random value is an argument: nothing here draws. The ``draw_*`` functions at the
end are what ops call in ``sample`` (with the op's generator), so that image and volume ops
draw alike; their results are JSON-safe lists, recorded in the manifest.

k-space follows TorchIO: ``fftshift(fftn(x))``, the centre of k-space (DC) at index ``n // 2``
on each axis. The code keeps the uncentred ``spectrum`` and centres its masks and indices
instead: the same result without the full-size copies that shifting makes. The image comes
back as the real part of the inverse (the input is real, so a symmetric change of k-space
gives a real result; a one-sided one, such as a spike, keeps its real part, as TorchIO's
ghosting and spike do; its motion takes the magnitude, see ``motion``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from augcli.params import Param


# -- k-space ---------------------------------------------------------------------------------
def spectrum(x: np.ndarray) -> np.ndarray:
    """The uncentred complex128 spectrum of real ``x`` (any dtype: the volume ops pass the
    stored int16 frame itself): one complex copy, transformed in place; x is not modified."""
    from scipy import fft

    return fft.fftn(np.asarray(x, np.complex128), overwrite_x=True)


def image_of(k: np.ndarray) -> np.ndarray:
    """The real part of the inverse of ``spectrum`` (``k`` is overwritten)."""
    from scipy import fft

    return fft.ifftn(k, overwrite_x=True).real


def uncentred(index: np.ndarray | int, n: int) -> np.ndarray | int:
    """Where centred k-space index ``index`` (DC at n // 2) lies in the uncentred spectrum."""
    return (index - n // 2) % n


def peak_magnitude(k: np.ndarray) -> float:
    """The largest |k|, a slab of planes at a time (no full-size temporary)."""
    step = max(1, (1 << 20) // max(1, k[0].size))
    return max(float(np.abs(k[i : i + step]).max()) for i in range(0, len(k), step))


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
    x: np.ndarray, spacing: Sequence[float], angles: Sequence[float], translation: Sequence[float]
) -> np.ndarray:
    """x moved rigidly about the grid's centre in physical space (linear interpolation; the
    array's minimum outside, as TorchIO's resampler): out(p) = x(R (p - c) + c + t), float64
    whatever x's dtype."""
    from scipy import ndimage

    rot, t = rigid_matrix(angles, translation)
    s = np.asarray(spacing, float)
    centre = s * (np.asarray(x.shape) - 1) / 2
    matrix = rot * s[None, :] / s[:, None]
    offset = (centre - rot @ centre + t) / s
    return ndimage.affine_transform(
        x, matrix, offset, output=np.float64, order=1, mode="constant", cval=float(x.min())
    )


def motion(
    x: np.ndarray,
    spacing: Sequence[float],
    angles: Sequence[Sequence[float]],
    translations: Sequence[Sequence[float]],
    times: Sequence[float],
    axis: int = 0,
) -> np.ndarray:
    """Motion during the acquisition: k-space filled, in segments along ``axis``, from the
    spectra of rigidly moved copies (``rigid_resample``: angles in degrees, translations in mm).

    As TorchIO's RandomMotion (Shaw et al. 2019): copy 0 is the unmoved image, ``times``
    (sorted fractions in (0, 1), one per movement) cut the axis into segments filled in turn by
    the copies, and the unmoved spectrum is swapped into the segment holding the centre of
    k-space (the first time above 0.5), so the image stays recognisable. Differences: TorchIO
    splits along the last axis of its (x, y, z) array, which is z = axis 0 here (the default),
    and for 2-D images along a length-1 axis; here 2-D images split along rows. TorchIO rotates
    about physical (LPS) axes through the direction cosines and about the index centre
    size / 2; here about the grid's own axes and its true centre (n - 1) / 2. TorchIO returns
    the magnitude of the inverse transform (warning that negative values are lost); here the
    real part, so CT keeps its negative HU. Copies are made one at a time (TorchIO holds all of
    them and their spectra at once).
    """
    moves = list(zip(angles, translations, strict=True))
    above = [i for i, time in enumerate(times) if time > 0.5]
    centre = min(above) if above else len(times)
    order = list(range(len(times) + 1))  # segment i is filled by copy order[i]
    order[0], order[centre] = order[centre], order[0]
    n = x.shape[axis]
    bounds = [int(n * time) for time in times] + [n]
    out = np.empty(x.shape, np.complex128)
    start = 0
    for copy, stop in zip(order, bounds, strict=True):  # one moved copy in memory at a time
        moved = x if copy == 0 else rigid_resample(x, spacing, *moves[copy - 1])
        cut: list[Any] = [slice(None)] * x.ndim
        cut[axis] = uncentred(np.arange(start, max(start, stop)), n)
        out[tuple(cut)] = spectrum(moved)[tuple(cut)]
        start = max(start, stop)
    return image_of(out)


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
    x: np.ndarray, num_ghosts: int, axis: int, intensity: float, restore: float
) -> np.ndarray:
    """Periodic ghosts along ``axis`` (the phase-encoding direction): k-space planes attenuated
    by ``ghosting_mask`` along that axis.

    As TorchIO's RandomGhosting: planes ``[::num_ghosts]`` of the centred spectrum times
    (1 - intensity), and the centre plane restored. TorchIO always restores only the centre
    plane (its ``restore`` fraction is computed but unused in the version read); here
    ``restore`` is the fraction of planes around the centre kept (0: the centre plane only,
    TorchIO's behaviour). ``num_ghosts`` 0 or ``intensity`` 0 leaves the image as it is.
    """
    if not num_ghosts or not intensity:
        return np.array(x, np.float64)
    mask = np.fft.ifftshift(ghosting_mask(x.shape[axis], num_ghosts, intensity, restore))
    shape = [1] * x.ndim
    shape[axis] = -1
    k = spectrum(x)
    k *= mask.reshape(shape)
    return image_of(k)


def spike_indices(shape: Sequence[int], positions: Sequence[Sequence[float]]) -> list[tuple]:
    """k-space indices of spikes at fractional ``positions`` in [0, 1) per axis:
    floor(position * n), as TorchIO."""
    return [
        tuple(min(math.floor(p * n), n - 1) for p, n in zip(pos, shape, strict=True))
        for pos in positions
    ]


def spike(x: np.ndarray, positions: Sequence[Sequence[float]], intensity: float) -> np.ndarray:
    """Herringbone stripes: k-space points set to ``intensity`` times the spectrum's largest
    magnitude, at ``spike_indices(x.shape, positions)``.

    As TorchIO's RandomSpike: a spike on one side of k-space only (a real scanner's bad data
    point), its value set (not added), the real part kept. TorchIO takes the spectrum's
    ``max()``, which for complex numbers compares real parts; here the largest magnitude (the
    DC term's for a non-negative image, so the same there), with phase 0.
    """
    k = spectrum(x)
    top = peak_magnitude(k)
    for index in spike_indices(x.shape, positions):
        k[tuple(uncentred(i, n) for i, n in zip(index, x.shape, strict=True))] = top * intensity
    return image_of(k)


def gibbs_mask(shape: Sequence[int], alpha: float, centred: bool = True) -> np.ndarray:
    """True where k-space is kept: within radius (1 - alpha) * R of the centre ``n // 2``, R the
    distance from the centre to the farthest corner (alpha 0 keeps all, 1 only the DC term).
    ``centred=False`` gives the same mask in the uncentred spectrum's order."""
    far2 = sum(max(n // 2, n - 1 - n // 2) ** 2 for n in shape)
    radius2 = ((1 - alpha) ** 2) * far2 + 1e-9
    dist2: Any = 0.0
    for axis, n in enumerate(shape):  # squared distance, one broadcast axis at a time
        index = np.arange(n)
        offset = index - n // 2 if centred else (index + n // 2) % n - n // 2
        view = [1] * len(shape)
        view[axis] = n
        dist2 = dist2 + (offset.astype(np.float64) ** 2).reshape(view)
    return dist2 <= radius2


def gibbs(x: np.ndarray, alpha: float) -> np.ndarray:
    """Gibbs ringing: k-space truncated to a ball (``gibbs_mask``), ripples beside every edge
    (an overshoot of about 9 % of a step's height).

    As MONAI's GibbsNoise(alpha): alpha in [0, 1], 0 the identity, the real part kept. MONAI's
    radius is (1 - alpha) * max(shape) * sqrt(2) / 2 about (n - 1) / 2, which in 3-D cuts the
    corners even at alpha 0; here the radius reaches the farthest corner, so alpha 0 is the
    identity in any dimension, and the ball is centred on the DC term (n // 2).
    """
    if alpha <= 0:
        return np.array(x, np.float64)
    keep = gibbs_mask(x.shape, alpha, centred=False)  # before the spectrum: a lower peak
    k = spectrum(x)
    k *= keep
    return image_of(k)


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
