"""The status page served by a daemon run in the test: ``/status.json`` over HTTP, ``/status`` in headless Chromium.

The daemon runs in-process (its real main loop, watcher, store and worker
threads) with :mod:`tests.daemon.status_fake` as processor, wired to the page
with :func:`daemon.web.wiring.attach` as the service does. The browser test
needs Debian's ``chromium`` and the ``playwright`` package and skips, saying
which is missing, without them. Screenshots go to ``$SCOUTZOOM_SCREENSHOTS``
when set (else the test's temporary folder).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from daemon.config import DaemonConfig
from daemon.service import Daemon
from daemon.web.server import StatusServer
from daemon.web.wiring import attach
from tests.daemon import status_fake
from tests.daemon.conftest import wait_for
from tests.daemon.pairs import make_pair

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
KINDS = {"good": "trusted", "doubtful": "flagged", "broken": "fail", "long": "slow"}


@dataclass
class Running:
    daemon: Daemon
    server: StatusServer
    base: str
    root: Path

    def get(self, path: str) -> tuple[int, str, bytes]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=5) as response:
                return response.status, response.headers.get("Content-Type", ""), response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Content-Type", ""), error.read()

    def status(self) -> dict:
        return json.loads(self.get("/status.json")[2])


def _states(running: Running) -> dict[str, str]:
    return {row["name"]: row["state"] for row in running.status()["jobs"]}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A daemon with four pairs (trusted, flagged, failed, one held in training) and one stalled pair.

    Shared by the module's tests (in file order; the browser test, last, lets the held pair finish).
    """
    status_fake.RELEASE.clear()
    tmp_path = tmp_path_factory.mktemp("status")
    root = tmp_path / "in"
    root.mkdir()
    config = DaemonConfig.model_validate(
        {
            "state_dir": str(tmp_path / "state"),
            "watch": {"roots": [str(root)], "settle_s": 0.2, "stalled_after_s": 0.5, "poll_interval_s": 0.2},
            "jobs": {"concurrency": 4, "stop_timeout_s": 5},
            "pipeline": {"preset": "small"},
        }
    )
    daemon = Daemon(config, processor=status_fake.process_pair, serve_metrics=False)
    server = attach(daemon, refresh_s=0.5, port=0)
    _write_card(config.pipeline.cache.directory)
    for name, kind in KINDS.items():
        make_pair(root / name, fake={"kind": kind, "cache": "hit" if name == "good" else "miss"}, ready_file=True)
    make_pair(root / "half")  # a zoom projection still missing, no READY: waits, then stalls
    sorted((root / "half" / "zoom").glob("proj_*.tif"))[-1].unlink()
    thread = threading.Thread(target=daemon.run, name="daemon", daemon=True)
    thread.start()
    running = Running(daemon, server, f"http://127.0.0.1:{server.port}", root)
    try:
        wait_for(
            lambda: _states(running) == {"long": "running", "good": "done", "doubtful": "done", "broken": "failed"},
            30,
            "the four pairs to reach their states",
        )
        wait_for(lambda: any(w["stalled"] for w in running.status()["waiting"]), 15, "the half pair to stall")
        yield running
    finally:
        status_fake.RELEASE.set()
        daemon.request_stop()
        daemon.wake.set()
        thread.join(15)
        server.shutdown()


def _write_card(cache_dir: Path) -> None:
    """One cached model, as the cache writes its card."""
    from models.cache.card import AcquisitionConditions, ModelCard, ScanConditions
    from models.config import NetworkConfig
    from models.trained import Normalisation, ValidationFigures

    conditions = AcquisitionConditions(
        voltage_kv=80.0, current_ua=87, filter="LE2", objective="4X", binning=2, exposure_s=1.5
    )
    scout = ScanConditions(conditions=conditions, detector_shape=(64, 64), detector_pixel_mm=(0.2, 0.2), voxel_mm=0.03)
    zoom = ScanConditions(conditions=conditions, detector_shape=(64, 64), detector_pixel_mm=(0.2, 0.2), voxel_mm=0.01)
    card = ModelCard(
        scout=scout,
        zoom=zoom,
        voxel_ratio=3.0,
        sample_class="foam",
        network=NetworkConfig(slices=5, depth=2, base_filters=8).model_dump(),
        normalisation=Normalisation(offset=0.1, scale=2.0),
        validation=ValidationFigures(psnr_db=30.0, ssim=0.9, psnr_input_db=24.0, ssim_input=0.7),
    )
    (cache_dir / card.id).mkdir(parents=True)
    (cache_dir / card.id / "card.json").write_text(card.to_json())


def test_status_json_has_a_row_per_pair_with_figures_and_links(served: Running) -> None:
    body = served.status()
    rows = {row["name"]: row for row in body["jobs"]}
    assert set(rows) == set(KINDS)
    good, doubtful, broken, long = rows["good"], rows["doubtful"], rows["broken"], rows["long"]
    assert (good["verdict"], good["psnr_gain_db"], good["feature_recall"]) == ("trusted", 2.31, 0.96)
    assert doubtful["verdict"] == "flagged" and "PSNR gain" in doubtful["reasons"][0]
    assert (
        broken["message"] == "registration diverged"
        and broken["failure_url"] == f"/pairs/{broken['job_id']}/FAILED.json"
    )
    assert long["stage"] == "train" and 0 < long["fraction"] < 1 and long["attempts"] == 1
    assert long["eta_s"] is not None and long["eta_s"] > 0 and long["stage_elapsed_s"] > 0
    assert good["report_url"] == f"/pairs/{good['job_id']}/report.html"
    assert good["out_dir"] == str(served.daemon.config.output_root / "good")
    assert body["watching"] == [str(served.root)] and body["output_root"] == str(served.daemon.config.output_root)
    [stalled] = body["waiting"]
    assert stalled["pair"].endswith("half") and "zoom" in stalled["reason"]
    cache = body["cache"]
    assert len(cache["models"]) == 1 and cache["models"][0]["sample_class"] == "foam"
    assert cache["decisions"] == {"hit": 1, "miss": 2, "rejected": 0} and cache["hit_rate"] == pytest.approx(1 / 3)


def test_pair_files_are_served_read_only_and_nothing_else(served: Running) -> None:
    rows = {row["name"]: row for row in served.status()["jobs"]}
    status, ctype, data = served.get(rows["good"]["thumbnail_url"])
    assert status == 200 and ctype == "image/png" and data.startswith(b"\x89PNG")
    assert served.get(rows["good"]["report_url"])[0] == 200
    # a link in the output folder pointing out of the output root is not followed
    out_dir = Path(rows["good"]["out_dir"])
    secret = served.root / "secret.png"
    secret.write_bytes(status_fake.png_bytes())
    (out_dir / "previews" / "leak.png").symlink_to(secret)
    job = rows["good"]["job_id"]
    for path in (
        f"/pairs/{job}/previews/leak.png",
        f"/pairs/{job}/recovered.ome.tif",
        f"/pairs/{job}/../../secret.png",
        "/pairs/9999/report.json",
        "/etc/passwd",
    ):
        assert served.get(path)[0] == 404, path
    request = urllib.request.Request(served.base + "/status", method="POST", data=b"")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 405
    status, ctype, metrics = served.get("/metrics")
    assert status == 200 and ctype.startswith("text/plain") and b'scoutzoom_jobs_total{outcome="done"} 2.0' in metrics


def _browser_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} absent (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright absent (pip install playwright)"
    return None


@pytest.mark.skipif(_browser_missing() is not None, reason=str(_browser_missing()))
def test_status_page_in_chromium(served: Running, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("SCOUTZOOM_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    profile = tmp_path / "chromium-profile"
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 900},
        )
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(served.base + "/status")
            page.wait_for_selector("#live[data-refreshes]", state="attached", timeout=10_000)  # refreshed once
            page.screenshot(path=str(shots / "status-page.png"), full_page=True)
            states = dict(
                zip(
                    page.locator("tr.pair .name").all_inner_texts(),
                    page.locator("tr.pair").evaluate_all("rows => rows.map(r => r.dataset.state)"),
                    strict=True,
                )
            )
            assert states == {"good": "done", "doubtful": "done", "broken": "failed", "long": "running"}
            running = page.locator("tr.pair[data-state=running]")
            assert (
                "train" in running.locator(".stage").inner_text()
                and "so far" in running.locator(".stage").inner_text()
                and "eta" in running.locator(".progress").inner_text()
            )
            good = page.locator("tr.pair", has_text="good").first
            assert (
                good.locator(".verdict").inner_text().startswith("trusted")
                and "96 %" in good.locator(".recall").inner_text()
            )
            assert "+2.31 dB" in good.locator(".gain").inner_text()
            link = good.locator("a.link", has_text="report").first
            assert link.get_attribute("href").endswith("/report.html")
            loaded = page.locator("tr.pair img.thumb").evaluate_all(
                "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)"
            )
            assert loaded and all(loaded)
            assert "flagged" in page.locator("tr.pair", has_text="doubtful").locator(".verdict").inner_text()
            assert page.locator("tr.waiting-pair[data-stalled=true] .why").inner_text()
            assert "hit rate 33 %" in page.locator("#cache").inner_text()
            assert str(served.root) in page.locator("#places").inner_text()
            # the page refreshes by itself: the held job finishes and its row turns done without a reload
            status_fake.RELEASE.set()
            page.wait_for_selector("tr.pair[data-state=done] >> text=long", timeout=15_000)
            page.screenshot(path=str(shots / "status-page-after.png"), full_page=True)
            with page.expect_popup() as popup:
                link.click()
            assert popup.value.locator("h1").inner_text() == "good"
            assert errors == []
        finally:
            browser.close()
    if shots != tmp_path:
        shutil.copy(shots / "status-page.png", shots / "status-page-latest.png")
