"""Log lines reach journald with their priority: the sd-daemon prefix when the stream is the journal's."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from daemon.logs import configure_logging, get_logger


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()  # later tests must not write to this test's closed file


def log_lines(path: Path, fmt: str = "json") -> list[str]:
    """Configure logging onto the file at ``path``, log one line per level, return the lines written."""
    with path.open("w") as stream:
        configure_logging(fmt, "debug", stream=stream)
        log = get_logger(job_id=7)
        log.error("stage failed")
        log.warning("pair stalled")
        log.info("job started")
        log.debug("detail")
    return path.read_text().splitlines()


def journal_stream_of(path: Path) -> str:
    status = os.stat(path)
    return f"{status.st_dev}:{status.st_ino}"


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_lines_carry_the_sd_daemon_priority_when_the_stream_is_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    path = tmp_path / "journal"
    path.touch()
    monkeypatch.setenv("JOURNAL_STREAM", journal_stream_of(path))
    lines = log_lines(path, fmt)
    assert [line[:3] for line in lines] == ["<3>", "<4>", "<6>", "<7>"]
    assert "stage failed" in lines[0] and "job_id" in lines[0]


def test_no_prefix_without_journal_stream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    lines = log_lines(tmp_path / "log")
    assert len(lines) == 4 and all(line.startswith("{") for line in lines)


def test_no_prefix_when_the_inherited_journal_stream_is_another_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child of a service (say, run in a terminal pipe) inherits $JOURNAL_STREAM; its own stream is not it."""
    other = tmp_path / "journal"
    other.touch()
    monkeypatch.setenv("JOURNAL_STREAM", journal_stream_of(other))
    lines = log_lines(tmp_path / "log")
    assert len(lines) == 4 and all(line.startswith("{") for line in lines)
