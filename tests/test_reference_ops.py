"""Ops that draw a reference image from the section's folders (histogram_matching, fda,
stain_normalize) and hed_stain: the op contract with a folder, scikit-image as the independent
reference for HED and histogram matching, on its real immunohistochemistry slide, and the
folders setting end to end (recorded names, replay without the folder)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import read_manifest, run_augcli, textured, write_recipe
from rows_reference import REFERENCE_ROWS

from augcli.core.errors import RecipeError
from augcli.image.modality import ImageModality
from augcli.ops import registry
from augcli.recipe import load_recipe

skimage = pytest.importorskip("skimage")
from skimage import color, data, exposure  # noqa: E402

INFO = ImageModality({}).info
IHC = data.immunohistochemistry()[..., ::-1].copy()  # BGR, 512 x 512, uint8: a real slide


def op(name: str, **config):
    return registry("image")[name].from_recipe(config, f"image.pipeline[0].{name}")


@pytest.fixture(scope="module")
def refs(tmp_path_factory) -> tuple[str, ...]:
    folder = tmp_path_factory.mktemp("refs")
    cv2.imwrite(str(folder / "slide.png"), IHC[128:384, 128:384])
    gray = (textured(64, 80, 1, np.uint16, 9).astype(np.uint32) * 8).astype(np.uint16)
    cv2.imwrite(
        str(folder / "sub" / "gray16.png") if (folder / "sub").mkdir() is None else "", gray
    )
    return tuple(sorted(str(p) for p in folder.rglob("*.png")))


def info_with(img: np.ndarray, files: tuple[str, ...]) -> dict:
    return {**INFO(img), "folders": {"refs": files}, "reference": ImageModality({}).reference}


@pytest.mark.parametrize("name", sorted(REFERENCE_ROWS))
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_reference_op_contract(refs, name: str, dtype: type, channels: int) -> None:
    o = op(name, **REFERENCE_ROWS[name])
    img = IHC[:96, :120] if channels >= 3 else cv2.cvtColor(IHC[:96, :120], cv2.COLOR_BGR2GRAY)
    img = img.astype(dtype) * (16 if dtype == np.uint16 else 1)  # 12-bit when 16-bit
    if channels == 4:
        img = np.dstack([img, np.full(img.shape[:2], 200, dtype)])
    if channels not in o.channels:
        return
    for seed in range(3):
        params = o.sample(np.random.default_rng(seed), info_with(img, refs))
        assert params["reference"] in ("refs/slide.png", "refs/sub/gray16.png")
        json.dumps(params)
        out = o.apply(img, params)
        assert out.shape == img.shape and out.dtype == img.dtype
        np.testing.assert_array_equal(out, o.apply(img, json.loads(json.dumps(params))))
        if channels == 4:
            np.testing.assert_array_equal(out[..., 3], img[..., 3])
        assert out[..., :3].max() <= (255 if dtype == np.uint8 else 4095)


def test_hed_matches_scikit_image_and_a_stain_free_image_round_trips() -> None:
    from augcli.image.ops.stain import hed_to_rgb, rgb_to_hed

    rgb = IHC[..., ::-1].astype(np.float64) / 255
    np.testing.assert_allclose(rgb_to_hed(rgb), color.rgb2hed(rgb), atol=1e-9)
    hed = color.rgb2hed(rgb)
    np.testing.assert_allclose(hed_to_rgb(hed), color.hed2rgb(hed), atol=1e-9)
    jitter = op("hed_stain", alpha=0.0, beta=0.0)
    still = jitter.apply(IHC, jitter.sample(np.random.default_rng(0), INFO(IHC)))
    assert np.abs(still.astype(int) - IHC).max() <= 1
    white = np.full((8, 8, 3), 255, np.uint8)
    np.testing.assert_array_equal(jitter.apply(white, {"alpha": [0.3] * 3, "beta": [0] * 3}), white)


def test_hed_stain_moves_only_the_stain_it_is_asked_to() -> None:
    hed = op("hed_stain")
    more_h = hed.apply(IHC, {"alpha": [0.5, 0.0, 0.0], "beta": [0.0, 0.0, 0.0]})
    from augcli.image.ops.stain import rgb_to_hed

    before = rgb_to_hed(IHC[..., ::-1] / 255.0)
    after = rgb_to_hed(more_h[..., ::-1] / 255.0)
    assert after[..., 0].mean() > 1.3 * before[..., 0].mean()
    assert after[..., 2].mean() == pytest.approx(before[..., 2].mean(), rel=0.1)


def test_histogram_matching_agrees_with_scikit_image(refs) -> None:
    img = cv2.cvtColor(IHC[256:, :256], cv2.COLOR_BGR2GRAY)
    match = op("histogram_matching", folder="refs", blend=1.0)
    slide = (refs[0],)
    params = match.sample(np.random.default_rng(0), info_with(img, slide))
    ours = match.apply(img, params).astype(np.float64)
    ref = cv2.cvtColor(cv2.imread(refs[0]), cv2.COLOR_BGR2GRAY)
    theirs = exposure.match_histograms(img, ref)
    assert np.abs(ours - theirs).mean() < 1.0  # levels, on a 0..255 image
    half = op("histogram_matching", folder="refs", blend=0.5).apply(img, {**params, "blend": 0.5})
    np.testing.assert_allclose(half, (img + ours) / 2, atol=1.0)


def test_fda_takes_the_references_low_frequencies_and_is_the_identity_on_itself(tmp_path) -> None:
    img = IHC[:128, :160]
    cv2.imwrite(str(tmp_path / "me.png"), img)
    fda = op("fda", folder="refs", beta=0.03)
    same = fda.apply(
        img, fda.sample(np.random.default_rng(0), info_with(img, (str(tmp_path / "me.png"),)))
    )
    assert np.abs(same.astype(int) - img).max() <= 1
    dark = (img // 3).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "dark.png"), dark)
    params = fda.sample(np.random.default_rng(0), info_with(img, (str(tmp_path / "dark.png"),)))
    out = fda.apply(img, params)
    assert out.mean() == pytest.approx(dark.mean(), abs=1.5)  # the DC term is the mean
    assert np.corrcoef(out[..., 1].ravel(), img[..., 1].ravel())[0, 1] > 0.9  # content kept


@pytest.mark.parametrize("method", ["macenko", "reinhard"])
def test_stain_normalize_to_itself_changes_little_and_to_another_slide_takes_its_stats(
    tmp_path, method: str
) -> None:
    from augcli.image.ops.stain import _lab_stats

    img = IHC[:256, :256]
    cv2.imwrite(str(tmp_path / "me.png"), img)
    norm = op("stain_normalize", folder="refs", method=method)
    params = norm.sample(np.random.default_rng(0), info_with(img, (str(tmp_path / "me.png"),)))
    assert np.abs(norm.apply(img, params).astype(int) - img).mean() < 3.0
    pale = hed_paler(IHC[256:, 256:])
    cv2.imwrite(str(tmp_path / "pale.png"), pale)
    params = norm.sample(np.random.default_rng(0), info_with(img, (str(tmp_path / "pale.png"),)))
    out = norm.apply(img, params)
    got, want = _lab_stats(out[..., ::-1] / 255.0)[0], _lab_stats(pale[..., ::-1] / 255.0)[0]
    before = _lab_stats(img[..., ::-1] / 255.0)[0]
    assert abs(got[0] - want[0]) < 0.5 * abs(before[0] - want[0])  # lightness moved most of the way


def hed_paler(bgr: np.ndarray) -> np.ndarray:
    hed = op("hed_stain")
    return hed.apply(bgr, {"alpha": [-0.6, -0.6, -0.6], "beta": [0.0, 0.0, 0.0]})


def test_folders_are_checked_at_load(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "empty").mkdir()
    top = f"input: {tmp_path / 'data'}\noutput: {tmp_path / 'out'}\n"
    cases = [
        (
            "  folders: {refs: nowhere}\n  pipeline: [fda]\n",
            "image.folders.refs",
            "is not a folder",
        ),
        ("  folders: {refs: empty}\n  pipeline: [fda]\n", "image.folders.refs", "holds no images"),
        ("  pipeline: [{fda: {folder: site_b}}]\n", "image.folders", "from folder 'site_b'"),
    ]
    for body, path, what in cases:
        with pytest.raises(RecipeError, match=what) as err:
            load_recipe(write_recipe(tmp_path / "r.yaml", f"{top}image:\n{body}"))
        assert err.value.path == path


def test_reference_ops_run_end_to_end_and_replay_without_the_folder(tmp_path: Path) -> None:
    data_dir, refs_dir = tmp_path / "data" / "slides", tmp_path / "site_b"
    data_dir.mkdir(parents=True)
    refs_dir.mkdir()
    for k in range(2):
        cv2.imwrite(str(data_dir / f"s{k}.png"), IHC[k * 200 : k * 200 + 120, :150])
    cv2.imwrite(str(refs_dir / "ref.png"), hed_paler(IHC[300:420, 300:450]))
    body = (
        "image:\n  folders: {site_b: site_b}\n  pipeline:\n"
        "    - stain_normalize: {folder: site_b}\n    - histogram_matching: {folder: site_b}\n"
        "    - fda: {folder: site_b, beta: 0.01}\n    - hed_stain: {}\n"
    )
    recipe = write_recipe(
        tmp_path / "r.yaml",
        f"input: data\noutput: out\ncopies: 2\nseed: 5\n{body}",
    )
    proc = run_augcli("expand", str(recipe))
    assert proc.returncode == 0, proc.stderr
    lines = read_manifest(tmp_path / "out")
    assert len(lines) == 4 and str(tmp_path) not in json.dumps(lines)
    assert {e["params"]["reference"] for x in lines for e in x["ops"][:3]} == {"site_b/ref.png"}
    (refs_dir / "ref.png").unlink()  # replay needs only the manifest
    again = run_augcli("replay", str(recipe), "--to", str(tmp_path / "again"))
    assert again.returncode == 0, again.stdout + again.stderr
