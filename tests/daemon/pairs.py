"""Tiny contract-v1 pairs for the daemon tests (8x8 detector, a few projections)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from pipeline.acquisition.contract import ScanMetadata
from pipeline.acquisition.writer import write_metadata, write_projection, write_scan

N_ANGLES = 6


def metadata(role: str, n_angles: int = N_ANGLES) -> ScanMetadata:
    return ScanMetadata.model_validate(
        {
            "format_version": 1,
            "role": role,
            "sample_id": "test",
            "values": "line_integral",
            "geometry": {
                "source_to_axis_mm": 25.0,
                "source_to_detector_mm": 250.0,
                "detector_shape": [8, 8],
                "detector_pixel_mm": [0.2, 0.2],
                "angles_deg": {"start": 0.0, "step": 360.0 / n_angles, "count": n_angles},
            },
        }
    )


def projections(n_angles: int = N_ANGLES) -> np.ndarray:
    return np.random.default_rng(0).random((n_angles, 8, 8), dtype=np.float32)


def make_pair(pair: Path, *, fake: dict | None = None, ready_file: bool = False) -> Path:
    """A complete pair written at once (projection files, scan.json last)."""
    for role in ("scout", "zoom"):
        write_scan(pair / role, metadata(role), projections(), layout="files")
    if fake is not None:
        (pair / "FAKE.json").write_text(json.dumps(fake))
    if ready_file:
        (pair / "READY").touch()
    return pair


def trickle_pair(pair: Path, delay_s: float, *, fake: dict | None = None) -> float:
    """Write a pair projection by projection, ``delay_s`` apart, as a scanner would; the time of the last file."""
    if fake is not None:
        pair.mkdir(parents=True, exist_ok=True)
        (pair / "FAKE.json").write_text(json.dumps(fake))
    data = projections()
    for role in ("scout", "zoom"):
        (pair / role).mkdir(parents=True, exist_ok=True)
        write_metadata(pair / role, metadata(role))
    for role in ("scout", "zoom"):
        for index in range(N_ANGLES):
            time.sleep(delay_s)
            write_projection(pair / role, index, data[index])
    return time.time()


def make_incomplete_pair(pair: Path, *, ready_file: bool = True) -> Path:
    """A zoom with one projection missing and a truncated one."""
    make_pair(pair, ready_file=False)
    (pair / "zoom" / "proj_00005.tif").unlink()
    victim = pair / "zoom" / "proj_00002.tif"
    victim.write_bytes(victim.read_bytes()[:40])
    if ready_file:
        (pair / "READY").touch()
    return pair
