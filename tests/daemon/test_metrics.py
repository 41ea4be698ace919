"""Metrics follow job lifecycle and pipeline events, and the exposition passes promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from daemon.metrics import Metrics
from daemon.store import Job
from models.events import Assessed, CacheDecided, StageFinished, training_step
from pipeline.pair.process import ProcessOutcome


def job() -> Job:
    return Job(
        id=1,
        pair=Path("/r/p"),
        root=Path("/r"),
        out_dir=Path("/o/p"),
        fingerprint="f",
        state="running",
        created_s=0.0,
        updated_s=0.0,
    )


def value(metrics: Metrics, name: str, labels: dict[str, str] | None = None) -> float:
    result = metrics.registry.get_sample_value(name, labels or {})
    assert result is not None, name
    return result


def test_events_and_outcomes_drive_the_metrics() -> None:
    metrics = Metrics(clock=lambda: 1234.0)
    metrics.job_started(job())
    assert value(metrics, "scoutzoom_jobs_in_progress") == 1
    metrics.job_event(job(), StageFinished("train", seconds=42.0))
    training_step(lambda event: metrics.job_event(job(), event), 10, 100, loss=0.5)
    metrics.job_event(job(), CacheDecided("cache", result="hit"))
    metrics.job_event(job(), CacheDecided("cache", result="rejected"))
    metrics.job_finished(job(), "done", ProcessOutcome(status="done", out_dir=Path("/o/p"), voxels_recovered=27))
    metrics.pair_failed(job(), ["zoom: missing"])
    metrics.set_queue(queued=2, waiting=3, stalled=1)

    assert value(metrics, "scoutzoom_jobs_in_progress") == 0
    assert value(metrics, "scoutzoom_stage_seconds_sum", {"stage": "train"}) == 42.0
    assert value(metrics, "scoutzoom_stage_seconds_bucket", {"stage": "train", "le": "60.0"}) == 1
    assert value(metrics, "scoutzoom_stage_seconds_bucket", {"stage": "train", "le": "30.0"}) == 0
    assert value(metrics, "scoutzoom_training_loss") == 0.5
    assert value(metrics, "scoutzoom_model_cache_total", {"result": "hit"}) == 1
    assert value(metrics, "scoutzoom_model_cache_total", {"result": "rejected"}) == 1
    assert value(metrics, "scoutzoom_model_cache_total", {"result": "miss"}) == 0
    assert value(metrics, "scoutzoom_jobs_total", {"outcome": "done"}) == 1
    assert value(metrics, "scoutzoom_jobs_total", {"outcome": "failed"}) == 1
    assert value(metrics, "scoutzoom_voxels_recovered_total") == 27
    assert value(metrics, "scoutzoom_last_success_timestamp_seconds") == 1234.0
    assert value(metrics, "scoutzoom_queue_depth") == 2
    assert value(metrics, "scoutzoom_pairs_waiting", {"stalled": "true"}) == 1


def test_two_instances_do_not_share_a_registry() -> None:
    first, second = Metrics(), Metrics()
    first.job_started(job())
    assert value(second, "scoutzoom_jobs_in_progress") == 0


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
def test_exposition_passes_promtool() -> None:
    metrics = Metrics()
    metrics.job_event(job(), StageFinished("infer", seconds=3.0))
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=metrics.exposition(), capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == b"" and result.stderr.strip() == b""  # not even lint warnings


def test_trust_flags_and_gain_are_exported() -> None:
    metrics = Metrics()
    metrics.job_event(job(), Assessed("assess", flagged=True, psnr_gain_db=-0.4))
    metrics.job_event(job(), Assessed("assess", flagged=False, psnr_gain_db=1.8))
    assert value(metrics, "scoutzoom_recovered_flagged_total") == 1
    assert value(metrics, "scoutzoom_heldout_psnr_gain_db") == 1.8


def test_exposition_has_no_created_series() -> None:
    metrics = Metrics()
    metrics.job_event(job(), StageFinished("infer", seconds=3.0))
    metrics.job_finished(job(), "done", None)
    metrics.loose_group_reported("broken")
    lines = metrics.exposition().decode().splitlines()
    assert any(line.startswith("scoutzoom_jobs_total{") for line in lines)  # counters and histograms are there
    assert any(line.startswith("scoutzoom_stage_seconds_count{") for line in lines)
    assert not [line for line in lines if "_created" in line.split(" ")[0].split("{")[0]]
