"""The daemon's metrics with every labelled series given a value, as the monitoring and README tests read them."""

from __future__ import annotations

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from daemon.metrics import Metrics
from models.events import Assessed, CacheDecided, StageFinished, TrainingProgress


def exported_families() -> list[Metric]:
    """The metric families a fresh daemon registry serves once a stage, a cache decision, an assessment and a
    training step have been seen."""
    metrics = Metrics()
    for event in (
        StageFinished("train", seconds=3.0),
        CacheDecided("cache", result="hit"),
        Assessed("assess", flagged=True, psnr_gain_db=1.0),
        TrainingProgress("train", loss=0.1),
    ):
        metrics.job_event(None, event)  # type: ignore[arg-type]
    return list(text_string_to_metric_families(metrics.exposition().decode()))
