"""Peak memory of one worker on a 512x512x300 int16 CT through `affine` (issue 17's bound: at
most ~4x the volume's own size). Each step runs in a fresh process (read + affine + write, as
a worker does, through the volume modality), and its peak RSS above the process's RSS after
its imports is divided by the array's size (150 MiB).

    PYTHONPATH=. python benchmarks/volume_memory.py [--ext .nii|.nii.gz|.nrrd]

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
params = {"rotate_z": 7.0, "rotate_x": 3.0, "scale": 1.05, "translate_x": 4.0} if op_name == "affine" else {}
op = registry("volume")[op_name].from_recipe(params, op_name)
made = op.apply(vol, op.sample(generator(1), mod.info(vol)))
del vol
mod.write(made, out, src, {"output": out.name, "ops": []})
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"base": base, "peak": peak, "seconds": time.perf_counter() - t0, "nbytes": made.array.nbytes}))
"""


def make_ct(path: Path) -> None:
    import numpy as np
    import SimpleITK as sitk

    rng = np.random.default_rng(0)
    _z, y, x = np.ogrid[:1, :512, :512]
    body = ((x - 256) / 200.0) ** 2 + ((y - 256) / 160.0) ** 2 <= 1
    ct = np.repeat(np.where(body, 40, -1000).astype(np.int16), 300, axis=0)
    ct = ct + rng.integers(-20, 20, ct.shape, dtype=np.int16)
    img = sitk.GetImageFromArray(ct)
    img.SetSpacing((0.7, 0.7, 1.0))
    sitk.WriteImage(img, str(path), path.name.endswith(".gz"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ext", default=".nii")
    ap.add_argument("--op", default="affine")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"ct{args.ext}"
        make_ct(src)
        out = Path(tmp) / "out" / f"ct__aug_0{args.ext}"
        out.parent.mkdir()
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(src), str(out), args.op],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(proc.stdout)
        extra = r["peak"] - r["base"]
        print(
            f"{args.op} on 512x512x300 int16 ({args.ext}): array {r['nbytes'] / 2**20:.0f} MiB, "
            f"peak above imports {extra / 2**20:.0f} MiB = {extra / r['nbytes']:.2f}x, "
            f"{r['seconds']:.1f} s"
        )


if __name__ == "__main__":
    main()
