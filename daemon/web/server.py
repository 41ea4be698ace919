"""The daemon's one HTTP listener: ``/metrics`` for Prometheus and the read-only status page beside it.

Routes (GET and HEAD only; nothing here changes state):

- ``/metrics``: the Prometheus text format;
- ``/status``: the page; ``/status/fragment``: its live part; ``/status.json``: the data behind it;
- ``/pairs/<job id>/<name>``: a pair's ``report.html``, ``report.json``, ``FAILED.json`` or preview PNG,
  read-only from the job's output folder (:mod:`daemon.web.files`).

It binds 127.0.0.1 unless configured otherwise and answers from a pool of
daemon threads, so a slow client never blocks the service's main loop.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from daemon.logs import get_logger
from daemon.web import files, page
from daemon.web.view import StatusSources, build_status

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# a served report.html is self-contained: no script, no request leaves the page
REPORT_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
PAGE_POLICY = "default-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "scoutzoom"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Quiet: a status page polled every few seconds must not fill the journal."""

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _not_allowed(self) -> None:
        self._send(
            HTTPStatus.METHOD_NOT_ALLOWED, b"read-only\n", "text/plain; charset=utf-8", True, {"Allow": "GET, HEAD"}
        )

    do_POST = do_PUT = do_DELETE = do_PATCH = _not_allowed

    def _send(
        self, status: HTTPStatus, data: bytes, ctype: str, body: bool, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _answer(self, body: bool) -> None:
        path = urlsplit(self.path).path
        try:
            status, data, ctype, extra = self.server.route(path)
        except Exception:  # noqa: BLE001 - a bug in a view must not take the listener down
            get_logger().exception("status page failed", path=path)
            status, data, ctype, extra = HTTPStatus.INTERNAL_SERVER_ERROR, b"internal error\n", "text/plain", {}
        try:
            self._send(status, data, ctype, body, extra)
        except (BrokenPipeError, ConnectionResetError):
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: StatusServer) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        super().__init__(address, _Handler)

    def route(self, path: str) -> tuple[HTTPStatus, bytes, str, dict[str, str]]:
        return self.app.route(path)


class StatusServer:
    """``/metrics`` and the status page on one address; ``serve()`` starts it, ``shutdown()`` stops it."""

    def __init__(self, sources: StatusSources, exposition: Callable[[], bytes]) -> None:
        self.sources = sources
        self.exposition = exposition
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def serve(self, address: str, port: int) -> StatusServer:
        """Bind ``address:port`` (0: any free port) and answer in a daemon thread; returns self."""
        self._server = _Server((address, port), self)
        self._thread = threading.Thread(target=self._server.serve_forever, name="http", daemon=True)
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        assert self._server is not None, "not serving"
        return int(self._server.server_address[1])

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- routes -----------------------------------------------------------------------
    def route(self, path: str) -> tuple[HTTPStatus, bytes, str, dict[str, str]]:
        """Status, body, content type and extra headers for ``path``."""
        html = "text/html; charset=utf-8"
        if path == "/metrics":
            return HTTPStatus.OK, self.exposition(), METRICS_CONTENT_TYPE, {}
        if path in ("/", "/status/"):
            return HTTPStatus.FOUND, b"", "text/plain", {"Location": "/status"}
        if path == "/status":
            return (
                HTTPStatus.OK,
                page.page(build_status(self.sources)).encode(),
                html,
                {"Content-Security-Policy": PAGE_POLICY},
            )
        if path == "/status/fragment":
            return HTTPStatus.OK, page.fragment(build_status(self.sources)).encode(), html, {}
        if path == "/status.json":
            return HTTPStatus.OK, build_status(self.sources).model_dump_json(indent=1).encode(), "application/json", {}
        if path.startswith("/pairs/"):
            return self._pair_file(path.removeprefix("/pairs/"))
        return HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", {}

    def _pair_file(self, rest: str) -> tuple[HTTPStatus, bytes, str, dict[str, str]]:
        missing = (HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", {})
        job_id, _, name = rest.partition("/")
        if not job_id.isdigit() or not files.servable_name(name):
            return missing
        job = self.sources.store.get_id(int(job_id))
        if job is None:
            return missing
        path = files.resolve(job.out_dir, name, self.sources.allowed_root(job))
        data = files.read_bounded(path) if path is not None else None
        if data is None:
            return missing
        extra = {"Content-Security-Policy": REPORT_POLICY} if name.endswith(".html") else {}
        return HTTPStatus.OK, data, files.content_type(name), extra
