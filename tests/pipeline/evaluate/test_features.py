"""Feature trust on a test slab: erased pores and invented pores are seen and flagged, faithful volumes are not."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.evaluate.features import feature_reasons, feature_trust

VOXEL_MM = 0.01
SHAPE = (24, 64, 64)


def _spheres(centres: list[tuple[int, int, int]], radius: float = 3.5) -> np.ndarray:
    """Foam-like slab: material 1.0 with dark spherical pores (0.0) at ``centres`` (z, y, x voxels)."""
    z, y, x = np.indices(SHAPE)
    volume = np.ones(SHAPE, np.float32)
    for cz, cy, cx in centres:
        volume[(z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 <= radius**2] = 0.0
    return volume


PORES = [(12, y, x) for y in (12, 32, 52) for x in (12, 32, 52)]
EXTRA = [(12, 22, 22), (12, 42, 42), (12, 22, 42)]


def _noisy(volume: np.ndarray, seed: int) -> np.ndarray:
    return volume + np.random.default_rng(seed).normal(0.0, 0.05, volume.shape).astype(np.float32)


@pytest.fixture(scope="module")
def zoom() -> np.ndarray:
    return _noisy(_spheres(PORES), 0)


def test_a_faithful_volume_recovers_every_zoom_pore_and_is_not_flagged(zoom: np.ndarray) -> None:
    recovered = _noisy(_spheres(PORES), 1)
    trust = feature_trust(recovered, zoom, np.ones(SHAPE, bool), VOXEL_MM, {"cubic": _noisy(_spheres(PORES), 2)})
    assert trust.zoom_features == len(PORES)
    assert trust.recovered.recall == 1.0 and trust.recovered.false_features == 0
    assert feature_reasons(trust, 0.0, 0.1) == []


@pytest.mark.parametrize(
    "recovered_pores, baseline_pores, expected",
    [
        (PORES[:6], PORES, "erased"),  # three pores smoothed away where the baseline still shows them
        (PORES + EXTRA, PORES, "invented"),  # three pores where the zoom has none
    ],
)
def test_erased_or_invented_pores_are_flagged(zoom, recovered_pores, baseline_pores, expected) -> None:
    recovered = _noisy(_spheres(recovered_pores), 3)
    trust = feature_trust(
        recovered, zoom, np.ones(SHAPE, bool), VOXEL_MM, {"cubic": _noisy(_spheres(baseline_pores), 4)}
    )
    reasons = feature_reasons(trust, min_recall_gain=0.0, max_false_fraction=0.1)
    assert any(expected in reason for reason in reasons), reasons
    if expected == "erased":
        assert trust.recovered.matched == 6 and trust.baselines["cubic"].matched == len(PORES)
    else:
        assert trust.recovered.false_features == len(EXTRA) and trust.recovered.recall == 1.0


def test_too_few_zoom_pores_give_figures_but_no_verdict(zoom: np.ndarray) -> None:
    recovered = _noisy(_spheres(PORES + EXTRA), 7)  # three invented pores, but the zoom shows only nine
    trust = feature_trust(recovered, zoom, np.ones(SHAPE, bool), VOXEL_MM, {"cubic": zoom})
    assert trust.recovered.false_features == len(EXTRA)
    assert feature_reasons(trust, 0.0, 0.1, min_features=10) == []
    assert feature_reasons(trust, 0.0, 0.1, min_features=9) != []


def test_a_slab_without_zoom_pores_gives_no_recall_and_no_recall_flag() -> None:
    plain = _noisy(np.ones(SHAPE, np.float32), 5)
    trust = feature_trust(
        _noisy(np.ones(SHAPE, np.float32), 6), plain, np.ones(SHAPE, bool), VOXEL_MM, {"cubic": plain}
    )
    assert trust.zoom_features == 0 and trust.recovered.recall is None
    assert not any("erased" in reason for reason in feature_reasons(trust, 0.0, 0.1))
