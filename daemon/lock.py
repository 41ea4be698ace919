"""One daemon per state folder: an exclusive OS lock on ``<state_dir>/daemon.lock``.

A second ``scoutzoom watch`` on the same state folder would re-queue the first
one's running job as "interrupted" and process the same pair into the same
output folder at the same time. The lock (``flock``, released by the kernel
when the process dies, even on ``kill -9``) is taken before the job store is
opened, so a second instance touches nothing: it exits with a message naming
the holder's PID, which the holder writes into the lock file.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from models.errors import ScoutzoomError

LOCK_FILE = "daemon.lock"


class AlreadyRunning(ScoutzoomError):
    """Another daemon holds the state folder's lock."""

    def __init__(self, lock_path: Path, holder: str) -> None:
        self.lock_path = lock_path
        self.holder = holder
        super().__init__(f"another scoutzoom watch (PID {holder}) already uses this state folder (lock {lock_path})")


class StateLock:
    """The exclusive lock of one state folder, held from :meth:`acquire` to :meth:`release`."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`AlreadyRunning` at once (never waits)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise AlreadyRunning(self.path, holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None
