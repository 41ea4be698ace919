"""Whether a path stays inside a root once symbolic links are resolved.

The one guard behind both "a pair reached through a link leaving the watch
root is refused" (:mod:`daemon.watcher`) and "an output folder that leads
outside its root through a link is never written" (:mod:`daemon.worker`).
"""

from __future__ import annotations

import os
from pathlib import Path


def link_escape(path: Path, root: Path, *, hint: str = "") -> str | None:
    """Why ``path`` must not be used below ``root`` (it cannot be resolved, or resolves outside ``root`` through a
    link), with ``hint`` appended; None when it resolves to ``root`` or below it."""
    try:
        resolved = Path(os.path.realpath(path))
        inside = Path(os.path.realpath(root))
    except (OSError, RuntimeError) as error:
        return f"{path} cannot be resolved ({error}){hint}"
    if resolved != inside and inside not in resolved.parents:
        return f"{path} leads outside {root} through a symbolic link{hint}"
    return None
