"""The model cache across pairs: reuse under the same conditions, retrain otherwise, never use a bad entry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from models.events import ProgressEvent
from pipeline.pair.process import process_pair
from pipeline.simulate import ScanSettings, simulate_pair
from tests.pipeline.pair.conftest import DETECTOR_PX, fast_config, small_simulation


def run(pair: Path, out: Path, cache: Path, **kwargs):
    events: list[ProgressEvent] = []
    outcome = process_pair(pair, out, fast_config(cache), progress=events.append, **kwargs)
    assert outcome.status == "done", outcome.message
    report = json.loads((out / "report.json").read_text())
    trained = any(e.stage == "train" and e.kind == "stage_finished" for e in events)
    return report, trained


@pytest.fixture(scope="module")
def cache_with_model(simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    cache = tmp_path_factory.mktemp("cache")
    report, trained = run(simulated / "pair", tmp_path_factory.mktemp("out-a"), cache)
    assert trained and not report["model"]["reused"]
    assert report["model"]["cache"]["result"] == "miss"
    return cache, report


def simulate(tmp_path: Path, seed: int, **changes) -> Path:
    simulate_pair(tmp_path / "sim", small_simulation(seed, **changes))
    return tmp_path / "sim" / "pair"


def test_same_conditions_reuse_the_model_and_still_beat_cubic(cache_with_model, tmp_path: Path) -> None:
    cache, first = cache_with_model
    report, trained = run(simulate(tmp_path, 21), tmp_path / "out", cache)
    assert not trained, "a matching, validated model must be reused without training"
    assert report["model"]["reused"] is True
    assert report["model"]["id"] == first["model"]["id"]
    assert report["model"]["cache"]["result"] == "hit"
    accepted = [c for c in report["model"]["cache"]["candidates"] if c["status"] == "accepted"][0]["validation"]
    assert accepted["psnr_baseline_db"] is not None and accepted["psnr_db"] > accepted["psnr_baseline_db"], (
        "must beat cubic"
    )
    assert report["quality"]["psnr_recovered_db"] > report["quality"]["psnr_cubic_db"]


def test_other_objective_trains_a_new_model(cache_with_model, tmp_path: Path) -> None:
    cache, first = cache_with_model
    zoom = ScanSettings(detector_px=DETECTOR_PX, angles=120, blur_sigma_px=0.7, objective="40X", photons=8000)
    report, trained = run(simulate(tmp_path, 22, zoom=zoom), tmp_path / "out", cache)
    assert trained and report["model"]["reused"] is False
    assert report["model"]["cache"]["result"] == "miss"
    assert report["model"]["id"] != first["model"]["id"]


def test_candidate_failing_validation_is_not_used(cache_with_model, tmp_path: Path) -> None:
    cache, first = cache_with_model
    blurry = ScanSettings(detector_px=DETECTOR_PX, angles=120, blur_sigma_px=2.5)
    report, trained = run(simulate(tmp_path, 23, scout=blurry), tmp_path / "out", cache)
    assert trained and report["model"]["reused"] is False
    decision = report["model"]["cache"]
    assert decision["result"] == "rejected"
    assert any(
        c["model_id"] == first["model"]["id"] and c["status"] == "failed_validation" for c in decision["candidates"]
    )


def test_corrupted_entry_is_rejected_and_the_pair_completes(cache_with_model, simulated: Path, tmp_path: Path) -> None:
    source, first = cache_with_model
    cache = tmp_path / "cache"
    shutil.copytree(source, cache)
    onnx = cache / first["model"]["id"] / "model.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-64] + b"\0" * 64)
    report, trained = run(simulated / "pair", tmp_path / "out", cache)
    assert trained and report["model"]["reused"] is False
    assert any(c["status"] == "rejected" for c in report["model"]["cache"]["candidates"])
    assert list((cache / ".rejected").iterdir()), "the bad entry is moved aside, not deleted"
