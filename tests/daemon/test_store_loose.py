"""The job store with loose pairs: an older store is migrated in place, a loose job keeps its scout."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from daemon.store import JobStore

# the jobs table as stores written before loose pairs have it (no ``scout`` column)
OLD_JOBS = """
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, pair TEXT NOT NULL UNIQUE, root TEXT NOT NULL, out_dir TEXT NOT NULL,
    fingerprint TEXT NOT NULL, state TEXT NOT NULL, stage TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    force INTEGER NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '', created_s REAL NOT NULL,
    updated_s REAL NOT NULL, started_s REAL, finished_s REAL
);
INSERT INTO jobs (pair, root, out_dir, fingerprint, state, attempts, created_s, updated_s, finished_s)
VALUES ('/in/p', '/in', '/out/p', 'v2:abc', 'done', 1, 1.0, 2.0, 2.0);
"""


def test_an_old_store_is_migrated_and_its_done_pair_folder_stays_done(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_JOBS)

    store = JobStore(path)
    try:
        result, job = store.offer(Path("/in/p"), Path("/in"), Path("/out/p"), "v2:abc", 10.0)
        assert result == "unchanged" and job is not None and job.state == "done" and job.scout is None
    finally:
        store.close()
    JobStore(path).close()  # opening a migrated store again changes nothing


def test_a_loose_job_keeps_its_scout_and_a_new_scout_for_the_zoom_queues_it_again(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    try:
        zoom, root, out = Path("/in/foam_zoom.nx"), Path("/in"), Path("/out/foam_zoom")
        assert store.offer(zoom, root, out, "f", 1.0, scout=Path("/in/a.txrm"))[0] == "queued"
        job = store.claim(2.0)
        assert job is not None and job.scout == Path("/in/a.txrm")
        store.finish(job.id, "done", "done", 3.0)

        assert store.offer(zoom, root, out, "f", 4.0, scout=Path("/in/a.txrm"))[0] == "unchanged"
        result, again = store.offer(zoom, root, out, "f", 5.0, scout=Path("/in/b.txrm"))

        assert result == "queued" and again is not None and again.scout == Path("/in/b.txrm") and again.force
    finally:
        store.close()


def test_reported_groups_are_replaced_by_the_latest_scan(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    try:
        store.replace_unpaired([("foam", [Path("/in/a"), Path("/in/b")], "3 scans", False)], 1.0)
        store.replace_unpaired([("foam", [Path("/in/a")], "3 scans", False), ("/in/x.nx", [], "bad", True)], 2.0)
        kept = {group.key: group for group in store.unpaired()}
        assert kept["foam"].since_s == 1.0 and kept["foam"].paths == [Path("/in/a")] and kept["/in/x.nx"].broken

        store.replace_unpaired([], 3.0)

        assert store.unpaired() == []
    finally:
        store.close()
