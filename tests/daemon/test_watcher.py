"""Watcher: noise filtered out, events mapped to their pair, start-up scan."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from daemon.watcher import Change, Watcher, is_temporary_name, pairs_for_change, scan_roots
from tests.daemon.conftest import wait_for
from tests.daemon.pairs import make_pair


def never(_: Path) -> bool:
    return False


def test_temporary_names() -> None:
    assert is_temporary_name(".proj_00001.tif.tmp-abc")
    assert is_temporary_name("proj_00001.tif.part")
    assert not is_temporary_name("proj_00001.tif")


def test_changes_map_to_their_pair(tmp_path: Path) -> None:
    pair = make_pair(tmp_path / "a" / "p")
    assert pairs_for_change(Change(tmp_path, pair / "zoom" / "proj_00001.tif", False), never) == [pair]
    assert pairs_for_change(Change(tmp_path, tmp_path / "a", True), never) == [pair]  # a tree moved in
    assert pairs_for_change(Change(tmp_path, tmp_path / "other.txt", False), never) == []
    assert pairs_for_change(Change(tmp_path, pair / "scout" / "scan.json", False), lambda p: p == pair) == []
    assert scan_roots([tmp_path], never) == [(tmp_path, pair)]


def test_inotify_watcher_reports_writes_but_not_temporaries_or_ignored_paths(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    wake = threading.Event()
    watcher = Watcher([tmp_path], "auto", 0.2, ignore=lambda p: (tmp_path / "out") in [p, *p.parents], wake=wake)
    watcher.start()
    try:
        (tmp_path / ".hidden.tmp-1").write_text("x")
        (tmp_path / "out" / "DONE").write_text("")
        (tmp_path / "real.tif").write_text("x")
        wait_for(wake.is_set, 5, "an event")
        time.sleep(0.3)
        paths = {change.path for change in watcher.drain()}
    finally:
        watcher.stop()
    assert tmp_path / "real.tif" in paths
    assert not any(p.name.startswith(".") or "out" in p.parts[len(tmp_path.parts) :] for p in paths)


def test_polling_observer_sees_new_files(tmp_path: Path) -> None:
    wake = threading.Event()
    watcher = Watcher([tmp_path], "polling", 0.2, ignore=never, wake=wake)
    watcher.start()
    try:
        time.sleep(0.3)
        (tmp_path / "new.tif").write_text("x")
        wait_for(wake.is_set, 5, "a polled event")
        assert tmp_path / "new.tif" in {change.path for change in watcher.drain()}
    finally:
        watcher.stop()
