"""box_safe_crop keeps every box and mask object whole, through the annotated applier, and
falls back to an area crop when nothing is annotated."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import textured

from augcli.image.annotate import ImageApplier
from augcli.image.modality import ImageModality
from augcli.image.targets import Annotated, Objects
from augcli.ops import registry

INFO = ImageModality({}).info


def crop(**config):
    return registry("image")["box_safe_crop"].from_recipe(config, "image.pipeline[0].box_safe_crop")


@pytest.mark.parametrize("seed", range(20))
def test_no_box_and_no_mask_object_is_cut(seed: int) -> None:
    img = textured(60, 80, 3, np.uint8, seed)
    mask = np.zeros((60, 80), np.uint8)
    mask[40:50, 60:70] = 1
    boxes = np.array([[10.0, 12.0, 30.5, 25.0], [5.0, 30.0, 9.0, 40.0]])
    ann = Annotated(img, mask, Objects(boxes, ["a", "b"]))
    op = crop(size=[60, 80])
    params = op.sample(np.random.default_rng(seed), INFO(ann))
    t, left, ch, cw = params["top"], params["left"], params["crop_height"], params["crop_width"]
    assert left <= 5 and t <= 12 and left + cw >= 70 and t + ch >= 50
    out = ImageApplier().apply(op, ann, params, INFO(ann), None)
    assert len(out.objects.boxes) == 2 and out.mask.any()
    sy, sx = 60 / ch, 80 / cw
    np.testing.assert_allclose(
        out.objects.boxes[0],
        [(10 - left) * sx, (12 - t) * sy, (30.5 - left) * sx, (25 - t) * sy],
        atol=1e-6,
    )


def test_without_annotations_it_crops_the_area_asked_anywhere() -> None:
    img = textured(40, 60, 1, np.uint8)
    op = crop(scale=0.25)
    params = op.sample(np.random.default_rng(3), INFO(img))
    assert (params["crop_height"], params["crop_width"]) == (20, 30)
    assert op.apply(img, params).shape == (40, 60)


def test_boxes_over_the_whole_image_leave_it_whole() -> None:
    img = textured(20, 30, 3, np.uint8)
    ann = Annotated(img, None, Objects(np.array([[0.0, 0.0, 30.0, 20.0]]), ["x"]))
    params = crop().sample(np.random.default_rng(0), INFO(ann))
    assert (params["top"], params["left"], params["crop_height"], params["crop_width"]) == (
        0,
        0,
        20,
        30,
    )
