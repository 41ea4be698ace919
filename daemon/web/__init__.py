"""The daemon's HTTP side: ``/metrics`` and the read-only status page (``/status``, ``/status.json``)."""

from daemon.web.live import LiveStatus
from daemon.web.server import StatusServer
from daemon.web.view import StatusSources, build_status

__all__ = ["LiveStatus", "StatusServer", "StatusSources", "build_status"]
