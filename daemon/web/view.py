"""What ``/status`` and ``/status.json`` show, as pydantic models, and how it is gathered.

Durable facts come from the job store (state, stage, attempts, message), the
pairs' ``report.json`` (verdict, PSNR gain, feature recall) and the model
cache's cards; live ones (progress, ETA, a verdict not yet written, cache hit
rate since start) from :class:`daemon.web.live.LiveStatus`. Reading never
writes anything and never follows a link out of the allowed root.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from daemon.store import Job, JobState, JobStore
from daemon.web import files
from daemon.web.live import LiveStatus
from daemon.web.progress import format_duration

REPORT_LIMIT_BYTES = 8 << 20
CACHE_LISTING_TTL_S = 10.0
Verdict = Literal["trusted", "flagged"]


class PairRow(BaseModel):
    """One job (pair): where it is, how it went, and where to look."""

    job_id: int
    pair: str = Field(description="pair folder")
    name: str = Field(description="pair folder relative to its watch root")
    state: JobState
    stage: str | None = None
    step: str | None = Field(None, description="inner step of the stage (e.g. reconstruct)")
    fraction: float | None = Field(None, ge=0, le=1, description="share of the current step done")
    eta_s: float | None = Field(None, description="seconds left in the current step, at the measured rate")
    stage_elapsed_s: float | None = Field(None, description="seconds since the current stage started")
    progress_text: str = ""
    attempts: int
    message: str = ""
    updated_utc: datetime
    out_dir: str
    thumbnail_url: str | None = None
    report_url: str | None = None
    report_json_url: str | None = None
    failure_url: str | None = None
    psnr_gain_db: float | None = Field(None, description="PSNR gain over cubic upsampling on the zoom's test slab (dB)")
    feature_recall: float | None = Field(None, description="share of the zoom's pores found in the recovered volume")
    verdict: Verdict | None = None
    reasons: list[str] = []


class WaitingRow(BaseModel):
    """A watched pair that is not ready: why, and whether it is stalled (incomplete for too long)."""

    pair: str
    reason: str
    stalled: bool
    since_utc: datetime


class CachedModel(BaseModel):
    id: str
    created_utc: datetime
    sample_class: str | None = None
    voxel_ratio: float
    use_count: int
    last_used_utc: datetime | None = None


class CacheView(BaseModel):
    """The model cache: its models (newest first) and the look-ups since the daemon started."""

    directory: str | None
    models: list[CachedModel] = []
    size_bytes: int = 0
    unreadable: dict[str, str] = Field(default_factory=dict, description="entry -> why its card does not parse")
    decisions: dict[str, int] = Field(default_factory=dict, description="look-ups since start, by result")
    hit_rate: float | None = Field(None, description="hits / look-ups since start; None before the first")


class StatusView(BaseModel):
    """``/status.json``."""

    generated_utc: datetime
    version: str
    refresh_s: float
    watching: list[str] = Field(default_factory=list, description="watched roots")
    output_root: str | None = None
    counts: dict[str, int]
    jobs: list[PairRow]
    waiting: list[WaitingRow]
    cache: CacheView


@dataclass(frozen=True)
class ReportDigest:
    """The few figures of a ``report.json`` the page shows."""

    verdict: Verdict | None = None
    reasons: tuple[str, ...] = ()
    psnr_gain_db: float | None = None
    feature_recall: float | None = None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def digest_report(body: dict[str, Any]) -> ReportDigest:
    """Verdict, reasons, gain and recall from a report (its ``summary`` when present, else ``trust``)."""
    trust = body.get("trust") if isinstance(body.get("trust"), dict) else {}
    summary = body.get("summary") if isinstance(body.get("summary"), dict) else {}
    flagged = summary.get("flagged", trust.get("flagged"))
    verdict: Verdict | None = ("flagged" if flagged else "trusted") if isinstance(flagged, bool) else None
    if summary.get("verdict") in ("trusted", "flagged"):
        verdict = summary["verdict"]
    reasons = summary.get("reasons", trust.get("reasons", []))
    features = trust.get("features") if isinstance(trust.get("features"), dict) else {}
    recovered = features.get("recovered") if isinstance(features.get("recovered"), dict) else {}
    recall = _number(summary.get("feature_recall", recovered.get("recall")))
    return ReportDigest(
        verdict=verdict,
        reasons=tuple(str(r) for r in reasons) if isinstance(reasons, list) else (),
        psnr_gain_db=_number(summary.get("psnr_gain_db", trust.get("psnr_gain_db"))),
        feature_recall=recall,
    )


class ReportReader:
    """Digests of ``report.json`` files, re-read only when a file changes (size or mtime)."""

    def __init__(self) -> None:
        self._seen: dict[Path, tuple[tuple[int, int], ReportDigest]] = {}
        self._lock = threading.Lock()

    def read(self, path: Path) -> ReportDigest | None:
        try:
            info = path.stat()
        except OSError:
            return None
        key = (info.st_mtime_ns, info.st_size)
        with self._lock:
            seen = self._seen.get(path)
        if seen is not None and seen[0] == key:
            return seen[1]
        raw = files.read_bounded(path, REPORT_LIMIT_BYTES)
        try:
            body = json.loads(raw) if raw is not None else None
        except ValueError:
            body = None
        digest = digest_report(body) if isinstance(body, dict) else ReportDigest()
        with self._lock:
            self._seen[path] = (key, digest)
        return digest


@dataclass
class StatusSources:
    """Where the page reads from; ``allowed_root(job)`` is the folder a job's outputs must lie in."""

    store: JobStore
    live: LiveStatus
    allowed_root: Callable[[Job], Path]
    cache_dir: Path | None = None
    version: str = "unknown"
    refresh_s: float = 5.0
    recent_limit: int = 100
    clock: Callable[[], float] = time.time
    places: Callable[[], tuple[list[str], str | None]] = lambda: ([], None)  # (watched roots, output root), now
    reports: ReportReader = field(default_factory=ReportReader)
    _cache_listing: tuple[float, CacheView] | None = None


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _pair_name(job: Job) -> str:
    try:
        return str(job.pair.relative_to(job.root)) or job.pair.name
    except ValueError:
        return job.pair.name


def _file_url(job: Job, out_dir: Path, name: str, root: Path) -> str | None:
    return f"/pairs/{job.id}/{name}" if files.resolve(out_dir, name, root) is not None else None


def pair_row(job: Job, sources: StatusSources) -> PairRow:
    """The row of one job: store fields, live progress while running, report figures once written."""
    root = sources.allowed_root(job)
    out_dir = job.out_dir
    row = PairRow(
        job_id=job.id,
        pair=str(job.pair),
        name=_pair_name(job),
        state=job.state,
        stage=job.stage,
        attempts=job.attempts,
        message=job.message,
        updated_utc=_utc(job.updated_s),
        out_dir=str(out_dir),
    )
    if job.state == "running":
        position = sources.live.position(job.id)
        if position is not None:
            row.stage = position.stage if position.stage != "-" else job.stage
            row.step = position.step or None
            row.fraction = position.fraction
            row.eta_s = position.eta_s
            row.stage_elapsed_s = max(0.0, sources.live.progress.clock() - position.stage_started_s)
            if position.total > 0:
                figures = "".join(f" {key}={value:.4g}" for key, value in list(position.values.items())[:2])
                row.progress_text = f"{position.done}/{position.total}{figures}, eta {format_duration(position.eta_s)}"
    report_json = files.resolve(out_dir, "report.json", root)
    digest = sources.reports.read(report_json) if report_json is not None and job.state == "done" else None
    live = sources.live.verdict(job.id)
    if digest is not None and digest.verdict is not None:
        row.verdict, row.reasons = digest.verdict, list(digest.reasons)
        row.psnr_gain_db, row.feature_recall = digest.psnr_gain_db, digest.feature_recall
    elif live is not None:
        row.verdict, row.reasons = ("flagged" if live.flagged else "trusted"), list(live.reasons)
        row.psnr_gain_db, row.feature_recall = live.psnr_gain_db, live.feature_recall
    if job.state == "done":  # a running pair's files are its last run's, if any
        thumb = files.thumbnail(out_dir, root)
        row.thumbnail_url = f"/pairs/{job.id}/{thumb}" if thumb else None
        row.report_url = _file_url(job, out_dir, "report.html", root)
        row.report_json_url = f"/pairs/{job.id}/report.json" if report_json is not None else None
    if job.state == "failed":
        row.failure_url = _file_url(job, out_dir, "FAILED.json", root)
    return row


def cache_view(sources: StatusSources) -> CacheView:
    """The model cache's cards (listed at most every ``CACHE_LISTING_TTL_S``) and the live hit rate."""
    now = time.monotonic()
    cached = sources._cache_listing
    if cached is None or now - cached[0] > CACHE_LISTING_TTL_S:
        listing = _list_cache(sources.cache_dir)
        sources._cache_listing = (now, listing)
    else:
        listing = cached[1]
    decisions = sources.live.cache_decisions()
    lookups = sum(decisions.values())
    return listing.model_copy(
        update={"decisions": decisions, "hit_rate": decisions.get("hit", 0) / lookups if lookups else None}
    )


def _list_cache(directory: Path | None) -> CacheView:
    if directory is None:
        return CacheView(directory=None)
    from models.cache.store import ModelCache

    cache = ModelCache(directory)
    try:
        cards = cache.list()
        problems = cache.problems()
        size = cache.size_bytes()
    except OSError as error:
        return CacheView(directory=str(directory), unreadable={"(cache)": str(error)})
    models = [
        CachedModel(
            id=c.id,
            created_utc=c.created_utc,
            sample_class=c.sample_class,
            voxel_ratio=c.voxel_ratio,
            use_count=c.use_count,
            last_used_utc=c.last_used_utc,
        )
        for c in reversed(cards)
    ]
    return CacheView(directory=str(directory), models=models, size_bytes=size, unreadable=problems)


def build_status(sources: StatusSources) -> StatusView:
    """The whole page's data, now: running and queued jobs first, then the most recent others."""
    store = sources.store
    recent = store.recent(sources.recent_limit)
    known = {job.id for job in recent}
    jobs = recent + [job for job in store.running() if job.id not in known]
    order = {"running": 0, "queued": 1, "failed": 2, "done": 2}
    jobs.sort(key=lambda job: (order[job.state], -job.updated_s, -job.id))
    waiting = [
        WaitingRow(pair=str(p.pair), reason=p.reason, stalled=p.stalled, since_utc=_utc(p.since_s))
        for p in store.pending()
    ]
    waiting.sort(key=lambda w: (not w.stalled, w.since_utc))
    watching, output_root = sources.places()
    return StatusView(
        generated_utc=_utc(sources.clock()),
        version=sources.version,
        refresh_s=sources.refresh_s,
        watching=watching,
        output_root=output_root,
        counts=store.counts(),
        jobs=[pair_row(job, sources) for job in jobs],
        waiting=waiting,
        cache=cache_view(sources),
    )
