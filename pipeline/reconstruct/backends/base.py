"""The one small interface every FDK backend implements, and the slab job it is given."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from pipeline.acquisition.contract import Geometry
from pipeline.grid import VolumeGrid

BatchProgress = Callable[[int, int], None]  # (projections back-projected so far, projections of the slab)


@dataclass(frozen=True)
class SlabJob:
    """One slab to reconstruct.

    ``line_integrals`` is the scan's full ``[angle, row, column]`` stack (contract
    orientation, row 0 on top); only rows ``[row0, row1)`` are needed for ``grid``
    (a slab of the requested grid, in the scan frame).
    """

    geometry: Geometry
    line_integrals: np.ndarray
    row0: int
    row1: int
    grid: VolumeGrid
    truncation_correction: float = 0.0
    hann_cut_frequency: float = 0.0
    parker: bool = False


class FDKBackend(Protocol):
    """Reconstructs slabs; ``name`` is what the result reports."""

    name: str

    def supports(self, grid: VolumeGrid) -> str | None:
        """None if this backend can reconstruct onto ``grid``, else why not."""
        ...

    def reconstruct_slab(self, job: SlabJob, out: np.ndarray) -> None:
        """Write the FDK volume of ``job.grid`` (float32 ``[z, y, x]``) into ``out``."""
        ...


@runtime_checkable
class PrefilteredBackend(FDKBackend, Protocol):
    """A backend that can also start from projections filtered once per scan (the numba one), and that reports
    progress inside a slab, per batch of projections."""

    def reconstruct_slab(self, job: SlabJob, out: np.ndarray, progress: BatchProgress | None = None) -> None:
        """As :meth:`FDKBackend.reconstruct_slab`; ``progress`` is called after each batch of projections."""
        ...

    def backproject_slab(
        self, job: SlabJob, filtered_rows: np.ndarray, out: np.ndarray, progress: BatchProgress | None = None
    ) -> None:
        """Back-project rows ``[job.row0, job.row1)`` of already filtered projections onto ``job.grid`` into ``out``;
        ``progress`` is called after each batch of projections."""
        ...
