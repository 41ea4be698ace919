"""Progress events: how library code reports what it does without knowing who listens.

Stages take an optional ``progress`` callback and call it with one of the typed
events below. The CLI turns them into progress bars, the daemon into structured
logs and Prometheus metrics (both subscribe by event type, never by decoding
strings). A stage must never depend on a listener being present: use
:func:`emit` with ``None`` freely.

Who sends what:

- :class:`StageStarted` / :class:`StageFinished`: only the stage runner
  (:class:`pipeline.pair.stages.StageRunner`), once per stage of a pair;
- :class:`StepProgress`: any long loop (slabs, tiles, optimiser steps); the
  runner relabels it with the stage it runs in;
- :class:`TrainingProgress`: the training loop (its loss);
- :class:`CacheDecided`: the model cache's decision for a pair;
- :class:`Assessed`: the trust verdict of a recovered pair;
- :class:`Message`: a line worth showing a person (a warning, a failure).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from models.errors import Cancelled

StageName = Literal[
    "check",
    "read",
    "reconstruct_zoom",
    "reconstruct_scout",
    "register",
    "calibrate",
    "baseline",
    "cache",
    "train",
    "reconstruct_output",
    "infer",
    "assess",
    "write",
]
STAGE_NAMES: tuple[StageName, ...] = StageName.__args__  # type: ignore[attr-defined]
CacheResult = Literal["hit", "miss", "rejected"]


@dataclass(frozen=True)
class ProgressEvent:
    """Base of every event: ``stage`` is the stage (or, before relabelling, the step) it belongs to."""

    kind: ClassVar[str] = "event"
    stage: str


@dataclass(frozen=True)
class StageStarted(ProgressEvent):
    kind: ClassVar[str] = "stage_started"


@dataclass(frozen=True)
class StageFinished(ProgressEvent):
    """A stage ended (successfully or not): wall time (s) and peak resident memory (MB) while it ran."""

    kind: ClassVar[str] = "stage_finished"
    seconds: float = 0.0
    peak_memory_mb: float | None = None


@dataclass(frozen=True)
class StepProgress(ProgressEvent):
    """``done`` of ``total`` work units (slabs, iterations, tiles); ``values`` carries figures in base units.

    ``step`` names the inner step (e.g. ``reconstruct``) when the runner has relabelled ``stage``.
    """

    kind: ClassVar[str] = "progress"
    done: int = 0
    total: int = 0
    values: dict[str, float] = field(default_factory=dict)
    step: str = ""


@dataclass(frozen=True)
class TrainingProgress(StepProgress):
    """One reported training iteration: training loss and, at validation points, the validation loss."""

    loss: float = float("nan")
    val_loss: float | None = None


@dataclass(frozen=True)
class CacheDecided(ProgressEvent):
    """What the model cache decided for a pair: ``hit`` (reuse ``model_id``), ``miss`` or ``rejected``."""

    kind: ClassVar[str] = "cache_decided"
    result: CacheResult = "miss"
    model_id: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class Assessed(ProgressEvent):
    """The trust verdict of a recovered pair, with the held-out PSNR gain over cubic upsampling (dB)."""

    kind: ClassVar[str] = "assessed"
    flagged: bool = False
    reasons: tuple[str, ...] = ()
    psnr_gain_db: float | None = None
    feature_recall: float | None = None


@dataclass(frozen=True)
class Message(ProgressEvent):
    """A line for a person (a warning, a rejected cache entry, a failure)."""

    kind: ClassVar[str] = "message"
    message: str = ""


ProgressCallback = Callable[[ProgressEvent], None]


def emit(progress: ProgressCallback | None, event: ProgressEvent) -> None:
    """Send ``event`` to ``progress`` if there is a listener."""
    if progress is not None:
        progress(event)


def step(progress: ProgressCallback | None, stage: str, done: int, total: int, **values: float) -> None:
    """Shorthand for a :class:`StepProgress` event."""
    if progress is not None:
        progress(StepProgress(stage=stage, done=done, total=total, values=values))


def training_step(
    progress: ProgressCallback | None, done: int, total: int, loss: float, val_loss: float | None = None
) -> None:
    """Shorthand for a :class:`TrainingProgress` event of the ``train`` step."""
    if progress is not None:
        values = {"loss": loss} if val_loss is None else {"loss": loss, "val_loss": val_loss}
        progress(TrainingProgress(stage="train", done=done, total=total, values=values, loss=loss, val_loss=val_loss))


def message(progress: ProgressCallback | None, stage: str, text: str) -> None:
    """Shorthand for a :class:`Message` event."""
    if progress is not None:
        progress(Message(stage=stage, message=text))


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
        if self._event.is_set():
            raise Cancelled(f"cancelled during {where}")
