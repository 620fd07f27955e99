"""Histology stain variation: ``hed_stain`` jitters each stain's amount in HED space (colour
deconvolution into haematoxylin, eosin and DAB; Ruifrok and Johnston, 2001; Tellez et al.,
2018), and ``stain_normalize`` maps an image's stains to a reference slide's (Macenko et al.,
2009, or Reinhard et al., 2001, in Lab). Colour images only, 8- or 16-bit.

Why by hand: the conversion is one 3x3 matrix and a logarithm, as scikit-image's rgb2hed
(the tests check against it), and importing scikit-image costs more than the op."""

from __future__ import annotations

from typing import Any

import numpy as np

from augcli.core.errors import InputError
from augcli.image.ops.arrays import full_scale, on_color, to_dtype
from augcli.image.ops.base import ImageOp
from augcli.image.ops.reference import FOLDER, draw_reference
from augcli.params import Param

# Ruifrok and Johnston's stain vectors (rows: haematoxylin, eosin, DAB; columns: R, G, B)
RGB_FROM_HED = np.array(
    [[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]], dtype=np.float64
)
HED_FROM_RGB = np.linalg.inv(RGB_FROM_HED)
FLOOR = 1e-6  # the smallest transmitted light: log(0) is not taken (as scikit-image)
LOG_FLOOR = np.log(FLOOR)
STAINS = ("h", "e", "d")


def stains_of(rgb: np.ndarray) -> np.ndarray:
    """Stain amounts (..., 3: H, E, D) of RGB values in [0, 1], negative ones kept (what the
    three vectors do not explain), so that ``hed_to_rgb`` returns the pixel as it was."""
    return (np.log(np.maximum(rgb, FLOOR)) / LOG_FLOOR) @ HED_FROM_RGB


def rgb_to_hed(rgb: np.ndarray) -> np.ndarray:
    """Stain amounts of RGB values in [0, 1], clipped at 0, as scikit-image's rgb2hed."""
    return np.maximum(stains_of(rgb), 0.0)


def hed_to_rgb(hed: np.ndarray) -> np.ndarray:
    """RGB values in [0, 1] of stain amounts, as scikit-image's hed2rgb."""
    return np.clip(np.exp((hed * LOG_FLOOR) @ RGB_FROM_HED), 0.0, 1.0)


def _rgb(x: np.ndarray, top: int) -> np.ndarray:
    return x[..., ::-1].astype(np.float64) / top  # BGR levels -> RGB in [0, 1]


def _levels(rgb: np.ndarray, dtype: np.dtype, top: int) -> np.ndarray:
    return to_dtype(rgb[..., ::-1] * top, dtype, top)


class HEDStain(ImageOp):
    """Scale and shift each stain's amount in HED space: h' = h x (1 + a) + b per stain.

    a is drawn per stain in ``alpha`` and b in ``beta`` (stain amounts; a fully stained
    pixel has about 1), recorded as ``alpha`` and ``beta`` lists in H, E, D order. Unstained
    (white) pixels stay white unless beta adds stain. As HistomicsTK's and Tellez et al.'s HED
    augmentation (their sigma1, sigma2 are these ranges' ends).
    """

    name = "hed_stain"
    group = "color"
    channels = (3, 4)
    params = {
        "alpha": Param(
            default=[-0.05, 0.05],
            low=-1.0,
            high=1.0,
            unit="fraction",
            help="relative change of each stain's amount, drawn per stain",
        ),
        "beta": Param(
            default=[-0.02, 0.02],
            low=-1.0,
            high=1.0,
            unit="stain amount",
            help="stain added to every pixel, drawn per stain",
        ),
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        draws = {k: [self.params[k].draw(self.config[k], rng) for _ in STAINS] for k in self.params}
        return {k: [round(float(v), 6) for v in vs] for k, vs in draws.items()}

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        def fn(x: np.ndarray) -> np.ndarray:
            top = full_scale(x)
            hed = stains_of(_rgb(x, top))
            hed = hed * (1.0 + np.asarray(params["alpha"])) + np.asarray(params["beta"])
            return _levels(hed_to_rgb(hed), x.dtype, top)

        return on_color(data, fn)


class StainNormalize(ImageOp):
    """Map the image's staining to a reference slide's drawn from the section's ``folders``.

    ``macenko``: each image's two stain vectors are estimated in optical density (pixels
    with OD below 0.15 in any channel left out; the plane of the two largest eigenvectors; the
    1st and 99th percentile angles), its stain amounts solved for, scaled so their 99th
    percentiles equal the reference's, and recomposed with the reference's vectors.
    ``reinhard``: each Lab channel shifted and scaled to the reference's mean and standard
    deviation. What is taken from the reference (``stains`` and ``max_amounts``, or
    ``lab_mean`` and ``lab_std``) is recorded. An image without stained tissue is kept.
    """

    name = "stain_normalize"
    group = "color"
    channels = (3, 4)
    params = {
        "folder": FOLDER,
        "method": Param(
            kind="choice", default="macenko", choices=("macenko", "reinhard"), help="how"
        ),
    }

    def sample(self, rng: np.random.Generator, info: dict[str, Any]) -> dict[str, Any]:
        params = super().sample(rng, info)
        params["reference"], ref = draw_reference(self.name, params["folder"], rng, info)
        rgb = ref[..., ::-1]
        if params["method"] == "reinhard":
            mean, std = _lab_stats(rgb)
            params["lab_mean"], params["lab_std"] = mean, std
            return params
        found = macenko(rgb)
        if found is None:
            raise InputError(
                f"stain_normalize: the reference {params['reference']} has no stained tissue "
                "(no pixel absorbs enough light); choose references that show tissue"
            )
        stains, amounts = found
        params["stains"] = np.round(stains, 6).tolist()
        params["max_amounts"] = np.round(amounts, 6).tolist()
        return params

    def apply(self, data: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        def fn(x: np.ndarray) -> np.ndarray:
            top = full_scale(x)
            rgb = _rgb(x, top)
            if params["method"] == "reinhard":
                out = _reinhard(rgb, params["lab_mean"], params["lab_std"])
            else:
                out = _recompose(
                    rgb, np.asarray(params["stains"]), np.asarray(params["max_amounts"])
                )
            return x if out is None else _levels(out, x.dtype, top)

        return on_color(data, fn)


def _od(rgb: np.ndarray) -> np.ndarray:
    """Optical density of RGB in [0, 1] (a transmitted-light floor of 1/256)."""
    return -np.log(np.maximum(rgb, 1.0 / 256.0))


def macenko(rgb: np.ndarray, beta: float = 0.15, alpha: float = 1.0) -> tuple[Any, Any] | None:
    """(stain vectors as 3 x 2 columns, haematoxylin first; their amounts' 99th percentiles)
    of an RGB image in [0, 1]; None when fewer than 10 pixels are stained."""
    od = _od(rgb).reshape(-1, 3)
    tissue = od[(od > beta).all(axis=1)]
    if len(tissue) < 10:
        return None
    _, vecs = np.linalg.eigh(np.cov(tissue.T))
    plane = vecs[:, [2, 1]]  # the two largest
    plane *= np.where(plane.sum(axis=0) < 0, -1.0, 1.0)  # point into positive density
    proj = tissue @ plane
    phi = np.arctan2(proj[:, 1], proj[:, 0])
    lo, hi = np.percentile(phi, alpha), np.percentile(phi, 100 - alpha)
    v1 = plane @ np.array([np.cos(lo), np.sin(lo)])
    v2 = plane @ np.array([np.cos(hi), np.sin(hi)])
    stains = np.stack([v1, v2] if v1[0] > v2[0] else [v2, v1], axis=1)
    amounts = np.linalg.lstsq(stains, od.T, rcond=None)[0]
    return stains, np.percentile(amounts, 99, axis=1)


def _recompose(rgb: np.ndarray, stains: np.ndarray, target: np.ndarray) -> np.ndarray | None:
    found = macenko(rgb)
    if found is None:
        return None
    own, amounts99 = found
    od = _od(rgb).reshape(-1, 3)
    amounts = np.linalg.lstsq(own, od.T, rcond=None)[0]
    amounts *= (target / np.maximum(amounts99, 1e-9))[:, None]
    return np.exp(-(stains @ amounts)).T.reshape(rgb.shape).clip(0.0, 1.0)


def _lab(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(rgb.astype(np.float32), cv2.COLOR_RGB2LAB).astype(np.float64)


def _lab_stats(rgb: np.ndarray) -> tuple[list[float], list[float]]:
    lab = _lab(rgb).reshape(-1, 3)
    return np.round(lab.mean(axis=0), 6).tolist(), np.round(lab.std(axis=0), 6).tolist()


def _reinhard(rgb: np.ndarray, mean: list[float], std: list[float]) -> np.ndarray:
    import cv2

    lab = _lab(rgb)
    own_mean, own_std = lab.reshape(-1, 3).mean(axis=0), lab.reshape(-1, 3).std(axis=0)
    scale = np.asarray(std) / np.maximum(own_std, 1e-9)
    lab = (lab - own_mean) * scale + np.asarray(mean)
    return cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB).astype(np.float64).clip(0, 1)
