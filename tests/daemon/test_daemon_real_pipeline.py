"""The real daemon with the real pipeline on a small simulated pair (under a minute on CPU)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pipeline.simulate import simulate_pair
from tests.daemon.conftest import wait_for
from tests.pipeline.pair.conftest import small_simulation


def test_real_pipeline_processes_a_dropped_pair(daemon_process, tmp_path: Path) -> None:
    daemon = daemon_process(settle_s=1.0)
    text = daemon.config.read_text().replace('processor = "tests.daemon.fake_processor:process_pair"\n', "")
    daemon.config.write_text(
        text + "[pipeline.training]\niterations = 200\n[pipeline.output.region]\nvoxel_budget = 1000000\n"
    )
    simulate_pair(tmp_path / "sim", small_simulation(31))
    daemon.start()
    pair = daemon.root / "lab" / "sample-31"
    shutil.copytree(tmp_path / "sim" / "pair", pair)
    out = daemon.out / "lab" / "sample-31"
    wait_for(lambda: (out / "DONE").exists() or (out / "FAILED.json").exists(), 600, "the pair to be processed")
    assert (out / "DONE").exists(), (out / "FAILED.json").read_text() if (out / "FAILED.json").exists() else ""
    report = json.loads((out / "report.json").read_text())
    assert report["quality"]["psnr_recovered_db"] > report["quality"]["psnr_cubic_db"]
    metrics = daemon.metrics()
    assert metrics['scoutzoom_jobs_total{outcome="done"}'] == 1
    assert metrics['scoutzoom_model_cache_total{result="miss"}'] == 1
    assert (
        metrics["scoutzoom_voxels_recovered_total"]
        == report["output"]["shape_zyx"][0] * report["output"]["shape_zyx"][1] * report["output"]["shape_zyx"][2]
    )
    assert metrics['scoutzoom_stage_seconds_count{stage="train"}'] == 1
    assert metrics["scoutzoom_training_loss"] > 0, "the training loop's TrainingProgress reaches the gauge"
    assert (daemon.state / "models").is_dir(), "the model cache lives under the state directory by default"
