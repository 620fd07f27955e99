"""Annotation file formats, as pure functions: YOLO ``.txt`` and Pascal VOC ``.xml`` sidecars and
the COCO JSON, read into and written from ``targets.Objects``. No knowledge of ops or the engine.

One module per format (``yolo``, ``voc``, ``coco``; import the one you need), and ``common``,
what they share. This package imports nothing: each format module loads on its own.

Shared conventions:

- ``Objects.boxes`` are continuous pixel coordinates (pixel i spans [i, i + 1); a full W x H box is
  (0, 0, W, H)). Each reader converts to them, each writer back.
- **Rounding at the border never fails a file.** A box that pokes outside the image by at most
  the format's tolerance is clipped to it; further out is an error naming the file and line (or
  JSON path), the bad value and the fix. YOLO: 1e-3 of the image size or half a pixel, whichever
  is larger. VOC and COCO (pixel formats): 1e-3 of the image size or one pixel, whichever is
  larger (VOC files from 0-based tools start boxes at 0, one pixel outside the 1-based image).
- **A no-op round trip keeps the annotations identical** (and, for YOLO and VOC, the text): each
  object remembers what it was read from in ``Objects.extra`` (``yolo_text``, ``voc_xml``,
  ``coco_bbox``), and a writer reuses the original numbers when the object's values still equal
  them (within 1e-9). Changed values are written with 6 decimals (integers for VOC files that
  used integers).
- Errors are ``InputError``: the file fails, the run goes on (a COCO file's structural problems
  fail every image that needs it; the caller reports them once).
- Writers refuse (``InputError``) an object with no area inside the image: it should have been
  dropped (``min_visibility``) before writing, and a written file must read back.
"""
