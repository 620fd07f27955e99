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
