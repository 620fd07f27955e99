"""Peak memory of one worker on a 512x512x300 int16 CT through one volume op (issue 17's
bound: at most ~4x the volume's own size). Each op runs in a fresh process (read + op + write,
as a worker does, through the volume modality), and its peak RSS above the process's RSS after
its imports is divided by the array's size (150 MiB).

    PYTHONPATH=. python benchmarks/volume_memory.py [--op affine|motion|...|all] [--ext .nii]

``--op all`` runs every volume op, one fresh process each, and prints a markdown table;
``--size`` changes the volume (z, y, x) for a quicker look.

Run alone (no tests, no other benchmark): RSS is the machine's, not a simulation.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import numpy as np, SimpleITK, nibabel
from augcli.ops import registry
from augcli.volume.modality import VolumeModality
from augcli.core.seeding import generator

def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) * 1024
src, out, op_name = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
mod = VolumeModality({"max_voxels": None})
mod.bind(src.parent, out.parent)
base = rss()
t0 = time.perf_counter()
vol = mod.read(src)
params = json.loads(sys.argv[4])
op = registry("volume")[op_name].from_recipe(params, op_name)
made = op.apply(vol, op.sample(generator(1), mod.info(vol)))
del vol
mod.write(made, out, src, {"output": out.name, "ops": []})
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"base": base, "peak": peak, "seconds": time.perf_counter() - t0, "nbytes": made.array.nbytes}))
"""


# Parameters that make each op do its full work (never a no-op draw); the others' defaults.
PARAMS: dict[str, dict] = {
    "affine": {"rotate_z": 7.0, "rotate_x": 3.0, "scale": 1.05, "translate_x": 4.0},
    "motion": {"num_transforms": 2, "degrees": 5.0, "translation": 5.0},
    "ghosting": {"num_ghosts": 6, "intensity": 0.8, "axis": "y"},
    "gibbs": {"alpha": 0.4},
}


def make_ct(path: Path, shape: tuple[int, int, int] = (300, 512, 512)) -> None:
    import numpy as np
    import SimpleITK as sitk

    rng = np.random.default_rng(0)
    nz, ny, nx = shape
    _z, y, x = np.ogrid[:1, :ny, :nx]
    body = ((x - nx / 2) / (nx * 0.39)) ** 2 + ((y - ny / 2) / (ny * 0.31)) ** 2 <= 1
    ct = np.repeat(np.where(body, 40, -1000).astype(np.int16), nz, axis=0)
    ct = ct + rng.integers(-20, 20, ct.shape, dtype=np.int16)
    img = sitk.GetImageFromArray(ct)
    img.SetSpacing((0.7, 0.7, 1.0))
    sitk.WriteImage(img, str(path), path.name.endswith(".gz"))


def measure(src: Path, out: Path, op: str) -> dict:
    """One op in a fresh process: its peak above imports, per int16 array, and seconds."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(src), str(out), op, json.dumps(PARAMS.get(op, {}))],
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        return {"op": op, "error": proc.stderr.strip().splitlines()[-1]}
    r = json.loads(proc.stdout)
    extra = r["peak"] - r["base"]
    return {"op": op, "mib": extra / 2**20, "ratio": extra / r["nbytes"], **r}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ext", default=".nii")
    ap.add_argument("--op", default="affine", help="a volume op's name, or all")
    ap.add_argument("--size", default="300,512,512", help="z,y,x of the synthetic CT")
    args = ap.parse_args()
    shape = tuple(int(n) for n in args.size.split(","))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from augcli.ops import registry

    ops = sorted(registry("volume")) if args.op == "all" else [args.op]
    dims = "x".join(str(n) for n in shape[::-1])
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"ct{args.ext}"
        make_ct(src, shape)
        out = Path(tmp) / "out" / f"ct__aug_0{args.ext}"
        out.parent.mkdir()
        rows = [measure(src, out, op) for op in ops]
    if args.op != "all":
        r = rows[0]
        if "error" in r:
            raise SystemExit(f"{r['op']}: {r['error']}")
        print(
            f"{r['op']} on {dims} int16 ({args.ext}): array {r['nbytes'] / 2**20:.0f} MiB, "
            f"peak above imports {r['mib']:.0f} MiB = {r['ratio']:.2f}x, {r['seconds']:.1f} s"
        )
        return
    print(f"{dims} int16 ({args.ext}), peak RSS above imports per int16 array size\n")
    print("| op | peak / int16 size | peak MiB | seconds |")
    print("|---|---:|---:|---:|")
    for r in rows:
        if "error" in r:
            print(f"| {r['op']} | failed: {r['error']} | | |")
        else:
            print(f"| {r['op']} | {r['ratio']:.2f}x | {r['mib']:.0f} | {r['seconds']:.1f} |")


if __name__ == "__main__":
    main()
