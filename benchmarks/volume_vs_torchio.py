"""augcli's volume section against the TorchIO loop a user would write, on the same volumes and
the same augmentation (issue 17: wall time <= 1.0x TorchIO's, peak memory lower).

    pip install torchio==1.2.1      # beside torch 2.13.0 (CPU); not an augcli dependency
    PYTHONPATH=. python benchmarks/volume_vs_torchio.py [--cases 8] [--size 160 192 192]
                                                        [--copies 2] [--workers 2]

Both sides read ``--cases`` int16 NIfTI CTs (z, y, x = ``--size``, 0.8 x 0.8 x 1.5 mm) each
with a uint8 label map, and write ``--copies`` augmented NIfTI volumes (and label maps) per case
with ``--workers`` processes:

    augcli                                   TorchIO 1.2.1 (Compose, in that order)
    affine: rotate_x/y/z [-10, 10] deg,       RandomAffine(scales=(0.9, 1.1), degrees=10,
      scale [0.9, 1.1], translate_x/y/z        translation=5)  # mm, about the centre
      [-5, 5] mm, about the centre
    elastic: max_displacement_mm [2, 6],      RandomElasticDeformation(num_control_points=7,
      control_points 7 (cubic B-spline)         max_displacement=6)  # mm, B-spline
    gaussian_noise: std [0, 25] (HU)          RandomNoise(std=(0, 25))  # in the data's units
    bias_field: coefficients 0.5, order 3     RandomBiasField(coefficients=0.5, order=3)

TorchIO works in float32 and writes float32 images (its loop here casts back to int16 for a
fair write); augcli keeps int16 and the source header. The TorchIO side is the loop from its
docs, parallel with ``multiprocessing.Pool(workers)``, one subject per task.

Wall time is the whole command (process start to exit). Peak memory is the peak of the summed
RSS of the command's process tree, sampled every 20 ms from /proc. Run alone on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TORCHIO_LOOP = r"""
import sys, multiprocessing as mp
from pathlib import Path
import numpy as np, torch, torchio as tio

torch.set_num_threads(1)
src, out, copies, workers = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
T = tio.Compose([
    tio.RandomAffine(scales=(0.9, 1.1), degrees=10, translation=5),
    tio.RandomElasticDeformation(num_control_points=7, max_displacement=6),
    tio.RandomNoise(std=(0, 25)),
    tio.RandomBiasField(coefficients=0.5, order=3),
])

def one(job):
    torch.set_num_threads(1)
    path, k = job
    subject = tio.Subject(
        image=tio.ScalarImage(path),
        label=tio.LabelMap(path.with_name(path.name.replace(".nii.gz", "_seg.nii.gz"))),
    )
    made = T(subject)
    stem = path.name[: -len(".nii.gz")]
    img = made["image"]
    img.set_data(torch.round(img.data).clamp(-32768, 32767).to(torch.int16))
    img.save(out / f"{stem}__aug_{k}.nii.gz")
    made["label"].save(out / f"{stem}__aug_{k}_seg.nii.gz")

if __name__ == "__main__":
    out.mkdir(parents=True, exist_ok=True)
    cases = sorted(p for p in src.glob("*.nii.gz") if not p.name.endswith("_seg.nii.gz"))
    jobs = [(p, k) for p in cases for k in range(copies)]
    with mp.Pool(workers) as pool:
        pool.map(one, jobs, chunksize=1)
"""

RECIPE = """\
version: 1
seed: 1
input: {src}
output: {out}
copies: {copies}
workers: {workers}
volume:
  labels: {{suffix: _seg}}
  pipeline:
    - affine: {{rotate_x: [-10, 10], rotate_y: [-10, 10], rotate_z: [-10, 10], scale: [0.9, 1.1],
               translate_x: [-5, 5], translate_y: [-5, 5], translate_z: [-5, 5]}}
    - elastic: {{max_displacement_mm: [2, 6], control_points: 7}}
    - gaussian_noise: {{std: [0, 25]}}
    - bias_field: {{coefficients: 0.5, order: 3}}
"""


def make_cases(folder: Path, n: int, shape: tuple[int, int, int]) -> None:
    """``n`` CT-like int16 volumes (air, a body ellipse, a bright sphere) and label maps."""
    import nibabel as nib
    import numpy as np

    folder.mkdir(parents=True)
    nz, ny, nx = shape
    z, y, x = np.ogrid[:nz, :ny, :nx]
    for i in range(n):
        rng = np.random.default_rng(i)
        body = ((x - nx / 2) / (nx * 0.4)) ** 2 + ((y - ny / 2) / (ny * 0.3)) ** 2 <= 1
        ball = (
            ((x - nx / 2 - 10 * i % 30) / 12.0) ** 2
            + ((y - ny / 2) / 12.0) ** 2
            + ((z - nz / 2) / 8.0) ** 2
        ) <= 1
        ct = np.where(body, 40, -1000) + np.where(ball, 60, 0)
        ct = (ct + rng.normal(0, 10, ct.shape)).astype(np.int16)
        affine = np.diag([0.8, 0.8, 1.5, 1.0])
        # nibabel's arrays are (x, y, z)
        nib.save(nib.Nifti1Image(ct.transpose(2, 1, 0), affine), folder / f"case{i:02d}.nii.gz")
        seg = np.broadcast_to(ball, ct.shape).astype(np.uint8).transpose(2, 1, 0)
        nib.save(nib.Nifti1Image(seg, affine), folder / f"case{i:02d}_seg.nii.gz")


def tree_rss(pid: int) -> int:
    """Summed RSS (bytes) of ``pid`` and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ppid, pages = int(fields[1]), int(fields[21])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = pages * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += children.get(p, [])
    return total


def timed(cmd: list[str]) -> dict:
    """Wall seconds and peak tree RSS of one command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(proc.pid))
            time.sleep(0.02)

    thread = threading.Thread(target=sample)
    thread.start()
    _out, err = proc.communicate()
    seconds = time.perf_counter() - t0
    done.set()
    thread.join()
    if proc.returncode:
        raise SystemExit(f"{cmd[:4]} failed: {err.decode()[-2000:]}")
    return {"seconds": round(seconds, 2), "peak_mib": round(peak / 2**20)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=8)
    ap.add_argument("--size", type=int, nargs=3, default=[160, 192, 192], metavar=("Z", "Y", "X"))
    ap.add_argument("--copies", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        src = root / "cases"
        make_cases(src, args.cases, tuple(args.size))
        recipe = root / "recipe.yaml"
        recipe.write_text(
            RECIPE.format(src=src, out=root / "augcli", copies=args.copies, workers=args.workers)
        )
        augcli = timed([sys.executable, "-m", "augcli", "expand", str(recipe), "--quiet"])
        loop = [sys.executable, "-c", TORCHIO_LOOP, str(src), str(root / "torchio")]
        torchio = timed([*loop, str(args.copies), str(args.workers)])
        made = len(list((root / "augcli").rglob("*__aug_*_seg.nii.gz")))
        theirs = len(list((root / "torchio").glob("*_seg.nii.gz")))
        assert made == theirs == args.cases * args.copies, (made, theirs)
    result = {
        "volumes": f"{args.cases} x {'x'.join(map(str, reversed(args.size)))} int16",
        "outputs": args.cases * args.copies,
        "workers": args.workers,
        "augcli": augcli,
        "torchio": torchio,
        "wall_ratio": round(augcli["seconds"] / torchio["seconds"], 2),
        "peak_ratio": round(augcli["peak_mib"] / torchio["peak_mib"], 2),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
