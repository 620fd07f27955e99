"""rand_augment and trivial_augment: located recipe errors, n distinct ops at the magnitude
asked (signs drawn), every op of the set logged once, ops an input cannot take left out, the
magnitude scale, and end to end: concrete ops in the manifest, replayed byte for byte and the
same bytes for 1 and 2 workers."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import read_manifest, run_augcli, textured, tree_digest, write_recipe

from augcli.core.errors import RecipeError
from augcli.graph import parse_section_graph
from augcli.image.modality import ImageModality
from augcli.image.ops.policy import IMAGENET, MEDICAL

INFO = ImageModality({}).info


def run(step, img: np.ndarray, seed: int) -> list[dict]:
    graph = parse_section_graph({"pipeline": [step]}, "image", "image")
    _, log, _ = graph.run(graph.emitters[0], img, lambda n: seed, INFO, {}, None, True)
    return log


@pytest.mark.parametrize(
    ("step", "path", "what"),
    [
        ({"rand_augment": {"ops": "nope"}}, "image.pipeline[0].rand_augment.ops", "policy set"),
        (
            {"rand_augment": {"ops": ["rotate", "twirl"]}},
            "image.pipeline[0].rand_augment.ops",
            "policy set",
        ),
        ({"rand_augment": {"n": 11}}, "image.pipeline[0].rand_augment.n", "out of range"),
        (
            {"rand_augment": {"magnitude": 31}},
            "image.pipeline[0].rand_augment.magnitude",
            "out of range",
        ),
        (
            {"trivial_augment": {"n": 2}},
            "image.pipeline[0].trivial_augment",
            "not a trivial_augment setting",
        ),
        (
            {"rand_augment": {"ops": ["blur", "blur"]}},
            "image.pipeline[0].rand_augment.ops",
            "twice",
        ),
    ],
)
def test_bad_policies_are_located(step: dict, path: str, what: str) -> None:
    with pytest.raises(RecipeError, match=what) as err:
        parse_section_graph({"pipeline": [step]}, "image", "image")
    assert err.value.path == path


@pytest.mark.parametrize("seed", range(6))
def test_rand_augment_applies_n_distinct_ops_at_its_magnitude(seed: int) -> None:
    img = textured(30, 40, 3, np.uint8, seed)
    log = run({"rand_augment": {"n": 3, "magnitude": 15}}, img, seed)
    assert len(log) == len(MEDICAL) and {e["policy_op"] for e in log} == set(MEDICAL)
    applied = [e for e in log if e["applied"]]
    assert len(applied) == 3 and len({e["policy_op"] for e in applied}) == 3
    assert log[:3] == applied, "applied ops come first, in the order drawn"
    assert {abs(e["magnitude"]) for e in applied} == {15}
    for e in applied:
        if e["policy_op"] == "rotate_small":
            assert abs(e["params"]["degrees"]) == 5.0  # 15 of 30 of 10 degrees
        if e["policy_op"] == "blur":
            assert e["params"]["sigma"] == pytest.approx(0.1 + 1.4 * 0.5)


def test_signs_are_drawn_and_trivial_augment_draws_its_magnitude() -> None:
    img = textured(30, 40, 3, np.uint8, 1)
    signs, magnitudes = set(), set()
    for seed in range(60):
        log = run({"rand_augment": {"ops": ["rotate"], "n": 1, "magnitude": 30}}, img, seed)
        signs.add(np.sign(log[0]["params"]["degrees"]))
        (one,) = [e for e in run("trivial_augment", img, seed) if e["applied"]]
        magnitudes.add(abs(one["magnitude"]))
    assert signs == {-1.0, 1.0}
    assert len(magnitudes) > 15 and max(magnitudes) <= 30


def test_a_gray_input_never_draws_an_op_it_cannot_take() -> None:
    gray = textured(30, 40, 1, np.uint8, 2)
    for seed in range(40):
        log = run({"rand_augment": {"ops": "imagenet", "n": len(IMAGENET)}}, gray, seed)
        applied = {e["policy_op"] for e in log if e["applied"]}
        assert "color" not in applied and len(applied) == len(IMAGENET) - 1


def test_p_zero_logs_every_op_not_applied() -> None:
    log = run({"rand_augment": {"p": 0.0}}, textured(10, 10, 3, np.uint8), 0)
    assert len(log) == len(MEDICAL) and not any(e["applied"] for e in log)


def test_policies_run_end_to_end_replay_and_agree_across_workers(tmp_path, images) -> None:
    digests = []
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}"
        recipe = write_recipe(
            tmp_path / f"r{workers}.yaml",
            f"input: {images}\noutput: {out}\ncopies: 3\nseed: 2\nimage:\n  pipeline:\n"
            "    - rand_augment: {n: 2, magnitude: 12, ops: imagenet}\n    - trivial_augment\n",
        )
        proc = run_augcli("expand", str(recipe), "--workers", workers)
        assert proc.returncode == 0, proc.stderr
        digests.append(tree_digest(out))
    assert digests[0] == digests[1]
    lines = [x for x in read_manifest(tmp_path / "out1") if x.get("ops")]
    assert all(sum(e["applied"] for e in x["ops"]) <= 3 for x in lines)
    assert all(e["op"] != "rand_augment" for x in lines for e in x["ops"])
    again = run_augcli("replay", str(tmp_path / "r1.yaml"), "--to", str(tmp_path / "again"))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "identical" in (again.stdout + again.stderr)


# -- augmix -------------------------------------------------------------------------------------
def augmix_run(step, img, seed: int):
    from augcli.image.annotate import ImageApplier

    graph = parse_section_graph({"pipeline": [step]}, "image", "image")
    return graph.run(graph.emitters[0], img, lambda n: seed, INFO, {}, None, True, ImageApplier())


@pytest.mark.parametrize("seed", range(5))
def test_augmix_blends_its_chains_with_the_weights_it_records(seed: int) -> None:
    from augcli.image.annotate import ImageApplier
    from augcli.ops import registry
    from augcli.steps import replay

    img = textured(30, 40, 3, np.uint16, seed)
    out, log, _ = augmix_run({"augmix": {"width": 3, "depth": [1, 2], "magnitude": 20}}, img, seed)
    *chain_lines, mix = log
    assert mix["op"] == "augmix" and len(mix["params"]["weights"]) == 4
    assert sum(mix["params"]["weights"]) == pytest.approx(1.0, abs=1e-5)
    assert {e["chain"] for e in chain_lines} == {0, 1, 2}
    assert all(1 <= sum(e["chain"] == c for e in chain_lines) <= 2 for c in range(3))
    assert all(e["policy_op"] in MEDICAL[4:] for e in chain_lines), "no geometric op"
    ops = registry("image")
    parts = [
        replay(
            [{k: v for k, v in e.items() if k != "chain"} for e in chain_lines if e["chain"] == c],
            img,
            ops,
            INFO,
        )
        for c in range(3)
    ]
    want = sum(
        w * p.astype(np.float64)
        for w, p in zip(mix["params"]["weights"], [img, *parts], strict=True)
    )
    np.testing.assert_array_equal(out, np.clip(np.rint(want), 0, 65535).astype(np.uint16))
    np.testing.assert_array_equal(replay(log, img, ops, INFO, None, ImageApplier()), out)


def test_augmix_keeps_a_mask_and_refuses_a_set_of_warps_only() -> None:
    from augcli.image.targets import Annotated

    img = textured(20, 24, 1, np.uint8, 3)
    mask = (img > 128).astype(np.uint8)
    out, _, _ = augmix_run("augmix", Annotated(img, mask), 1)
    np.testing.assert_array_equal(out.mask, mask)
    with pytest.raises(RecipeError, match="keeps the geometry") as err:
        parse_section_graph(
            {"pipeline": [{"augmix": {"ops": ["rotate", "zoom"]}}]}, "image", "image"
        )
    assert err.value.path == "image.pipeline[0].augmix.ops"
    with pytest.raises(RecipeError, match="out of range") as err:
        parse_section_graph({"pipeline": [{"augmix": {"alpha": 0}}]}, "image", "image")
    assert err.value.path == "image.pipeline[0].augmix.alpha"


def test_augmix_runs_end_to_end_and_replays(tmp_path, images) -> None:
    recipe = write_recipe(
        tmp_path / "r.yaml",
        f"input: {images}\noutput: {tmp_path / 'out'}\ncopies: 2\nimage:\n  pipeline:\n"
        "    - hflip\n    - augmix: {width: 2, ops: imagenet}\n",
    )
    proc = run_augcli("expand", str(recipe))
    assert proc.returncode == 0, proc.stderr
    lines = [x for x in read_manifest(tmp_path / "out") if x.get("ops")]
    assert all(x["ops"][-1]["op"] == "augmix" for x in lines)
    again = run_augcli("replay", str(recipe), "--to", str(tmp_path / "again"))
    assert again.returncode == 0, again.stdout + again.stderr
