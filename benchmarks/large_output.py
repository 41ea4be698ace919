"""Large outputs: peak memory and throughput of streaming inference into the OME-Zarr writer, vs volume size.

    nice -n 10 python benchmarks/large_output.py [--net-sizes 8x1024x1024 ...] [--pass-sizes 64x2048x2048 ...]

Each size runs in a fresh subprocess. ``--net-sizes``: the small network (``small`` preset's U-Net,
untrained: its speed and memory are those of a trained one) is exported to ONNX and run by ONNX Runtime.
``--pass-sizes``: a pass-through runtime (each tile's centre slice, no network) measures everything else at
sizes the network is too slow for on a small CPU: slab reading, tiling, blending, the writer, the pyramid.
Either way the volume goes through
``pipeline.infer.stream.infer_volume`` over a synthetic scout volume generated slab by slab on read (so no
input file and no input in memory), straight into ``pipeline.output.zarr_volume.OmeZarrVolume``, then
``finish`` builds the pyramid, the mask label and the metadata. Figures per size: peak RSS (the process's
VmHWM, and a 0.2 s sampling thread's maximum), wall seconds of inference and of finishing, throughput in
voxels/s, the bytes written. Across sizes: the least-squares slope of peak RSS against voxels (MB per
G voxels), the figure that says whether memory stays flat as the volume grows. Slabs are fixed at 8 slices
(what the default 4 GB budget gives 2048 x 2048 slices), so every size streams the same slab shape.

Writes benchmarks/results/large_output.json and large_output.png.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

NET_SIZES = ["8x1024x1024", "16x1024x1024", "32x1024x1024"]
PASS_SIZES = ["64x2048x2048", "128x2048x2048", "512x2048x2048"]
TARGET_RSS_MB = 4000.0
NOTE = (
    "small-network rows: 2 CPU cores shared with other jobs (load average 4-11 during the run), so voxels/s are "
    "a floor; 2048 x 2048 x 512 with the network was not run here (about 1.7 h at 0.35 M voxels/s); the "
    "pass-through rows measure everything but the network (slab reading, tiling, blending, the Zarr writer, "
    "pyramid and mask) at that size. The network's own memory depends on the tile, not the volume."
)

CHILD = r"""
import json, sys, threading, time
import numpy as np
import psutil
from models.runtimes import load_runtime
from models.trained import Normalisation
from pipeline.grid import VolumeGrid
from pipeline.infer.config import InferenceConfig
from pipeline.infer.stream import infer_volume
from pipeline.output.zarr_volume import OmeZarrVolume

onnx, out_dir, shape, tile = sys.argv[1], sys.argv[2], tuple(map(int, sys.argv[3].split("x"))), int(sys.argv[4])

class PassThrough:
    # no network: the centre slice of each stack, so the figures are the streaming and writing alone
    name = "pass-through"
    def predict(self, batch):
        return batch[..., batch.shape[-1] // 2].copy()

class SyntheticScout:
    # a [z, y, x] float32 volume made on read, one slab at a time: smooth structure plus noise, seeded by z
    def __init__(self, shape):
        self.shape, self.dtype = shape, np.dtype(np.float32)
        y, x = np.ogrid[: shape[1], : shape[2]]
        self.base = (np.sin(y / 37.0)[:, :1] * np.cos(x / 53.0)[:1, :]).astype(np.float32)
    def __getitem__(self, zs):
        planes = []
        for z in range(*zs.indices(self.shape[0])):
            noise = np.random.default_rng(z).standard_normal(self.shape[1:], dtype=np.float32)
            planes.append(1.0 + 0.3 * self.base * np.float32(np.cos(z / 29.0)) + 0.05 * noise)
        return np.stack(planes)

class Ones:
    # the reconstructable-region mask, made on read
    def __init__(self, shape):
        self.shape = shape
    def __getitem__(self, zs):
        return np.ones((len(range(*zs.indices(self.shape[0]))), *self.shape[1:]), np.uint8)

def hwm_mb():  # VmHWM is this process's own peak (ru_maxrss would be inherited across exec)
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024

peak = [0.0]
done = threading.Event()
def sample():
    me = psutil.Process()
    while not done.wait(0.2):
        peak[0] = max(peak[0], me.memory_info().rss / 2**20)
threading.Thread(target=sample, daemon=True).start()

before = hwm_mb()
runtime = PassThrough() if onnx == "pass-through" else load_runtime(onnx, prefer="onnxruntime")
grid = VolumeGrid.isotropic(shape, 0.005)
dest = OmeZarrVolume(__import__("pathlib").Path(out_dir) / "recovered.ome.zarr", grid, chunk_z=8)
config = InferenceConfig(tile_px=tile, overlap_px=32, batch_size=4, slab_z=8)  # what the 4 GB budget gives 2048^2
t0 = time.perf_counter()
stats = infer_volume(runtime, SyntheticScout(shape), dest, Normalisation(offset=1.0, scale=0.3), config)
t1 = time.perf_counter()
dest.finish(mask=Ones(shape), attributes={"model_id": "benchmark-untrained-small"})
t2 = time.perf_counter()
done.set()
written = sum(p.stat().st_size for p in __import__("pathlib").Path(out_dir).rglob("*") if p.is_file())
print(json.dumps({
    "shape_zyx": shape, "voxels": int(np.prod(shape)), "peak_rss_mb": hwm_mb(), "sampled_peak_rss_mb": peak[0],
    "rss_after_imports_mb": before, "infer_seconds": t1 - t0, "finish_seconds": t2 - t1,
    "voxels_per_s_inference": int(np.prod(shape)) / (t1 - t0), "voxels_per_s_total": int(np.prod(shape)) / (t2 - t0),
    "zarr_bytes": written, "float32_bytes": int(np.prod(shape)) * 4, "levels": dest.levels,
    "slab_z": stats.slab_z, "tile_shape": stats.tile_shape, "slab_bytes": stats.slab_bytes, "runtime": stats.runtime,
}))
"""


def export_small(directory: Path) -> Path:
    """The small preset's U-Net, untrained, as ONNX."""
    from models.export import export_onnx
    from models.unet import build_unet25d
    from pipeline.config import build_process_config

    return export_onnx(build_unet25d(build_process_config("small").network), directory / "small.onnx")


def run_size(onnx: Path | str, size: str, tile: int) -> dict:
    with tempfile.TemporaryDirectory(dir=ROOT / "scratch") as tmp:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(onnx), tmp, size, str(tile)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    if out.returncode != 0:
        raise RuntimeError(f"size {size} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def rss_slope(rows: list[dict]) -> dict | None:
    """Least-squares peak RSS (MB) against voxels (G voxels): slope, intercept, and the largest / smallest peak."""
    if not rows:
        return None
    voxels = np.array([r["voxels"] for r in rows], float) / 1e9
    peaks = np.array([r["peak_rss_mb"] for r in rows], float)
    slope, intercept = np.polyfit(voxels, peaks, 1) if len(rows) > 1 else (float("nan"), float(peaks[0]))
    return {
        "mb_per_gvoxel": float(slope),
        "intercept_mb": float(intercept),
        "peak_ratio_largest_to_smallest": float(peaks[-1] / peaks[0]),
        "voxel_ratio_largest_to_smallest": float(voxels[-1] / voxels[0]),
    }


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for label, marker in (("onnxruntime-cpu", "o"), ("pass-through", "s")):
        group = [r for r in rows if r["runtime"] == label]
        if not group:
            continue
        voxels = [r["voxels"] / 1e9 for r in group]
        left.plot(voxels, [r["peak_rss_mb"] for r in group], f"{marker}-", label=f"{label}: peak RSS")
        right.plot(voxels, [r["voxels_per_s_inference"] / 1e6 for r in group], f"{marker}-", label=f"{label}")
    left.axhline(TARGET_RSS_MB, color="r", ls="--", label="target 4 GB")
    left.set(xlabel="output voxels (G)", ylabel="MB", title="peak memory vs output size", ylim=(0, None))
    left.set_xscale("log")
    left.legend()
    right.set(xlabel="output voxels (G)", ylabel="M voxels/s", title="inference throughput (2 shared CPU cores)")
    right.set_xscale("log")
    right.set_yscale("log")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--net-sizes", nargs="*", default=NET_SIZES, help="ZxYxX outputs with the small network")
    parser.add_argument("--pass-sizes", nargs="*", default=PASS_SIZES, help="ZxYxX outputs with no network")
    parser.add_argument("--tile", type=int, default=512, help="inference tile side (px)")
    parser.add_argument("--keep", action="store_true", help="keep the rows of results/large_output.json not rerun")
    args = parser.parse_args()
    (ROOT / "scratch").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        onnx = export_small(Path(tmp))
        rows = []
        for runtime, sizes in ((onnx, args.net_sizes), ("pass-through", args.pass_sizes)):
            for size in sizes:
                started = time.perf_counter()
                rows.append(run_size(runtime, size, args.tile))
                print(f"{size}: {json.dumps(rows[-1])} ({time.perf_counter() - started:.0f} s)", flush=True)
    if args.keep and (RESULTS / "large_output.json").exists():
        rerun = {(r["runtime"], tuple(r["shape_zyx"])) for r in rows}
        earlier = json.loads((RESULTS / "large_output.json").read_text())["sizes"]
        rows += [r for r in earlier if (r["runtime"], tuple(r["shape_zyx"])) not in rerun]
    rows.sort(key=lambda r: (r["runtime"], r["voxels"]))
    result = {
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "network": "small preset U-Net (depth 2, 8 filters), untrained, ONNX Runtime CPU",
        "writer": "OmeZarrVolume: chunks of 8 z slices, Blosc zstd, pyramid and mask label built at finish",
        "target_peak_rss_mb": TARGET_RSS_MB,
        "note": NOTE,
        "sizes": rows,
        "rss_vs_size": {
            "small_network": rss_slope([r for r in rows if r["runtime"] != "pass-through"]),
            "pass_through": rss_slope([r for r in rows if r["runtime"] == "pass-through"]),
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "large_output.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(rows, RESULTS / "large_output.png")
    print(json.dumps(result["rss_vs_size"], indent=2))


if __name__ == "__main__":
    main()
