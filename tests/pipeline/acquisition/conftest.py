"""Small contract-v1 scans written on the fly."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from pipeline.acquisition.contract import ScanMetadata


def metadata_dict(
    role: str = "zoom", values: str = "intensity", count: int = 6, shape: tuple[int, int] = (8, 10)
) -> dict[str, Any]:
    return {
        "format_version": 1,
        "role": role,
        "sample_id": "foam-0007",
        "values": values,
        "geometry": {
            "source_to_axis_mm": 25.0,
            "source_to_detector_mm": 250.0,
            "detector_shape": list(shape),
            "detector_pixel_mm": [0.2, 0.2],
            "detector_offset_px": [0.0, 0.5],
            "angles_deg": {"start": 0.0, "step": 60.0, "count": count},
        },
        "sample_position_mm": [0.1, -0.2, 0.3],
        "conditions": {
            "voltage_kv": 80,
            "current_ua": 87,
            "filter": "LE2",
            "objective": "4X",
            "binning": 2,
            "exposure_s": 1.5,
        },
        "recon_voxel_mm": 0.02,
        "lab_notes": {"operator": "ada"},
    }


@pytest.fixture
def meta() -> ScanMetadata:
    return ScanMetadata.model_validate(metadata_dict())


@pytest.fixture
def projections() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(1000, 50000, size=(6, 8, 10)).astype(np.uint16)
