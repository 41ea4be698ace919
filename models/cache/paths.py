"""Where the model cache lives by default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def default_state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$SCOUTZOOM_STATE_DIR``, else ``$XDG_STATE_HOME/scoutzoom``, else ``~/.local/state/scoutzoom``."""
    env = os.environ if environ is None else environ
    if env.get("SCOUTZOOM_STATE_DIR"):
        return Path(env["SCOUTZOOM_STATE_DIR"]).expanduser()
    if env.get("XDG_STATE_HOME"):
        return Path(env["XDG_STATE_HOME"]).expanduser() / "scoutzoom"
    return Path.home() / ".local" / "state" / "scoutzoom"


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``<state dir>/models`` (see :func:`default_state_dir`)."""
    return default_state_dir(environ) / "models"


def resolve_cache_dir(configured: Path | None, environ: Mapping[str, str] | None = None) -> Path:
    """The configured directory (``--model-cache`` or ``[pipeline.cache] directory``) or the default."""
    return Path(configured).expanduser() if configured is not None else default_cache_dir(environ)
