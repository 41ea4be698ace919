"""Cone-beam FDK reconstruction onto arbitrary grids (numba or RTK on CPU, TIGRE / RTK CUDA on GPU)."""

from pipeline.reconstruct.backends import available_backends
from pipeline.reconstruct.config import ReconConfig
from pipeline.reconstruct.filtered import FilteredProjections, filter_scan
from pipeline.reconstruct.mask import reconstruction_mask
from pipeline.reconstruct.reconstruct import ReconResult, reconstruct

__all__ = [
    "FilteredProjections",
    "ReconConfig",
    "ReconResult",
    "available_backends",
    "filter_scan",
    "reconstruct",
    "reconstruction_mask",
]
