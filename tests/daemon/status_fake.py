"""A fake processor with realistic outputs for the status page tests (report.json with trust, previews, report.html).

``FAKE.json`` in a pair sets ``kind``: ``trusted`` | ``flagged`` | ``fail`` | ``slow`` (holds in ``train``,
reporting progress, until :data:`RELEASE` is set) and ``cache``: ``hit`` | ``miss``.
"""

from __future__ import annotations

import json
import struct
import threading
import time
import zlib
from pathlib import Path

from models.atomic import write_text_atomic
from models.events import (
    Assessed,
    CacheDecided,
    CancelToken,
    ProgressCallback,
    StageFinished,
    StageStarted,
    emit,
    training_step,
)
from pipeline.pair.process import ProcessOutcome

RELEASE = threading.Event()
SLOW_TOTAL = 800


def png_bytes(width: int = 48, height: int = 32, shade: int = 128) -> bytes:
    """A small grey gradient PNG (8-bit greyscale), written by hand so the test needs no imaging library."""
    rows = b"".join(b"\x00" + bytes((shade + x * 2 + y) % 256 for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def report_body(pair_dir: Path, flagged: bool) -> dict:
    reasons = ["PSNR gain over cubic on held-out zoom data is 0.12 dB (minimum 0.50 dB)"] if flagged else []
    gain = 0.12 if flagged else 2.31
    recall = 0.58 if flagged else 0.96
    return {
        "pair": str(pair_dir),
        "summary": {
            "verdict": "flagged" if flagged else "trusted",
            "reasons": reasons,
            "psnr_gain_db": gain,
            "feature_recall": recall,
        },
        "trust": {
            "flagged": flagged,
            "reasons": reasons,
            "psnr_gain_db": gain,
            "features": {"recovered": {"recall": recall}},
        },
    }


def _write_outputs(pair_dir: Path, out_dir: Path, flagged: bool) -> None:
    (out_dir / "previews").mkdir(parents=True, exist_ok=True)
    (out_dir / "previews" / "heldout_axial.png").write_bytes(png_bytes(shade=40 if flagged else 120))
    write_text_atomic(out_dir / "report.json", json.dumps(report_body(pair_dir, flagged)))
    write_text_atomic(out_dir / "report.html", f"<!doctype html><title>report</title><h1>{pair_dir.name}</h1>")
    write_text_atomic(out_dir / "recovered.ome.tif", "fake volume\n")


def process_pair(
    pair_dir: Path,
    out_dir: Path,
    config,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    force: bool = False,
) -> ProcessOutcome:
    settings = json.loads((pair_dir / "FAKE.json").read_text())
    kind = settings.get("kind", "trusted")
    out_dir.mkdir(parents=True, exist_ok=True)
    emit(progress, StageStarted("check"))
    if kind == "fail":
        write_text_atomic(
            out_dir / "FAILED.json", json.dumps({"stage": "register", "message": "registration diverged"})
        )
        return ProcessOutcome(status="failed", out_dir=out_dir, stage="register", message="registration diverged")
    emit(progress, StageFinished("check", seconds=0.01))
    emit(progress, StageStarted("cache"))
    emit(progress, CacheDecided("cache", result=settings.get("cache", "miss"), model_id="m1"))
    emit(progress, StageStarted("train"))
    if kind == "slow":
        done = 0
        while not RELEASE.is_set():
            if cancel is not None:
                cancel.raise_if_cancelled("train")
            done = min(SLOW_TOTAL - 1, done + 1)
            training_step(progress, done, SLOW_TOTAL, loss=0.5 / (1 + done))
            time.sleep(0.05)
    else:
        training_step(progress, SLOW_TOTAL, SLOW_TOTAL, loss=0.01)
    flagged = kind == "flagged"
    emit(progress, StageStarted("assess"))
    emit(progress, Assessed("assess", flagged=flagged, psnr_gain_db=0.12 if flagged else 2.31))
    emit(progress, StageStarted("write"))
    _write_outputs(pair_dir, out_dir, flagged)
    write_text_atomic(out_dir / "DONE", "")
    return ProcessOutcome(status="done", out_dir=out_dir, voxels_recovered=1000)
