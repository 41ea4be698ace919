"""File events from the watch roots, filtered down to "something changed in this pair".

watchdog's inotify observer by default; a polling observer for network shares
(inotify sees nothing there). Noise is dropped at the source: opened /
closed-without-write events, hidden and temporary files, and our own outputs.
The handler only queues paths and wakes the main loop; everything else happens
in the main loop's thread.

Links: a pair reached through a symbolic link is used only when the link's
target lies inside the same watch root (unless ``follow_links``), and the same
rule applies to pairs found at start-up and to pairs that appear while running;
a refused one is reported through ``refused`` (logged), never silently dropped.

Loose scans (vendor files, volume files, scan folders outside ``scout/`` +
``zoom/``) are paired by their metadata in :func:`loose_pairs`; the service
calls it (``watch.loose_files``) through :mod:`daemon.loose`.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import EVENT_TYPE_CLOSED_NO_WRITE, EVENT_TYPE_OPENED, FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from daemon.links import link_escape
from pipeline.acquisition.completeness import is_pair_dir
from pipeline.acquisition.formats.pairing import GroupBy, UnpairedGroup
from pipeline.pair.sources import PairSources

NOISE_EVENTS = frozenset({EVENT_TYPE_OPENED, EVENT_TYPE_CLOSED_NO_WRITE})
TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".swp", ".crdownload", "~")


def is_temporary_name(name: str) -> bool:
    """Hidden files, our atomic writer's ``.name.tmp-*`` and common copy-tool temporaries."""
    return name.startswith(".") or name.endswith(TEMP_SUFFIXES)


@dataclass(frozen=True)
class Change:
    """Something happened at ``path`` below watch root ``root``."""

    root: Path
    path: Path
    is_directory: bool


class _Handler(FileSystemEventHandler):
    def __init__(self, root: Path, sink: Callable[[Change], None], ignore: Callable[[Path], bool]) -> None:
        self.root = root
        self.sink = sink
        self.ignore = ignore

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in NOISE_EVENTS:
            return
        paths = [event.src_path, getattr(event, "dest_path", "")]
        for raw in paths:
            if not raw:
                continue
            path = Path(raw if isinstance(raw, str) else raw.decode())
            try:
                parts = path.relative_to(self.root).parts
            except ValueError:
                continue
            if any(is_temporary_name(part) for part in parts) or self.ignore(path):
                continue
            self.sink(Change(self.root, path, event.is_directory))


class Watcher:
    """Watches the roots recursively; :meth:`drain` returns what changed since the last call."""

    def __init__(
        self,
        roots: list[Path],
        kind: str,
        poll_interval_s: float,
        *,
        ignore: Callable[[Path], bool],
        wake: threading.Event,
    ) -> None:
        self.roots = roots
        self.kind = kind
        self.poll_interval_s = poll_interval_s
        self.ignore = ignore
        self.wake = wake
        self._changes: queue.SimpleQueue[Change] = queue.SimpleQueue()
        self._observer: BaseObserver | None = None

    def _sink(self, change: Change) -> None:
        self._changes.put(change)
        self.wake.set()

    def start(self) -> list[Path]:
        """Start watching; the roots that could not be watched (gone, unreadable) are returned, not fatal."""
        observer: BaseObserver = PollingObserver(timeout=self.poll_interval_s) if self.kind == "polling" else Observer()
        unwatched = []
        for root in self.roots:
            try:
                observer.schedule(_Handler(root, self._sink, self.ignore), str(root), recursive=True)
            except OSError:
                unwatched.append(root)
        observer.daemon = True
        observer.start()
        self._observer = observer
        return unwatched

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5.0)
            self._observer = None

    def drain(self) -> list[Change]:
        changes = []
        while True:
            try:
                changes.append(self._changes.get_nowait())
            except queue.Empty:
                return changes


Refused = Callable[[Path, str], None]
_FOLLOW_HINT = " (watch.follow_links = false)"


def find_pairs(
    root: Path, ignore: Callable[[Path], bool], *, follow_links: bool, refused: Refused, boundary: Path | None = None
) -> list[Path]:
    """Every pair at or below ``root``, descending into linked folders only when they stay inside ``boundary``
    (default ``root``) unless ``follow_links``; hidden folders skipped."""
    boundary = boundary or root
    pairs: list[Path] = []
    seen: set[str] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        real = os.path.realpath(folder)
        if real in seen:
            continue  # a link cycle, or the same folder reached twice
        seen.add(real)
        if folder != root and ignore(folder):
            continue
        if is_pair_dir(folder):
            pairs.append(folder)
            continue
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=True):
                continue
            path = Path(entry.path)
            if entry.is_symlink() and not follow_links:
                problem = link_escape(path, boundary, hint=_FOLLOW_HINT)
                if problem is not None:
                    if is_pair_dir(path):
                        refused(path, problem)
                    continue
            stack.append(path)
    return sorted(pairs)


def pairs_for_change(
    change: Change,
    ignore: Callable[[Path], bool],
    *,
    follow_links: bool = False,
    refused: Refused = lambda p, why: None,
) -> list[Path]:
    """The pair(s) a change concerns: the nearest pair at or above the path, else pairs below a new directory."""
    root = change.root
    path = change.path
    for candidate in [path, *path.parents]:
        if candidate != root and root not in candidate.parents:
            break
        if is_pair_dir(candidate) and not ignore(candidate):
            problem = None if follow_links else link_escape(candidate, root, hint=_FOLLOW_HINT)
            if problem is not None:
                refused(candidate, problem)
                return []
            return [candidate]
    if change.is_directory and path.is_dir():
        if not follow_links and link_escape(path, root) is not None:
            return []
        return find_pairs(path, ignore, follow_links=follow_links, refused=refused, boundary=root)  # a tree moved in
    return []


def scan_roots(
    roots: list[Path],
    ignore: Callable[[Path], bool],
    *,
    follow_links: bool = False,
    refused: Refused = lambda p, why: None,
) -> list[tuple[Path, Path]]:
    """(root, pair) for every pair below the roots: finds what arrived while the daemon was down."""
    found = []
    for root in roots:
        if root.is_dir():
            found.extend((root, pair) for pair in find_pairs(root, ignore, follow_links=follow_links, refused=refused))
    return found


@dataclass(frozen=True)
class LoosePairs:
    """What the pairing rule made of the loose scans below one root: pairs to process and groups that are not
    (waiting for a partner, still being written, or ambiguous: reported, never processed)."""

    pairs: list[PairSources]
    unpaired: list[UnpairedGroup]
    broken: frozenset[str] = frozenset()  # keys of the unpaired groups that are one unreadable file

    @property
    def ambiguous(self) -> list[UnpairedGroup]:
        return [group for group in self.unpaired if group.ambiguous]


def _is_output(path: Path, root: Path) -> bool:
    """Inside a folder that already holds a processed pair's outputs (``report.json``): never an input."""
    return any((folder / "report.json").is_file() for folder in [path, *path.parents] if root in folder.parents)


def loose_pairs(
    root: Path,
    ignore: Callable[[Path], bool],
    *,
    group_by: GroupBy = "sample_id",
    min_voxel_ratio: float = 1.5,
    fov_tolerance: float = 0.05,
    follow_links: bool = False,
) -> LoosePairs:
    """Scans of any format dropped below ``root`` outside ``scout/`` + ``zoom/`` folders, paired by metadata
    (:func:`pipeline.acquisition.formats.pairing.pair_scans`: same sample, the coarser voxel is the scout, the zoom
    inside the scout by the stage positions). Only completely written scans are summarised (headers only); a
    broken one is an ambiguous group of its own, with the reader's message."""
    from models.errors import ScoutzoomError
    from pipeline.acquisition.formats.completeness import check_source
    from pipeline.acquisition.formats.pairing import pair_scans
    from pipeline.acquisition.formats.registry import find_sources, summarise_source

    summaries, unpaired, broken = [], [], set()
    for source in find_sources(root):
        if ignore(source.path) or _is_output(source.path, root):
            continue
        if not follow_links and link_escape(source.path, root) is not None:
            continue
        completeness = check_source(source)
        if not completeness.complete:
            unpaired.append(
                UnpairedGroup(key=str(source.path), paths=[source.path], reason=str(completeness), ambiguous=False)
            )
            continue
        try:
            summaries.append(summarise_source(source))
        except (ScoutzoomError, OSError, ValueError) as error:
            unpaired.append(UnpairedGroup(key=str(source.path), paths=[source.path], reason=str(error), ambiguous=True))
            broken.add(str(source.path))
    result = pair_scans(summaries, group_by=group_by, min_voxel_ratio=min_voxel_ratio, fov_tolerance=fov_tolerance)
    pairs = [PairSources.from_paths(pair.scout, pair.zoom) for pair in result.pairs]
    return LoosePairs(pairs=pairs, unpaired=unpaired + result.unpaired, broken=frozenset(broken))
