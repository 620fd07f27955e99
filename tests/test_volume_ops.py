"""The volume intensity and artefact ops: the op contract for each (one table row), and exact
behaviour against independent computations (k-space planes, spike energy, Gibbs overshoot,
Rician bias, blur in mm, bias field order 0, swap's histogram). Volumes are built in memory."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from augcli import artefacts
from augcli.core.errors import InputError, RecipeError
from augcli.core.seeding import generator
from augcli.ops import _REGISTRY
from augcli.volume import artefacts as volume_artefacts  # noqa: F401 - registers the ops
from augcli.volume import intensity  # registers the ops (and SLAB_VOXELS is patched)
from augcli.volume.base import Volume

# One row per op: recipe params that make it do something visible on the phantom below.
ROWS: dict[str, dict] = {
    "gamma": {"gamma": [0.5, 2.0]},
    "gaussian_noise": {"std": [5, 30], "mean": [-2, 2]},
    "rician_noise": {"std": [5, 30]},
    "blur": {"sigma": [0.5, 3.0]},
    "bias_field": {"coefficients": 0.5, "order": 3},
    "rescale": {"center": [0, 80], "width": [300, 500], "out_min": 0, "out_max": 4095},
    "motion": {"degrees": [2, 10], "translation": [2, 10], "num_transforms": [1, 3]},
    "ghosting": {"num_ghosts": [2, 6], "axis": "random", "intensity": [0.5, 1.0]},
    "spike": {"num_spikes": [1, 2], "intensity": [0.5, 1.5]},
    "gibbs": {"alpha": [0.3, 0.6]},
    "swap": {"patch_size": 6, "unit": "mm", "num_iterations": [5, 20]},
}


def phantom(dtype: type = np.int16, shape=(12, 20, 24), seed: int = 0) -> Volume:
    """A CT-like phantom in HU: air (-1000) around a body (40) holding a bright sphere (700),
    with a little noise; its label is the sphere; anisotropic spacing (x, y, z)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape)
    cz, cy, cx = (n / 2 for n in shape)
    body = ((y - cy) / (shape[1] / 2.5)) ** 2 + ((x - cx) / (shape[2] / 2.5)) ** 2 < 1
    sphere = ((z - cz) * 2.5) ** 2 + ((y - cy) * 0.8) ** 2 + ((x - cx) * 0.8) ** 2 < 16
    hu = np.where(body, 40.0, -1000.0) + np.where(sphere, 660.0, 0.0) + rng.normal(0, 5, shape)
    label = sphere.astype(np.uint8)
    return Volume(hu.round().astype(dtype), spacing=(0.8, 0.8, 2.5), origin=(1, 2, 3), label=label)


def info_of(vol: Volume) -> dict:
    return {"shape": vol.shape, "spacing": vol.spacing, "dtype": str(vol.array.dtype)}


def build(name: str, **config):
    return _REGISTRY["volume"][name].from_recipe(config or dict(ROWS[name]), f"test.{name}")


def run(name: str, vol: Volume, seed: int = 0, **config) -> tuple[Volume, dict]:
    op = build(name, **config)
    info = info_of(vol)
    op.check_input(info)
    params = op.sample(generator(seed), info)
    return op.apply(vol, params), params


def test_every_volume_op_has_a_row_and_imports_register_them():
    # The spatial ops (augcli/volume/spatial.py) have their own table, tests/rows_volume.py.
    ops = {n: c for n, c in _REGISTRY["volume"].items() if not c.spatial}
    assert set(ROWS) == set(ops), "add a row for every volume op"
    for name, cls in ops.items():
        desc = cls.describe()
        assert desc["modality"] == "volume" and desc["group"] in ("intensity", "artefact")
        assert desc["spatial"] is False, f"{name} must leave the label alone"
        json.dumps(desc)


# -- the contract, per op ---------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ROWS))
def test_contract_dtype_label_geometry_purity_and_replay(name: str):
    vol = phantom()
    before = vol.array.copy()
    op = build(name)
    params = op.sample(generator(7), info_of(vol))
    assert params == op.sample(generator(7), info_of(vol)), "sample depends on the generator only"
    assert json.loads(json.dumps(params)) == params, "params must be JSON-safe"

    out = op.apply(vol, params)
    np.testing.assert_array_equal(vol.array, before, err_msg="apply must not modify its input")
    assert out.array.dtype == np.int16, "int16 CT stays int16"
    assert out.array.shape == vol.array.shape
    assert out.label is vol.label, "intensity and artefact ops leave the label alone"
    assert (out.spacing, out.origin, out.direction) == (vol.spacing, vol.origin, vol.direction)
    assert not np.array_equal(out.array, vol.array), "the op must change something"

    # replay: a fresh instance, the params through the manifest's JSON, the same bytes
    replayed = type(op).for_replay().apply(vol, json.loads(json.dumps(params)))
    assert replayed.array.tobytes() == out.array.tobytes()


@pytest.mark.parametrize("name", sorted(ROWS))
def test_same_seed_same_bytes_other_seed_other_bytes(name: str):
    vol = phantom()
    a, _ = run(name, vol, seed=3)
    b, _ = run(name, vol, seed=3)
    c, _ = run(name, vol, seed=4)
    assert a.array.tobytes() == b.array.tobytes()
    assert a.array.tobytes() != c.array.tobytes()


@pytest.mark.parametrize("name", sorted(ROWS))
def test_4d_gets_the_same_draw_on_every_frame(name: str):
    vol = phantom()
    frames = np.stack([vol.array, vol.array, (vol.array // 2).astype(np.int16)])
    four = vol.with_array(frames)
    op = build(name)
    params = op.sample(generator(5), info_of(vol))
    out = op.apply(four, params)
    assert out.array.shape == frames.shape and out.array.dtype == np.int16
    single = op.apply(vol, params).array
    if name in ("gamma", "rescale"):  # their range is the whole scan's, across frames
        np.testing.assert_array_equal(out.array[0], out.array[1])
    else:
        np.testing.assert_array_equal(out.array[0], single)
        np.testing.assert_array_equal(out.array[1], single)
        half = op.apply(vol.with_array(frames[2]), params).array
        np.testing.assert_array_equal(out.array[2], half)


@pytest.mark.parametrize("name", ["gaussian_noise", "gibbs", "blur"])
def test_float32_stays_float32(name: str):
    vol = phantom(np.float32)
    out, _ = run(name, vol)
    assert out.array.dtype == np.float32


def test_integer_results_are_clipped_not_wrapped():
    vol = Volume(np.full((4, 5, 6), 32700, np.int16))
    out, _ = run("gaussian_noise", vol, std=500)
    assert out.array.max() == 32767 and out.array.min() > 30000, "no wrap to negative values"
    low = Volume(np.zeros((4, 5, 6), np.uint16))
    out, _ = run("gaussian_noise", low, std=100)
    assert out.array.min() == 0 and out.array.max() > 100


# -- exact behaviour --------------------------------------------------------------------------
def test_gamma_keeps_the_range_and_follows_the_curve():
    vol = Volume(np.array([[[-1000, -500, 0, 1000]]], np.int16))
    out, _ = run("gamma", vol, gamma=2.0)
    # -1000 + 2000 * ((x + 1000) / 2000) ** 2
    np.testing.assert_array_equal(out.array, [[[-1000, -875, -500, 1000]]])
    same, _ = run("gamma", vol, gamma=1.0)
    np.testing.assert_array_equal(same.array, vol.array)


def test_gaussian_noise_std_is_in_the_data_units():
    vol = Volume(np.zeros((16, 32, 32), np.int16))
    out, params = run("gaussian_noise", vol, std=20.0)
    assert params["std"] == 20.0
    assert abs(out.array.std() - 20.0) < 0.5 and abs(out.array.mean()) < 0.5


def test_rician_mean_on_zero_signal_is_sigma_sqrt_pi_over_2():
    vol = Volume(np.zeros((16, 48, 48), np.float64))
    out, _ = run("rician_noise", vol, std=10.0)
    expected = 10.0 * math.sqrt(math.pi / 2)
    assert abs(out.array.mean() - expected) / expected < 0.01
    assert out.array.min() >= 0
    # on a strong signal Rician noise is nearly Gaussian, mean ~ the signal
    bright = Volume(np.full((16, 48, 48), 1000.0))
    out, _ = run("rician_noise", bright, std=10.0)
    assert abs(out.array.mean() - 1000.05) < 0.3 and abs(out.array.std() - 10.0) < 0.3


def test_blur_in_mm_is_the_same_physical_blur_on_any_grid():
    """A Gaussian bump of 4 mm blurred by 3 mm is a bump of 5 mm with amplitude 4/5, on a
    0.5 mm and on a 2 mm grid; and the two results agree where their voxels coincide."""

    def profile(step: float) -> tuple[np.ndarray, np.ndarray]:
        xs = np.arange(-40, 40 + step / 2, step)
        bump = 1000.0 * np.exp(-(xs**2) / (2 * 4.0**2))
        vol = Volume(bump[None, None, :], spacing=(step, 1.0, 1.0))
        out, _ = run("blur", vol, sigma=3.0)
        return xs, out.array[0, 0]

    xf, fine = profile(0.5)
    xc, coarse = profile(2.0)
    for xs, blurred in ((xf, fine), (xc, coarse)):
        analytic = 1000.0 * 0.8 * np.exp(-(xs**2) / (2 * 5.0**2))
        np.testing.assert_allclose(blurred, analytic, atol=1.5)
    np.testing.assert_allclose(fine[::4], coarse, atol=1.5)


def test_blur_sigma_is_drawn_per_axis_and_recorded_in_mm():
    _, params = run("blur", phantom(), sigma=[0.5, 3.0])
    assert len(params["sigma"]) == 3 and len(set(params["sigma"])) == 3
    assert all(0.5 <= s <= 3.0 for s in params["sigma"])


def test_bias_field_order_0_is_a_constant_factor():
    vol = phantom(np.float64)
    out, params = run("bias_field", vol, order=0, coefficients=0.5)
    (c,) = params["coefficients"]
    np.testing.assert_allclose(out.array, vol.array * math.exp(c))


def test_bias_field_order_1_is_an_exponential_ramp():
    field = artefacts.bias_field((3, 5, 7), 1, [0.0, 0.1, 0.2, 0.3])  # 1, x, y, z terms
    x = np.linspace(-1, 1, 7)
    y = np.linspace(-1, 1, 5)
    z = np.linspace(-1, 1, 3)
    # bias_terms order: (z, y, x) powers (0,0,0), (0,0,1), (0,1,0), (1,0,0)
    assert artefacts.bias_terms(1, 3) == [(0, 0, 0), (0, 0, 1), (0, 1, 0), (1, 0, 0)]
    expected = np.exp(0.1 * x[None, None, :] + 0.2 * y[None, :, None] + 0.3 * z[:, None, None])
    np.testing.assert_allclose(field, expected)
    assert len(artefacts.bias_terms(3, 3)) == 20  # as TorchIO: (3 + 1)(3 + 2)(3 + 3) / 6


def test_rescale_window_maps_the_ct_window_onto_the_output_range():
    vol = Volume(np.array([[[-1000, -160, 40, 240, 3000]]], np.int16))
    out, _ = run("rescale", vol, center=40, width=400, out_min=0, out_max=4095)
    np.testing.assert_array_equal(out.array, [[[0, 0, 2048, 4095, 4095]]])


def test_rescale_percentiles_and_its_refusals():
    vol = Volume(np.arange(101, dtype=np.float32).reshape(1, 1, 101))
    out, _ = run("rescale", vol, by="percentiles", low_percentile=10, high_percentile=90)
    np.testing.assert_allclose(out.array[0, 0, [0, 10, 50, 90, 100]], [0, 0, 0.5, 1, 1])
    with pytest.raises(RecipeError, match="low_percentile must stay below"):
        build("rescale", by="percentiles", low_percentile=60, high_percentile=40)
    with pytest.raises(InputError, match="leaves 2 levels"):
        build("rescale", out_min=0, out_max=1).check_input(info_of(phantom()))


def test_ghosting_attenuates_every_nth_k_space_plane_and_keeps_the_centre():
    vol = phantom(np.float64, shape=(10, 16, 20))
    out, params = run("ghosting", vol, num_ghosts=3, axis="y", intensity=0.8, restore=0.0)
    k = np.fft.fftshift(np.fft.fftn(vol.array))
    mask = np.ones(16)
    mask[::3] = 0.2
    mask[8] = 1.0  # the centre plane is restored
    # the output is the real part: its spectrum is the mask symmetrised about the DC plane
    mirrored = np.roll(mask[::-1], 1)  # mask at -k, index 8 - d for 8 + d
    expected = k * ((mask + mirrored) / 2)[None, :, None]
    np.testing.assert_allclose(np.fft.fftshift(np.fft.fftn(out.array)), expected, atol=1e-6)
    assert params["axis"] == "y"


@pytest.mark.parametrize(
    "position, index, mirror",
    [
        ([0.6, 0.3, 0.8], (4, 4, 12), (4, 12, 4)),  # uncentred x 4: in the stored half
        ([0.6, 0.3, 0.2], (4, 4, 3), (4, 12, 13)),  # uncentred x 11: in the half not stored
    ],
)
def test_spike_puts_the_chosen_energy_at_the_chosen_frequency(position, index, mirror):
    vol = phantom(np.float64, shape=(8, 16, 16))
    op = build("spike", num_spikes=1, intensity=0.5)
    params = op.sample(generator(0), info_of(vol))
    params["positions"] = [position]  # k index floor(p * n), centred (DC at 8)
    out = op.apply(vol, params)
    k = np.fft.fftshift(np.fft.fftn(vol.array))
    spectrum = np.fft.fftshift(np.fft.fftn(out.array))
    spike = 0.5 * np.abs(k).max()
    # real part kept: half the spike at its place, half (conjugated) at the mirror frequency
    assert spectrum[index] == pytest.approx((spike + np.conj(k[mirror])) / 2, abs=1e-6)
    assert spectrum[mirror] == pytest.approx((np.conj(spike) + k[mirror]) / 2, abs=1e-6)
    others = np.ones(k.shape, bool)
    others[index] = others[mirror] = False
    np.testing.assert_allclose(spectrum[others], k[others], atol=1e-6)


KSPACE = {
    "ghosting": lambda x, **kw: artefacts.ghosting(x, 3, 1, 0.8, 0.02, **kw),
    "spike": lambda x, **kw: artefacts.spike(x, [[0.6, 0.3, 0.8], [0.1, 0.9, 0.6]], 1.5, **kw),
    "gibbs": lambda x, **kw: artefacts.gibbs(x, 0.4, **kw),
    "motion": lambda x, **kw: artefacts.motion(
        x, (2.5, 0.8, 0.8), [[3, -2, 8], [-4, 1, 2]], [[2, -3, 1], [-1, 2, 3]], [0.3, 0.62], **kw
    ),
}


@pytest.mark.parametrize("shape", [(12, 20, 24), (9, 15, 17)])
@pytest.mark.parametrize("name", sorted(KSPACE))
def test_k_space_in_complex64_is_within_a_level_of_float64(name: str, shape):
    """An int16 CT's k-space is held in complex64 (half the memory): after rounding, no voxel
    is more than one level from the same maths on float64 data (complex128 throughout), and
    almost none differ at all; odd sizes too (the half spectrum's last axis)."""
    ct = phantom(shape=shape).array
    exact = KSPACE[name](ct.astype(np.float64), dtype=np.int16)
    held = KSPACE[name](ct, dtype=np.int16)
    assert artefacts.working_dtype(ct.dtype) == np.complex64
    assert artefacts.working_dtype(np.float64) == np.complex128
    diff = np.abs(held.astype(int) - exact.astype(int))
    assert diff.max() <= 1 and np.count_nonzero(diff) <= ct.size // 1000, (diff.max(), diff.sum())
    assert not np.array_equal(held, ct)


@pytest.mark.parametrize("name", sorted(KSPACE))
def test_k_space_ops_give_the_same_bytes_whatever_the_slab_size(name: str, monkeypatch):
    """The k-space ops run a slab (or a block of columns) at a time to bound memory: where the
    slabs are cut must not change a byte."""
    ct = phantom().array
    whole = KSPACE[name](ct, dtype=np.int16)
    for voxels in (1, 3 * 24 + 5, 1000):
        monkeypatch.setattr(artefacts, "SLAB_VOXELS", voxels)
        assert KSPACE[name](ct, dtype=np.int16).tobytes() == whole.tobytes(), voxels


def test_rigid_resample_of_a_region_is_that_part_of_the_whole():
    x = phantom().array
    whole = artefacts.rigid_resample(x, (2.5, 0.8, 0.8), (3, -2, 8), (2, -3, 1))
    box = (slice(2, 9), slice(5, 11), slice(None))
    part = artefacts.rigid_resample(x, (2.5, 0.8, 0.8), (3, -2, 8), (2, -3, 1), region=box)
    np.testing.assert_allclose(part, whole[box], atol=1e-9)


def test_gibbs_rings_with_a_9_percent_overshoot_and_alpha_0_is_identity():
    step = np.where(np.arange(256) % 256 < 128, 0.0, 1000.0)
    vol = Volume(np.broadcast_to(step, (4, 4, 256)).copy())
    out, _ = run("gibbs", vol, alpha=0.8)
    overshoot = (out.array.max() - 1000.0) / 1000.0
    assert 0.07 < overshoot < 0.11, overshoot
    assert out.array.min() < -0.07 * 1000
    same, _ = run("gibbs", vol, alpha=0.0)
    np.testing.assert_allclose(same.array, vol.array, atol=1e-9)
    corner = artefacts.gibbs_mask((5, 6, 7), 0.0)
    assert corner.all(), "alpha 0 keeps every k-space point, corners included"


def test_motion_without_movement_is_identity_and_keeps_the_mean():
    vol = phantom(np.float64)
    out, _ = run("motion", vol, degrees=0, translation=0, num_transforms=2)
    np.testing.assert_allclose(out.array, vol.array, atol=1e-9)
    moved, params = run("motion", vol, seed=1)
    assert len(params["angles"]) == len(params["translations"]) == len(params["times"])
    assert params["times"] == sorted(params["times"])
    # the unmoved copy fills the centre of k-space: the DC term (the mean) is the original's
    assert moved.array.mean() == pytest.approx(vol.array.mean(), rel=1e-9)


def test_rigid_resample_translates_in_mm():
    rng = np.random.default_rng(0)
    x = rng.random((6, 8, 10))
    spacing = (2.0, 1.0, 0.5)  # (z, y, x) mm
    out = artefacts.rigid_resample(x, spacing, (0, 0, 0), (1.0, 0.0, 0.0))  # 1 mm along x
    np.testing.assert_allclose(out[:, :, :-2], x[:, :, 2:], atol=1e-12)  # 2 voxels of 0.5 mm
    turned = artefacts.rigid_resample(x[:1, :8, :8], (1, 1, 1), (0, 0, 90), (0, 0, 0))
    np.testing.assert_allclose(turned[0], np.rot90(x[0, :8, :8], 1), atol=1e-9)


def test_swap_keeps_the_histogram_exactly_and_never_overlaps():
    vol = phantom()
    out, params = run("swap", vol)
    assert params["patch"] == [2, 8, 8], "6 mm on (2.5, 0.8, 0.8) mm voxels, (z, y, x)"
    np.testing.assert_array_equal(np.sort(out.array, None), np.sort(vol.array, None))
    for first, second in params["pairs"]:
        assert artefacts.disjoint(first, second, params["patch"])
    one = artefacts.swap(vol.array, [2, 3, 3], [[[0, 0, 0], [5, 5, 5]]])
    np.testing.assert_array_equal(one[0:2, 0:3, 0:3], vol.array[5:7, 5:8, 5:8])
    np.testing.assert_array_equal(one[5:7, 5:8, 5:8], vol.array[0:2, 0:3, 0:3])


def test_swap_refuses_a_patch_that_cannot_fit_twice():
    with pytest.raises(InputError, match="do not fit"):
        build("swap", patch_size=13).check_input(info_of(phantom()))


@pytest.mark.parametrize(
    "name", ["gamma", "gaussian_noise", "rician_noise", "bias_field", "rescale"]
)
def test_voxelwise_ops_give_the_same_bytes_whatever_the_slab_size(name: str, monkeypatch):
    """Voxel-wise ops run a slab of planes at a time (to bound memory): the result, noise
    included, must not depend on where the slabs are cut."""
    vol = phantom()
    whole, params = run(name, vol, seed=9)
    monkeypatch.setattr(intensity, "SLAB_VOXELS", 2 * vol.shape[1] * vol.shape[2] + 7)
    sliced = build(name).apply(vol, params)
    assert sliced.array.tobytes() == whole.array.tobytes()
    monkeypatch.setattr(intensity, "SLAB_VOXELS", 1)
    assert build(name).apply(vol, params).array.tobytes() == whole.array.tobytes()


def test_motion_composes_k_space_segments_as_torchio():
    """One movement at time 0.3 (none above 0.5): the moved copy fills the first 30 % of the
    z axis of centred k-space, the unmoved one the rest (numpy's FFT as the reference)."""
    vol = phantom(np.float64, shape=(10, 12, 14))
    angles, shift = [[0.0, 0.0, 20.0]], [[3.0, -2.0, 0.0]]
    out = artefacts.motion(vol.array, vol.spacing_zyx(), angles, shift, [0.3])
    moved = artefacts.rigid_resample(vol.array, vol.spacing_zyx(), angles[0], shift[0])
    k = np.fft.fftshift(np.fft.fftn(vol.array))
    k[:3] = np.fft.fftshift(np.fft.fftn(moved))[:3]  # int(10 * 0.3) planes
    np.testing.assert_allclose(out, np.fft.ifftn(np.fft.ifftshift(k)).real, atol=1e-9)
    # a time above 0.5: the segment holding the centre (the first) is the unmoved one already
    out = artefacts.motion(vol.array, vol.spacing_zyx(), angles, shift, [0.7])
    k = np.fft.fftshift(np.fft.fftn(vol.array))
    k[7:] = np.fft.fftshift(np.fft.fftn(moved))[7:]
    np.testing.assert_allclose(out, np.fft.ifftn(np.fft.ifftshift(k)).real, atol=1e-9)


def test_blur_a_block_at_a_time_is_scipys_gaussian_filter(monkeypatch) -> None:
    """Blocks of rows along z, then slabs of planes along y and x (forced small here), give
    scipy's whole-frame gaussian_filter to within one stored unit (the float32 frame between)."""
    from augcli.volume import intensity

    monkeypatch.setattr(intensity, "SLAB_VOXELS", 3000)
    rng = np.random.default_rng(4)
    frame = rng.integers(-1000, 2000, (24, 30, 40)).astype(np.int16)
    for sigma in ((1.0, 2.0, 0.5), (0.0, 3.0, 1.0), (6.0, 0.0, 0.0)):
        got = intensity.blur_frame(frame, sigma, (2.5, 0.7, 0.7))
        whole = artefacts.blur(frame.astype(np.float64), sigma, (2.5, 0.7, 0.7))
        want = intensity.as_stored(whole, np.int16)
        diff = np.abs(got.astype(int) - want.astype(int))
        assert got.dtype == np.int16 and diff.max() <= 1 and (diff > 0).mean() < 1e-3
    assert not np.array_equal(intensity.blur_frame(frame, (1, 1, 1), (1, 1, 1)), frame)
