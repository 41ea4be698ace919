"""The methods compared: each is a callable ``scout region on the zoom grid -> recovered``.

A factory gets the pair (training zoom, scout) and returns the callable, so
learned methods train on the zoom region only and never see the evaluation
region's truth. A method whose code is not in the repository yet is reported
as missing instead of failing the study.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchmarks.foam_study.data import FoamPair, StudySize
from pipeline.grid import VolumeGrid

Method = Callable[[np.ndarray], np.ndarray]
MethodFactory = Callable[[FoamPair, StudySize], Method]


def scout_on(pair: FoamPair, grid: VolumeGrid) -> np.ndarray:
    """The scout cubic-upsampled onto ``grid`` (every method's input)."""
    from pipeline.baselines.upsample import cubic_upsample

    return cubic_upsample(pair.scout, pair.scout_grid, grid)


def psf_sigma_px(pair: FoamPair) -> float:
    """The scout's Gaussian PSF on the zoom grid, estimated on the training zoom (as a user would)."""
    from pipeline.baselines.psf import estimate_psf_sigma

    return estimate_psf_sigma(scout_on(pair, pair.train_grid), pair.zoom_train, np.ones(pair.zoom_train.shape, bool))


def cubic(pair: FoamPair, size: StudySize) -> Method:
    return lambda scout: scout


def richardson_lucy(pair: FoamPair, size: StudySize) -> Method:
    from pipeline.baselines.richardson_lucy import richardson_lucy as rl

    sigma = psf_sigma_px(pair)
    return lambda scout: rl(scout, sigma, iterations=30)


def srcnn(pair: FoamPair, size: StudySize) -> Method:
    from models.config import SRCNNConfig
    from models.srcnn import train_srcnn
    from pipeline.baselines.srcnn import apply_srcnn

    inputs = scout_on(pair, pair.train_grid)
    iterations = max(1, min(size.unet_iterations, SRCNNConfig().iterations)) if size.region_px < 256 else 10_000
    model = train_srcnn(inputs, pair.zoom_train, np.ones(inputs.shape, bool), SRCNNConfig(iterations=iterations))
    return lambda scout: apply_srcnn(model, scout)


class _TrainedRuntime:
    """An in-memory trained model as an inference runtime (pads tiles to the U-Net's multiple)."""

    name = "keras-in-memory"

    def __init__(self, trained) -> None:
        self.trained = trained
        self.multiple = 2**trained.network.depth

    def predict(self, batch: np.ndarray) -> np.ndarray:
        from models.runtimes import pad_to_multiple

        padded, h, w = pad_to_multiple(batch, self.multiple)
        return self.trained.predict(padded)[:, :h, :w]


def unet(pair: FoamPair, size: StudySize) -> Method:
    from models.config import NetworkConfig, TrainingConfig
    from models.train import train_model
    from pipeline.config import PRESETS
    from pipeline.infer.config import InferenceConfig
    from pipeline.infer.stream import infer_volume

    small = size.region_px < 256
    network = NetworkConfig(**PRESETS["small"]["network"]) if small else NetworkConfig()
    training = TrainingConfig(**{**(PRESETS["small"]["training"] if small else {}), "iterations": size.unet_iterations})
    inputs = scout_on(pair, pair.train_grid)
    trained = train_model(inputs, pair.zoom_train, np.ones(inputs.shape, bool), network, training)
    runtime = _TrainedRuntime(trained)
    inference = InferenceConfig(**PRESETS["small"]["inference"]) if small else InferenceConfig()

    def apply(scout: np.ndarray) -> np.ndarray:
        out = np.zeros(scout.shape, np.float32)
        infer_volume(runtime, scout.astype(np.float32), out, trained.normalisation, inference, slices=network.slices)
        return out

    return apply


FACTORIES: dict[str, MethodFactory] = {"cubic": cubic, "richardson_lucy": richardson_lucy, "srcnn": srcnn, "unet": unet}
