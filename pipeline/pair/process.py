"""One pair from projections to recovered volume (the CLI and the daemon both call this).

Stages: check -> read -> reconstruct_zoom -> reconstruct_scout -> register ->
model (cache or train) -> reconstruct_output -> infer -> assess -> write.
Outputs go to ``out_dir`` under temporary names renamed into place, ``DONE``
last; a failure writes ``FAILED.json`` naming the stage. Inputs are only read.
After a failure or a cancel the work folder keeps only the partial recovered
volume and its slab ledger, so a retry's inference continues where it stopped;
a finished pair removes the work folder.
"""

from __future__ import annotations

import json
import shutil
import traceback
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from models.atomic import write_text_atomic
from models.clock import utc_now
from models.errors import Cancelled, ScoutzoomError, StageError
from models.events import CancelToken, Message, ProgressCallback, emit
from pipeline.config import ProcessConfig
from pipeline.pair.report import FAILED_FILE, FailureReport, write_failure
from pipeline.pair.sources import PairSources, check_sources, sources_fingerprint
from pipeline.pair.stages import StageRunner

DONE = "DONE"
FAILED = FAILED_FILE
WORK = ".scoutzoom-work"


class ProcessOutcome(BaseModel):
    """What became of one pair: ``done`` (outputs and DONE written), ``failed``
    (FAILED.json written) or ``skipped`` (already done, not forced)."""

    status: Literal["done", "failed", "skipped"]
    out_dir: Path
    stage: str | None = None
    message: str = ""
    report_path: Path | None = None
    voxels_recovered: int = 0


def already_done(out_dir: Path, fingerprint: str) -> bool:
    """True when ``out_dir`` holds a DONE marker for this exact pair content."""
    marker = Path(out_dir) / DONE
    try:
        return json.loads(marker.read_text()).get("fingerprint") == fingerprint
    except (OSError, ValueError, AttributeError):
        return False


def keep_resumable(out_dir: Path, work_dir: Path) -> None:
    """After a failure or a cancel: empty the work folder except the partial recovered volume and its slab
    ledger, so a retry's inference continues from the slabs already written (scratch volumes are rebuilt)."""
    from pipeline.pair.run import resumable_paths

    if not work_dir.is_dir():
        return
    keep = {path.name for path in resumable_paths(out_dir, work_dir)}
    for path in work_dir.iterdir():
        if path.name in keep:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if not any(work_dir.iterdir()):
        work_dir.rmdir()


def _clear_markers(out_dir: Path) -> None:
    for name in (DONE, FAILED):
        (out_dir / name).unlink(missing_ok=True)


def _write_failure(
    out_dir: Path, pair_dir: Path, fingerprint: str, stage: str, message: str, figures: dict, runner: StageRunner
) -> None:
    problems = [str(reason) for reason in figures.get("reasons", [])] or [message]
    write_failure(
        out_dir,
        FailureReport(
            pair=str(pair_dir),
            fingerprint=fingerprint,
            stage=stage,
            message=message,
            problems=problems,
            figures=figures,
            stages=runner.timings,
        ),
    )


def process_pair(
    pair_dir: Path | PairSources,
    out_dir: Path,
    config: ProcessConfig,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    force: bool = False,
) -> ProcessOutcome:
    """Process one pair (a pair folder, or two sources of any format); never raises for bad input (returns
    ``failed``), raises ``Cancelled`` on cancel."""
    pair = pair_dir if isinstance(pair_dir, PairSources) else PairSources.from_folder(Path(pair_dir))
    pair_dir, out_dir = pair.label, Path(out_dir).resolve()
    fingerprint = sources_fingerprint(pair)
    if not force and already_done(out_dir, fingerprint):
        return ProcessOutcome(status="skipped", out_dir=out_dir, message="already processed (use --force to redo)")
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear_markers(out_dir)
    runner = StageRunner(progress, cancel)
    work_dir = out_dir / WORK
    try:
        with runner.stage("check"):
            completeness = check_sources(pair)
            if not completeness.complete:
                raise StageError("check", str(completeness), {"reasons": completeness.reasons})
        from pipeline.pair.run import run_pair

        result = run_pair(pair, out_dir, work_dir, fingerprint, config, runner)
    except Cancelled:
        keep_resumable(out_dir, work_dir)
        raise
    except StageError as error:  # the runner knows the stage that ran (an error class knows only its family)
        stage = runner.current or error.stage
        return _failed(out_dir, pair_dir, fingerprint, stage, error.message, error.figures, runner, work_dir, progress)
    except ScoutzoomError as error:
        return _failed(
            out_dir, pair_dir, fingerprint, runner.current or "unknown", str(error), {}, runner, work_dir, progress
        )
    except Exception as error:  # a library failing on odd data must not take the caller down
        figures = {"exception": type(error).__name__, "traceback": traceback.format_exc(limit=-12)}  # innermost
        return _failed(
            out_dir,
            pair_dir,
            fingerprint,
            runner.current or "unknown",
            f"{type(error).__name__}: {error}",
            figures,
            runner,
            work_dir,
            progress,
        )
    shutil.rmtree(work_dir, ignore_errors=True)
    write_text_atomic(
        out_dir / DONE,
        json.dumps({"fingerprint": fingerprint, "finished_utc": utc_now().isoformat(timespec="seconds")}) + "\n",
    )
    return ProcessOutcome(
        status="done", out_dir=out_dir, report_path=result.report_path, voxels_recovered=result.voxels_recovered
    )


def _failed(
    out_dir: Path,
    pair_dir: Path,
    fingerprint: str,
    stage: str,
    message: str,
    figures: dict,
    runner: StageRunner,
    work_dir: Path,
    progress: ProgressCallback | None,
) -> ProcessOutcome:
    keep_resumable(out_dir, work_dir)
    _write_failure(out_dir, pair_dir, fingerprint, stage, message, figures, runner)
    emit(progress, Message(stage=stage, message=f"failed: {message}"))
    return ProcessOutcome(status="failed", out_dir=out_dir, stage=stage, message=message)
