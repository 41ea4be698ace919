"""A failure in any stage ends in FAILED.json naming the stage; no DONE; inputs untouched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import tifffile

from pipeline.pair.process import process_pair
from tests.pipeline.pair.conftest import fast_config
from tests.pipeline.pair.test_process import tree_digest


def failed_report(out: Path) -> dict:
    assert not (out / "DONE").exists()
    return json.loads((out / "FAILED.json").read_text())


def test_unreadable_projection_fails_at_check(pair_copy: Path, tmp_path: Path) -> None:
    stack = pair_copy / "zoom" / "projections.tif"
    data = stack.read_bytes()
    stack.write_bytes(data[: len(data) // 2])
    before = tree_digest(pair_copy)
    outcome = process_pair(pair_copy, tmp_path / "out", fast_config())
    assert outcome.status == "failed" and outcome.stage == "check"
    report = failed_report(tmp_path / "out")
    assert report["stage"] == "check" and "projections.tif" in report["message"]
    assert tree_digest(pair_copy) == before


def test_nonfinite_projection_fails_at_read(pair_copy: Path, tmp_path: Path) -> None:
    """A complete, well-formed file whose values are unusable: caught when reading, named by file."""
    meta_path = pair_copy / "scout" / "scan.json"
    meta = json.loads(meta_path.read_text())
    meta["values"] = "line_integral"
    meta_path.write_text(json.dumps(meta))
    stack = pair_copy / "scout" / "projections.tif"
    data = tifffile.imread(stack).astype(np.float32)
    data[5, 3, 3] = np.nan
    tifffile.imwrite(stack, data)
    outcome = process_pair(pair_copy, tmp_path / "out", fast_config())
    assert outcome.status == "failed" and outcome.stage == "read"
    assert "non-finite" in failed_report(tmp_path / "out")["message"]


def test_zoom_from_another_sample_fails_registration(pair_copy: Path, other_sample: Path, tmp_path: Path) -> None:
    shutil.rmtree(pair_copy / "zoom")
    shutil.copytree(other_sample / "pair" / "zoom", pair_copy / "zoom")
    outcome = process_pair(pair_copy, tmp_path / "out", fast_config())
    assert outcome.status == "failed" and outcome.stage == "register", outcome.message
    report = failed_report(tmp_path / "out")
    assert report["figures"], "registration failure should carry its figures"


def test_training_diverging_to_nan_fails_at_train(pair_copy: Path, tmp_path: Path) -> None:
    outcome = process_pair(pair_copy, tmp_path / "out", fast_config(learning_rate=1e12, iterations=60))
    assert outcome.status == "failed" and outcome.stage == "train", outcome.message
    assert "diverged" in failed_report(tmp_path / "out")["message"]
