"""Progress events: how stages report what they do without knowing who listens.

Stages take an optional ``progress`` callback and call it with
:class:`ProgressEvent` values. The CLI turns them into progress bars, the daemon
into structured logs and Prometheus metrics. A stage must never depend on a
listener being present: use :func:`emit` with ``None`` freely.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

EventKind = Literal["stage_started", "progress", "stage_finished", "metric", "message"]


@dataclass(frozen=True)
class ProgressEvent:
    """One thing that happened in a stage.

    ``done``/``total`` count work units (slabs, iterations, tiles) for
    ``progress`` events; ``values`` carries figures (``loss``, ``seconds``,
    ``voxels``...) in base units.
    """

    stage: str
    kind: EventKind
    done: int | None = None
    total: int | None = None
    values: dict[str, float] = field(default_factory=dict)
    message: str = ""


ProgressCallback = Callable[[ProgressEvent], None]


def emit(progress: ProgressCallback | None, event: ProgressEvent) -> None:
    """Send ``event`` to ``progress`` if there is a listener."""
    if progress is not None:
        progress(event)


def step(progress: ProgressCallback | None, stage: str, done: int, total: int, **values: float) -> None:
    """Shorthand for a ``progress`` event."""
    emit(progress, ProgressEvent(stage=stage, kind="progress", done=done, total=total, values=values))


def fanout(*listeners: ProgressCallback | None) -> ProgressCallback:
    """One callback that forwards every event to each non-None listener."""
    active = [listener for listener in listeners if listener is not None]

    def forward(event: ProgressEvent) -> None:
        for listener in active:
            listener(event)

    return forward


class CancelToken:
    """Cooperative cancellation: the daemon sets it, long loops check it."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self, where: str) -> None:
        from models.errors import Cancelled

        if self._event.is_set():
            raise Cancelled(f"cancelled during {where}")
