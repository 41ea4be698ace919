"""A small reference scan (contract v1, in memory) that every format test converts and reads back."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.acquisition.contract import ScanMetadata

ROWS, COLUMNS, ANGLES = 6, 8, 12
I0 = 40000.0


def reference_document(role: str = "zoom") -> dict:
    """Geometry chosen so every value survives float32 storage exactly enough (rtol 1e-6)."""
    return {
        "format_version": 1,
        "role": role,
        "sample_id": "foam-0007",
        "values": "intensity",
        "geometry": {
            "source_to_axis_mm": 20.0,
            "source_to_detector_mm": 200.0,
            "detector_shape": [ROWS, COLUMNS],
            "detector_pixel_mm": [0.1, 0.1],
            "detector_offset_px": [0.0, 1.25],
            "angles_deg": [30.0 * i for i in range(ANGLES)],
        },
        "sample_position_mm": [0.25, -0.5, 1.5],
        "conditions": {
            "voltage_kv": 80.0,
            "current_ua": 87.0,
            "filter": "LE2",
            "objective": "4X",
            "binning": 2,
            "exposure_s": 1.5,
        },
    }


@pytest.fixture
def reference_meta() -> ScanMetadata:
    return ScanMetadata.model_validate(reference_document())


@pytest.fixture
def line_integrals() -> np.ndarray:
    """Smooth positive line integrals ``[angle, row, column]`` (0.1 .. 2)."""
    a, r, c = np.meshgrid(np.arange(ANGLES), np.arange(ROWS), np.arange(COLUMNS), indexing="ij")
    return (1.0 + 0.9 * np.sin(0.3 * a + 0.5 * r) * np.cos(0.4 * c)).astype(np.float32)


@pytest.fixture
def flat() -> np.ndarray:
    rng = np.random.default_rng(3)
    return (I0 * (1.0 + 0.05 * rng.standard_normal((ROWS, COLUMNS)))).astype(np.float32)


def counts(line_integrals: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """Detector counts (uint16) that give ``line_integrals`` under ``flat``."""
    return np.round(flat[None] * np.exp(-line_integrals)).astype(np.uint16)
