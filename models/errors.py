"""The root error hierarchy of the whole project (the ground floor: every package may import it).

Every error raised on bad input or a failed stage is a :class:`ScoutzoomError`,
so callers (the CLI, the daemon) can catch one type and report the message,
which always names the file, field, page or stage concerned. Errors that only
the processing stages raise live in :mod:`pipeline.errors`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError


class ScoutzoomError(Exception):
    """Root of all project errors."""


class InputError(ScoutzoomError):
    """Bad input data or metadata; the message names the file and the problem."""

    def __init__(self, path: Path | str | None, problem: str) -> None:
        self.path = Path(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path is not None else problem)


class ConfigError(ScoutzoomError):
    """A configuration file or value is invalid; lists every problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


class StageError(ScoutzoomError):
    """A processing stage failed; carries the stage name and figures so far."""

    def __init__(self, stage: str, message: str, figures: dict[str, Any] | None = None) -> None:
        self.stage = stage
        self.message = message
        self.figures = dict(figures or {})
        super().__init__(f"[{stage}] {message}")


class TrainingError(StageError):
    def __init__(self, message: str, figures: dict[str, Any] | None = None) -> None:
        super().__init__("train", message, figures)


class BackendUnavailable(ScoutzoomError):
    """An optional backend (GPU reconstruction, TensorRT, ...) cannot be used; says why."""


class Cancelled(ScoutzoomError):
    """Processing was asked to stop (graceful shutdown); the job is re-queued."""


def validation_problems(error: ValidationError) -> list[str]:
    """Every problem of a pydantic error as ``field.path: message`` (an unknown key says so)."""
    lines = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"{path}: {message}")
    return lines


def format_validation_error(error: ValidationError) -> str:
    """:func:`validation_problems` joined into one line."""
    return "; ".join(validation_problems(error))
