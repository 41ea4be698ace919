"""Errors that only the processing stages raise; the root hierarchy is :mod:`models.errors`."""

from __future__ import annotations

from typing import Any

from models.errors import StageError


class ReconstructionError(StageError):
    def __init__(self, message: str, figures: dict[str, Any] | None = None) -> None:
        super().__init__("reconstruct", message, figures)


class RegistrationError(StageError):
    def __init__(self, message: str, figures: dict[str, Any] | None = None) -> None:
        super().__init__("register", message, figures)
