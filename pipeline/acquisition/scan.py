"""A loaded scan: typed metadata plus projections as line integrals."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.acquisition.contract import ScanMetadata


@dataclass
class Scan:
    """Metadata and projections ``[angle, row, column]`` as float32 line integrals (-ln I/I0).

    ``source`` is the scan directory it was read from (None when built in
    memory); ``warnings`` lists non-fatal problems met while reading.
    """

    meta: ScanMetadata
    line_integrals: np.ndarray
    source: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        expected = (self.meta.geometry.n_angles, *self.meta.geometry.detector_shape)
        if self.line_integrals.shape != expected:
            raise ValueError(f"projections have shape {self.line_integrals.shape}, metadata says {expected}")
