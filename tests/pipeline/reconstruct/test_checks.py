"""Input checks before FDK: coverage, non-finite values, truncation detection."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.acquisition.scan import Scan
from pipeline.errors import ReconstructionError
from pipeline.reconstruct.checks import check_finite, is_truncated, scan_kind
from tests.pipeline.reconstruct.phantoms import Cylinder, Sphere, make_meta, make_scan


def blank(meta) -> Scan:
    return Scan(meta=meta, line_integrals=np.zeros((meta.geometry.n_angles, *meta.geometry.detector_shape), np.float32))


@pytest.mark.parametrize(
    ("span_deg", "short_scan", "expected"),
    [
        (360.0, "parker", "full"),
        (220.0, "parker", "short"),
        (182.0, "parker", None),
        (220.0, "error", None),
        (90.0, "parker", None),
    ],
)
def test_scan_kind(span_deg: float, short_scan: str, expected: str | None) -> None:
    scan = blank(make_meta(detector=(8, 64), angles=90, span_deg=span_deg))
    if expected is None:
        with pytest.raises(ReconstructionError, match="deg"):
            scan_kind(scan, short_scan)  # type: ignore[arg-type]
    else:
        assert scan_kind(scan, short_scan) == expected  # type: ignore[arg-type]


def test_non_finite_values_are_counted() -> None:
    scan = blank(make_meta(detector=(8, 8), angles=10))
    scan.line_integrals[3, 1, 1] = np.nan
    scan.line_integrals[7, 2, :3] = np.inf
    with pytest.raises(ReconstructionError, match="4 non-finite projection values in 2 of 10 projections"):
        check_finite(scan)


def test_truncation_is_detected_only_when_the_object_leaves_the_detector() -> None:
    meta = make_meta(detector=(32, 64), angles=36)
    inside = make_scan(meta, [Sphere((0.1, 0.0, 0.0), 0.4, 1.0)])
    rng = np.random.default_rng(1)
    inside.line_integrals += rng.normal(0, 0.02, inside.line_integrals.shape).astype(np.float32)
    wide = make_scan(meta, [Cylinder((0.0, 0.0, 0.0), 1.3, 20.0, 1.0)])
    assert not is_truncated(inside)
    assert is_truncated(wide)
