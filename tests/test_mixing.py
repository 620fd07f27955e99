"""Mixing ops: deterministic partners from the same class (or soft labels across classes),
recorded weights, any dtype/channel combination, and the manifest end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import textured, tree_digest, write_recipe
from rows_mixing import MIXING_ROWS
from typer.testing import CliRunner

from augcli.cli import app
from augcli.core.errors import InputError
from augcli.core.seeding import generator
from augcli.image.modality import ImageModality
from augcli.ops import registry

INFO = ImageModality({}).info
POOLS = {"cat": ("cat/a.png", "cat/b.png", "cat/c.png"), "dog": ("dog/d.png", "dog/e.png")}


def build(name: str, **extra):
    return registry("image")[name].from_recipe({**MIXING_ROWS[name], **extra}, f"test.{name}")


def partner_images(dtype: type, channels: int) -> dict[str, np.ndarray]:
    # Partners come in other sizes and channel counts; they are fitted to the image.
    other = {1: 3, 3: 4, 4: 1}[channels]
    return {
        p: textured(20 + 7 * i, 30 + 5 * i, other if i % 2 else channels, dtype, i)
        for i, p in enumerate(sum(POOLS.values(), ()))
    }


@pytest.mark.parametrize("name", sorted(MIXING_ROWS))
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16], ids=["u8", "u16"])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_mixing_contract(name: str, dtype: type, channels: int) -> None:
    op = build(name)
    img = textured(33, 41, channels, dtype)
    info = {**INFO(img), "source": "cat/a.png", "label": "cat", "pools": POOLS}
    params = op.sample(generator(9), info)
    assert params == op.sample(generator(9), info)
    assert json.loads(json.dumps(params)) == params
    assert len(params["partners"]) == op.partners
    assert "cat/a.png" not in params["partners"], "never mixed with itself"
    assert all(p.startswith("cat/") for p in params["partners"]), "same class by default"
    assert abs(sum(params["weights"]) - 1.0) < 1e-5 and "soft_label" not in params
    images = partner_images(dtype, channels)
    before = img.copy()
    out = op.apply(img, params, partners=[images[p] for p in params["partners"]])
    np.testing.assert_array_equal(img, before)
    assert out.shape == img.shape and out.dtype == img.dtype
    again = op.apply(img, params, partners=[images[p] for p in params["partners"]])
    np.testing.assert_array_equal(out, again)
    assert not np.array_equal(out, img)


def test_mixup_blends_with_the_recorded_weight() -> None:
    op = build("mixup")
    img = np.full((4, 5, 3), 200, np.uint8)
    partner = np.full((8, 10, 3), 100, np.uint8)
    params = {"partners": ["cat/b.png"], "weights": [0.25, 0.75]}
    out = op.apply(img, params, partners=[partner])
    np.testing.assert_array_equal(out, np.full((4, 5, 3), 125, np.uint8))


def test_cutmix_pastes_the_box_and_weights_are_area_shares() -> None:
    op = build("cutmix")
    img = np.zeros((40, 50), np.uint16)
    info = {**INFO(img), "source": "cat/a.png", "label": "cat", "pools": POOLS}
    params = op.sample(generator(1), info)
    t, left, bh, bw = params["box"]
    out = op.apply(img, params, partners=[np.full((40, 50), 999, np.uint16)])
    assert (out == 999).sum() == bh * bw and out[t, left] == 999
    assert params["weights"][1] == pytest.approx(bh * bw / 2000, abs=1e-6)


def test_mosaic_quadrants_come_from_four_images() -> None:
    op = build("mosaic")
    img = np.full((40, 40), 1, np.uint8)
    info = {**INFO(img), "source": "cat/a.png", "label": "cat", "pools": POOLS}
    params = op.sample(generator(2), info)
    cy, cx = params["center"]
    assert 10 <= cy <= 30 and 10 <= cx <= 30
    tiles = [np.full((10, 10), v, np.uint8) for v in (2, 3, 4)]
    out = op.apply(img, params, partners=tiles)
    assert (out[0, 0], out[0, -1], out[-1, 0], out[-1, -1]) == (1, 2, 3, 4)
    assert sum(params["weights"]) == pytest.approx(1.0)


def test_across_classes_records_a_soft_label() -> None:
    op = build("mixup", across_classes=True)
    img = textured(10, 10, 3, np.uint8)
    seen = set()
    for seed in range(40):
        info = {**INFO(img), "source": "cat/a.png", "label": "cat", "pools": POOLS}
        params = op.sample(generator(seed), info)
        soft = params["soft_label"]
        assert sum(soft.values()) == pytest.approx(1.0)
        seen.add(params["partner_labels"][0])
        if params["partner_labels"][0] == "dog":
            assert soft["cat"] == pytest.approx(params["weights"][0], abs=1e-6)
    assert seen == {"cat", "dog"}


def test_a_class_of_one_cannot_mix() -> None:
    op = build("mixup")
    img = textured(10, 10, 3, np.uint8)
    info = {**INFO(img), "source": "x/a.png", "label": "x", "pools": {"x": ("x/a.png",)}}
    with pytest.raises(InputError, match="has none besides this one"):
        op.sample(generator(0), info)


def test_mixing_mixed_bit_depths_fails_that_file() -> None:
    op = build("mixup")
    with pytest.raises(InputError, match=r"cannot mix cat/b\.png"):
        op.apply(
            np.zeros((4, 4), np.uint8),
            {"partners": ["cat/b.png"], "weights": [0.5, 0.5]},
            partners=[np.zeros((4, 4), np.uint16)],
        )


RECIPE = """\
version: 1
seed: 4
input: data
output: {out}
copies: 2
image:
  pipeline:
    - hflip: {{p: 0.5}}
    - one_of:
        - mixup: {{alpha: 0.4}}
        - cutmix: {{alpha: 1.0, across_classes: true}}
        - mosaic: {{}}
"""


def test_mixing_end_to_end_is_deterministic_and_recorded(tmp_path: Path, images: Path) -> None:
    (images / "medical").rename(tmp_path / "medical")  # 16-bit: keep one bit depth per run
    runner = CliRunner()
    digests = []
    for workers in ("1", "2"):
        recipe = write_recipe(tmp_path / f"r{workers}.yaml", RECIPE.format(out=f"out{workers}"))
        result = runner.invoke(app, ["expand", str(recipe), "-q", "--workers", workers])
        assert result.exit_code == 0, result.output
        digests.append(tree_digest(tmp_path / f"out{workers}"))
    assert digests[0] == digests[1]
    lines = [json.loads(x) for x in (tmp_path / "out1/manifest.jsonl").read_text().splitlines()]
    kinds = set()
    for rec in lines:
        mix = [e for e in rec["ops"] if e["applied"] and e["op"] in MIXING_ROWS]
        assert len(mix) == 1
        kinds.add(mix[0]["op"])
        params = mix[0]["params"]
        for partner in params["partners"]:
            assert (images / partner).is_file() and partner != rec["source"]
        if mix[0]["op"] == "cutmix":
            assert rec["soft_label"] == params["soft_label"]
        else:
            assert "soft_label" not in rec
            assert all(lab == rec["label"] for lab in params["partner_labels"])
    assert kinds == {"mixup", "cutmix", "mosaic"}
