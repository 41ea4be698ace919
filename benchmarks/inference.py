"""Inference speed per runtime and tile size, and peak memory of streaming inference vs volume depth.

Writes benchmarks/results/inference.json. Peak memory is measured in fresh
subprocesses (ru_maxrss) streaming memmapped volumes of increasing depth; the
2048 x 2048 x 512 / 4 GB case is left to a faster machine (set BENCH_BIG=1).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]

import numpy as np  # noqa: E402


def export_models(directory: Path) -> dict[str, dict[str, Path]]:
    from models.config import NetworkConfig
    from models.export import export_onnx
    from models.unet import build_unet25d

    paths = {}
    for name, net in {
        "small": NetworkConfig(depth=2, base_filters=8, head_layers=2),
        "standard": NetworkConfig(),
    }.items():
        model = build_unet25d(net)
        paths[name] = {"onnx": export_onnx(model, directory / f"{name}.onnx"), "keras": directory / f"{name}.keras"}
        model.save(paths[name]["keras"])
    return paths


def runtime_speed(paths: dict[str, dict[str, Path]]) -> list[dict]:
    from models.runtimes import load_runtime, runtime_availability

    rows = []
    available = [n for n, reason in runtime_availability().items() if reason is None]
    for model_name, p in paths.items():
        for runtime_name in available:
            runtime = load_runtime(p["onnx"], keras_path=p["keras"], prefer=runtime_name)
            for tile in (128, 256, 512):
                if model_name == "standard" and runtime_name == "keras" and tile > 256:
                    continue  # minutes on 2 CPU cores
                batch = np.random.default_rng(0).random((4, tile, tile, 5), dtype=np.float32)
                runtime.predict(batch)
                repeats = 3 if model_name == "small" else 1
                started = time.perf_counter()
                for _ in range(repeats):
                    runtime.predict(batch)
                seconds = (time.perf_counter() - started) / repeats
                rows.append(
                    {
                        "model": model_name,
                        "runtime": runtime.name,
                        "tile_px": tile,
                        "batch": 4,
                        "seconds_per_batch": seconds,
                        "voxels_per_s": 4 * tile * tile / seconds,
                    }
                )
    return rows


CHILD = r"""
import json, sys, numpy as np
from models.runtimes import load_runtime
from models.trained import Normalisation
from pipeline.infer.config import InferenceConfig
from pipeline.infer.stream import infer_volume
onnx, src, dst, mode = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[6]
shape, budget = tuple(map(int, sys.argv[4].split(","))), float(sys.argv[5])

class RawFile:
    # [z, y, x] float32 raw file read/written slab by slab with plain file I/O (no mapping in RSS)
    def __init__(self, path, shape, mode):
        self.path, self.shape, self.dtype = path, shape, np.dtype(np.float32)
        self.slice_bytes = shape[1] * shape[2] * 4
        if mode == "w":
            open(path, "wb").truncate(self.slice_bytes * shape[0])
    def __getitem__(self, zs):
        with open(self.path, "rb") as f:
            f.seek(zs.start * self.slice_bytes)
            return np.fromfile(f, np.float32, (zs.stop - zs.start) * self.slice_bytes // 4).reshape(-1, *self.shape[1:])
    def __setitem__(self, zs, value):
        with open(self.path, "r+b") as f:
            f.seek(zs.start * self.slice_bytes)
            np.ascontiguousarray(value, np.float32).tofile(f)
def hwm_mb():  # VmHWM is per process image (ru_maxrss would be inherited from the parent across exec)
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
before = hwm_mb()
if mode == "memmap":
    source, dest = np.memmap(src, np.float32, "r", shape=shape), np.memmap(dst, np.float32, "w+", shape=shape)
else:
    source, dest = RawFile(src, shape, "r"), RawFile(dst, shape, "w")
stats = infer_volume(load_runtime(onnx, prefer="onnxruntime"), source, dest, Normalisation(offset=0, scale=1),
                     InferenceConfig(tile_px=256, overlap_px=32, memory_budget_gb=budget))
figures = {"io": mode, "shape_zyx": shape, "peak_rss_mb": hwm_mb(), "rss_before_mb": before}
print(json.dumps({**figures, "input_mb": np.prod(shape) * 4 / 2**20, **stats.model_dump()}))
"""


def streaming_memory(onnx: Path, shapes: list[tuple[int, int, int]], budget_gb: float) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for shape in shapes:
            src, dst = Path(tmp) / "in.raw", Path(tmp) / "out.raw"
            vol = np.memmap(src, np.float32, "w+", shape=shape)
            for z in range(shape[0]):
                vol[z] = np.random.default_rng(z).random(shape[1:], dtype=np.float32)
            vol.flush()
            del vol
            # memmapped pages count in RSS (reclaimable page cache); plain file I/O shows the streamer's own memory
            for mode in ("file", "memmap"):
                out = subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        CHILD,
                        str(onnx),
                        str(src),
                        str(dst),
                        ",".join(map(str, shape)),
                        str(budget_gb),
                        mode,
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                    cwd=ROOT,
                )
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return rows


def main() -> None:
    out = ROOT / "benchmarks" / "results" / "inference.json"
    only_memory = os.environ.get("BENCH_ONLY") == "memory" and out.exists()
    with tempfile.TemporaryDirectory() as tmp:
        paths = export_models(Path(tmp))
        speed = json.loads(out.read_text())["runtime_speed"] if only_memory else runtime_speed(paths)
        shapes = [(40, 512, 512), (160, 512, 512)]
        if os.environ.get("BENCH_BIG") == "1":
            shapes.append((512, 2048, 2048))
        memory = streaming_memory(paths["small"]["onnx"], shapes, budget_gb=0.5)
    result = {
        "cpus": os.cpu_count(),
        "gpu": False,
        "runtime_speed": speed,
        "streaming_memory": memory,
        "note": "2048x2048x512 under 4 GB not run here (2 shared CPU cores); run with BENCH_BIG=1 on a faster machine",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
