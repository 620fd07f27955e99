"""`augcli preview`: a contact sheet whose augmented tiles are exactly what `expand` writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
import pytest
from conftest import write_recipe
from typer.testing import CliRunner

from augcli.cli import app
from augcli.drawing import (
    CAPTION_HEIGHT,
    GAP,
    HEADER_HEIGHT,
    MARGIN,
    MIN_CELL_WIDTH,
    TILE_HEIGHT,
    caption_height,
    colour_for,
    tile,
    tile_size,
    window_of,
)
from augcli.engine.plan import output_name
from augcli.image.io import encode_image
from augcli.image.preview import build
from augcli.preview import PreviewOptions, requests_for
from augcli.preview_kit import iter_shots
from augcli.recipe import load_recipe

runner = CliRunner()

PIPELINE = """\
version: 1
seed: 9
input: data
output: out
copies: 2
image:
  pipeline:
    - hflip: {p: 0.5}
    - rotate: {degrees: [-20, 20]}
    - random_crop: {scale: [0.6, 1.0], p: 0.5}
    - mixup: {p: 0.5}
    - brightness_contrast: {brightness: [-0.1, 0.1], contrast: [-0.2, 0.2]}
    - one_of:
        - gaussian_blur: {sigma: [0.5, 1.5]}
        - sharpen: {amount: [0.2, 0.8]}
"""

GRAPH = """\
version: 1
seed: 5
input: data
output: out
copies: 2
image:
  graph:
    base: {ops: [hflip, {rotate: {degrees: [-10, 10]}}, {scale: {factor: [0.7, 1.0]}}]}
    soft: {after: base, ops: [{gaussian_blur: {sigma: [0.5, 2]}}]}
    crisp: {after: base, ops: [sharpen]}
"""


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.output


def origin(row: int, col: int, cell_w: int, strip: int = CAPTION_HEIGHT) -> tuple[int, int]:
    """Top-left of a tile on the sheet, from the documented layout (``strip``: the caption
    strip's height, as many lines as the sheet's longest caption, 2 at least)."""
    y = MARGIN + HEADER_HEIGHT + row * (TILE_HEIGHT + strip + GAP)
    return y, MARGIN + col * (cell_w + GAP)


@pytest.mark.parametrize(
    ("recipe", "n", "nodes"),
    [
        (PIPELINE, 2, [("aug", 0), ("aug", 1)]),
        (GRAPH, 4, [("soft", 0), ("crisp", 0), ("soft", 1), ("crisp", 1)]),
    ],
    ids=["pipeline", "graph"],
)
def test_tiles_are_exactly_what_expand_writes(
    tmp_path: Path, images: Path, recipe: str, n: int, nodes: list[tuple[str, int]]
) -> None:
    path = write_recipe(tmp_path / "recipe.yaml", recipe)
    code, _, out = run("expand", str(path), "--workers", "1", "--quiet")
    assert code == 0, out
    sheet_path = tmp_path / "sheet.png"
    code, stdout, out = run("preview", str(path), "-n", str(n), "--output", str(sheet_path))
    assert code == 0, out
    assert stdout.strip() == str(sheet_path)
    sheet = cv2.imread(str(sheet_path), cv2.IMREAD_UNCHANGED)

    # The file is the rendered sheet; its rows are the first two inputs by path of each class.
    built = build(requests_for(load_recipe(path), PreviewOptions(n=n, output=sheet_path))["image"])
    assert np.array_equal(built.image, sheet)
    sources = [row.task.source for row in built.rows]
    by_class: dict[str, list[str]] = {}
    for p in sorted(p.relative_to(images).as_posix() for p in images.rglob("*") if p.is_file()):
        by_class.setdefault(p.split("/")[0], []).append(p)
    assert sources == [p for c in sorted(by_class) for p in by_class[c][:2]]
    assert len(sources) == 6

    # Grid: 6 rows x (n + 1) columns of TILE_HEIGHT-tall tiles with their captions.
    out_dir = tmp_path / "out"
    widths = []
    for source in sources:
        widths.append(tile_size(*cv2.imread(str(images / source), cv2.IMREAD_UNCHANGED).shape[:2]))
        for node, copy in nodes:
            written = out_dir / output_name(source, node, copy, PurePosixPath(source).suffix)
            widths.append(tile_size(*cv2.imread(str(written), cv2.IMREAD_UNCHANGED).shape[:2]))
    cell_w = max(MIN_CELL_WIDTH, *(w for _, w in widths))
    rows, cols = len(sources), n + 1
    strip = caption_height(max(len(lines) for lines in built.captions.values()))
    assert sheet.shape == (
        2 * MARGIN + HEADER_HEIGHT + rows * (TILE_HEIGHT + strip) + (rows - 1) * GAP,
        2 * MARGIN + cols * cell_w + (cols - 1) * GAP,
        3,
    )

    checked = 0
    for r, c, row, shot in iter_shots(built.rows):
        assert shot.error is None, shot.error
        if c == 0:
            continue
        node, copy = nodes[c - 1]
        assert shot.title == f"{node}_{copy}"
        written = out_dir / output_name(row.task.source, node, copy, Path(row.task.source).suffix)
        file_pixels = cv2.imread(str(written), cv2.IMREAD_UNCHANGED)
        # In memory: the same pixels as the file (JPEG too: preview encodes and decodes).
        assert np.array_equal(shot.image, file_pixels), written
        if written.suffix == ".png":  # and byte for byte, encoded as expand encodes
            assert encode_image(shot.image, ".png", 95, 3) == written.read_bytes(), written
        # On the sheet: the written file, displayed with the original's window.
        window = window_of(cv2.imread(str(images / row.task.source), cv2.IMREAD_UNCHANGED))
        expected = tile(file_pixels, window)
        y, x = origin(r, c, cell_w, strip)
        crop = sheet[y : y + expected.shape[0], x : x + expected.shape[1]]
        assert np.array_equal(crop, expected), (written, r, c)
        checked += 1
    assert checked == rows * n
    if recipe is PIPELINE:  # mixing partners were loaded for some tiles
        assert any(
            e["op"] == "mixup" and e["applied"]
            for _, _, _, s in iter_shots(built.rows)
            for e in s.log
        )


def test_sixteen_bit_images_are_windowed_not_clipped(tmp_path: Path) -> None:
    data = tmp_path / "data" / "ct"
    data.mkdir(parents=True)
    yy, xx = np.mgrid[0:96, 0:128]
    scan = (1000 + 2000 * (xx / 127) + 300 * np.sin(yy / 6)).astype(np.uint16)  # 12-bit values
    cv2.imwrite(str(data / "scan.png"), scan)
    recipe = PIPELINE.replace("    - mixup: {p: 0.5}\n", "")
    path = write_recipe(tmp_path / "recipe.yaml", recipe)
    sheet_path = tmp_path / "sheet.png"
    code, _, out = run("preview", str(path), "-n", "1", "--output", str(sheet_path))
    assert code == 0, out
    sheet = cv2.imread(str(sheet_path))
    th, tw = tile_size(96, 128)
    cell_w = max(MIN_CELL_WIDTH, tw)
    for col in (0, 1):
        y, x = origin(0, col, cell_w)
        t = sheet[y : y + th, x : x + tw].astype(int)
        assert (t[..., 0] == t[..., 1]).all() and (t[..., 1] == t[..., 2]).all(), "gray as gray"
        assert 40 < t.mean() < 215 and t.std() > 40, (col, t.mean(), t.std())
    # The original spans the display range (its 0.5-99.5 percentiles), clipping only the tails;
    # the rotated copy used the same window (its fill, 0, is below it: black corners).
    y, x = origin(0, 0, cell_w)
    orig = sheet[y : y + th, x : x + tw, 0]
    assert orig.min() <= 5 and orig.max() >= 250
    assert (orig >= 250).mean() < 0.05 and (orig <= 5).mean() < 0.05


def test_alpha_is_shown_over_a_checkerboard_and_gray_stays_gray() -> None:
    bgra = np.zeros((24, 24, 4), np.uint8)
    bgra[..., 2] = 255  # red, fully transparent
    t = tile(bgra, None, height=48)
    assert set(np.unique(t)) == {150, 200}, "transparent pixels show the checkerboard"
    bgra[..., 3] = 255
    t = tile(bgra, None, height=48)
    assert (t == [0, 0, 255]).all()
    gray = np.arange(256, dtype=np.uint8).reshape(16, 16)
    t = tile(gray, None, height=16)
    assert t.shape == (16, 16, 3) and (t == gray[..., None]).all()


ANNOTATED = """\
version: 1
seed: 1
input: data
output: out
copies: 1
image:
  boxes: {format: yolo, min_visibility: 0.6}
  pipeline:
    - center_crop: {size: [32, 32]}
"""


def _annotated_dataset(tmp_path: Path) -> Path:
    data = tmp_path / "data" / "things"
    data.mkdir(parents=True)
    rng = np.random.default_rng(0)
    cv2.imwrite(str(data / "x.png"), rng.integers(60, 200, (48, 64), dtype=np.uint8))
    # label 0: x 24..40, y 18..30 (stays inside the centre crop x 16..48, y 8..40);
    # label 1: x 42..58, y 8..24 (mostly cut away by the crop: dropped at min_visibility 0.6).
    (data / "x.txt").write_text("0 0.5 0.5 0.25 0.25\n1 0.78125 0.3333333 0.25 0.3333333\n")
    return write_recipe(tmp_path / "recipe.yaml", ANNOTATED)


def _edge_share(
    t: np.ndarray, colour: tuple[int, int, int], box: tuple[int, int, int, int]
) -> float:
    """The share of a box outline's pixels (x0, y0, x1, y1 inclusive) that have ``colour``."""
    x0, y0, x1, y1 = box
    edge = np.concatenate(
        [t[y0, x0 : x1 + 1], t[y1, x0 : x1 + 1], t[y0 : y1 + 1, x0], t[y0 : y1 + 1, x1]]
    )
    return float((edge == colour).all(axis=1).mean())


def test_draw_annotations_draws_what_expand_would_write(tmp_path: Path) -> None:
    path = _annotated_dataset(tmp_path)
    sheet_path = tmp_path / "sheet.png"
    code, _, out = run(
        "preview", str(path), "-n", "1", "--draw-annotations", "--output", str(sheet_path)
    )
    assert code == 0, out
    sheet = cv2.imread(str(sheet_path))
    red, green = colour_for(0), colour_for(1)
    assert red != green
    cell_w = max(MIN_CELL_WIDTH, tile_size(48, 64)[1], tile_size(32, 32)[1])
    # The original (64x48 -> 256x192, x4): both boxes.
    y, x = origin(0, 0, cell_w)
    orig = sheet[y : y + 192, x : x + 256]
    assert _edge_share(orig, red, (96, 72, 159, 119)) > 0.9
    assert _edge_share(orig, green, (168, 32, 231, 95)) > 0.9
    assert not (orig[80:112, 104:152] == red).all(axis=2).any(), "the inside is not painted"
    # The crop (32x32 -> 192x192, x6): label 0 moved to x 8..24, y 10..22; label 1 is dropped
    # (under min_visibility), as in the written sidecar.
    y, x = origin(0, 1, cell_w)
    crop = sheet[y : y + 192, x : x + 192]
    assert _edge_share(crop, red, (48, 60, 143, 131)) > 0.9
    assert not (crop == green).all(axis=2).any()

    code, _, out = run("expand", str(path), "--workers", "1", "--quiet")
    assert code == 0, out
    side = (tmp_path / "out/things/x__aug_0.txt").read_text().split()
    assert len(side) == 5 and side[0] == "0"
    cx, cy, w, h = (float(v) for v in side[1:])
    assert np.allclose(
        [(cx - w / 2) * 32, (cy - h / 2) * 32, (cx + w / 2) * 32, (cy + h / 2) * 32],
        [8, 10, 24, 22],
        atol=1e-3,
    )

    # Without the flag nothing is drawn.
    code, _, out = run("preview", str(path), "-n", "1", "--output", str(sheet_path))
    assert code == 0, out
    plain = cv2.imread(str(sheet_path))
    assert not (plain == red).all(axis=2).any() and not (plain == green).all(axis=2).any()


def test_draw_annotations_needs_annotations_in_the_recipe(tmp_path: Path, images: Path) -> None:
    path = write_recipe(tmp_path / "recipe.yaml", PIPELINE)
    code, _, out = run(
        "preview", str(path), "--draw-annotations", "--output", str(tmp_path / "s.png")
    )
    assert code == 2
    assert "no annotations" in out and "boxes: {format: yolo}" in out and "masks:" in out
    assert not (tmp_path / "s.png").exists()


def test_the_sheet_is_never_written_near_the_dataset(tmp_path: Path, images: Path) -> None:
    path = write_recipe(tmp_path / "recipe.yaml", PIPELINE)
    for inside, folder in ((tmp_path / "out" / "p.png", "output"), (images / "p.png", "input")):
        code, _, out = run("preview", str(path), "--output", str(inside))
        assert code == 2, out
        assert f"inside the recipe's {folder} folder" in out
        assert not inside.exists()
    assert not (tmp_path / "out").exists()
    code, _, out = run("preview", str(path), "--output", str(tmp_path / "p.jpg"))
    assert code == 2 and "PNG" in out


def test_default_output_is_in_the_current_folder(
    tmp_path: Path, images: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_recipe(tmp_path / "recipe.yaml", PIPELINE)
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    code, stdout, out = run("preview", str(path), "-n", "1", "--per-class", "1")
    assert code == 0, out
    assert stdout.strip() == str(work / "augcli-preview.png")
    sheet = cv2.imread(str(work / "augcli-preview.png"))
    rows_h = sheet.shape[0] - 2 * MARGIN - HEADER_HEIGHT - 2 * GAP  # 3 rows (one per class)
    assert rows_h % 3 == 0 and rows_h // 3 - TILE_HEIGHT in {
        caption_height(k) for k in (2, 3, 4, 5)
    }
    assert not (tmp_path / "out").exists(), "preview writes nothing but the sheet"


def test_recipe_errors_are_located_as_expand_does(tmp_path: Path, images: Path) -> None:
    bad = PIPELINE.replace("degrees: [-20, 20]", "degrees: [20, -20]")
    path = write_recipe(tmp_path / "recipe.yaml", bad)
    code, _, out = run("preview", str(path), "--output", str(tmp_path / "s.png"))
    assert code == 2
    assert f"{path}:9: image.pipeline[1].rotate.degrees: range is inverted" in out


def test_failed_outputs_are_shown_and_exit_1(tmp_path: Path) -> None:
    data = tmp_path / "data" / "ct"
    data.mkdir(parents=True)
    cv2.imwrite(str(data / "scan.png"), np.full((32, 32), 3000, np.uint16))
    recipe = PIPELINE.split("  pipeline:")[0] + "  pipeline:\n    - jpeg_compression\n"
    path = write_recipe(tmp_path / "recipe.yaml", recipe)
    code, stdout, out = run("preview", str(path), "-n", "2", "--output", str(tmp_path / "s.png"))
    assert code == 1, out
    assert (tmp_path / "s.png").is_file() and stdout.strip() == str(tmp_path / "s.png")
    assert "failed: ct/scan.png aug_0" in out and "uint8" in out


def test_preview_help_imports_no_heavy_libraries() -> None:
    code = (
        "import sys\nfrom augcli.cli import app\n"
        "try:\n    app(['preview', '--help'])\nexcept SystemExit:\n    pass\n"
        "print([m for m in ('cv2', 'augcli.preview') if m in sys.modules])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "--draw-annotations" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "[]"


LONG_CAPTIONS = """\
version: 1
seed: 4
input: data
output: out
copies: 2
image:
  pipeline:
    - rotate: {degrees: [-20, 20]}
    - affine: {degrees: [-5, 5], scale: [0.9, 1.1], translate: [-0.05, 0.05], shear: [-3, 3]}
    - brightness_contrast: {brightness: [-0.1, 0.1], contrast: [-0.2, 0.2]}
    - gamma: {gamma: [0.8, 1.2]}
    - gaussian_blur: {sigma: [0.5, 1.5]}
    - unsharp_mask: {sigma: [0.5, 1.5], amount: [0.3, 0.9], threshold: [0, 0.02]}
    - gaussian_noise: {std: [2, 8]}
"""


def test_caption_lines_keep_every_token_and_fit_the_tile() -> None:
    """The layout: nothing cut, no op name split across lines, no line wider than the tile."""
    from augcli.drawing import FONT, FONT_SCALE, caption_lines

    tokens = [
        "hflip",
        "affine deg=-4.1 sc=0.98 t=0.012,-0.031 sh=1.2",
        "brightness_contrast b=0.05 c=-0.047",
        "gamma 1.13",
        "hsv h=3.1 s=-0.082 v=0.044",
        "gaussian_noise std=7.5",
        "jpeg_compression quality=71",
    ]

    def px(text: str) -> int:
        return cv2.getTextSize(text, FONT, FONT_SCALE, 1)[0][0]

    lines = caption_lines("aug #1", tokens, MIN_CELL_WIDTH)
    assert len(lines) > 2  # more than the old two-line strip held
    head, rest = "aug #1:", lines[0][len("aug #1: ") :]
    assert lines[0].startswith(head + " ")
    assert px(head + " ") + px(rest) <= MIN_CELL_WIDTH  # the first line, drawn in two parts
    assert all(px(line) <= MIN_CELL_WIDTH for line in lines[1:])
    assert " ".join([rest, *lines[1:]]) == ", ".join(tokens), "every token, whole and in order"
    words = {w.rstrip(",") for line in lines for w in line.split(" ")}
    assert {t.split(" ")[0] for t in tokens} <= words, "each op name on one line"


def test_preview_captions_show_every_op_that_fired(tmp_path: Path, images: Path) -> None:
    """`augcli preview` on a recipe of many ops with drawn values: each tile's caption has the
    name of every op that fired (no '...'), and no caption text spills out of its cell."""
    from augcli.drawing import BACKGROUND

    path = write_recipe(tmp_path / "recipe.yaml", LONG_CAPTIONS)
    sheet_path = tmp_path / "sheet.png"
    code, _, out = run("preview", str(path), "-n", "2", "--output", str(sheet_path))
    assert code == 0, out
    built = build(requests_for(load_recipe(path), PreviewOptions(n=2, output=sheet_path))["image"])
    assert np.array_equal(built.image, cv2.imread(str(sheet_path)))
    fired = 0
    for r, c, _row, shot in iter_shots(built.rows):
        lines = built.captions[r, c]
        assert not any(line.endswith("...") for line in lines), lines
        words = {w.rstrip(",") for line in lines for w in line.split(" ")}
        for token in shot.captions if c else []:
            assert token.split(" ")[0] in words, (token, lines)
            fired += 1
    assert fired >= 6 * 2 * 6  # most ops fire (p = 1): the captions are long
    # Between two columns of cells (under the header line) lies a GAP of background: no
    # caption text was drawn there.
    cell_w = built.tiles[0, 1][1] - built.tiles[0, 0][1] - GAP
    gap = built.image[MARGIN + HEADER_HEIGHT :, MARGIN + cell_w : MARGIN + cell_w + GAP]
    assert (gap == np.array(BACKGROUND, np.uint8)).all()
