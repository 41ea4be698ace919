"""A stand-in for ``pipeline.pair.process.process_pair`` that keeps its contract and is fast.

Loaded by a real daemon through
``[advanced] processor = "tests.daemon.fake_processor:process_pair"``. Per pair, an optional ``FAKE.json`` in the
pair directory sets ``stage_s`` (seconds per stage, default 0.2) and ``fail``
(write FAILED.json and return failed) and ``raise`` (raise RuntimeError). Every
start and end is appended to the ledger file named by ``$FAKE_LEDGER``, so tests
count how often a pair was processed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from models.atomic import write_text_atomic
from models.errors import Cancelled
from models.events import CacheDecided, CancelToken, ProgressCallback, StageFinished, StageStarted, emit, training_step
from pipeline.pair.process import ProcessOutcome

STAGES = ("check", "reconstruct_zoom", "train", "infer", "write")
VOXELS = 1000


def _ledger(line: str) -> None:
    path = os.environ.get("FAKE_LEDGER")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{time.time():.3f} {os.getpid()} {line}\n")


def _sleep(seconds: float, cancel: CancelToken | None, stage: str) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cancel is not None:
            cancel.raise_if_cancelled(stage)
        time.sleep(0.02)


def process_pair(
    pair_dir: Path,
    out_dir: Path,
    config,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    force: bool = False,
) -> ProcessOutcome:
    settings = json.loads((pair_dir / "FAKE.json").read_text()) if (pair_dir / "FAKE.json").exists() else {}
    if (out_dir / "DONE").exists() and not force:
        return ProcessOutcome(status="skipped", out_dir=out_dir)
    _ledger(f"start {pair_dir}")
    if settings.get("raise"):
        raise RuntimeError("fake processor bug")
    try:
        for stage in STAGES:
            emit(progress, StageStarted(stage))
            _sleep(float(settings.get("stage_s", 0.2)), cancel, stage)
            if stage == "check" and settings.get("fail"):
                write_text_atomic(out_dir / "FAILED.json", json.dumps({"stage": "check", "message": "fake failure"}))
                _ledger(f"failed {pair_dir}")
                return ProcessOutcome(status="failed", out_dir=out_dir, stage="check", message="fake failure")
            if stage == "train":
                emit(progress, CacheDecided("cache", result="miss"))
                training_step(progress, 1, 1, loss=0.125)
            emit(progress, StageFinished(stage, seconds=0.2))
    except Cancelled:
        _ledger(f"cancelled {pair_dir}")
        raise
    write_text_atomic(out_dir / "recovered.ome.tif", "fake volume\n")
    write_text_atomic(out_dir / "report.json", json.dumps({"pair": str(pair_dir)}))
    write_text_atomic(out_dir / "DONE", "")
    _ledger(f"done {pair_dir}")
    return ProcessOutcome(status="done", out_dir=out_dir, voxels_recovered=VOXELS)
