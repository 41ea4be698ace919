"""Loose scans in the watch roots, as the main loop sees them: ready pairs, waiting scans, reported groups.

What :class:`daemon.readiness.PairTracker` is for pair folders, this is for
scans paired by metadata (:func:`daemon.watcher.loose_pairs`, ``[watch]
loose_files``). One :meth:`LooseIntake.scan` pass reads the roots (headers
only) when one is due: at start-up, after a file event outside pair folders
(debounced, at most one a second) and, while something waits, every
``recheck_s``; a pass that raises is tried again after ``recheck_s``. A pair is ready
when both scans are complete and neither changed (fingerprint, mtime, ctime)
for ``settle_s``; a pair offered once is offered again only when its content
or its scout changes. Groups that are not exactly one clear pair are returned
every pass: waiting (a half-written file, a scan without its partner) or
reported (ambiguous, unreadable), never processed. The clock is passed in.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from daemon.readiness import EVENT_DEBOUNCE_S, newest_change_s
from daemon.watcher import loose_pairs
from pipeline.acquisition.fingerprint import FingerprintCache
from pipeline.acquisition.formats.pairing import GroupBy
from pipeline.pair.sources import PairSources, sources_fingerprint

DOUBLE_SUFFIXES = (".ome.tiff", ".ome.tif", ".nii.gz")
MIN_PASS_INTERVAL_S = 1.0  # a burst of events while a large file is copied costs one pass a second at most


@dataclass(frozen=True)
class ReadyPair:
    """A loose pair ready to be offered to the job store, with its watch root and content fingerprint."""

    root: Path
    pair: PairSources
    fingerprint: str


@dataclass(frozen=True)
class Reported:
    """A loose group that is reported and not processed; ``broken``: one file that cannot be read."""

    key: str
    paths: list[Path]
    reason: str
    broken: bool


@dataclass
class LooseScan:
    """One pass: pairs to offer, scans waiting (path -> why) and groups reported."""

    ready: list[ReadyPair] = field(default_factory=list)
    waiting: dict[Path, str] = field(default_factory=dict)
    reported: list[Reported] = field(default_factory=list)


@dataclass
class _Seen:
    scout: Path
    fingerprint: str
    last_change_s: float


def output_name(zoom: Path) -> str:
    """The output folder's name for a loose pair: the zoom's file name without its format suffix."""
    name = zoom.name
    if zoom.is_dir():
        return name  # a scan folder (contract, Nikon, TIFF slices) is already a name
    for suffix in DOUBLE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return zoom.stem


def _newest_change_s(path: Path, ignore: Callable[[Path], bool]) -> float:
    """Latest mtime or ctime of a scan file, or of anything in a scan folder (Unix seconds)."""
    if path.is_dir():
        return newest_change_s(path, ignore)
    try:
        stat = os.stat(path)
    except OSError:
        return 0.0
    return max(stat.st_mtime, stat.st_ctime)


class LooseIntake:
    """Settle clocks of the loose pairs below the watch roots; :meth:`scan` turns a due pass into a LooseScan."""

    def __init__(
        self,
        settle_s: float,
        recheck_s: float,
        *,
        ignore: Callable[[Path], bool],
        group_by: GroupBy = "sample_id",
        follow_links: bool = False,
    ) -> None:
        self.settle_s = settle_s
        self.recheck_s = recheck_s
        self.ignore = ignore
        self.group_by: GroupBy = group_by
        self.follow_links = follow_links
        self._due_s: float | None = None
        self._last_pass_s = float("-inf")
        self._seen: dict[Path, _Seen] = {}
        self._offered: dict[Path, tuple[Path, str]] = {}  # zoom -> (scout, fingerprint) in the job store

    def due_at(self, when_s: float) -> None:
        """Scan no later than ``when_s``."""
        self._due_s = when_s if self._due_s is None else min(self._due_s, when_s)

    def touch(self, now_s: float) -> None:
        """A file event outside pair folders: scan after the debounce."""
        self.due_at(max(now_s + EVENT_DEBOUNCE_S, self._last_pass_s + MIN_PASS_INTERVAL_S))

    def stop(self) -> None:
        """No further passes until :meth:`due_at` (``loose_files`` switched off)."""
        self._due_s = None

    def next_check_s(self) -> float | None:
        return self._due_s

    def offered(self, ready: ReadyPair) -> None:
        """The job store has this content (queued or unchanged): not offered again until it changes."""
        self._offered[ready.pair.zoom] = (ready.pair.scout, ready.fingerprint)

    def scan(self, roots: list[Path], now_s: float) -> LooseScan | None:
        """One pass over ``roots`` when due, else None."""
        if self._due_s is None or now_s < self._due_s:
            return None
        self._due_s, self._last_pass_s = None, now_s
        result = LooseScan()
        present: set[Path] = set()
        try:
            for root in roots:
                if root.is_dir():
                    self._scan_root(root, now_s, result, present)
        except BaseException:
            self.due_at(now_s + self.recheck_s)  # an unreadable folder, a bug: the main loop logs it
            raise
        for gone in set(self._seen) - present:
            del self._seen[gone]
        for gone in set(self._offered) - present:
            del self._offered[gone]
        if result.waiting:
            self.due_at(now_s + self.recheck_s)
        return result

    def _scan_root(self, root: Path, now_s: float, result: LooseScan, present: set[Path]) -> None:
        found = loose_pairs(root, self.ignore, group_by=self.group_by, follow_links=self.follow_links)
        for group in found.unpaired:
            if group.ambiguous:
                broken = group.key in found.broken
                result.reported.append(Reported(group.key, list(group.paths), group.reason, broken))
            else:
                result.waiting[group.paths[0] if len(group.paths) == 1 else Path(group.key)] = group.reason
        for pair in found.pairs:
            present.add(pair.zoom)
            try:
                fingerprint = sources_fingerprint(pair, FingerprintCache())  # head+tail reads: no cache to grow
            except OSError as error:
                result.waiting[pair.zoom] = f"cannot be read yet ({error})"
                continue
            if self._offered.get(pair.zoom) == (pair.scout, fingerprint):
                continue
            newest = min(now_s, max(_newest_change_s(p, self.ignore) for p in (pair.scout, pair.zoom)))
            seen = self._seen.get(pair.zoom)
            if seen is None:
                last_change = newest  # found at start-up or just appeared: its files say how old it is
            elif seen.fingerprint != fingerprint or seen.scout != pair.scout:
                last_change = now_s
            else:
                last_change = max(seen.last_change_s, newest)
            self._seen[pair.zoom] = _Seen(pair.scout, fingerprint, last_change)
            if now_s - last_change >= self.settle_s:
                result.ready.append(ReadyPair(root, pair, fingerprint))
            else:
                result.waiting[pair.zoom] = "settling"
                self.due_at(last_change + self.settle_s)
