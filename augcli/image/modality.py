"""The image modality: which files are images, how they are read and written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from augcli.image.io import EXTENSIONS, encode_image, read_image
from augcli.modality import Modality
from augcli.params import Param


class ImageModality(Modality):
    """8- and 16-bit gray, BGR and BGRA images in PNG, JPEG, TIFF, BMP and WebP; written in the
    input's own format."""

    name = "image"
    preload = ("cv2",)
    extensions = EXTENSIONS
    settings = {
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
    }

    def prepare_worker(self) -> None:
        import cv2

        cv2.setNumThreads(1)  # the pool is the parallelism; avoid oversubscribing cores

    def read(self, path: Path) -> np.ndarray:
        return read_image(path)

    def write(self, data: np.ndarray, path: Path, source: Path, meta: dict[str, Any]) -> None:
        blob = encode_image(
            data, source.suffix, self.config["jpeg_quality"], self.config["png_compression"]
        )
        path.write_bytes(blob)

    def info(self, data: np.ndarray) -> dict[str, Any]:
        return {
            "height": int(data.shape[0]),
            "width": int(data.shape[1]),
            "channels": 1 if data.ndim == 2 else int(data.shape[2]),
            "dtype": str(data.dtype),
        }
