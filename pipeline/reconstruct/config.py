"""Settings of the reconstruction stage."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BackendName = Literal["auto", "numba", "rtk", "rtk-cuda", "tigre"]


class ReconConfig(BaseModel):
    """How scans are reconstructed."""

    model_config = ConfigDict(extra="forbid")

    backend: BackendName = Field(
        "auto",
        description=(
            "FDK backend: auto (TIGRE or RTK CUDA on a GPU, else numba), numba (the project's CPU FDK: RTK's volume "
            "within 1e-5 of its range, several times faster), rtk (the reference), rtk-cuda, tigre"
        ),
    )
    cpu_threads: int = Field(0, ge=0, description="threads of the numba backend (0: all cores)")
    truncation_correction: float = Field(
        0.5,
        ge=0.0,
        le=2.0,
        description="RTK ramp-filter truncation correction for interior scans (0.5: rim bias -1 % of mu on an object "
        "2x the field of view; see tests/pipeline/reconstruct/test_truncation.py)",
    )
    hann_cut_frequency: float = Field(
        0.0, ge=0.0, le=1.0, description="Hann apodisation of the ramp filter (0 = plain ramp, 1 = Nyquist cut)"
    )
    short_scan: Literal["parker", "error"] = Field(
        "parker", description="scans covering 180 deg + fan angle but less than a turn: Parker weighting, or refuse"
    )
    memory_budget_gb: float = Field(4.0, gt=0, description="peak memory for slab-by-slab reconstruction of large grids")
    truncation_threshold: float = Field(
        0.05,
        gt=0.0,
        lt=1.0,
        description="interior-scan detection: edge-column line integrals above this fraction of the object's level",
    )
