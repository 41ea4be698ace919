"""On held-out slices of a small 3:1 pair, the U-Net beats cubic upsampling and Richardson-Lucy; SRCNN trains."""

from __future__ import annotations

import numpy as np
import pytest

from models.config import SRCNNConfig, TrainingConfig
from models.quality import data_range, psnr_db, ssim
from models.srcnn import train_srcnn
from models.train import train_model
from pipeline.baselines.psf import estimate_psf_sigma
from pipeline.baselines.richardson_lucy import richardson_lucy
from pipeline.baselines.srcnn import apply_srcnn
from pipeline.infer.config import InferenceConfig
from pipeline.infer.stream import infer_volume


class _TrainedRuntime:
    """The freshly trained Keras model as an inference runtime (pads H, W to the network's multiple)."""

    name = "trained"

    def __init__(self, trained) -> None:
        self.trained = trained

    def predict(self, batch: np.ndarray) -> np.ndarray:
        from models.runtimes import pad_to_multiple

        padded, h, w = pad_to_multiple(batch, self.trained.network.pad_multiple_px)
        return self.trained.predict(padded)[:, :h, :w]


@pytest.mark.slow  # ~45 s on a shared 2-core CPU
def test_unet_beats_cubic_and_richardson_lucy(pair, small_net):
    config = TrainingConfig(iterations=300, tile_px=48, validation_interval=50, patience=4)
    trained = train_model(pair.scout_on_zoom, pair.zoom, pair.mask, small_net, config)
    z0, z1 = trained.validation.slab_z
    train_mask = pair.mask.copy()
    train_mask[z0:z1] = False
    sigma = estimate_psf_sigma(pair.scout_on_zoom[:z0], pair.zoom[:z0], train_mask[:z0])
    rl = richardson_lucy(pair.scout_on_zoom, sigma, 30)[z0:z1]
    cubic = pair.scout_on_zoom[z0:z1]
    truth, mask = pair.zoom_clean[z0:z1], pair.mask[z0:z1]
    runtime = _TrainedRuntime(trained)
    unet = np.zeros_like(pair.scout_on_zoom)
    infer_volume(runtime, pair.scout_on_zoom, unet, trained.normalisation, InferenceConfig(tile_px=64, overlap_px=16))
    unet = unet[z0:z1]
    rng = data_range(truth, mask)
    scores = {
        name: (psnr_db(v, truth, mask, rng), ssim(v, truth, mask, rng))
        for name, v in {"unet": unet, "cubic": cubic, "rl": rl}.items()
    }
    assert 0.5 < sigma < 4
    for baseline in ("cubic", "rl"):
        assert scores["unet"][0] > scores[baseline][0] + 0.5, scores
        assert scores["unet"][1] > scores[baseline][1], scores
    v = trained.validation
    assert v.psnr_db > v.psnr_input_db + 0.5 and v.ssim > v.ssim_input


def test_srcnn_trains_and_applies(pair):
    trained = train_srcnn(
        pair.scout_on_zoom,
        pair.zoom,
        pair.mask,
        SRCNNConfig(iterations=30, tile_px=16, filters=(8, 4), kernels=(5, 1, 3)),
    )
    out = apply_srcnn(trained, pair.scout_on_zoom[:20], slab_z=8)
    assert out.shape == (20, 96, 96) and np.isfinite(out).all()
    assert np.mean(trained.losses[-10:]) < np.mean(trained.losses[:10])
    assert trained.halo_vox == 2 + 0 + 1
