"""U-Net against cubic, trilinear, Richardson-Lucy and 3D SRCNN on small synthetic pairs at 3:1 and 5:1.

Quality (PSNR, SSIM inside the mask) is measured on the held-out slab against
the noise-free zoom; time covers fitting (PSF, training) plus application.
Writes benchmarks/results/baselines.json. Sizes are small (2 shared CPU cores);
``benchmarks/foam_study`` runs the simulator-based study.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "models"))  # the synthetic pair helper

import numpy as np  # noqa: E402

from models.config import NetworkConfig, SRCNNConfig, TrainingConfig  # noqa: E402
from models.quality import data_range, psnr_db, ssim  # noqa: E402


class _Trained:
    name = "keras"

    def __init__(self, trained) -> None:
        self.trained = trained

    def predict(self, batch):
        from models.runtimes import pad_to_multiple

        padded, h, w = pad_to_multiple(batch, self.trained.network.pad_multiple_px)
        return self.trained.predict(padded)[:, :h, :w]


def run_ratio(ratio: int, shape: tuple[int, int, int], unet_iterations: int, srcnn_iterations: int) -> dict:
    from synthetic import make_pair

    from models.srcnn import train_srcnn
    from models.tiles import validation_slab
    from models.train import train_model
    from pipeline.baselines.psf import estimate_psf_sigma
    from pipeline.baselines.richardson_lucy import richardson_lucy
    from pipeline.baselines.srcnn import apply_srcnn
    from pipeline.baselines.upsample import trilinear_upsample
    from pipeline.infer.config import InferenceConfig
    from pipeline.infer.stream import infer_volume

    pair = make_pair(shape, ratio=ratio, seed=ratio)
    z0, z1 = validation_slab(shape[0], 0.15, None)
    x, zoom, mask = pair.scout_on_zoom, pair.zoom, pair.mask
    outputs, seconds = {}, {}

    started = time.perf_counter()
    outputs["trilinear"] = trilinear_upsample(pair.scout, pair.scout_grid, pair.zoom_grid)
    seconds["trilinear"] = time.perf_counter() - started
    outputs["cubic"], seconds["cubic"] = x, 0.0  # the synthetic pair's input is the cubic upsampling

    started = time.perf_counter()
    sigma = estimate_psf_sigma(x[:z0], zoom[:z0], mask[:z0])
    outputs["richardson_lucy"] = richardson_lucy(x, sigma, 30)
    seconds["richardson_lucy"] = time.perf_counter() - started

    started = time.perf_counter()
    srcnn = train_srcnn(x, zoom, mask, SRCNNConfig(iterations=srcnn_iterations, filters=(16, 8)), validation_z=(z0, z1))
    outputs["srcnn3d"] = apply_srcnn(srcnn, x)
    seconds["srcnn3d"] = time.perf_counter() - started

    started = time.perf_counter()
    trained = train_model(
        x,
        zoom,
        mask,
        NetworkConfig(depth=2, base_filters=8, head_layers=2),
        TrainingConfig(iterations=unet_iterations, tile_px=48, validation_interval=50),
        validation_z=(z0, z1),
    )
    out = np.zeros_like(x)
    infer_volume(_Trained(trained), x, out, trained.normalisation, InferenceConfig(tile_px=64, overlap_px=16))
    outputs["unet25d"] = out
    seconds["unet25d"] = time.perf_counter() - started

    ref, m = pair.zoom_clean[z0:z1], mask[z0:z1]
    rng = data_range(ref, m)
    return {
        "ratio": ratio,
        "shape_zyx": shape,
        "validation_slab": [z0, z1],
        "psf_sigma_vox": sigma,
        "methods": {
            name: {
                "psnr_db": psnr_db(v[z0:z1], ref, m, rng),
                "ssim": ssim(v[z0:z1], ref, m, rng),
                "seconds": seconds[name],
            }
            for name, v in outputs.items()
        },
    }


def main() -> None:
    unet_iterations = int(os.environ.get("BENCH_ITERATIONS", "600"))
    srcnn_iterations = int(os.environ.get("BENCH_SRCNN_ITERATIONS", "100"))
    shape = (45, 90, 90)
    result = {
        "cpus": os.cpu_count(),
        "gpu": False,
        "reference": "noise-free zoom on the held-out slab, inside the mask",
        "unet_iterations": unet_iterations,
        "srcnn_iterations": srcnn_iterations,
        "ratios": [],
    }
    out = ROOT / "benchmarks" / "results" / "baselines.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    for ratio in (3, 5):  # written after each ratio, so a slow machine still leaves results
        r = run_ratio(ratio, shape, unet_iterations, srcnn_iterations)
        result["ratios"].append(r)
        out.write_text(json.dumps(result, indent=2))
        print(
            ratio,
            {k: (round(v["psnr_db"], 2), round(v["ssim"], 3), round(v["seconds"], 1)) for k, v in r["methods"].items()},
            flush=True,
        )


if __name__ == "__main__":
    main()
