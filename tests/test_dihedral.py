"""transpose and d4: each of the eight elements moves pixels as numpy's flips and turns do,
its matrix agrees with its pixels (so fused chains and annotations follow), and the mirrors are
mirrors for no_mirror/mirror_classes."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import textured

from augcli.core.errors import RecipeError
from augcli.image.ops.warp import warp_image
from augcli.ops import registry

EXPECTED = {
    "e": lambda x: x,
    "r90": lambda x: np.rot90(x, 1),
    "r180": lambda x: np.rot90(x, 2),
    "r270": lambda x: np.rot90(x, 3),
    "hflip": lambda x: x[:, ::-1],
    "vflip": lambda x: x[::-1],
    "t": lambda x: np.swapaxes(x, 0, 1),
    "transverse": lambda x: np.rot90(x, 2).swapaxes(0, 1),
}
MIRRORS = {"hflip", "vflip", "t", "transverse"}


def op(name: str, **config):
    return registry("image")[name].from_recipe(config, f"image.pipeline[0].{name}")


@pytest.mark.parametrize("element", sorted(EXPECTED))
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_every_d4_element_is_exact_and_its_matrix_moves_pixels_the_same(element, dtype) -> None:
    img = textured(7, 11, 3, dtype, 4)
    d4 = op("d4", elements=[element])
    params = d4.sample(np.random.default_rng(0), {})
    assert params == {"element": element}
    out = d4.apply(img, params)
    np.testing.assert_array_equal(out, EXPECTED[element](img))
    m, oh, ow = d4.warp(params, 7, 11)
    assert (oh, ow) == out.shape[:2]
    np.testing.assert_array_equal(warp_image(img, m, oh, ow, "nearest", "constant", 0), out)
    assert d4.mirrors(params, {"height": 7, "width": 11}) == (element in MIRRORS)


def test_transpose_swaps_rows_and_columns_and_is_a_mirror() -> None:
    img = textured(5, 9, 1, np.uint16, 2)
    t = op("transpose")
    np.testing.assert_array_equal(t.apply(img, {}), img.T)
    m, oh, ow = t.warp({}, 5, 9)
    assert (oh, ow) == (9, 5)
    np.testing.assert_array_equal(warp_image(img, m, oh, ow, "nearest", "constant", 0), img.T)
    assert t.mirrors({}, {"height": 5, "width": 9})


def test_d4_draws_every_element_and_refuses_unknown_ones() -> None:
    d4 = op("d4")
    rng = np.random.default_rng(1)
    seen = {d4.sample(rng, {})["element"] for _ in range(200)}
    assert seen == set(EXPECTED)
    with pytest.raises(RecipeError, match="names no element") as err:
        op("d4", elements=["r45"])
    assert err.value.path == "image.pipeline[0].d4.elements"


@pytest.mark.parametrize("seed", range(6))
def test_a_chain_of_symmetries_fuses_exactly(seed: int) -> None:
    from augcli.graph import parse_section_graph
    from augcli.image.modality import ImageModality

    img = textured(13, 21, 4, np.uint16, seed)
    graph = parse_section_graph(
        {"pipeline": ["d4", "transpose", {"rot90": {"k": [1, 3]}}, "d4"]}, "image", "image"
    )
    info = ImageModality({}).info
    fused, log, _ = graph.run(graph.emitters[0], img, lambda n: seed, info, {}, None, True)
    steps, _, _ = graph.run(graph.emitters[0], img, lambda n: seed, info, {}, None, False)
    np.testing.assert_array_equal(fused, steps)
    assert [e.get("fused") for e in log] == [0, 0, 0, 0]
