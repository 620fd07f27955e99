"""Annotation file formats (YOLO, Pascal VOC, COCO): conventions, no-op round trips, border
tolerance, and an error naming the file and line (or JSON path) for every bad input."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from augcli.core.errors import InputError
from augcli.image.formats import coco, voc, yolo
from augcli.image.targets import Objects


def raises_at(where: str, *words: str):
    """Context: an InputError whose message starts with ``where: `` and contains ``words``."""

    class _Check:
        def __enter__(self):
            self.ctx = pytest.raises(InputError)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            suppressed = self.ctx.__exit__(*exc)
            msg = str(self.info.value)
            assert msg.startswith(f"{where}: "), msg
            for word in words:
                assert word in msg, (word, msg)
            return suppressed

    return _Check()


def test_each_format_module_imports_first_on_its_own():
    """No facade and no circle: in a fresh interpreter each format module imports first, loading
    ``common`` at most, never another format; the package itself defines no ``__getattr__``."""
    for name in ("common", "yolo", "voc", "coco"):
        allowed = {
            "augcli.image.formats",
            "augcli.image.formats.common",
            f"augcli.image.formats.{name}",
        }
        code = (
            f"import sys, augcli.image.formats.{name}, augcli.image.formats as pkg\n"
            "assert not hasattr(pkg, '__getattr__')\n"
            "loaded = {m for m in sys.modules if m.startswith('augcli.image.formats')}\n"
            f"assert loaded <= set({sorted(allowed)!r}), loaded\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True)


# -- YOLO -----------------------------------------------------------------------------------
def yolo_file(tmp_path: Path, text: str, name: str = "a.txt") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_yolo_reads_normalised_centres_into_pixel_boxes(tmp_path):
    p = yolo_file(tmp_path, "0 0.5 0.5 1 1\n3 0.25 0.75 0.1 0.2\n")
    o = yolo.read_yolo(p, 640, 480, None)
    assert o.labels == [0, 3]
    np.testing.assert_allclose(o.boxes[0], [0, 0, 640, 480])
    np.testing.assert_allclose(o.boxes[1], [128, 312, 192, 408])
    assert o.keypoints is None and list(o.visibility) == [1.0, 1.0]


@pytest.mark.parametrize(
    "text",
    [
        "0 0.500000 0.400000 0.125000 0.250000\n1 0.123457 0.876543 0.010000 0.020000\n",  # %.6f
        "0 0.5 0.4 0.125 0.25\n2 0.4984375 0.51875 0.996875 0.9625\n",  # shortest repr
        "1 0.0123457 0.5 0.00123457 0.1\n",  # %g, 7 decimals
        "",  # no objects
    ],
)
def test_yolo_noop_round_trip_gives_the_same_text(tmp_path, text):
    p = yolo_file(tmp_path, text)
    o = yolo.read_yolo(p, 1280, 720, 3)
    out = tmp_path / "out.txt"
    yolo.write_yolo(out, o, 1280, 720)
    assert out.read_text() == text
    again = yolo.read_yolo(out, 1280, 720, 3)
    assert again.labels == o.labels
    np.testing.assert_array_equal(again.boxes, o.boxes)


def test_yolo_round_trip_through_pixels_and_back_keeps_the_text(tmp_path):
    text = "0 0.333333 0.666667 0.2 0.1\n"
    o = yolo.read_yolo(yolo_file(tmp_path, text), 997, 613, None)
    # what the engine does to an unchanged box: copy it, maybe through float arithmetic
    moved = Objects(o.boxes * 1.0 + 0.0, list(o.labels), None, copy.deepcopy(o.extra))
    out = tmp_path / "out.txt"
    yolo.write_yolo(out, moved, 997, 613)
    assert out.read_text() == text


def test_yolo_changed_boxes_are_written_with_6_decimals(tmp_path):
    o = yolo.read_yolo(yolo_file(tmp_path, "2 0.5 0.5 0.5 0.5\n"), 200, 100, None)
    o.boxes[0] = [10.0, 20.0, 30.5, 40.25]  # an op moved it
    out = tmp_path / "out.txt"
    yolo.write_yolo(out, o, 200, 100)
    assert out.read_text() == "2 0.101250 0.301250 0.102500 0.202500\n"
    np.testing.assert_allclose(yolo.read_yolo(out, 200, 100, None).boxes[0], o.boxes[0], atol=1e-9)


def test_yolo_fresh_objects_and_clipping_on_write(tmp_path):
    o = Objects(np.array([[-3.0, 5.0, 50.0, 130.0]]), [np.int64(4)])  # reaches outside
    out = tmp_path / "out.txt"
    yolo.write_yolo(out, o, 100, 100)
    assert out.read_text() == "4 0.250000 0.525000 0.500000 0.950000\n"


def test_yolo_writer_refuses_what_it_could_not_read_back(tmp_path):
    out = tmp_path / "out.txt"
    with raises_at(str(out), "no area inside the 100x100 image", "min_visibility"):
        yolo.write_yolo(out, Objects(np.array([[120.0, 0, 130, 10]]), [0]), 100, 100)
    with pytest.raises(ValueError, match="integer class ids"):
        yolo.write_yolo(out, Objects(np.array([[0.0, 0, 10, 10]]), ["dog"]), 100, 100)
    tiny = Objects(np.array([[10.0, 10.0, 10.00001, 20.0]]), [0])
    yolo.write_yolo(out, tiny, 100000, 100)  # width 1e-10 of the image: not written as 0
    assert yolo.read_yolo(out, 100000, 100, None).boxes[0, 2] > 10.0


def test_yolo_rounding_outside_the_border_is_clipped(tmp_path):
    # cx + w/2 = 1.0000004, cy - h/2 = -0.0004: exporters' rounding
    p = yolo_file(tmp_path, "0 0.9000002 0.1996 0.2000004 0.4\n")
    o = yolo.read_yolo(p, 640, 480, None)
    np.testing.assert_allclose(o.boxes[0], [0.8 * 640, 0, 640, 0.3996 * 480], atol=1e-6)
    # small images: half a pixel (1/200 of 100 px) beats 1e-3
    o = yolo.read_yolo(yolo_file(tmp_path, "0 0.9 0.5 0.208 0.5\n", "b.txt"), 100, 100, None)
    assert o.boxes[0, 2] == 100.0


def test_yolo_box_well_outside_is_an_error_naming_file_and_line(tmp_path):
    p = yolo_file(tmp_path, "0 0.5 0.5 0.2 0.2\n\n1 0.95 0.5 0.2 0.2\n")  # x reaches 1.05
    with raises_at(f"{p}:3", "outside the image", "1.05", "[0.95, 0.5, 0.2, 0.2]"):
        yolo.read_yolo(p, 640, 480, None)


def test_yolo_pixel_coordinates_get_a_hint(tmp_path):
    p = yolo_file(tmp_path, "0 320 240 64 48\n")
    with raises_at(f"{p}:1", "outside the image", "look like pixels"):
        yolo.read_yolo(p, 640, 480, None)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("0 0.5 0.5 0.2", ["expected 5 fields", "found 4"]),
        ("0 0.5 0.5 0.2 0.2 0.9", ["found 6", "predictions"]),
        ("0 0.1 0.1 0.2 0.1 0.3 0.1", ["found 7", "Segmentation"]),
        ("0 0.5 abc 0.2 0.2", ["cy is not a finite number", "'abc'"]),
        ("0 0.5 0.5 nan 0.2", ["w is not a finite number", "'nan'"]),
        ("-1 0.5 0.5 0.2 0.2", ["class id must be a non-negative integer", "'-1'"]),
        ("1.5 0.5 0.5 0.2 0.2", ["class id must be a non-negative integer", "'1.5'"]),
        ("cat 0.5 0.5 0.2 0.2", ["class id must be a non-negative integer", "'cat'"]),
        ("7 0.5 0.5 0.2 0.2", ["class id 7 is not below the number of classes (5", "'7'"]),
        ("0 0.5 0.5 0 0.2", ["w must be > 0", "got 0.0"]),
        ("0 0.5 0.5 0.2 -0.1", ["h must be > 0", "got -0.1"]),
        ("0 1.2 0.5 0.1 0.2", ["outside the image"]),
        ("0 0.5 1.0004 0.2 0.0002", ["outside the image"]),  # inside the tolerance, but empty
    ],
)
def test_yolo_bad_lines_name_file_line_value_and_fix(tmp_path, line, words):
    p = yolo_file(tmp_path, f"0 0.5 0.5 0.1 0.1\r\n{line}\r\n")
    with raises_at(f"{p}:2", *words) as info:
        yolo.read_yolo(p, 640, 480, 5)
    assert str(info.value).endswith(".")


def test_yolo_integral_float_class_is_read_and_empty_file_has_no_objects(tmp_path):
    o = yolo.read_yolo(yolo_file(tmp_path, "2.0 0.5 0.5 0.2 0.2"), 10, 10, 3)
    assert o.labels == [2] and isinstance(o.labels[0], int)
    assert len(yolo.read_yolo(yolo_file(tmp_path, "", "e.txt"), 10, 10, 3)) == 0
    assert len(yolo.read_yolo(yolo_file(tmp_path, "\n  \n", "w.txt"), 10, 10, 3)) == 0


def test_yolo_unreadable_file_is_an_input_error(tmp_path):
    p = tmp_path / "bin.txt"
    p.write_bytes(b"0 0.5 0.5 0.1 0.1\n\xff\xfe\n")
    with raises_at(f"{p}:2", "not UTF-8"):
        yolo.read_yolo(p, 10, 10, None)
    with pytest.raises(InputError, match="cannot read"):
        yolo.read_yolo(tmp_path / "missing.txt", 10, 10, None)


# -- Pascal VOC -----------------------------------------------------------------------------
VOC = """<?xml version="1.0" encoding="utf-8"?>
<annotation>
\t<folder>VOC2007</folder>
\t<filename>000001.jpg</filename>
\t<path>/data/VOC2007/JPEGImages/000001.jpg</path>
\t<size>
\t\t<width>353</width>
\t\t<height>500</height>
\t\t<depth>3</depth>
\t</size>
\t<segmented>0</segmented>
\t<object>
\t\t<name>dog</name>
\t\t<pose>Left</pose>
\t\t<truncated>1</truncated>
\t\t<difficult>0</difficult>
\t\t<bndbox>
\t\t\t<xmin>48</xmin>
\t\t\t<ymin>240</ymin>
\t\t\t<xmax>195</xmax>
\t\t\t<ymax>371</ymax>
\t\t</bndbox>
\t</object>
\t<object>
\t\t<name>person</name>
\t\t<pose>Unspecified</pose>
\t\t<truncated>0</truncated>
\t\t<difficult>1</difficult>
\t\t<bndbox>
\t\t\t<xmin>1</xmin>
\t\t\t<ymin>1</ymin>
\t\t\t<xmax>353</xmax>
\t\t\t<ymax>500</ymax>
\t\t</bndbox>
\t</object>
</annotation>
"""


def voc_file(tmp_path: Path, text: str = VOC, name: str = "a.xml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_voc_is_one_based_inclusive(tmp_path):
    o, meta = voc.read_voc(voc_file(tmp_path))
    assert o.labels == ["dog", "person"]
    np.testing.assert_array_equal(o.boxes[0], [47, 239, 195, 371])
    np.testing.assert_array_equal(o.boxes[1], [0, 0, 353, 500])  # xmin=1..xmax=W: whole image
    assert o.extra[0]["difficult"] == "0" and o.extra[1]["difficult"] == "1"
    assert o.extra[0]["pose"] == "Left" and o.extra[0]["truncated"] == "1"
    assert meta["integer"] and meta["filename"] == "000001.jpg"
    assert (meta["width"], meta["height"]) == (353, 500)


def test_voc_noop_round_trip_gives_the_same_file(tmp_path):
    o, meta = voc.read_voc(voc_file(tmp_path))
    out = tmp_path / "out.xml"
    voc.write_voc(out, o, 353, 500, "000001.jpg", meta)
    assert out.read_text(encoding="utf-8") == VOC


def test_voc_float_coordinates_round_trip_and_stay_floats(tmp_path):
    text = VOC.replace("<xmin>48</xmin>", "<xmin>48.5</xmin>").replace(
        "<ymax>371</ymax>", "<ymax>370.25</ymax>"
    )
    o, meta = voc.read_voc(voc_file(tmp_path, text))
    assert not meta["integer"]
    np.testing.assert_allclose(o.boxes[0], [47.5, 239, 195, 370.25])
    out = tmp_path / "out.xml"
    voc.write_voc(out, o, 353, 500, "000001.jpg", meta)
    assert out.read_text(encoding="utf-8") == text
    o.boxes[0] = [10.25, 20.0, 30.123456789, 40.0]
    voc.write_voc(out, o, 353, 500, "000001.jpg", meta)
    written = out.read_text(encoding="utf-8")
    assert "<xmin>11.25</xmin>" in written and "<xmax>30.123457</xmax>" in written
    assert "<ymin>21</ymin>" in written


def test_voc_changed_boxes_fields_filename_and_size(tmp_path):
    o, meta = voc.read_voc(voc_file(tmp_path))
    o.boxes[0] = [10.4, 20.6, 30.5, 40.49]  # an op moved it: nearest pixel edges
    o.extra[0]["truncated"] = 0
    o.extra[1]["difficult"] = True
    out = tmp_path / "out.xml"
    voc.write_voc(out, o, 400, 300, "000001__aug_0.jpg", meta)
    back, meta2 = voc.read_voc(out, 400, 300)
    np.testing.assert_array_equal(back.boxes[0], [10, 21, 31, 40])  # xmin 11, ymin 22, 31, 40
    assert back.extra[0]["truncated"] == "0" and back.extra[1]["difficult"] == "1"
    assert back.extra[0]["pose"] == "Left"
    assert meta2["filename"] == "000001__aug_0.jpg" and (meta2["width"], meta2["height"]) == (
        400,
        300,
    )
    assert "<path>/data/VOC2007/JPEGImages/000001__aug_0.jpg</path>" in out.read_text()
    assert "<depth>3</depth>" in out.read_text()


def test_voc_sub_pixel_integer_box_keeps_one_pixel(tmp_path):
    o, meta = voc.read_voc(voc_file(tmp_path))
    o.boxes[0] = [3.2, 3.2, 3.4, 3.4]
    out = tmp_path / "out.xml"
    voc.write_voc(out, o, 353, 500, "x.jpg", meta)
    back, _ = voc.read_voc(out)
    np.testing.assert_array_equal(back.boxes[0], [3, 3, 4, 4])


def test_voc_zero_based_files_are_clipped_not_refused(tmp_path):
    text = VOC.replace("<xmin>1</xmin>", "<xmin>0</xmin>").replace(
        "<ymin>1</ymin>", "<ymin>0</ymin>"
    )
    o, meta = voc.read_voc(voc_file(tmp_path, text))
    np.testing.assert_array_equal(o.boxes[1], [0, 0, 353, 500])
    out = tmp_path / "out.xml"
    voc.write_voc(out, o, 353, 500, "000001.jpg", meta)
    assert out.read_text(encoding="utf-8") == VOC  # written back 1-based


def test_voc_parts_are_carried_as_boxes_and_written_back_in_place(tmp_path):
    part = "\t\t<part>\n\t\t\t<name>head</name>\n\t\t\t<bndbox><xmin>5</xmin><ymin>5</ymin><xmax>9</xmax><ymax>9</ymax></bndbox>\n\t\t</part>\n"
    hand = part.replace("head", "hand").replace(">9<", ">30<")
    attrs = "\t\t<attributes>\n\t\t\t<attribute><name>colour</name><value>red</value></attribute>\n\t\t</attributes>\n"
    anchor = "\t\t</bndbox>\n\t</object>\n</annotation>"
    text = VOC.replace(
        anchor, "\t\t</bndbox>\n" + part + attrs + hand + "\t</object>\n</annotation>"
    )
    o, meta = voc.read_voc(voc_file(tmp_path, text))
    assert o.labels == ["dog", "person", "head", "hand"]
    np.testing.assert_array_equal(o.boxes[2], [4, 4, 9, 9])  # 1-based inclusive, as objects
    np.testing.assert_array_equal(o.boxes[3], [4, 4, 30, 30])
    assert o.extra[2]["voc_part_of"] == o.extra[1]["voc_key"] and o.extra[3]["voc_part"] == 1
    assert "voc_dropped" not in o.extra[1]
    out = tmp_path / "out.xml"
    voc.write_voc(out, o, 353, 500, "000001.jpg", meta)
    assert out.read_text(encoding="utf-8") == text  # a no-op round trip: the same file
    o.boxes[3] = [9.6, 10.4, 20.5, 21.0]  # an op moved the hand; the head was dropped
    voc.write_voc(out, o.take(np.array([True, True, False, True])), 353, 500, "x.jpg", meta)
    back, _ = voc.read_voc(out)
    assert back.labels == ["dog", "person", "hand"]
    np.testing.assert_array_equal(back.boxes[2], [10, 10, 21, 21])
    assert "<name>head</name>" not in out.read_text() and "<value>red</value>" in out.read_text()
    # a part whose object was dropped goes with it
    voc.write_voc(out, o.take(np.array([True, False, True, True])), 353, 500, "x.jpg", meta)
    back, _ = voc.read_voc(out)
    assert back.labels == ["dog"]


def test_voc_points_without_a_box_are_dropped_and_listed(tmp_path):
    point = "\t\t<keypoints>\n\t\t\t<point><x>5</x><y>5</y></point>\n\t\t</keypoints>\n"
    anchor = "\t\t</bndbox>\n\t</object>\n</annotation>"
    text = VOC.replace(anchor, "\t\t</bndbox>\n" + point + "\t</object>\n</annotation>")
    o, meta = voc.read_voc(voc_file(tmp_path, text))
    assert o.extra[1]["voc_dropped"] == ["keypoints"]
    out = tmp_path / "out.xml"
    voc.write_voc(out, o, 353, 500, "000001.jpg", meta)
    assert out.read_text(encoding="utf-8") == VOC


def test_voc_without_template_and_new_objects(tmp_path):
    objs = Objects(
        np.array([[0.0, 0.0, 10.0, 20.0], [5.5, 6.5, 7.5, 8.5]]),
        ["cat", "dog"],
        None,
        [{"difficult": "1"}, {}],
    )
    out = tmp_path / "out.xml"
    voc.write_voc(out, objs, 64, 32, "img.png", None, depth=1)
    back, meta = voc.read_voc(out, 64, 32)
    assert back.labels == ["cat", "dog"] and back.extra[0]["difficult"] == "1"
    np.testing.assert_array_equal(back.boxes, [[0, 0, 10, 20], [6, 7, 8, 9]])
    assert meta["filename"] == "img.png" and "<depth>1</depth>" in out.read_text()
    assert "\n\t<object>\n\t\t<name>cat</name>\n" in out.read_text()  # indented like the rest
    # objects into a template that had none
    empty = VOC.split("\t<object>")[0] + "</annotation>\n"
    _, meta0 = voc.read_voc(voc_file(tmp_path, empty, "e.xml"))
    voc.write_voc(out, objs, 353, 500, "e.jpg", meta0)
    back, _ = voc.read_voc(out)
    assert back.labels == ["cat", "dog"]
    assert "\t<segmented>0</segmented>\n\t<object>\n" in out.read_text()
    # and no objects at all
    voc.write_voc(out, Objects(np.zeros((0, 4)), []), 353, 500, "e.jpg", meta0)
    assert out.read_text() == empty.replace("000001.jpg</filename>", "e.jpg</filename>").replace(
        "<path>/data/VOC2007/JPEGImages/000001.jpg", "<path>/data/VOC2007/JPEGImages/e.jpg"
    )


def test_voc_refuses_doctype_and_entities(tmp_path):
    laughs = (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
        ' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n]>\n'
        "<annotation><filename>&lol2;</filename></annotation>\n"
    )
    p = voc_file(tmp_path, laughs)
    with raises_at(f"{p}:2", "DOCTYPE", "delete the <!DOCTYPE"):
        voc.read_voc(p)
    external = '<!DOCTYPE a SYSTEM "file:///etc/passwd">\n<annotation/>'
    p = voc_file(tmp_path, external, "ext.xml")
    with raises_at(f"{p}:1", "DOCTYPE"):
        voc.read_voc(p)
    p = voc_file(tmp_path, "<annotation><name>&xxe;</name></annotation>", "undef.xml")
    with raises_at(f"{p}:1", "not well-formed XML", "undefined entity"):
        voc.read_voc(p)


def test_voc_malformed_xml_names_the_line(tmp_path):
    p = voc_file(tmp_path, VOC.replace("<xmax>195</xmax>", "<xmax>195</xmin>"))
    with raises_at(f"{p}:20", "not well-formed XML", "mismatched tag"):
        voc.read_voc(p)


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("<name>dog</name>", "<name> </name>", 12, ["has no <name>"]),
        (
            "<xmin>48</xmin>",
            "<xmin>4x8</xmin>",
            18,
            ["<xmin> of 'dog' is not a finite number", "'4x8'"],
        ),
        ("\t\t\t<ymin>240</ymin>\n", "", 17, ["has no <ymin>"]),
        (
            "<xmax>195</xmax>",
            "<xmax>30</xmax>",
            17,
            ["empty", "xmax is less than xmin", "[48.0, 240.0, 30.0, 371.0]"],
        ),
        ("<ymax>371</ymax>", "<ymax>520</ymax>", 17, ["outside the image", "1..500"]),
        ("<xmin>48</xmin>", "<xmin>-5</xmin>", 17, ["outside the image"]),
        ("<width>353</width>", "<width>35.5</width>", 7, ["<size><width> is not a whole number"]),
        ("<annotation>", "<notes>", 2, ["root element is not <annotation>", "'<notes>'"]),
    ],
)
def test_voc_bad_input_names_file_line_and_value(tmp_path, old, new, line, words):
    text = VOC.replace(old, new)
    if old == "<annotation>":
        text = text.replace("</annotation>", "</notes>")
    assert text != VOC
    p = voc_file(tmp_path, text)
    with raises_at(f"{p}:{line}", *words):
        voc.read_voc(p)


def test_voc_without_bndbox_and_size_checks(tmp_path):
    text = VOC.replace(
        "\t\t<bndbox>\n\t\t\t<xmin>48</xmin>\n\t\t\t<ymin>240</ymin>\n\t\t\t<xmax>195</xmax>\n\t\t\t<ymax>371</ymax>\n\t\t</bndbox>\n",
        "",
    )
    p = voc_file(tmp_path, text)
    with raises_at(f"{p}:12", "object 'dog' has no <bndbox>"):
        voc.read_voc(p)
    p = voc_file(tmp_path, VOC, "ok.xml")
    with raises_at(f"{p}:7", "says 353 but the image's width is 500", "orientation"):
        voc.read_voc(p, 500, 353)
    p = voc_file(tmp_path, VOC.replace("<width>353</width>", "<width>0</width>"), "zero.xml")
    assert voc.read_voc(p, 353, 500)[1]["width"] == 353  # a 0 size takes the image's
    with raises_at(f"{p}:7", "missing or 0"):
        voc.read_voc(p)


def test_voc_labels_must_be_names(tmp_path):
    with pytest.raises(ValueError, match="class names"):
        voc.write_voc(tmp_path / "o.xml", Objects(np.array([[0.0, 0, 5, 5]]), [3]), 9, 9, "x", None)


# -- COCO -----------------------------------------------------------------------------------
def coco_doc() -> dict:
    return {
        "info": {"description": "test set"},
        "licenses": [{"id": 1, "name": "CC-BY"}],
        "images": [
            {"id": 10, "file_name": "a/one.jpg", "width": 640, "height": 480, "license": 1},
            {"id": 20, "file_name": "two.jpg", "width": 100, "height": 50},
            {"id": 30, "file_name": "empty.jpg", "width": 8, "height": 8},
        ],
        "annotations": [
            {
                "id": 101,
                "image_id": 10,
                "category_id": 1,
                "bbox": [473.07, 395.93, 38.65, 28.67],
                "area": 702.1,
                "iscrowd": 0,
                "segmentation": [[473.07, 395.93, 511.72, 395.93, 511.72, 424.6]],
                "keypoints": [480, 400, 2, 0, 0, 0, 500.5, 410.25, 1],
                "num_keypoints": 2,
            },
            {
                "id": 102,
                "image_id": 10,
                "category_id": 2,
                "bbox": [0, 0, 640, 480],
                "area": 307200,
                "iscrowd": 1,
                "attributes": {"occluded": False},
            },
            {
                "id": 201,
                "image_id": 20,
                "category_id": 2,
                "bbox": [0.1, 0.2, 0.3, 0.4],
                "iscrowd": 0,
            },
        ],
        "categories": [
            {
                "id": 1,
                "name": "person",
                "keypoints": ["nose", "left_eye", "right_eye"],
                "skeleton": [],
            },
            {"id": 2, "name": "dog"},
        ],
    }


def coco_file(tmp_path: Path, doc: dict | None = None, text: str | None = None) -> Path:
    p = tmp_path / "coco.json"
    p.write_text(text if text is not None else json.dumps(doc or coco_doc(), indent=2))
    return p


def test_coco_objects_boxes_labels_keypoints_extra(tmp_path):
    index = coco.load_coco(coco_file(tmp_path))
    assert index.keypoint_names() == ["nose", "left_eye", "right_eye"]
    assert index.file_names() == ["a/one.jpg", "two.jpg", "empty.jpg"]
    o = coco.coco_objects(index, "a/one.jpg", 640, 480)
    assert o.labels == [1, 2]
    np.testing.assert_allclose(o.boxes[0], [473.07, 395.93, 473.07 + 38.65, 395.93 + 28.67])
    np.testing.assert_array_equal(o.boxes[1], [0, 0, 640, 480])
    assert o.keypoints.shape == (2, 3, 3)
    np.testing.assert_array_equal(o.keypoints[0], [[480, 400, 2], [0, 0, 0], [500.5, 410.25, 1]])
    np.testing.assert_array_equal(o.keypoints[1], np.zeros((3, 3)))  # padded: the dog has none
    assert o.extra[0]["coco_id"] == 101
    np.testing.assert_array_equal(
        o.polygons[0][0], [[473.07, 395.93], [511.72, 395.93], [511.72, 424.6]]
    )
    assert o.polygons[1] == []  # no segmentation
    assert o.extra[1]["iscrowd"] == 1 and o.extra[1]["coco_k"] == 0
    assert o.extra[1]["coco_fields"] == {"attributes": {"occluded": False}}
    empty = coco.coco_objects(index, "./empty.jpg", 8, 8)
    assert len(empty) == 0 and empty.keypoints is None


def annotations_by_key(doc: dict) -> list[tuple]:
    return [
        (a["category_id"], a["bbox"], a.get("keypoints"), a["iscrowd"]) for a in doc["annotations"]
    ]


def test_coco_noop_round_trip_gives_identical_annotations(tmp_path):
    src = coco_doc()
    index = coco.load_coco(coco_file(tmp_path, src))
    images = [
        {
            "file_name": img["file_name"],
            "width": img["width"],
            "height": img["height"],
            "objects": coco.coco_objects(index, img["file_name"], img["width"], img["height"]),
            "source": img["file_name"],
        }
        for img in src["images"]
    ]
    out = coco.coco_document(index, images)
    assert annotations_by_key(out) == annotations_by_key(src)
    assert out["categories"] == src["categories"]
    assert out["info"] == src["info"] and out["licenses"] == src["licenses"]
    assert [i["id"] for i in out["images"]] == [1, 2, 3]
    assert [a["id"] for a in out["annotations"]] == [1, 2, 3]
    assert [a["image_id"] for a in out["annotations"]] == [1, 1, 2]
    assert out["images"][0] == {
        "id": 1,
        "file_name": "a/one.jpg",
        "width": 640,
        "height": 480,
        "license": 1,
    }
    first = out["annotations"][0]
    assert first["num_keypoints"] == 2
    # an unchanged polygon is written as read, with the area as read
    assert first["segmentation"] == src["annotations"][0]["segmentation"]
    assert first["area"] == 702.1
    assert "segmentation" not in out["annotations"][1]
    assert out["annotations"][1]["area"] == pytest.approx(640 * 480)
    assert out["annotations"][1]["attributes"] == {"occluded": False}
    assert "keypoints" not in out["annotations"][1]
    # written and read again: the same objects
    p2 = tmp_path / "round.json"
    p2.write_text(json.dumps(out))
    again = coco.coco_objects(coco.load_coco(p2), "a/one.jpg", 640, 480)
    np.testing.assert_array_equal(again.boxes, images[0]["objects"].boxes)
    np.testing.assert_array_equal(again.keypoints, images[0]["objects"].keypoints)


def test_coco_document_is_deterministic_and_follows_the_given_order(tmp_path):
    index = coco.load_coco(coco_file(tmp_path))

    def item(name, w, h):
        return {
            "file_name": "out/" + name,
            "width": w,
            "height": h,
            "objects": coco.coco_objects(index, name, w, h),
        }

    order = [item("two.jpg", 100, 50), item("a/one.jpg", 640, 480)]
    a = json.dumps(coco.coco_document(index, order))
    b = json.dumps(coco.coco_document(index, copy.deepcopy(order)))
    assert a == b
    doc = json.loads(a)
    assert [(i["id"], i["file_name"]) for i in doc["images"]] == [
        (1, "out/two.jpg"),
        (2, "out/a/one.jpg"),
    ]
    assert [(x["id"], x["image_id"], x["category_id"]) for x in doc["annotations"]] == [
        (1, 1, 2),
        (2, 2, 1),
        (3, 2, 2),
    ]
    assert "license" not in doc["images"][1]  # no "source": nothing copied


def test_coco_changed_objects_are_written_fresh(tmp_path):
    index = coco.load_coco(coco_file(tmp_path))
    o = coco.coco_objects(index, "a/one.jpg", 640, 480)
    o.polygons[0] = []  # a box alone: its area is the box's
    o.boxes[0] = [10.0, 20.0, 30.1234567, 40.0]
    o.keypoints[0, 0] = [12.3456789, 25.0, 2]
    o.keypoints[0, 2, 2] = 0  # moved outside: not labelled
    doc = coco.coco_document(
        index, [{"file_name": "x.jpg", "width": 640, "height": 480, "objects": o}]
    )
    ann = doc["annotations"][0]
    assert ann["bbox"] == [10.0, 20.0, 20.123457, 20.0]
    assert ann["area"] == pytest.approx(20.123457 * 20.0)
    assert ann["keypoints"][:3] == [12.345679, 25, 2] and ann["num_keypoints"] == 1
    with pytest.raises(ValueError, match="not in the COCO categories"):
        coco.coco_document(
            index,
            [
                {
                    "file_name": "x",
                    "width": 9,
                    "height": 9,
                    "objects": Objects(np.array([[0.0, 0, 1, 1]]), [7]),
                }
            ],
        )


def test_coco_border_tolerance(tmp_path):
    doc = coco_doc()
    doc["annotations"][2]["bbox"] = [-0.4, 0, 100.9, 50.2]  # within one pixel: clipped
    index = coco.load_coco(coco_file(tmp_path, doc))
    np.testing.assert_array_equal(
        coco.coco_objects(index, "two.jpg", 100, 50).boxes[0], [0, 0, 100, 50]
    )
    doc["annotations"][2]["bbox"] = [0, 0, 100, 55]
    p = coco_file(tmp_path, doc)
    with raises_at(f"{p}: annotations[2].bbox", "outside the image", "[0, 0, 100, 55]"):
        coco.coco_objects(coco.load_coco(p), "two.jpg", 100, 50)
    doc["annotations"][2]["bbox"] = [5, 5, 0, 10]
    p = coco_file(tmp_path, doc)
    with raises_at(f"{p}: annotations[2].bbox", "width and height must be > 0"):
        coco.coco_objects(coco.load_coco(p), "two.jpg", 100, 50)


def test_coco_per_image_errors(tmp_path):
    p = coco_file(tmp_path)
    index = coco.load_coco(p)
    with raises_at(str(p), "no entry in images", "'b/three.jpg'"):
        coco.coco_objects(index, "b/three.jpg", 10, 10)
    with raises_at(f"{p}: images[1].width", "does not match the image", "got 100"):
        coco.coco_objects(index, "two.jpg", 50, 100)


def test_coco_invalid_json_names_the_line(tmp_path):
    text = json.dumps(coco_doc(), indent=2).replace('"iscrowd": 1', '"iscrowd": 1,,')
    p = coco_file(tmp_path, text=text)
    line = text[: text.index(",,")].count("\n") + 1
    with raises_at(f"{p}:{line}", "not valid JSON"):
        coco.load_coco(p)


def _broken(change):
    doc = coco_doc()
    change(doc)
    return doc


@pytest.mark.parametrize(
    ("change", "where", "words"),
    [
        (lambda d: d.pop("images"), "images", ["is missing"]),
        (lambda d: d.update(annotations={}), "annotations", ["must be a list"]),
        (
            lambda d: d["annotations"][1].update(image_id=99),
            "annotations[1].image_id",
            ["no image", "got 99"],
        ),
        (
            lambda d: d["annotations"][2].update(category_id=5),
            "annotations[2].category_id",
            ["no category", "got 5"],
        ),
        (
            lambda d: d["annotations"][2].update(id=101),
            "annotations[2].id",
            ["duplicate annotation id", "annotations[0]"],
        ),
        (lambda d: d["annotations"][0].pop("id"), "annotations[0].id", ["missing"]),
        (lambda d: d["images"][1].update(id=10), "images[1].id", ["duplicate image id"]),
        (
            lambda d: d["images"][2].update(file_name="./two.jpg"),
            "images[2].file_name",
            ["duplicate file name"],
        ),
        (lambda d: d["images"][0].update(width=0), "images[0].width", ["positive whole number"]),
        (lambda d: d["categories"][1].update(id=1), "categories[1].id", ["duplicate category id"]),
        (
            lambda d: d["annotations"][2].update(bbox=[1, 2, 3]),
            "annotations[2].bbox",
            ["four finite numbers"],
        ),
        (lambda d: d["annotations"][2].update(iscrowd=2), "annotations[2].iscrowd", ["0 or 1"]),
        (
            lambda d: d["annotations"][0].update(keypoints=[1, 2, 2]),
            "annotations[0].keypoints",
            ["has 1 keypoints", "3 names"],
        ),
        (
            lambda d: d["annotations"][0].update(keypoints=[1, 2]),
            "annotations[0].keypoints",
            ["flat list"],
        ),
    ],
)
def test_coco_structural_errors_name_the_json_path(tmp_path, change, where, words):
    p = coco_file(tmp_path, _broken(change))
    with raises_at(f"{p}: {where}", *words):
        coco.load_coco(p)
