"""optical_distortion and thin_plate_spline: the identity where their draws are zero, the radial
model at known points, and a spline that carries each moved control point to where it was."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import textured

from augcli.ops import registry


def op(name: str, **config):
    return registry("image")[name].from_recipe(config, f"image.pipeline[0].{name}")


def test_no_distortion_is_the_identity() -> None:
    img = textured(31, 45, 3, np.uint16, 1)
    lens = op("optical_distortion", k=0.0)
    np.testing.assert_array_equal(lens.apply(img, lens.sample(np.random.default_rng(0), {})), img)
    tps = op("thin_plate_spline", scale=0.0)
    params = tps.sample(np.random.default_rng(0), {})
    assert params["moves"] == [[0.0, 0.0]] * 16
    np.testing.assert_array_equal(tps.apply(img, params), img)


@pytest.mark.parametrize("k", [0.25, -0.25])
def test_the_radial_model_at_the_centre_the_edges_and_the_corners(k: float) -> None:
    lens = op("optical_distortion", k=k)
    h, w = 41, 61
    mx, my = lens.maps({"k": k}, h, w)
    assert (mx[20, 30], my[20, 30]) == (30.0, 20.0)  # the centre stays
    half_diagonal = np.hypot(30, 20)
    assert mx[0, 0] == pytest.approx(30 - 30 * (1 + k)) and my[0, 0] == pytest.approx(
        20 - 20 * (1 + k)
    )
    r2 = (30 / half_diagonal) ** 2  # the middle of the right edge
    assert mx[20, 60] == pytest.approx(30 + 30 * (1 + k * r2)) and my[20, 60] == 20.0
    if k > 0:  # barrel: the edge samples from beyond it, the middle swells
        assert mx[20, 60] > 60


def test_a_thin_plate_spline_carries_each_moved_point_back_to_where_it_was() -> None:
    tps = op("thin_plate_spline", scale=0.05, points=3)
    params = tps.sample(np.random.default_rng(4), {})
    h, w = 40, 60  # small: the spline is evaluated at every pixel (step 1)
    mx, my = tps.maps(params, h, w)
    grid = np.linspace(0, 1, 3)
    src = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)
    dst = src + np.asarray(params["moves"])
    # between the knots the field is smooth: neighbours never jump by more than a few pixels
    assert np.abs(np.diff(mx, axis=1)).max() < 3 and np.abs(np.diff(my, axis=0)).max() < 3
    # exact at the knots: evaluate the spline at the moved points themselves
    from augcli.image.ops.lens import _spline

    np.testing.assert_allclose(_spline(dst, src, dst), src, atol=1e-9)


def test_a_large_image_is_evaluated_on_a_coarse_grid_within_a_twentieth_of_a_pixel() -> None:
    from augcli.image.ops.lens import _spline

    tps = op("thin_plate_spline", scale=0.04, points=4)
    params = tps.sample(np.random.default_rng(2), {})
    h, w = 600, 1000  # step 4
    mx, my = tps.maps(params, h, w)
    grid = np.linspace(0, 1, 4)
    src = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)
    dst = src + np.asarray(params["moves"])
    rng = np.random.default_rng(0)
    ys, xs = rng.integers(0, h, 200), rng.integers(0, w, 200)
    exact = _spline(dst, src, np.stack([xs / (w - 1), ys / (h - 1)], axis=1))
    assert np.abs(mx[ys, xs] - exact[:, 0] * (w - 1)).max() < 0.05
    assert np.abs(my[ys, xs] - exact[:, 1] * (h - 1)).max() < 0.05
