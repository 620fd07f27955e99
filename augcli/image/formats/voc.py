"""Pascal VOC annotations: an ``.xml`` per image (``<annotation>`` with ``<filename>``, ``<size>``
and an ``<object>`` per object: ``<name>``, ``<bndbox>`` and fields such as ``<difficult>``).

**Coordinates are 1-based and inclusive**, as in the VOC devkit (its annotations state "Top left
pixel co-ordinates : (1, 1)", and boxes run from 1 to W): ``xmin..xmax`` are the first and last
pixel columns of the object, so in continuous coordinates ``x0 = xmin - 1`` and ``x1 = xmax``; a
box ``xmin=1 .. xmax=W`` covers the whole image, (0, W). Detectron2's VOC loader does the same
(``bbox[0] -= 1.0``; ``bbox[1] -= 1.0``). Albumentations' ``pascal_voc`` and torchvision's
``VOCDetection`` take the numbers as they are, which is off by one pixel at the top-left.
Files written by 0-based tools start some boxes at 0: that is one pixel outside the image, within
the tolerance (1e-3 of the side or one pixel, whichever is larger), so it is clipped, and written
back as 1.

- Boxes are written as integers (rounded to the nearest pixel edge, at least one pixel) when the
  input file's boxes were all integers, else with up to 6 decimals; an unchanged box keeps its
  original text, so a no-op round trip gives the same file (up to XML-equivalent spelling such as
  quotes or ``<a></a>`` for ``<a/>``).
- Per object, ``Objects.extra`` has every simple child as text (``pose``, ``truncated``,
  ``difficult``, ``occluded``, ...), the writer's source of truth for them; and ``voc_xml``, the
  object element as read, which the writer starts from, so other children (CVAT's
  ``<attributes>``, comments) and the layout survive.
- **Parts are carried**: each ``<part>`` with a ``<bndbox>`` (VOC's person layout: head, hand,
  foot) travels as a box of its own, an ``Objects`` row right after its object's
  (``extra["voc_part_of"]``: the object's ``voc_key``; ``extra["voc_part"]``: its position among
  the object's parts), so every op moves, clips and drops it exactly like a box. The writer puts
  each surviving part back in its place in the object (its box updated, the rest of its XML as
  read) and leaves out a part that was dropped, or whose object was. Other children with
  coordinates of their own (``<point>``s, polygons) are not moved by the ops, so they are
  dropped, and their tags listed in ``extra["voc_dropped"]``.
- Parsing refuses DTDs (``<!DOCTYPE``: entity declarations are how "billion laughs" and external
  entity attacks work; VOC needs none). Malformed XML names the file and line.
"""

from __future__ import annotations

import copy
import hashlib
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.parsers import expat

import numpy as np

from augcli.image.formats.common import (
    error,
    finite,
    inside,
    number,
    read_bytes,
    same,
    span,
    tolerance,
)
from augcli.image.targets import Objects

COORDS = ("xmin", "ymin", "xmax", "ymax")
FIELDS = ("pose", "truncated", "difficult", "occluded")  # added by the writer if extra has them
GEOMETRY = {"bndbox", "xmin", "ymin", "xmax", "ymax", "x", "y", "point", "polygon", "pt"}
PARSE_FIX = "Fix the file, or export the annotations again"
OUTSIDE = (
    "the box of {label!r} reaches outside the image: {axis}min..{axis}max must be within "
    "1..{size} (1-based; up to {tol:g} px outside is clipped)"
)
OUTSIDE_FIX = "Fix the box, or remove the object if it is not in this image."


class _Refused(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


@dataclass
class _Document:
    root: ET.Element
    lines: dict[int, int]  # id(element) -> line
    prolog: bytes  # the bytes before the root element (declaration, comments), kept as they are
    epilog: bytes

    def where(self, path: Path, elem: ET.Element | None) -> str:
        return f"{path}:{self.lines.get(id(elem), 1)}"


def _parse(path: Path | str, raw: bytes) -> _Document:
    """Parse with expat, refusing DTDs, recording each element's line and the root's span."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    builder = ET.TreeBuilder(insert_comments=True, insert_pis=True)
    lines: dict[int, int] = {}
    span = [0, len(raw)]
    depth = 0

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal depth
        if depth == 0:
            span[0] = parser.CurrentByteIndex
        depth += 1
        lines[id(builder.start(tag, attrs))] = parser.CurrentLineNumber

    def end(tag: str) -> None:
        nonlocal depth
        depth -= 1
        builder.end(tag)
        if depth == 0:
            span[1] = raw.index(b">", parser.CurrentByteIndex) + 1

    def refuse(*_: Any) -> None:
        raise _Refused(parser.CurrentLineNumber)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    parser.CommentHandler = builder.comment
    parser.ProcessingInstructionHandler = builder.pi
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(raw, True)
    except expat.ExpatError as exc:
        raise error(
            f"{path}:{exc.lineno}",
            f"is not well-formed XML ({expat.ErrorString(exc.code)}, column {exc.offset + 1})",
            fix=PARSE_FIX + ".",
        ) from None
    except _Refused as exc:
        raise error(
            f"{path}:{exc.line}",
            "has a <!DOCTYPE> (a DTD, which can declare entities); augcli refuses to parse DTDs "
            "(entity expansion attacks)",
            fix="VOC annotations need no DTD: delete the <!DOCTYPE ...> declaration.",
        ) from None
    return _Document(builder.close(), lines, raw[: span[0]], raw[span[1] :])


def read_voc(
    path: Path, width: int | None = None, height: int | None = None
) -> tuple[Objects, dict[str, Any]]:
    """The objects in the VOC file ``path``, and what ``write_voc`` needs to write it back.

    With ``width``/``height`` (the decoded image's size), a ``<size>`` that disagrees is an
    error (the boxes would be for another image, or another orientation); a missing or zero
    ``<size>`` takes them. Labels are the ``<name>`` strings."""
    raw = read_bytes(path)
    doc = _parse(path, raw)
    root = doc.root
    if root.tag != "annotation":
        raise error(
            doc.where(path, root),
            "the root element is not <annotation>",
            f"<{root.tag}>",
            PARSE_FIX + ".",
        )
    size = root.find("size")
    w = _size(doc, path, root, size, "width", width)
    h = _size(doc, path, root, size, "height", height)
    boxes, labels, extra = [], [], []
    integer = True
    digest = hashlib.sha256(raw).hexdigest()[:16]
    for n, obj in enumerate(root.findall("object")):
        name = obj.find("name")
        label = (name.text or "").strip() if name is not None else ""
        if not label:
            raise error(
                doc.where(path, obj), "an <object> has no <name> (its class)", fix=PARSE_FIX + "."
            )
        box, ints = _box(doc, path, obj, label, w, h)
        integer = integer and ints
        boxes.append(box)
        labels.append(label)
        extra.append(_fields(obj))
        parts = [c for c in obj if _is_part(c)]
        if parts:
            key = extra[-1]["voc_key"] = f"{digest}#{n}"
        for j, part in enumerate(parts):
            pname = (part.findtext("name") or "").strip() or "part"
            box, ints = _box(doc, path, part, f"{label}/{pname}", w, h)
            integer = integer and ints
            boxes.append(box)
            labels.append(pname)
            extra.append({"voc_part_of": key, "voc_part": j})
    meta = {
        "xml": raw,
        "integer": integer,
        "filename": (root.findtext("filename") or "").strip(),
        "width": w,
        "height": h,
    }
    return Objects(np.array(boxes, dtype=np.float64).reshape(-1, 4), labels, None, extra), meta


def _size(
    doc: _Document,
    path: Path,
    root: ET.Element,
    size: ET.Element | None,
    tag: str,
    actual: int | None,
) -> int:
    elem = size.find(tag) if size is not None else None
    text = (elem.text or "").strip() if elem is not None else ""
    where = doc.where(path, elem if elem is not None else (size if size is not None else root))
    value = finite(text) if text else 0.0
    if value is None or value < 0 or not value.is_integer():
        raise error(where, f"<size><{tag}> is not a whole number of pixels", text, PARSE_FIX + ".")
    if value == 0:
        if actual is None:
            raise error(
                where,
                f"<size><{tag}> is missing or 0, and the image size was not given",
                fix="Add <size> with the image's width and height.",
            )
        return actual
    if actual is not None and int(value) != actual:
        raise error(
            where,
            f"<size><{tag}> says {int(value)} but the image's {tag} is {actual}",
            text,
            "The annotation is for another image, or another orientation (EXIF rotation is "
            "applied when reading); fix <size> or re-annotate.",
        )
    return int(value)


def _box(
    doc: _Document, path: Path, obj: ET.Element, label: str, width: int, height: int
) -> tuple[tuple[float, float, float, float], bool]:
    """(x0, y0, x1, y1) in continuous coordinates, and whether all four were integers."""
    bndbox = obj.find("bndbox")
    if bndbox is None:
        raise error(doc.where(path, obj), f"object {label!r} has no <bndbox>", fix=PARSE_FIX + ".")
    values, ints = [], True
    for tag in COORDS:
        elem = bndbox.find(tag)
        if elem is None:
            raise error(
                doc.where(path, bndbox),
                f"<bndbox> of {label!r} has no <{tag}>",
                fix=PARSE_FIX + ".",
            )
        text = (elem.text or "").strip()
        value = finite(text)
        if value is None:
            raise error(
                doc.where(path, elem),
                f"<{tag}> of {label!r} is not a finite number",
                text,
                PARSE_FIX + ".",
            )
        ints = ints and re.fullmatch(r"[+-]?\d+", text) is not None
        values.append(value)
    xmin, ymin, xmax, ymax = values
    where = doc.where(path, bndbox)
    for lo, hi, axis in ((xmin, xmax, "x"), (ymin, ymax, "y")):
        if hi - lo + 1 <= 0:
            raise error(
                where,
                f"the box of {label!r} is empty: {axis}max is less than {axis}min",
                values,
                "VOC boxes are 1-based and inclusive (xmin <= xmax); fix the box.",
            )
    x0, x1 = _span(xmin - 1, xmax, width, "x", where, label, values)
    y0, y1 = _span(ymin - 1, ymax, height, "y", where, label, values)
    return (x0, y0, x1, y1), ints


def _span(
    lo: float, hi: float, size: int, axis: str, where: str, label: str, values: list[float]
) -> tuple[float, float]:
    tol = tolerance(size, 1.0)
    return span(lo, hi, size, tol, where, values, OUTSIDE, OUTSIDE_FIX, axis=axis, label=label)


def _simple(elem: ET.Element) -> bool:
    return len(elem) == 0


def _is_element(elem: ET.Element) -> bool:
    return isinstance(elem.tag, str)  # comments and PIs have a function as their tag


def _is_part(child: ET.Element) -> bool:
    """A VOC ``<part>`` with a box of its own: carried, as a box."""
    return _is_element(child) and child.tag == "part" and child.find("bndbox") is not None


def _has_geometry(child: ET.Element) -> bool:
    """A child other than <bndbox> or a <part> with coordinates of its own (points, polygons)."""
    if not _is_element(child) or _simple(child) or child.tag == "bndbox" or _is_part(child):
        return False
    return any(_is_element(e) and e.tag in GEOMETRY for e in child.iter())


def _remove(parent: ET.Element, k: int) -> None:
    """Remove ``parent[k]``, keeping the whitespace that followed it."""
    child = parent[k]
    if k == 0:
        parent.text = child.tail
    else:
        parent[k - 1].tail = child.tail
    parent.remove(child)


def _fields(obj: ET.Element) -> dict[str, Any]:
    """Simple children as text, the element as read (``voc_xml``) minus children that carry
    coordinates of their own (``voc_dropped``)."""
    extra: dict[str, Any] = {}
    skeleton = copy.deepcopy(obj)
    dropped = []
    for k, child in reversed(list(enumerate(skeleton))):
        if _has_geometry(child):
            dropped.insert(0, child.tag)
            _remove(skeleton, k)
    for child in skeleton:
        if _is_element(child) and _simple(child) and child.tag != "name":
            extra.setdefault(child.tag, (child.text or "").strip())
    skeleton.tail = None
    extra["voc_xml"] = ET.tostring(skeleton, encoding="unicode")
    if dropped:
        extra["voc_dropped"] = dropped
    return extra


def write_voc(
    path: Path,
    objects: Objects,
    width: int,
    height: int,
    filename: str,
    template_meta: dict[str, Any] | None = None,
    depth: int | None = None,
) -> None:
    """Write ``objects`` of a ``width`` x ``height`` image called ``filename`` as the VOC file
    ``path``, starting from the file ``read_voc`` read (``template_meta``: everything outside the
    objects is kept, with the new filename and size) or, without one, a minimal document.
    ``depth``, if given, replaces ``<size><depth>``. A ``<path>`` keeps its folder and gets the new
    filename."""
    if template_meta is not None:
        doc = _parse("<template>", template_meta["xml"])
        integer = bool(template_meta.get("integer", True))
    else:
        doc = _parse("<template>", _BLANK)
        integer = True
    root = doc.root
    _set_child(root, "filename", filename, index=_index_after(root, "folder"))
    image_path = root.find("path")
    if image_path is not None and image_path.text and image_path.text.strip():
        old = image_path.text.strip()
        cut = max(old.rfind("/"), old.rfind("\\"))
        image_path.text = old[: cut + 1] + filename
    size = root.find("size")
    if size is None:
        size = ET.Element("size")
        root.insert(_index_after(root, "filename"), size)
    _set_child(size, "width", str(width))
    _set_child(size, "height", str(height))
    if depth is not None:
        _set_child(size, "depth", str(depth))
    new = [
        _object(objects, i, parts, width, height, integer, path)
        for i, parts in _with_parts(objects).items()
    ]
    _replace_objects(root, new)
    root.tail = None
    body, prolog, epilog = _serialize(root, doc)
    path.write_bytes(prolog + body + epilog)


_BLANK = (
    b"<annotation>\n\t<folder></folder>\n\t<filename></filename>\n\t<size>\n\t\t<width>0</width>\n"
    b"\t\t<height>0</height>\n\t\t<depth>3</depth>\n\t</size>\n\t<segmented>0</segmented>\n"
    b"</annotation>\n"
)


def _set_child(parent: ET.Element, tag: str, text: str, index: int | None = None) -> None:
    elem = parent.find(tag)
    if elem is None:
        elem = ET.Element(tag)
        if index is None:
            parent.append(elem)
        else:
            parent.insert(index, elem)
    if (elem.text or "").strip() != text:
        elem.text = text


def _index_after(parent: ET.Element, tag: str) -> int:
    children = list(parent)
    for i, child in enumerate(children):
        if child.tag == tag:
            return i + 1
    return len(children)


def _text(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    return str(value)


def _with_parts(objects: Objects) -> dict[int, list[int]]:
    """Each object's row and its parts' rows: a part belongs to the nearest object before it
    with its ``voc_part_of`` key; a part whose object was dropped is left out."""
    groups: dict[int, list[int]] = {}
    last: int | None = None
    for i, extra in enumerate(objects.extra):
        if "voc_part_of" not in extra:
            groups[last := i] = []
        elif last is not None and objects.extra[last].get("voc_key") == extra["voc_part_of"]:
            groups[last].append(i)
    return groups


def _set_box(bndbox: ET.Element, coords: tuple[float, ...], integer: bool) -> None:
    """Write ``coords`` (xmin, ymin, xmax, ymax) into ``bndbox``, keeping the text of a value
    that did not change."""
    for tag, value in zip(COORDS, coords, strict=True):
        elem = bndbox.find(tag)
        if elem is None:
            elem = ET.SubElement(bndbox, tag)
        old = finite((elem.text or "").strip())
        if old is None or not same(old, value):
            elem.text = str(int(value)) if integer else number(value)


def _put_parts(
    obj: ET.Element,
    objects: Objects,
    rows: list[int],
    size: tuple[int, int],
    integer: bool,
    path: Path,
) -> None:
    """The object's ``<part>``s: those with a row in ``rows`` get its box, the others go."""
    kept = {objects.extra[j]["voc_part"]: j for j in rows}
    elems = [c for c in obj if _is_part(c)]
    for idx in reversed(range(len(elems))):
        elem = elems[idx]
        if idx in kept:
            coords = _coords(objects, kept[idx], *size, integer, path)
            _set_box(elem.find("bndbox"), coords, integer)  # type: ignore[arg-type]
        else:
            _remove(obj, list(obj).index(elem))


def _object(
    objects: Objects,
    i: int,
    parts: list[int],
    width: int,
    height: int,
    integer: bool,
    path: Path,
) -> tuple[ET.Element, bool]:
    """Object ``i`` (and its parts' rows) as an element (from its ``voc_xml`` when it has one),
    and whether it is new."""
    label = objects.labels[i]
    if not isinstance(label, str):
        raise ValueError(f"VOC labels are class names; object {i} has {label!r}")
    extra = objects.extra[i]
    skeleton = extra.get("voc_xml")
    fresh = not (isinstance(skeleton, str) and skeleton.strip())
    if fresh:
        obj = ET.Element("object")
        ET.SubElement(obj, "name")
        for tag in FIELDS:
            if tag in extra:
                ET.SubElement(obj, tag)
        ET.SubElement(obj, "bndbox")
    else:
        obj = _parse("<object>", skeleton.encode("utf-8")).root
    _set_child(obj, "name", label, index=0)
    seen = set()
    for child in obj:
        if _is_element(child) and _simple(child) and child.tag not in seen and child.tag != "name":
            seen.add(child.tag)
            value = extra.get(child.tag)
            if value is not None and (child.text or "").strip() != _text(value):
                child.text = _text(value)
    bndbox = obj.find("bndbox")
    if bndbox is None:
        bndbox = ET.SubElement(obj, "bndbox")
    for tag in FIELDS:  # a standard field an op added (say truncated) goes before <bndbox>
        if tag in extra and obj.find(tag) is None:
            at = list(obj).index(bndbox)
            field = ET.Element(tag)
            field.text = _text(extra[tag])
            field.tail = obj.text if at == 0 else obj[at - 1].tail
            obj.insert(at, field)
    _set_box(bndbox, _coords(objects, i, width, height, integer, path), integer)
    _put_parts(obj, objects, parts, (width, height), integer, path)
    return obj, fresh


def _coords(
    objects: Objects, i: int, width: int, height: int, integer: bool, path: Path
) -> tuple[float, float, float, float]:
    """xmin, ymin, xmax, ymax (1-based, inclusive) for object ``i``, clipped to the image."""
    x0, y0, x1, y1 = inside(path, objects, i, repr(objects.labels[i]), width, height)
    if not integer:
        return x0 + 1, y0 + 1, x1, y1
    out = []
    for lo, hi, size in ((x0, x1, width), (y0, y1, height)):
        first = min(math.floor(lo + 0.5) + 1, size)  # nearest pixel edges, at least one pixel
        last = max(min(math.floor(hi + 0.5), size), first)
        out.append((first, last))
    (xmin, xmax), (ymin, ymax) = out
    return float(xmin), float(ymin), float(xmax), float(ymax)


def _replace_objects(root: ET.Element, new: list[tuple[ET.Element, bool]]) -> None:
    """Put ``new`` where the template's objects were (or at the end), indented like the rest."""
    children = list(root)
    old = [c for c in children if c.tag == "object"]
    indent = root.text if root.text is not None and not root.text.strip() else ""
    unit = indent.lstrip("\r\n")
    if old:
        pos = children.index(old[0])
        contiguous = children[pos : pos + len(old)] == old
        after = old[-1].tail
    else:
        pos, contiguous = len(children), True
        after = children[-1].tail if children else root.text
        if children:
            children[-1].tail = indent or None
    for elem in old:
        root.remove(elem)
    for k, (elem, fresh) in enumerate(new):
        if fresh and unit:
            ET.indent(elem, space=unit, level=1)
        elem.tail = (indent or None) if k < len(new) - 1 else after
        root.insert(pos + k, elem)
    if not new and pos > 0:
        root[pos - 1].tail = after
    if not contiguous and unit:
        ET.indent(root, space=unit)


def _serialize(root: ET.Element, doc: _Document) -> tuple[bytes, bytes, bytes]:
    """The root in the template's encoding, with the template's prolog and epilog; a fresh UTF-8
    declaration for encodings other than UTF-8, ASCII or Latin-1."""
    match = re.match(
        rb"(?:\xef\xbb\xbf)?\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']", doc.prolog
    )
    declared = match.group(1).decode("ascii").lower() if match else "utf-8"
    encoding = {"utf-8": "utf-8", "utf8": "utf-8", "us-ascii": "us-ascii", "ascii": "us-ascii"}.get(
        declared
    )
    if declared in ("iso-8859-1", "latin-1", "latin1"):
        encoding = "iso-8859-1"
    prolog, epilog = doc.prolog, doc.epilog
    if encoding is None or doc.prolog.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-8"
        prolog, epilog = b'<?xml version="1.0" encoding="utf-8"?>\n', b"\n"
    body = ET.tostring(root, encoding=encoding, xml_declaration=False, short_empty_elements=False)
    return body, prolog, epilog
