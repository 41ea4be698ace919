"""Terminal progress: one tqdm bar per stage, fed by pipeline progress events."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

from models.events import Message, ProgressEvent, StageFinished, StageStarted, StepProgress


class TerminalProgress:
    """A ProgressCallback drawing a bar per stage (plain lines when not on a terminal)."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.bar: tqdm | None = None
        self.bar_key: tuple[str, int | None] | None = None
        self.started: dict[str, float] = {}
        self.interactive = self.stream.isatty()

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
            self.bar_key = None

    def __call__(self, event: ProgressEvent) -> None:
        if isinstance(event, StageStarted):
            self._close_bar()
            self.started[event.stage] = time.perf_counter()
            print(f"[{event.stage}] started", file=self.stream, flush=True)
        elif isinstance(event, StepProgress) and event.total:
            key = (event.stage, event.total)
            if self.bar_key != key:
                self._close_bar()
                self.bar = tqdm(
                    total=event.total,
                    desc=f"  {event.stage}",
                    file=self.stream,
                    leave=False,
                    disable=not self.interactive,
                    dynamic_ncols=True,
                )
                self.bar_key = key
            assert self.bar is not None
            self.bar.n = event.done or 0
            if event.values:
                self.bar.set_postfix({k: f"{v:.4g}" for k, v in event.values.items()}, refresh=False)
            self.bar.refresh()
        elif isinstance(event, StageFinished):
            self._close_bar()
            print(f"[{event.stage}] done in {event.seconds:.1f} s", file=self.stream, flush=True)
        elif isinstance(event, Message) and event.message:
            self._close_bar()
            print(f"[{event.stage}] {event.message}", file=self.stream, flush=True)
