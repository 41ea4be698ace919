"""Two simulated pairs through the real pipeline on a two-worker ``LocalCluster`` (slow: minutes on 2 cores)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from daemon.config import validate_config
from daemon.service import Daemon
from pipeline.simulate import simulate_pair
from tests.pipeline.pair.conftest import small_simulation

distributed = pytest.importorskip("distributed")


@pytest.mark.slow
def test_two_real_pairs_are_recovered_concurrently_by_two_workers(tmp_path: Path) -> None:
    root = tmp_path / "in"
    for seed in (31, 32):
        simulate_pair(tmp_path / f"sim-{seed}", small_simulation(seed))
        shutil.copytree(tmp_path / f"sim-{seed}" / "pair", root / f"sample-{seed}")
        (root / f"sample-{seed}" / "READY").touch()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        config = validate_config(
            {
                "state_dir": str(tmp_path / "state"),
                "watch": {"roots": [str(root)], "settle_s": 0, "poll_interval_s": 0.5},
                "jobs": {"concurrency": 2},
                "executor": {"kind": "dask", "scheduler": cluster.scheduler_address},
                "pipeline": {  # tests/pipeline/pair/conftest.py fast_config
                    "preset": "small",
                    "training": {"iterations": 200},
                    "inference": {"tile_px": 64, "overlap_px": 8},
                    "output": {"region": {"voxel_budget": 100**3}},
                    "cache": {"enabled": False},
                },
            }
        )
        daemon = Daemon(config, serve_metrics=False)
        daemon.start()
        try:
            end = time.monotonic() + 1200
            while time.monotonic() < end:
                daemon.tick(time.time())
                jobs = [daemon.store.get(root / f"sample-{seed}") for seed in (31, 32)]
                if all(job is not None and job.state in ("done", "failed") for job in jobs):
                    break
                time.sleep(0.2)
        finally:
            daemon.shutdown()
    a, b = jobs
    traces = [_failure_trace(config.output_root / f"sample-{seed}") for seed in (31, 32)]
    assert a.state == b.state == "done", (a.message, b.message, *traces)
    assert a.started_s < b.finished_s and b.started_s < a.finished_s, "processed at the same time"
    for seed in (31, 32):
        report = json.loads((config.output_root / f"sample-{seed}" / "report.json").read_text())
        assert report["quality"]["psnr_recovered_db"] > report["quality"]["psnr_cubic_db"]


def _failure_trace(out_dir: Path) -> str:
    """The worker's traceback from a failed pair's FAILED.json (what a rare failure needs to be diagnosed)."""
    failed = out_dir / "FAILED.json"
    if not failed.is_file():
        return ""
    return str(json.loads(failed.read_text()).get("figures", {}).get("traceback", ""))
