"""File events from the watch roots, filtered down to "something changed in this pair".

watchdog's inotify observer by default; a polling observer for network shares
(inotify sees nothing there). Noise is dropped at the source: opened /
closed-without-write events, hidden and temporary files, and our own outputs.
The handler only queues paths and wakes the main loop; everything else happens
in the main loop's thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import EVENT_TYPE_CLOSED_NO_WRITE, EVENT_TYPE_OPENED, FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from pipeline.acquisition.completeness import find_pairs, is_pair_dir

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

    def start(self) -> None:
        observer: BaseObserver = PollingObserver(timeout=self.poll_interval_s) if self.kind == "polling" else Observer()
        for root in self.roots:
            observer.schedule(_Handler(root, self._sink, self.ignore), str(root), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer

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


def pairs_for_change(change: Change, ignore: Callable[[Path], bool]) -> list[Path]:
    """The pair(s) a change concerns: the nearest pair at or above the path, else pairs below a new directory."""
    root = change.root
    path = change.path
    for candidate in [path, *path.parents]:
        if candidate != root and root not in candidate.parents:
            break
        if is_pair_dir(candidate) and not ignore(candidate):
            return [candidate]
    if change.is_directory and path.is_dir():
        return [pair for pair in find_pairs(path) if not ignore(pair)]  # a tree moved in at once
    return []


def scan_roots(roots: list[Path], ignore: Callable[[Path], bool]) -> list[tuple[Path, Path]]:
    """(root, pair) for every pair below the roots: finds what arrived while the daemon was down."""
    found = []
    for root in roots:
        if root.is_dir():
            found.extend((root, pair) for pair in find_pairs(root) if not ignore(pair))
    return found
