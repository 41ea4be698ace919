"""A real ``scoutzoom watch`` process serves the status page beside /metrics (skips until the service wires it)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.daemon.conftest import wait_for
from tests.daemon.pairs import make_pair


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def test_watch_serves_status_and_metrics_on_one_port(daemon_process) -> None:
    daemon = daemon_process(settle_s=0.5)
    daemon.start()
    status, body = _get(daemon.port, "/status.json")
    if status != 200 or not body.startswith(b"{"):  # prometheus_client's own server answers every path with metrics
        pytest.skip("daemon/service.py does not serve daemon.web yet (see the wiring in issue 19)")
    pair = make_pair(daemon.root / "lab" / "sample-1", fake={"stage_s": 0.05}, ready_file=True)
    wait_for(lambda: (daemon.out / "lab" / "sample-1" / "DONE").exists(), 20, "outputs")

    def done_row() -> dict | None:
        rows = json.loads(_get(daemon.port, "/status.json")[1])["jobs"]
        return next((r for r in rows if r["pair"] == str(pair) and r["state"] == "done"), None)

    wait_for(done_row, 10, "a done row for the pair")
    row = done_row()
    assert row is not None and row["name"] == "lab/sample-1" and row["report_json_url"].endswith("/report.json")
    assert _get(daemon.port, row["report_json_url"])[0] == 200
    code, page = _get(daemon.port, "/status")
    assert code == 200 and b"lab/sample-1" in page
    assert b"scoutzoom_jobs_total" in _get(daemon.port, "/metrics")[1]
