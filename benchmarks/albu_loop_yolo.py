#!/usr/bin/env python3
"""What a user writes today instead of augcli for a detection dataset: shared/bench/albu_loop.py
(a multiprocessing loop around an Albumentations pipeline) with YOLO boxes.

For each input: cv2.imread once, read its YOLO sidecar (``<stem>.txt`` beside the image, one
``class cx cy w h`` line per object, normalised; a missing file means no objects), then COPIES
times apply
  A.Compose([HorizontalFlip(p=0.5), Rotate(limit=15, p=1),
             RandomBrightnessContrast(p=1), GaussianBlur(p=0.5)],
            bbox_params=A.BboxParams(format="yolo", label_fields=["class_labels"]))
and cv2.imwrite (JPEG q95) to OUT/<class>/<stem>_aug<k>.jpg, with its boxes written to
OUT/<class>/<stem>_aug<k>.txt (6 decimals, like augcli's changed lines); OUT/manifest.jsonl
gets one row per output (applied transform names, kept object count).
BboxParams' defaults otherwise: min_visibility 0, min_area 0, Rotate's rotate_method
"largest_box" (the box around the rotated corners: what augcli's outline mapping gives for a
matrix op).

Everything else (BGR images, --workers, per-worker seeds, --cv-threads, NO_ALBUMENTATIONS_UPDATE)
is as in albu_loop.py, which this mirrors line for line; only the box handling is added.

usage: albu_loop_yolo.py IN_DIR OUT_DIR [--copies 2] [--workers 1] [--seed 0] [--cv-threads N]
"""

import argparse
import json
import multiprocessing as mp
import os
import sys
import time

import albumentations as A
import cv2

EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
CFG = {}
PIPE = None


def list_inputs(root):
    out = []
    for d, _, fs in os.walk(root):
        for f in fs:
            if f.lower().endswith(EXTS):
                out.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(out)


def build(seed):
    return A.Compose(
        [
            A.HorizontalFlip(p=0.5),
            A.Rotate(limit=15, p=1.0),
            A.RandomBrightnessContrast(p=1.0),
            A.GaussianBlur(p=0.5),
        ],
        bbox_params=A.BboxParams(format="yolo", label_fields=["class_labels"]),
        seed=seed,
        save_applied_params=True,
    )


def init(cfg):
    global PIPE
    CFG.update(cfg)
    if cfg["cv_threads"] is not None:
        cv2.setNumThreads(cfg["cv_threads"])
    ident = mp.current_process()._identity
    PIPE = build(cfg["seed"] + (ident[0] if ident else 0))


def read_yolo(path):
    boxes, labels = [], []
    if os.path.isfile(path):
        with open(path) as f:
            for line in f:
                fields = line.split()
                if fields:
                    labels.append(int(fields[0]))
                    boxes.append([float(v) for v in fields[1:5]])
    return boxes, labels


def process(rel):
    src = os.path.join(CFG["in_dir"], rel)
    img = cv2.imread(src, cv2.IMREAD_COLOR)
    if img is None:
        return [{"src": rel, "error": "unreadable"}]
    stem, _ = os.path.splitext(rel)
    boxes, labels = read_yolo(os.path.join(CFG["in_dir"], stem + ".txt"))
    rows = []
    for k in range(CFG["copies"]):
        res = PIPE(image=img, bboxes=boxes, class_labels=labels)
        rel_out = f"{stem}_aug{k}.jpg"
        with open(os.path.join(CFG["out_dir"], f"{stem}_aug{k}.txt"), "w") as f:
            for (cx, cy, w, h), c in zip(res["bboxes"], res["class_labels"], strict=True):
                f.write(f"{int(c)} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n")
        ok = cv2.imwrite(
            os.path.join(CFG["out_dir"], rel_out),
            res["image"],
            [cv2.IMWRITE_JPEG_QUALITY, CFG["quality"]],
        )
        rows.append(
            {
                "src": rel,
                "out": rel_out,
                "copy": k,
                "ok": bool(ok),
                "objects": len(res["bboxes"]),
                "ops": list(
                    res.get("applied_transforms", []) and [t[0] for t in res["applied_transforms"]]
                ),
            }
        )
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("in_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--copies", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--quality", type=int, default=95)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cv-threads", type=int, default=None)
    a = ap.parse_args()
    t0 = time.perf_counter()
    rels = list_inputs(a.in_dir)
    for d in {os.path.dirname(r) for r in rels}:
        os.makedirs(os.path.join(a.out_dir, d), exist_ok=True)
    cfg = dict(
        in_dir=a.in_dir,
        out_dir=a.out_dir,
        copies=a.copies,
        quality=a.quality,
        seed=a.seed,
        cv_threads=a.cv_threads,
    )
    rows = []
    if a.workers <= 1:
        init(cfg)
        for r in rels:
            rows += process(r)
    else:
        chunk = max(1, len(rels) // (a.workers * 8))
        with mp.Pool(a.workers, initializer=init, initargs=(cfg,)) as pool:
            for rs in pool.imap_unordered(process, rels, chunksize=chunk):
                rows += rs
    with open(os.path.join(a.out_dir, "manifest.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    dt = time.perf_counter() - t0
    print(
        f"albu_loop_yolo: {len(rels)} inputs -> {len(rows)} outputs in {dt:.2f}s (in-script) "
        f"workers={a.workers}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
