"""Cone-beam FDK reconstruction onto arbitrary grids (RTK on CPU, TIGRE / RTK CUDA on GPU)."""

from pipeline.reconstruct.backends import available_backends
from pipeline.reconstruct.config import ReconConfig
from pipeline.reconstruct.mask import reconstruction_mask
from pipeline.reconstruct.reconstruct import ReconResult, reconstruct

__all__ = ["ReconConfig", "ReconResult", "available_backends", "reconstruct", "reconstruction_mask"]
