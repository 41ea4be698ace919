"""Persistent job store: one SQLite file in WAL mode.

A job is one pair: ``queued -> running(stage) -> done | failed``, with attempts
and timestamps (Unix seconds). A pair is identified by its path and the
fingerprint of its content, so it is processed once, and again only when the
content changes (or on ``scoutzoom retry``). A loose pair (two scans paired by
metadata, no pair folder) is keyed by its zoom's path and also stores its
scout's (``scout``; NULL for a pair folder). Pairs that are watched but not
ready yet (waiting, stalled) live in a second table for ``scoutzoom status``;
``FAILED.json`` files that could not be written (output disk full) wait in a
third until the daemon can write them; loose scan groups that are reported and
never processed (ambiguous, unreadable) are a fourth. Older stores are migrated
in place when opened (columns added, nothing rewritten: a DONE pair folder stays
DONE). The daemon's worker threads share one
connection behind a lock. A file that is not a usable SQLite database raises
:class:`StoreError` with what to do, not a traceback.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from models.errors import ScoutzoomError

JobState = Literal["queued", "running", "done", "failed"]
STATES: tuple[JobState, ...] = ("queued", "running", "done", "failed")
OfferResult = Literal["queued", "unchanged", "busy"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pair TEXT NOT NULL UNIQUE,
    root TEXT NOT NULL,
    out_dir TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    stage TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    force INTEGER NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    created_s REAL NOT NULL,
    updated_s REAL NOT NULL,
    started_s REAL,
    finished_s REAL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, id);
CREATE TABLE IF NOT EXISTS unwritten_failures (
    pair TEXT PRIMARY KEY,
    out_dir TEXT NOT NULL,
    body TEXT NOT NULL,
    since_s REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pending (
    pair TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    stalled INTEGER NOT NULL DEFAULT 0,
    since_s REAL NOT NULL,
    updated_s REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS unpaired (
    key TEXT PRIMARY KEY,
    paths TEXT NOT NULL,
    reason TEXT NOT NULL,
    broken INTEGER NOT NULL DEFAULT 0,
    since_s REAL NOT NULL,
    updated_s REAL NOT NULL
);
"""
# columns added after the first release: (table, column, declaration); added when missing
_MIGRATIONS = (("jobs", "scout", "TEXT"),)


def _migrate(db: sqlite3.Connection) -> None:
    """Add the columns an older store lacks (nullable, so existing rows keep their meaning)."""
    for table, column, declaration in _MIGRATIONS:
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})").fetchall()}
        if column not in columns:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")


class StoreError(ScoutzoomError):
    """The job store cannot be opened or used; the message names the file and what to do."""


class UnwrittenFailure(BaseModel):
    """A ``FAILED.json`` the daemon could not write yet: its folder and its :func:`write_failed` arguments (JSON)."""

    pair: Path
    out_dir: Path
    body: str
    since_s: float


class Job(BaseModel):
    """One row of the ``jobs`` table; ``pair`` is the pair folder, or the zoom of a loose pair (``scout`` set)."""

    id: int
    pair: Path
    scout: Path | None = None
    root: Path
    out_dir: Path
    fingerprint: str
    state: JobState
    stage: str | None = None
    attempts: int = 0
    force: bool = False
    message: str = ""
    created_s: float
    updated_s: float
    started_s: float | None = None
    finished_s: float | None = None


class Pending(BaseModel):
    """A watched pair that is not ready: why, and whether it is stalled."""

    pair: Path
    reason: str
    stalled: bool
    since_s: float
    updated_s: float


class Unpaired(BaseModel):
    """A loose scan group reported and not processed: ambiguous pairing, or an unreadable file (``broken``)."""

    key: str
    paths: list[Path]
    reason: str
    broken: bool
    since_s: float
    updated_s: float


class JobStore:
    """Jobs and pending pairs in SQLite (WAL); safe to share between threads of one process."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # autocommit; multi-statement changes use explicit BEGIN IMMEDIATE
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"{self.path}: cannot open the job store ({error})") from None
        try:
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            _migrate(self._db)
            self._db.execute("SELECT id, pair, fingerprint, state, attempts FROM jobs LIMIT 1").fetchall()
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise StoreError(
                f"{self.path}: not a usable job store ({error}); move it aside (the daemon then starts with an "
                "empty store and finds the pairs again; done pairs are recognised by their DONE files)"
            ) from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- helpers ---------------------------------------------------------------
    def _one(self, sql: str, args: tuple = ()) -> Job | None:
        row = self._db.execute(sql, args).fetchone()
        return Job(**dict(row)) if row is not None else None

    def _write(self, sql: str, args: tuple = ()) -> int:
        with self._lock:
            return self._db.execute(sql, args).rowcount

    def journal_mode(self) -> str:
        with self._lock:
            return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])

    # -- jobs --------------------------------------------------------------------
    def get(self, pair: Path) -> Job | None:
        with self._lock:
            return self._one("SELECT * FROM jobs WHERE pair = ?", (str(pair),))

    def get_id(self, job_id: int) -> Job | None:
        with self._lock:
            return self._one("SELECT * FROM jobs WHERE id = ?", (job_id,))

    def offer(
        self,
        pair: Path,
        root: Path,
        out_dir: Path,
        fingerprint: str,
        now_s: float,
        *,
        legacy_fingerprint: str | None = None,
        scout: Path | None = None,
    ) -> tuple[OfferResult, Job | None]:
        """A ready pair: queue it if new or if its content changed since its last job.

        ``unchanged``: already known with this content; ``busy``: it changed while running, offer it again later.
        ``legacy_fingerprint``: the same content as the old (v1) fingerprint saw it; a job stored with it is
        unchanged and takes the new fingerprint (no reprocessing after an upgrade). ``scout``: a loose pair's
        scout (``pair`` is its zoom); a new scout for the same zoom is new content.
        """
        scout_text = str(scout) if scout is not None else None
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                job = self._one("SELECT * FROM jobs WHERE pair = ?", (str(pair),))
                if (
                    job is not None
                    and legacy_fingerprint
                    and job.fingerprint == legacy_fingerprint
                    and job.state != "running"
                ):
                    self._db.execute("UPDATE jobs SET fingerprint=? WHERE id=?", (fingerprint, job.id))
                    job = job.model_copy(update={"fingerprint": fingerprint})
                if job is None:
                    self._db.execute(
                        "INSERT INTO jobs (pair, scout, root, out_dir, fingerprint, state, created_s, updated_s)"
                        " VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)",
                        (str(pair), scout_text, str(root), str(out_dir), fingerprint, now_s, now_s),
                    )
                elif (job.fingerprint == fingerprint and job.scout == scout) or job.state == "running":
                    self._db.execute("COMMIT")
                    return ("unchanged" if job.fingerprint == fingerprint else "busy"), job
                else:
                    self._db.execute(
                        "UPDATE jobs SET state='queued', stage=NULL, fingerprint=?, scout=?, root=?, out_dir=?,"
                        " attempts=0, force=?, message='content changed', updated_s=?, started_s=NULL,"
                        " finished_s=NULL WHERE id=?",
                        (
                            fingerprint,
                            scout_text,
                            str(root),
                            str(out_dir),
                            int(job.state != "queued" or job.force),
                            now_s,
                            job.id,
                        ),
                    )
                self._db.execute("DELETE FROM pending WHERE pair = ?", (str(pair),))
                queued = self._one("SELECT * FROM jobs WHERE pair = ?", (str(pair),))
                self._db.execute("COMMIT")
                return "queued", queued
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def record_failed(
        self, pair: Path, root: Path, out_dir: Path, fingerprint: str, message: str, now_s: float
    ) -> None:
        """A pair failed before it became a job (READY but incomplete): remember it as failed."""
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (pair, root, out_dir, fingerprint, state, stage, message,"
                " created_s, updated_s, finished_s)"
                " VALUES (?, ?, ?, ?, 'failed', 'check', ?, ?, ?, ?)"
                " ON CONFLICT(pair) DO UPDATE SET state='failed', stage='check', fingerprint=excluded.fingerprint,"
                " message=excluded.message, updated_s=excluded.updated_s, finished_s=excluded.finished_s",
                (str(pair), str(root), str(out_dir), fingerprint, message, now_s, now_s, now_s),
            )
            self._db.execute("DELETE FROM pending WHERE pair = ?", (str(pair),))

    def claim(self, now_s: float) -> Job | None:
        """The oldest queued job, now ``running`` with one more attempt; None if the queue is empty."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                job = self._one("SELECT * FROM jobs WHERE state='queued' ORDER BY updated_s, id LIMIT 1")
                if job is not None:
                    self._db.execute(
                        "UPDATE jobs SET state='running', stage=NULL, attempts=attempts+1, started_s=?, updated_s=?"
                        " WHERE id=?",
                        (now_s, now_s, job.id),
                    )
                    job = self._one("SELECT * FROM jobs WHERE id=?", (job.id,))
                self._db.execute("COMMIT")
                return job
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def set_stage(self, job_id: int, stage: str, now_s: float) -> None:
        self._write("UPDATE jobs SET stage=?, updated_s=? WHERE id=? AND state='running'", (stage, now_s, job_id))

    def finish(self, job_id: int, state: Literal["done", "failed"], message: str, now_s: float) -> None:
        self._write(
            "UPDATE jobs SET state=?, message=?, force=0, updated_s=?, finished_s=? WHERE id=?",
            (state, message, now_s, now_s, job_id),
        )

    def requeue(self, job_id: int, message: str, now_s: float, *, count_attempt: bool = False) -> None:
        """Back to ``queued`` (graceful stop); the attempt does not count unless asked.

        Only a running job is re-queued, so a second request (the main loop abandoning the job and its
        thread then raising ``Cancelled``) changes nothing: attempts never go below zero.
        """
        self._write(
            "UPDATE jobs SET state='queued', stage=NULL, message=?, updated_s=?, attempts=MAX(attempts-?, 0)"
            " WHERE id=? AND state='running'",
            (message, now_s, 0 if count_attempt else 1, job_id),
        )

    def interrupted(self, job_id: int, max_attempts: int, why: str, now_s: float) -> Job | None:
        """A running job whose worker died (Dask worker killed, node gone): what :meth:`recover` does at start-up.

        The attempt counts: re-queued, or failed once it has been interrupted ``max_attempts`` times. Only a
        running job changes; the job as it is now (None if unknown).
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                job = self._one("SELECT * FROM jobs WHERE id=? AND state='running'", (job_id,))
                if job is not None and job.attempts >= max_attempts:
                    message = f"interrupted {job.attempts} times ({why} during this pair)"
                    self._db.execute(
                        "UPDATE jobs SET state='failed', message=?, updated_s=?, finished_s=? WHERE id=?",
                        (message, now_s, now_s, job_id),
                    )
                elif job is not None:
                    self._db.execute(
                        "UPDATE jobs SET state='queued', message=?, updated_s=? WHERE id=?",
                        (f"interrupted ({why}); re-queued", now_s, job_id),
                    )
                current = self._one("SELECT * FROM jobs WHERE id=?", (job_id,))
                self._db.execute("COMMIT")
                return current
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def recover(self, max_attempts: int, now_s: float) -> tuple[list[Job], list[Job]]:
        """At start-up: jobs left ``running`` were interrupted; re-queue them, or fail those interrupted too often."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs WHERE state='running'").fetchall()
            jobs = [Job(**dict(row)) for row in rows]
            requeued, failed = [], []
            for job in jobs:
                if job.attempts >= max_attempts:
                    message = f"interrupted {job.attempts} times (the process died during this pair)"
                    self._db.execute(
                        "UPDATE jobs SET state='failed', message=?, updated_s=?, finished_s=? WHERE id=?",
                        (message, now_s, now_s, job.id),
                    )
                    failed.append(job.model_copy(update={"state": "failed", "message": message}))
                else:
                    self._db.execute(
                        "UPDATE jobs SET state='queued', message='interrupted; re-queued', updated_s=? WHERE id=?",
                        (now_s, job.id),
                    )
                    requeued.append(job.model_copy(update={"state": "queued"}))
            return requeued, failed

    def retry(self, pair: Path, now_s: float) -> Job | None:
        """``scoutzoom retry``: queue a known pair again from scratch; None if the pair is unknown."""
        changed = self._write(
            "UPDATE jobs SET state='queued', stage=NULL, attempts=0, force=1, message='retry requested',"
            " updated_s=?, started_s=NULL, finished_s=NULL WHERE pair=? AND state != 'running'",
            (now_s, str(pair)),
        )
        return self.get(pair) if changed else None

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        counts = {state: 0 for state in STATES}
        counts.update({row[0]: row[1] for row in rows})
        return counts

    def recent(self, limit: int = 20) -> list[Job]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs ORDER BY updated_s DESC, id DESC LIMIT ?", (limit,)).fetchall()
        return [Job(**dict(row)) for row in rows]

    def last_done_s(self) -> float | None:
        """When a job last finished done (Unix s; a pair found already done counts), or None if none did."""
        with self._lock:
            row = self._db.execute("SELECT MAX(finished_s) FROM jobs WHERE state='done'").fetchone()
        return float(row[0]) if row is not None and row[0] is not None else None

    def running(self) -> list[Job]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs WHERE state='running' ORDER BY id").fetchall()
        return [Job(**dict(row)) for row in rows]

    # -- FAILED.json files not written yet -------------------------------------------
    def record_unwritten(self, pair: Path, out_dir: Path, body: str, now_s: float) -> None:
        self._write(
            "INSERT INTO unwritten_failures (pair, out_dir, body, since_s) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(pair) DO UPDATE SET out_dir=excluded.out_dir, body=excluded.body",
            (str(pair), str(out_dir), body, now_s),
        )

    def unwritten(self) -> list[UnwrittenFailure]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM unwritten_failures ORDER BY since_s").fetchall()
        return [UnwrittenFailure(**dict(row)) for row in rows]

    def clear_unwritten(self, pair: Path) -> None:
        self._write("DELETE FROM unwritten_failures WHERE pair = ?", (str(pair),))

    # -- pending pairs -------------------------------------------------------------
    def set_pending(self, pair: Path, reason: str, stalled: bool, now_s: float) -> None:
        self._write(
            "INSERT INTO pending (pair, reason, stalled, since_s, updated_s) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(pair) DO UPDATE SET reason=excluded.reason, stalled=excluded.stalled,"
            " updated_s=excluded.updated_s",
            (str(pair), reason, int(stalled), now_s, now_s),
        )

    def clear_pending(self, pair: Path) -> None:
        self._write("DELETE FROM pending WHERE pair = ?", (str(pair),))

    def pending(self) -> list[Pending]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM pending ORDER BY since_s").fetchall()
        return [Pending(**dict(row)) for row in rows]

    # -- loose scan groups reported, not processed ----------------------------------------
    def replace_unpaired(self, groups: list[tuple[str, list[Path], str, bool]], now_s: float) -> None:
        """The reported groups (key, paths, reason, broken) as of the latest loose scan; a group kept with the
        same reason keeps its ``since_s``; groups not listed are removed."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                keys = [key for key, _, _, _ in groups]
                self._db.execute(f"DELETE FROM unpaired WHERE key NOT IN ({', '.join('?' * len(keys))})", tuple(keys))
                for key, paths, reason, broken in groups:
                    self._db.execute(
                        "INSERT INTO unpaired (key, paths, reason, broken, since_s, updated_s)"
                        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET paths=excluded.paths,"
                        " since_s=CASE WHEN reason=excluded.reason THEN since_s ELSE excluded.since_s END,"
                        " reason=excluded.reason, broken=excluded.broken, updated_s=excluded.updated_s",
                        (key, json.dumps([str(p) for p in paths]), reason, int(broken), now_s, now_s),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def unpaired(self) -> list[Unpaired]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM unpaired ORDER BY since_s, key").fetchall()
        return [Unpaired(**{**dict(row), "paths": json.loads(row["paths"])}) for row in rows]
