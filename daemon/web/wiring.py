"""How the service plugs the status page in: one listener on its worker, one server on the metrics address.

Kept here so ``daemon/service.py`` needs one call (:func:`attach`) and the tests
wire an in-process daemon exactly as the service does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from daemon.metrics import build_version
from daemon.store import Job, JobStore
from daemon.web.live import LiveStatus
from daemon.web.server import StatusServer
from daemon.web.view import StatusSources


class ServiceLike(Protocol):
    """What :func:`attach` needs of :class:`daemon.service.Daemon`."""

    config: Any
    store: JobStore
    metrics: Any
    runner: Any

    def allowed_root(self, job: Job) -> Path: ...


def _places(daemon: ServiceLike) -> tuple[list[str], str | None]:
    """Watched roots and the output root of the daemon's current config (it may be reloaded)."""
    config = daemon.config
    output = None if config.pipeline.output.inside_pair else str(config.output_root)
    return [str(root) for root in config.watch.roots], output


def attach(daemon: ServiceLike, *, refresh_s: float = 5.0, port: int | None = None) -> StatusServer:
    """Subscribe a :class:`LiveStatus` to the daemon's jobs; serve ``/metrics`` and ``/status`` on the metrics port."""
    live = LiveStatus()
    daemon.runner.listeners.append(live)
    allowed: Callable[[Job], Path] = daemon.allowed_root
    sources = StatusSources(
        store=daemon.store,
        live=live,
        allowed_root=allowed,
        cache_dir=daemon.config.pipeline.cache.directory,
        version=build_version(),
        refresh_s=refresh_s,
        places=lambda: _places(daemon),
    )
    metrics = daemon.config.metrics
    return StatusServer(sources, daemon.metrics.exposition).serve(
        metrics.address, metrics.port if port is None else port
    )
