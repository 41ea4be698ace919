"""Pairing loose scans: one clear pair per sample, everything else reported and never guessed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from pipeline.acquisition.formats.pairing import ScanSummary, group_key, pair_scans
from pipeline.acquisition.formats.registry import detect, summarise_source
from tests.pipeline.acquisition.formats.conftest import counts, reference_document
from tests.pipeline.acquisition.formats.zeiss_files import write_txrm


def summary(
    name: str,
    voxel: float,
    centre=(0.0, 0.0, 0.0),
    radius: float = 1.0,
    height: float = 2.0,
    sample: str = "s1",
    role=None,
) -> ScanSummary:
    return ScanSummary(
        path=Path("/data") / name,
        kind="zeiss-txrm",
        sample_id=sample,
        voxel_mm=voxel,
        centre_mm=centre,
        radius_mm=radius * voxel / 0.03,
        height_mm=height * voxel / 0.03,
        role=role,
    )


def test_coarser_voxel_is_the_scout() -> None:
    result = pair_scans([summary("fine.txrm", 0.01, centre=(0.3, 0.1, 0.2)), summary("coarse.txrm", 0.03)])
    assert len(result.pairs) == 1 and not result.unpaired
    pair = result.pairs[0]
    assert (pair.scout.name, pair.zoom.name, pair.voxel_ratio) == ("coarse.txrm", "fine.txrm", pytest.approx(3.0))


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ([summary("a", 0.03), summary("b", 0.01), summary("c", 0.01)], "3 scans of one sample"),
        ([summary("a", 0.03), summary("b", 0.025)], "cannot tell scout from zoom"),
        ([summary("a", 0.03), summary("b", 0.01, centre=(0.9, 0.0, 0.0))], "zoom outside the scout"),
        ([summary("a", 0.03), summary("b", 0.01, centre=(0.0, 0.0, 0.8))], "zoom outside the scout"),
        ([summary("a", 0.03, role="zoom"), summary("b", 0.01)], "declared roles contradict"),
    ],
)
def test_ambiguous_groups_are_reported(members, reason) -> None:
    result = pair_scans(members)
    assert not result.pairs and len(result.ambiguous) == 1 and reason in result.ambiguous[0].reason


def test_a_lone_scan_waits_and_samples_do_not_mix() -> None:
    result = pair_scans([summary("a", 0.03, sample="s1"), summary("b", 0.01, sample="s2")])
    assert not result.pairs and not result.ambiguous
    assert all("waiting" in group.reason for group in result.unpaired)


@pytest.mark.parametrize(
    ("name", "key"),
    [("foam7_scout.txrm", "/data/foam7"), ("foam7-zoom_20x.txrm", "/data/foam7"), ("Foam7_0001.txm", "/data/foam7")],
)
def test_grouping_by_name_strips_role_words(name, key) -> None:
    assert group_key(summary(name, 0.03), "name") == key


def test_summaries_from_real_files_pair_up(tmp_path, line_integrals, flat) -> None:
    from pipeline.acquisition.contract import ScanMetadata

    zoom_doc = reference_document("zoom")
    scout_doc = reference_document("scout")
    scout_doc["geometry"].update(source_to_axis_mm=60.0)  # magnification 3.3 vs 10: voxel 3x coarser
    scout_doc["sample_position_mm"] = [0.27, -0.49, 1.51]  # zoom (0.25, -0.5, 1.5) well inside the 0.08 mm scout FOV
    paths = []
    for name, doc in (("foam_zoom.txrm", zoom_doc), ("foam_scout.txrm", scout_doc)):
        meta = ScanMetadata.model_validate(doc)
        paths.append(write_txrm(tmp_path / name, meta, counts(line_integrals, flat), flat))
    tifffile.imwrite(tmp_path / "other.tif", np.zeros((4, 8, 8), np.float32))
    result = pair_scans([summarise_source(detect(p)) for p in paths], group_by="name")
    assert [(p.scout.name, p.zoom.name) for p in result.pairs] == [("foam_scout.txrm", "foam_zoom.txrm")]
