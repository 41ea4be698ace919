"""One pair from projections to recovered volume (the CLI and the daemon both call this).

Placeholder signature; the end-to-end issue fills it in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from pipeline.config import ProcessConfig
from pipeline.events import CancelToken, ProgressCallback


class ProcessOutcome(BaseModel):
    """What became of one pair: ``done`` (outputs and DONE written), ``failed``
    (FAILED.json written) or ``skipped`` (already done, not forced)."""

    status: Literal["done", "failed", "skipped"]
    out_dir: Path
    stage: str | None = None
    message: str = ""
    report_path: Path | None = None
    voxels_recovered: int = 0


def process_pair(
    pair_dir: Path,
    out_dir: Path,
    config: ProcessConfig,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    force: bool = False,
) -> ProcessOutcome:
    """Process one pair; never raises for bad input (returns ``failed``), raises ``Cancelled`` on cancel."""
    raise NotImplementedError
