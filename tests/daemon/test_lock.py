"""One daemon per state folder: the lock, its holder's PID, and its release."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.lock import AlreadyRunning, StateLock
from tests.daemon.conftest import REPO


def test_a_second_lock_on_the_same_folder_names_the_holder(tmp_path: Path) -> None:
    first = StateLock(tmp_path)
    first.acquire()
    try:
        with pytest.raises(AlreadyRunning, match=rf"PID {os.getpid()}\) already uses this state folder"):
            StateLock(tmp_path).acquire()
    finally:
        first.release()
    again = StateLock(tmp_path)
    again.acquire()  # released: free again
    assert again.held
    again.release()


def test_the_lock_dies_with_its_process(tmp_path: Path) -> None:
    code = f"from daemon.lock import StateLock; StateLock({str(tmp_path)!r}).acquire(); import os; os._exit(0)"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
    lock = StateLock(tmp_path)
    lock.acquire()  # the dead holder's lock is gone even though it never released it
    lock.release()
