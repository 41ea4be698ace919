"""Settings of one pair's processing (``scoutzoom process`` and the daemon share them).

A preset (``small`` for CPU, ``standard`` for the paper-scale GPU
configuration) fills the network and training sections; a config file or the
command line can then override any key.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.cache.config import CacheConfig
from models.config import NetworkConfig, TrainingConfig
from pipeline.calibrate import CalibrationConfig
from pipeline.evaluate.config import TrustConfig
from pipeline.infer.config import InferenceConfig
from pipeline.output.quantise import OutputDtype
from pipeline.reconstruct.config import ReconConfig
from pipeline.register.config import RegistrationConfig

PresetName = Literal["small", "medium", "standard"]


class OutputRegion(BaseModel):
    """Region of the scout to recover, in the scout frame (mm, [x, y, z]); default: the whole field of view.

    The voxel budget is a user limit, off by default (the CPU presets set one so the demo stays quick)."""

    model_config = ConfigDict(extra="forbid")

    centre_mm: tuple[float, float, float] | None = None
    size_mm: tuple[float, float, float] | None = None
    voxel_budget: int | None = Field(
        None,
        gt=0,
        description="largest output, in voxels; the region is shrunk about its centre to fit (default: no limit)",
    )


OutputFormat = Literal["auto", "ome-tiff", "ome-zarr", "both"]


class OutputConfig(BaseModel):
    """Where and how the recovered volume and its companions are written."""

    model_config = ConfigDict(extra="forbid")

    region: OutputRegion = Field(default_factory=OutputRegion)
    format: OutputFormat = Field(
        "auto",
        description="recovered volume as one OME-TIFF, an OME-Zarr (chunked, pyramid) or both; auto: OME-TIFF up to "
        "auto_zarr_above_gb, OME-Zarr above",
    )
    auto_zarr_above_gb: float = Field(
        4.0, gt=0, description="with format = auto, volumes larger than this (float32 GB) are written as OME-Zarr"
    )
    dtype: OutputDtype = Field(
        "float32",
        description="recovered volume's values: float32, or uint16 with a linear scale (value = stored * scale + "
        "offset, recorded in the file) from robust percentiles of the recovered volume",
    )
    zarr_chunk_z: int = Field(8, ge=1, description="z slices per OME-Zarr chunk (readers pull whole slices)")
    stream_region: bool = Field(
        False,
        description="reconstruct the output region slab by slab inside inference (each z slab with its halo, then "
        "dropped: the region's scout is never held whole); false (default until the streamed path has passed the "
        "slow tests repeatedly: one run failed in infer on a concurrent Dask pair): reconstruct it whole into a "
        "scratch memory map first",
    )
    pyramid_levels: int | None = Field(
        None, ge=1, description="OME-Zarr pyramid levels (default: halve until the shortest side is under 32 px)"
    )
    keep_intermediates: bool = False
    previews: bool = True
    inside_pair: bool = Field(
        False, description="write to <pair>/recovered/ instead of <output root>/<relative pair path>/"
    )


class ProcessConfig(BaseModel):
    """Everything that decides how a pair is processed."""

    model_config = ConfigDict(extra="forbid")

    preset: PresetName = "standard"
    reconstruction: ReconConfig = Field(default_factory=ReconConfig)
    registration: RegistrationConfig = Field(default_factory=RegistrationConfig)
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    inference: InferenceConfig = Field(default_factory=InferenceConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    trust: TrustConfig = Field(default_factory=TrustConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)


PRESETS: dict[str, dict[str, Any]] = {
    # CPU: a small network and short training, for the demo, the tests and machines without a GPU.
    "small": {
        "network": {"depth": 2, "base_filters": 8, "head_layers": 2},
        "training": {"iterations": 800, "batch_size": 4, "tile_px": 48, "validation_interval": 50, "patience": 6},
        "inference": {"tile_px": 128, "overlap_px": 16, "batch_size": 4},
        "output": {"region": {"voxel_budget": 160**3}},
    },
    # CPU that learns: the best held-out fidelity in about 15 minutes of training on 2 cores for a 128^3 pair,
    # chosen by benchmarks/capacity_sweep.py (results/capacity_sweep.{json,md,png}): the 486 k net beat 122 k and
    # 30 k from ~2.5 min of training on and still gained at 1,000 iterations; the masked edge (finite-difference)
    # loss term gained 0.0-0.3 dB PSNR at all 5 paired checkpoints (2 training seeds), pore recall mixed (-3 to +6
    # pores of 104). Length and schedule from benchmarks/medium_training.py (results/medium_training.{json,png};
    # published foam protocol at 5:1, development realisation): 6,000 iterations with a cosine decay to a tenth
    # reached 20.87 dB and 26/29 pores against 20.09 dB and 25/29 at the earlier 2,750 constant-rate iterations
    # (constant rate to 6,000: 20.56 dB, 25/29); 6,000 iterations took 5-6 minutes there (load ~2-3), so the
    # 15-minute budget holds on a busier machine too. It trains its full length (best validation checkpoint kept).
    "medium": {
        "network": {"depth": 3, "base_filters": 16, "head_layers": 2},
        "training": {
            "iterations": 6000,
            "batch_size": 4,
            "tile_px": 64,
            "gradient_weight": 1.0,
            "learning_rate_schedule": "cosine",
            "final_learning_rate_fraction": 0.1,
            "validation_interval": 250,
            "patience": 4,
            "min_iterations": 6000,
        },
        "inference": {"tile_px": 128, "overlap_px": 16, "batch_size": 4},
        "output": {"region": {"voxel_budget": 256**3}},
    },
    # GPU, paper scale: 4-level U-Net, 10,000 iterations of batch 4.
    "standard": {},
}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``override``, recursively for nested tables."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def with_preset(table: dict[str, Any], preset: str | None = None) -> dict[str, Any]:
    """A ``[pipeline]`` table with its preset's values filled in under its own keys.

    The preset is ``preset`` if given (the command line wins), else the table's ``preset``, else
    ``standard``. An unknown name is left for validation to report with its key path.
    """
    name = preset or table.get("preset") or "standard"
    if name not in PRESETS:
        return dict(table)
    merged = deep_merge(PRESETS[name], table)
    merged["preset"] = name
    return merged


def build_process_config(preset: PresetName | None = None, overrides: dict[str, Any] | None = None) -> ProcessConfig:
    """A validated config: the preset's values, then ``overrides`` (e.g. the ``[pipeline]`` table of a config file)."""
    return ProcessConfig.model_validate(with_preset(dict(overrides or {}), preset))
