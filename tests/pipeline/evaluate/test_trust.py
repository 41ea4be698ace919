from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from pipeline.evaluate.config import TrustConfig
from pipeline.evaluate.consistency import halves_disagreement, outside_zoom_mask
from pipeline.evaluate.trust import TrustReport, build_trust_report, write_disagreement_png

SCOUT_SIGMA_PX = 1.5


@pytest.fixture(scope="module")
def scene(foam):
    """Truth, a zoom (mild noise), a scout on the zoom grid (blurred, noisier) and a good recovery."""
    _, _, truth = foam
    rng = np.random.default_rng(5)
    zoom = truth + rng.normal(0, 0.02, truth.shape)
    scout = ndimage.gaussian_filter(truth, SCOUT_SIGMA_PX, mode="nearest") + rng.normal(0, 0.05, truth.shape)
    recovered = ndimage.gaussian_filter(truth, 0.5, mode="nearest") + rng.normal(0, 0.01, truth.shape)
    return truth, zoom, scout, recovered


def _split(volume: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(held-out half, outside half) along x."""
    return volume[:, :, :24], volume[:, :, 24:]


def test_good_recovery_passes_with_honest_figures(scene) -> None:
    _, zoom, scout, recovered = scene
    (zin, _), (sin, sout), (rin, rout) = _split(zoom), _split(scout), _split(recovered)
    report = build_trust_report(rin, sin, zin, None, 0.01, TrustConfig(), outside_pair=(rout, sout))
    assert report.heldout_psnr_db > report.heldout_psnr_cubic_db + 3
    assert report.heldout_ssim > report.heldout_ssim_cubic
    assert report.heldout_ms_ssim > report.heldout_ms_ssim_cubic
    assert report.effective_resolution_mm.before == pytest.approx(2.3548 * SCOUT_SIGMA_PX * 0.01, rel=0.15)
    assert report.effective_resolution_mm.after < 0.5 * report.effective_resolution_mm.before
    assert 0.7 < report.hallucination.outside_over_inside < 1.3
    assert report.flagged is False and report.reasons == []
    # It serialises for report.json.
    assert json.loads(report.model_dump_json())["effective_resolution_mm"]["before"] > 0


def test_a_volume_without_the_zooms_structure_has_no_resolution_and_is_flagged(scene) -> None:
    """At 9:1 the best blur fit of structureless data is no blur at all: it must not read as perfect resolution."""
    _, zoom, scout, recovered = scene
    zin, sin, rin = _split(zoom)[0], _split(scout)[0], _split(recovered)[0]
    noise = np.random.default_rng(9).normal(0.5, 0.1, rin.shape)
    report = build_trust_report(noise, sin, zin, None, 0.01, TrustConfig())
    res = report.effective_resolution_mm
    assert res.after is None and res.after_r2 < 0.1
    assert res.before is not None and res.before_r2 > 0.5
    assert report.flagged and any("not measurable" in r for r in report.reasons)
    good = build_trust_report(rin, sin, zin, None, 0.01, TrustConfig()).effective_resolution_mm
    assert good.after is not None and good.after_r2 > 0.9


def test_no_gain_over_cubic_is_flagged(scene) -> None:
    _, zoom, scout, _ = scene
    zin, sin = _split(zoom)[0], _split(scout)[0]
    report = build_trust_report(sin.copy(), sin, zin, None, 0.01, TrustConfig(min_psnr_gain_db=0.5))
    assert report.psnr_gain_db == 0.0
    assert report.flagged
    assert any("PSNR gain" in r for r in report.reasons)
    assert (
        any("effective resolution did not improve" in r for r in report.reasons) is False
    )  # equal is allowed (ratio 1.0)
    strict = build_trust_report(sin.copy(), sin, zin, None, 0.01, TrustConfig(max_resolution_ratio=0.8))
    assert any("effective resolution did not improve" in r for r in strict.reasons)


def test_hallucinated_pores_outside_the_zoom_are_flagged(scene) -> None:
    _, zoom, scout, recovered = scene
    (zin, _), (sin, sout), (rin, rout) = _split(zoom), _split(scout), _split(recovered)
    invented = rout.copy()
    for z, y in [(10, 10), (10, 36), (36, 10), (36, 36), (24, 24)]:
        invented[z - 4 : z + 4, y - 4 : y + 4, 8:16] = 0.2  # pores that are not in the sample
    report = build_trust_report(rin, sin, zin, None, 0.01, TrustConfig(), outside_pair=(invented, sout))
    assert report.hallucination.outside_over_inside > 1.5
    assert report.flagged
    assert any("hallucination" in r for r in report.reasons)


def test_outside_is_evaluated_slab_by_slab_under_a_mask(scene) -> None:
    _, zoom, scout, recovered = scene
    (zin, _), (sin, sout), (rin, rout) = _split(zoom), _split(scout), _split(recovered)
    invented = rout.copy()
    invented[20:28, 20:28, 1:7] = 0.2
    region = np.zeros(rout.shape, dtype=bool)
    region[:, :, 16:] = True  # excludes the invented pore (and its blurred halo)
    clean = build_trust_report(
        rin, sin, zin, None, 0.01, TrustConfig(), outside_pair=(invented, sout), outside_mask=region
    )
    spoiled = build_trust_report(rin, sin, zin, None, 0.01, TrustConfig(), outside_pair=(invented, sout))
    assert clean.hallucination.outside_over_inside < 1.3
    assert spoiled.hallucination.outside_over_inside > clean.hallucination.outside_over_inside + 0.1


def test_outside_zoom_mask_removes_the_zoom_box() -> None:
    mask = np.ones((10, 12, 14), dtype=bool)
    outside = outside_zoom_mask(mask, (2, 3, 4), (4, 5, 6))  # zoom box x 2:8, y 3:8, z 4:8
    assert not outside[4:8, 3:8, 2:8].any()
    assert outside.sum() == mask.sum() - 4 * 5 * 6
    assert mask.all()  # input untouched


def test_shapes_must_agree(scene) -> None:
    _, zoom, scout, recovered = scene
    with pytest.raises(ValueError, match="cubic_heldout"):
        build_trust_report(recovered, scout[:-1], zoom, None, 0.01, TrustConfig())


def test_halves_disagreement_is_zero_for_identical_and_grows() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(size=(8, 16, 16))
    assert halves_disagreement(a, a) == 0.0
    assert halves_disagreement(a, a + rng.normal(0, 0.5, a.shape)) > halves_disagreement(
        a, a + rng.normal(0, 0.1, a.shape)
    )


def test_disagreement_png_is_written(scene, tmp_path) -> None:
    _, zoom, scout, recovered = scene
    path = write_disagreement_png(tmp_path / "trust.png", recovered, zoom, cubic=scout, scales=2)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_report_schema_has_required_keys() -> None:
    fields = TrustReport.model_fields
    for key in (
        "heldout_psnr_db",
        "heldout_psnr_cubic_db",
        "heldout_ssim",
        "heldout_ssim_cubic",
        "effective_resolution_mm",
        "hallucination",
        "flagged",
        "reasons",
    ):
        assert key in fields
