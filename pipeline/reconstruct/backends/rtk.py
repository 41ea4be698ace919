"""RTK FDK on CPU (default, always available) and with RTK's CUDA build.

Both share the contract -> RTK mapping of :mod:`pipeline.reconstruct.rtk_geometry`;
the CUDA variant only swaps the image type and the filter class, following
RTK's ``FirstCudaReconstruction.py`` example (projections grafted into an
``rtk.CudaImage``).
"""

from __future__ import annotations

import numpy as np

from pipeline.grid import VolumeGrid
from pipeline.reconstruct._itk import itk_modules
from pipeline.reconstruct.backends.base import SlabJob
from pipeline.reconstruct.rtk_geometry import (
    itk_image,
    projection_placement,
    rtk_geometry,
    to_rtk_projections,
    volume_placement,
)


class RTKBackend:
    """``rtk.FDKConeBeamReconstructionFilter`` (or its CUDA twin) on one slab at a time."""

    def __init__(self, cuda: bool = False) -> None:
        self.cuda = cuda
        self.name = "rtk-cuda" if cuda else "rtk"

    def supports(self, grid: VolumeGrid) -> str | None:
        return None  # any centre, spacing and direction

    def reconstruct_slab(self, job: SlabJob, out: np.ndarray) -> None:
        itk, rtk = itk_modules()
        cpu_type = itk.Image[itk.F, 3]
        geometry = rtk_geometry(job.geometry)
        projections = to_rtk_projections(job.line_integrals, job.row0, job.row1)
        proj_image = itk_image(projections, projection_placement(job.geometry, job.row0, job.row1))
        if job.parker:
            parker = rtk.ParkerShortScanImageFilter[cpu_type].New()
            parker.SetInput(proj_image)
            parker.SetGeometry(geometry)
            parker.Update()
            proj_image = parker.GetOutput()
        volume = np.zeros(job.grid.shape_zyx, dtype=np.float32)
        vol_image = itk_image(volume, volume_placement(job.grid))
        if self.cuda:
            fdk = self._cuda_filter(rtk, vol_image, proj_image)
        else:
            fdk = rtk.FDKConeBeamReconstructionFilter[cpu_type].New()
            fdk.SetInput(0, vol_image)
            fdk.SetInput(1, proj_image)
        fdk.SetGeometry(geometry)
        ramp = fdk.GetRampFilter()
        ramp.SetTruncationCorrection(float(job.truncation_correction))
        ramp.SetHannCutFrequency(float(job.hann_cut_frequency))
        fdk.Update()
        out[...] = itk.array_view_from_image(fdk.GetOutput())

    @staticmethod
    def _cuda_filter(rtk: object, vol_image: object, proj_image: object) -> object:
        """The CUDA FDK filter fed with CUDA images grafted from the CPU ones."""
        import itk

        gpu_type = rtk.CudaImage[itk.F, 3]  # type: ignore[attr-defined]
        gpu_volume = gpu_type.New()
        gpu_volume.Graft(vol_image)
        gpu_projections = gpu_type.New()
        gpu_projections.Graft(proj_image)
        fdk = rtk.CudaFDKConeBeamReconstructionFilter.New()  # type: ignore[attr-defined]
        fdk.SetInput(0, gpu_volume)
        fdk.SetInput(1, gpu_projections)
        return fdk
