"""Loose scans dropped in a watch root (vendor files, no scout/ + zoom/ folders) are paired by their metadata."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from daemon.watcher import loose_pairs
from pipeline.acquisition.contract import ScanMetadata
from pipeline.acquisition.writer import write_scan
from tests.pipeline.acquisition.formats.convert import to_nxtomo, to_txrm

ROWS, COLUMNS, COUNT = 8, 10, 12


def never(_: Path) -> bool:
    return False


def contract_scan(folder: Path, role: str, source_to_axis_mm: float) -> Path:
    """A tiny intensity scan; the source distance sets the voxel (30 mm: 0.025 mm, 10 mm: 0.0083 mm)."""
    meta = ScanMetadata.model_validate(
        {
            "format_version": 1,
            "role": role,
            "sample_id": "foam",
            "values": "intensity",
            "geometry": {
                "source_to_axis_mm": source_to_axis_mm,
                "source_to_detector_mm": 240.0,
                "detector_shape": [ROWS, COLUMNS],
                "detector_pixel_mm": [0.2, 0.2],
                "angles_deg": {"start": 0.0, "step": 30.0, "count": COUNT},
            },
        }
    )
    counts = np.full((COUNT, ROWS, COLUMNS), 20000, np.uint16)
    write_scan(folder, meta, counts, flat=np.full((ROWS, COLUMNS), 30000, np.uint16))
    return folder


def test_a_txrm_scout_and_an_nxtomo_zoom_pair_by_name_and_voxel(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    root = tmp_path / "watch"
    (root / "lab").mkdir(parents=True)
    scout = to_txrm(contract_scan(staging / "s", "scout", 30.0), root / "lab" / "foam_scout.txrm")
    zoom = to_nxtomo(contract_scan(staging / "z", "zoom", 10.0), root / "lab" / "foam_zoom.nx")

    found = loose_pairs(root, never, group_by="name")

    assert [(p.scout, p.zoom) for p in found.pairs] == [(scout.resolve(), zoom.resolve())]
    assert found.unpaired == []


def test_a_third_scan_of_the_sample_is_reported_ambiguous_and_not_paired(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    root = tmp_path / "watch"
    root.mkdir()
    to_txrm(contract_scan(staging / "s", "scout", 30.0), root / "foam_scout.txrm")
    to_nxtomo(contract_scan(staging / "z", "zoom", 10.0), root / "foam_zoom.nx")
    to_nxtomo(contract_scan(staging / "z2", "zoom", 12.0), root / "foam_zoom_2.nx")

    found = loose_pairs(root, never, group_by="name")

    assert found.pairs == []
    assert len(found.ambiguous) == 1 and "3 scans" in found.ambiguous[0].reason


def test_a_half_written_txrm_waits_and_outputs_and_pair_folders_are_not_inputs(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    root = tmp_path / "watch"
    root.mkdir()
    scout = to_txrm(contract_scan(staging / "s", "scout", 30.0), root / "foam_scout.txrm")
    scout.write_bytes(scout.read_bytes()[: scout.stat().st_size // 2])
    to_nxtomo(contract_scan(staging / "z", "zoom", 10.0), root / "foam_zoom.nx")
    contract_scan(root / "pair" / "scout", "scout", 30.0)  # a pair folder: the folder rule's, not this one's
    contract_scan(root / "pair" / "zoom", "zoom", 10.0)
    (root / "foam_zoom.recovered").mkdir()
    (root / "foam_zoom.recovered" / "report.json").write_text(json.dumps({}))
    contract_scan(root / "foam_zoom.recovered" / "copy", "zoom", 10.0)

    found = loose_pairs(root, never, group_by="name")

    assert found.pairs == []
    waiting = [g for g in found.unpaired if not g.ambiguous]
    assert any(g.paths == [scout] and "incomplete" in g.reason for g in waiting), found.unpaired
    assert all("pair" not in g.paths[0].parts and "foam_zoom.recovered" not in str(g.paths[0]) for g in found.unpaired)
