"""The one clock of record: timezone-aware UTC timestamps for cards, reports and markers."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Now, in UTC (aware, so it serialises with its offset)."""
    return datetime.now(UTC)
