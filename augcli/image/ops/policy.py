"""The image section's policy ops (what ``rand_augment`` and ``trivial_augment`` draw from) and
their named sets. Each maps a signed magnitude m in [-1, 1] (30 on the recipe's 0..30 scale)
to one op's settings, linearly.

``medical`` (the default) keeps what a scan means: small rotations, shears, shifts and zooms
(constant borders take the image's background: air on a CT), brightness, contrast and gamma,
blur, sharpening and speckle, and nothing that remaps levels out of order (no solarize,
posterize, equalize or inversion) or invents colour. ``imagenet`` is torchvision's RandAugment
list on these ops (shear and translate drawn per axis up to the magnitude's bound)."""

from __future__ import annotations

from augcli.policies import DEFAULT_SET, Linear, PolicyOp, register

_STILL = (("degrees", 0.0), ("scale", 1.0), ("translate", 0.0), ("shear", 0.0))


def _affine(key: str, most: float, spread: bool = True, offset: float = 0.0) -> Linear:
    """An affine that moves only ``key``."""
    still = tuple(kv for kv in _STILL if kv[0] != key)
    return Linear(key, most, offset, spread=spread, signed_value=not spread, fixed=still)


def _up(key: str, most: float, offset: float = 0.0, **fixed: object) -> Linear:
    """``key`` = offset + |m| x most: ops whose setting grows one way."""
    return Linear(key, most, offset, signed_value=False, fixed=tuple(fixed.items()))


def _signed(key: str, most: float, offset: float = 0.0, **fixed: object) -> Linear:
    return Linear(key, most, offset, fixed=tuple(fixed.items()))


OPS = [
    PolicyOp("rotate", "rotate", _signed("degrees", 30.0), True, "up to 30 degrees"),
    PolicyOp("rotate_small", "rotate", _signed("degrees", 10.0), True, "up to 10 degrees"),
    PolicyOp("shear", "affine", _affine("shear", 17.0), False, "up to 17 degrees per axis"),
    PolicyOp("shear_small", "affine", _affine("shear", 8.0), False, "up to 8 degrees per axis"),
    PolicyOp("translate", "affine", _affine("translate", 0.45), False, "up to 0.45 of the size"),
    PolicyOp(
        "translate_small", "affine", _affine("translate", 0.1), False, "up to 0.1 of the size"
    ),
    PolicyOp("zoom", "affine", _affine("scale", 0.2, False, 1.0), True, "scale 0.8-1.2"),
    PolicyOp(
        "brightness",
        "brightness_contrast",
        _signed("brightness", 0.3, contrast=0.0),
        True,
        "up to 0.3 of full scale",
    ),
    PolicyOp(
        "contrast",
        "brightness_contrast",
        _signed("contrast", 0.5, brightness=0.0),
        True,
        "gain 0.5-1.5",
    ),
    PolicyOp("gamma", "gamma", _signed("gamma", 0.4, 1.0), True, "gamma 0.6-1.4"),
    PolicyOp(
        "color",
        "hsv",
        _signed("saturation", 0.9, hue=0.0, value=0.0),
        True,
        "saturation 0.1-1.9 (colour images)",
    ),
    PolicyOp("sharpness", "sharpen", _up("amount", 1.0), False, "amount 0-1"),
    PolicyOp("blur", "gaussian_blur", _up("sigma", 1.4, 0.1), False, "sigma 0.1-1.5 px"),
    PolicyOp("speckle", "speckle_noise", _up("std", 0.1), False, "std up to 0.1 of each value"),
    PolicyOp(
        "posterize",
        "posterize",
        Linear("bits", -4.0, 8.0, signed_value=False, whole=True),
        False,
        "8 to 4 bits",
    ),
    PolicyOp(
        "solarize", "solarize", _up("threshold", -1.0, 1.0), False, "threshold 1 to 0 of full scale"
    ),
    PolicyOp("auto_contrast", "auto_contrast", Linear(None), False, "no magnitude"),
    PolicyOp("equalize", "equalize", Linear(None), False, "no magnitude"),
]

MEDICAL = (
    "rotate_small",
    "shear_small",
    "translate_small",
    "zoom",
    "brightness",
    "contrast",
    "gamma",
    "sharpness",
    "blur",
    "speckle",
)
IMAGENET = (
    "rotate",
    "shear",
    "translate",
    "brightness",
    "color",
    "contrast",
    "sharpness",
    "posterize",
    "solarize",
    "auto_contrast",
    "equalize",
)

register("image", OPS, {"medical": MEDICAL, "imagenet": IMAGENET, DEFAULT_SET: MEDICAL})
