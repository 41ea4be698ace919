"""What the status page serves from output folders (daemon.web.files), and how it reads reports (daemon.web.view)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from daemon.web import files
from daemon.web.view import ReportReader, digest_report


@pytest.fixture
def out(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "output"
    pair = root / "lab" / "sample-1"
    (pair / "previews").mkdir(parents=True)
    (pair / "report.json").write_text("{}")
    (pair / "previews" / "heldout_axial.png").write_bytes(b"\x89PNG")
    return root, pair


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("report.html", True),
        ("report.json", True),
        ("FAILED.json", True),
        ("previews/loss_curve.png", True),
        ("recovered.ome.tif", False),
        ("previews/../report.json", False),
        ("../x/report.json", False),
        ("previews/a/b.png", False),
        ("DONE", False),
        ("", False),
    ],
)
def test_only_names_a_pair_writes_are_servable(name: str, ok: bool) -> None:
    assert files.servable_name(name) is ok


def test_files_inside_the_root_are_served(out: tuple[Path, Path]) -> None:
    root, pair = out
    assert files.resolve(pair, "report.json", root) == pair / "report.json"
    assert files.thumbnail(pair, root) == "previews/heldout_axial.png"
    assert files.read_bounded(pair / "report.json") == b"{}"


def test_links_leaving_the_root_and_special_files_are_refused(out: tuple[Path, Path], tmp_path: Path) -> None:
    root, pair = out
    outside = tmp_path / "elsewhere"
    (outside / "previews").mkdir(parents=True)
    (outside / "report.json").write_text('{"secret": 1}')
    (pair / "previews" / "leak.png").symlink_to(outside / "report.json")
    assert files.resolve(pair, "previews/leak.png", root) is None
    linked = root / "lab" / "linked"
    linked.symlink_to(outside)  # a whole output folder that is a link out of the root
    assert files.resolve(linked, "report.json", root) is None
    os.mkfifo(pair / "FAILED.json")
    assert files.resolve(pair, "FAILED.json", root) is None
    assert files.read_bounded(pair / "FAILED.json") is None


def test_links_inside_the_root_are_fine(out: tuple[Path, Path]) -> None:
    root, pair = out
    (pair / "previews" / "same.png").symlink_to(pair / "previews" / "heldout_axial.png")
    assert files.resolve(pair, "previews/same.png", root) is not None


def test_report_digest_prefers_the_summary_and_falls_back_to_trust() -> None:
    trust = {"flagged": True, "reasons": ["gain low"], "psnr_gain_db": 0.1, "features": {"recovered": {"recall": 0.5}}}
    old = digest_report({"trust": trust})
    assert (old.verdict, old.reasons, old.psnr_gain_db, old.feature_recall) == ("flagged", ("gain low",), 0.1, 0.5)
    new = digest_report({"trust": trust, "summary": {"verdict": "trusted", "reasons": [], "psnr_gain_db": 2.0}})
    assert (new.verdict, new.reasons, new.psnr_gain_db, new.feature_recall) == ("trusted", (), 2.0, 0.5)
    assert digest_report({"pair": "x"}).verdict is None
    assert digest_report({"trust": "not an object", "summary": {"psnr_gain_db": "high"}}).psnr_gain_db is None


def test_report_reader_rereads_only_changed_files(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"trust": {"flagged": False, "psnr_gain_db": 1.5}}))
    reader = ReportReader()
    assert reader.read(path).psnr_gain_db == 1.5
    path.write_text("not json at all")
    assert reader.read(path).verdict is None
    assert reader.read(tmp_path / "missing.json") is None


def test_a_fresh_daemon_has_a_page_and_json_without_rows(tmp_path: Path) -> None:
    from daemon.store import JobStore
    from daemon.web import page
    from daemon.web.live import LiveStatus
    from daemon.web.server import StatusServer
    from daemon.web.view import StatusSources, build_status

    store = JobStore(tmp_path / "jobs.sqlite3")
    try:
        sources = StatusSources(
            store=store, live=LiveStatus(), allowed_root=lambda job: tmp_path, cache_dir=tmp_path / "none"
        )
        view = build_status(sources)
        assert view.jobs == [] and view.waiting == [] and view.cache.models == [] and view.cache.hit_rate is None
        html = page.page(view)
        assert "No pair processed yet." in html and 'data-refresh-s="5"' in html
        server = StatusServer(sources, lambda: b"# metrics\n")
        assert server.route("/")[0] == 302 and server.route("/status.json")[0] == 200
        assert server.route("/pairs/1/report.json")[0] == 404 and server.route("/nothing")[0] == 404
        assert server.route("/metrics")[1] == b"# metrics\n"
    finally:
        store.close()
