"""Graph semantics: probabilities, combinators, emitters and per-node seeding."""

from __future__ import annotations

import numpy as np
import pytest

from augcli.graph import parse_section_graph

ARR = np.arange(12, dtype=np.uint8).reshape(3, 4)


def info(data: np.ndarray) -> dict:
    return {"height": data.shape[0], "width": data.shape[1], "channels": 1, "dtype": "uint8"}


def run_many(section: dict, n: int = 4000) -> list[list[dict]]:
    graph = parse_section_graph(section, "image", "image")
    emitter = graph.emitters[0]
    return [graph.run(emitter, ARR, lambda node, k=k: k, info, {})[1] for k in range(n)]


def applied(logs: list[list[dict]], index: int) -> float:
    return float(np.mean([log[index]["applied"] for log in logs]))


@pytest.mark.parametrize("p", [0.01, 0.3, 0.5, 0.9])
def test_p_is_the_firing_rate(p: float) -> None:
    logs = run_many({"pipeline": [{"hflip": {"p": p}}]})
    assert abs(applied(logs, 0) - p) < 0.025  # Augmentor's rounding would give 0.05 for p=0.01


def test_one_of_follows_its_weights_and_applies_exactly_one() -> None:
    logs = run_many({"pipeline": [{"one_of": {"ops": ["hflip", "vflip"], "weights": [1, 3]}}]})
    assert all(log[0]["applied"] + log[1]["applied"] == 1 for log in logs)
    assert abs(applied(logs, 1) - 0.75) < 0.025


def test_one_of_p_gates_the_whole_group() -> None:
    logs = run_many({"pipeline": [{"one_of": {"ops": ["hflip", "vflip"], "p": 0.2}}]})
    fired = [log[0]["applied"] or log[1]["applied"] for log in logs]
    assert abs(np.mean(fired) - 0.2) < 0.025


def test_some_of_applies_n_distinct_ops_in_recipe_order() -> None:
    ops = ["hflip", "vflip", {"rotate": {"degrees": 90}}]
    logs = run_many({"pipeline": [{"some_of": {"ops": ops, "n": [1, 2]}}]}, n=600)
    counts = [sum(e["applied"] for e in log) for log in logs]
    assert set(counts) == {1, 2}
    assert all([e["op"] for e in log] == ["hflip", "vflip", "rotate"] for log in logs)


def test_the_same_seed_replays_the_same_choices_and_params() -> None:
    section = {"pipeline": [{"rotate": {"degrees": [-90, 90], "p": 0.5}}, "hflip"]}
    assert run_many(section, 50) == run_many(section, 50)


def test_a_node_with_two_parents_emits_once_per_path() -> None:
    graph = parse_section_graph(
        {
            "graph": {
                "a": {"ops": ["hflip"]},
                "b": {"ops": ["vflip"]},
                "x": {"after": ["a", "b"], "ops": ["gaussian_blur"]},
                "y": {"after": "a", "ops": ["sharpen"]},
            }
        },
        "image",
        "image",
    )
    assert [(e.id, e.path) for e in graph.emitters] == [
        ("a.x", ("a", "x")),
        ("b.x", ("b", "x")),
        ("y", ("a", "y")),
    ]


def test_each_node_draws_from_its_own_seed() -> None:
    graph = parse_section_graph(
        {
            "graph": {
                "base": {"ops": [{"rotate": {"degrees": [-90, 90]}}]},
                "left": {"after": "base", "ops": [{"rotate": {"degrees": [-90, 90]}}]},
            }
        },
        "image",
        "image",
    )
    seeds: list[str] = []

    def seed_of(node: str) -> int:
        seeds.append(node)
        return len(node)

    _, log, _ = graph.run(graph.emitters[0], ARR, seed_of, info, {})
    assert seeds == ["base", "base.left"]
    assert log[0]["node"] == "base" and log[1]["node"] == "left"
