"""``scoutzoom watch`` with ``loose_files``: vendor files dropped in a watch root are paired by metadata and become
jobs (once, across restarts; again when a file changes); ambiguous groups and broken files are reported, never
processed; a half-written file waits. The main loop is stepped with an injected clock and the fake processor."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from structlog.testing import capture_logs

from daemon.cli import main
from daemon.config import validate_config
from daemon.loose import output_name
from daemon.service import Daemon
from pipeline.acquisition.contract import ScanMetadata
from pipeline.acquisition.writer import write_scan
from pipeline.pair.process import ProcessOutcome
from pipeline.pair.sources import PairSources
from tests.daemon import fake_processor
from tests.pipeline.acquisition.formats.convert import to_nxtomo, to_txrm

ROWS, COLUMNS, COUNT = 8, 10, 12
SETTLE_S = 5.0


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def contract_scan(folder: Path, role: str, source_to_axis_mm: float, level: int = 20000) -> Path:
    """A tiny intensity scan; the source distance sets the voxel (30 mm: 0.025 mm, 10 mm: 0.0083 mm)."""
    meta = ScanMetadata.model_validate(
        {
            "format_version": 1,
            "role": role,
            "sample_id": "foam",
            "values": "intensity",
            "geometry": {
                "source_to_axis_mm": source_to_axis_mm,
                "source_to_detector_mm": 240.0,
                "detector_shape": [ROWS, COLUMNS],
                "detector_pixel_mm": [0.2, 0.2],
                "angles_deg": {"start": 0.0, "step": 30.0, "count": COUNT},
            },
        }
    )
    counts = np.full((COUNT, ROWS, COLUMNS), level, np.uint16)
    write_scan(folder, meta, counts, flat=np.full((ROWS, COLUMNS), 30000, np.uint16))
    return folder


def given(pair, out_dir: Path, config, **options) -> ProcessOutcome:
    """The fake processor, told the pair's label (it reads FAKE.json beside a folder); records what it was given."""
    given.calls.append(pair)  # type: ignore[attr-defined]
    label = pair.label if isinstance(pair, PairSources) else pair
    return fake_processor.process_pair(label, out_dir, config, **options)


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[str]]:
    """The fake processor's ``start`` lines: one per time a pair was processed."""
    path = tmp_path / "ledger.txt"
    monkeypatch.setenv("FAKE_LEDGER", str(path))
    given.calls = []  # type: ignore[attr-defined]
    return lambda: [line for line in path.read_text().splitlines() if " start " in line] if path.exists() else []


def make_daemon(tmp_path: Path, clock: Clock, *, loose_files: bool = True) -> Daemon:
    root = tmp_path / "in"
    root.mkdir(exist_ok=True)
    config = validate_config(
        {
            "state_dir": str(tmp_path / "state"),
            "watch": {"roots": [str(root)], "settle_s": SETTLE_S, "loose_files": loose_files},
            "pipeline": {"preset": "small"},
        }
    )
    return Daemon(config, processor=given, clock=clock, serve_metrics=False)


def finish_jobs(daemon: Daemon, clock: Clock) -> None:
    daemon.tick(clock.now)
    for running in list(daemon.running.values()):
        running.thread.join(10)
    daemon.tick(clock.now)


def drop_pair(tmp_path: Path, level: int = 20000) -> tuple[Path, Path]:
    """A ZEISS scout and an NXtomo zoom of sample ``foam`` in ``in/lab`` (no scout/ + zoom/ folders)."""
    staging, lab = tmp_path / "staging", tmp_path / "in" / "lab"
    lab.mkdir(parents=True, exist_ok=True)
    scout = to_txrm(contract_scan(staging / f"s{level}", "scout", 30.0, level), lab / "foam_scout.txrm")
    zoom = to_nxtomo(contract_scan(staging / f"z{level}", "zoom", 10.0, level), lab / "foam_zoom.nx")
    return scout.resolve(), zoom.resolve()


def test_two_loose_vendor_files_are_one_job_processed_once_across_a_restart(
    tmp_path: Path, ledger: Callable[[], list[str]]
) -> None:
    clock = Clock()
    scout, zoom = drop_pair(tmp_path)
    daemon = make_daemon(tmp_path, clock)
    daemon.start()
    try:
        daemon.tick(clock.now)
        assert daemon.store.get(zoom) is None  # just written: settling
        clock.now += SETTLE_S + 1
        finish_jobs(daemon, clock)
        job = daemon.store.get(zoom)
        out_dir = daemon.config.output_root / "lab" / "foam_zoom"
    finally:
        daemon.shutdown()
    assert job is not None and job.state == "done" and job.scout == scout
    assert (out_dir / "DONE").exists() and job.out_dir == out_dir
    assert [(p.scout, p.zoom) for p in given.calls] == [(scout, zoom)]  # type: ignore[attr-defined]

    clock.now += 60
    restarted = make_daemon(tmp_path, clock)
    restarted.start()
    try:
        for _ in range(3):
            clock.now += SETTLE_S + 1
            restarted.loose.touch(clock.now - 1)  # as a file event would: look again
            finish_jobs(restarted, clock)
        after = restarted.store.get(zoom)
    finally:
        restarted.shutdown()
    assert len(ledger()) == 1
    assert after is not None and after.state == "done" and after.attempts == 1


def test_a_loose_file_rewritten_after_processing_is_processed_again(
    tmp_path: Path, ledger: Callable[[], list[str]]
) -> None:
    clock = Clock()
    _, zoom = drop_pair(tmp_path)
    daemon = make_daemon(tmp_path, clock)
    daemon.start()
    try:
        clock.now += SETTLE_S + 1
        finish_jobs(daemon, clock)
        assert len(ledger()) == 1
        drop_pair(tmp_path, level=21000)  # the zoom (and scout) rewritten in place, same names and sizes
        deadline = time.monotonic() + 10
        while len(ledger()) < 2 and time.monotonic() < deadline:  # the file events arrive from inotify
            time.sleep(0.05)
            clock.now += SETTLE_S + 1
            finish_jobs(daemon, clock)
        job = daemon.store.get(zoom)
    finally:
        daemon.shutdown()
    assert len(ledger()) == 2
    assert job is not None and job.state == "done" and job.force is False


def parallel_beam_nxtomo(tmp_path: Path, path: Path) -> Path:
    """An NXtomo file without a source distance: parallel beam, which scoutzoom cannot reconstruct (broken)."""
    to_nxtomo(contract_scan(tmp_path / "staging" / "pb", "zoom", 10.0), path)
    with h5py.File(path, "a") as handle:
        del handle["entry/instrument/source/distance"]
    return path


def test_an_ambiguous_group_and_a_broken_file_are_reported_not_processed(
    tmp_path: Path, ledger: Callable[[], list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    clock = Clock()
    drop_pair(tmp_path)
    staging, lab = tmp_path / "staging", tmp_path / "in" / "lab"
    to_nxtomo(contract_scan(staging / "z2", "zoom", 12.0), lab / "foam_zoom_2.nx")  # a third scan of foam
    broken = parallel_beam_nxtomo(tmp_path, tmp_path / "in" / "beamline.nx")
    daemon = make_daemon(tmp_path, clock)
    daemon.start()
    try:
        with capture_logs() as logs:
            for _ in range(3):  # scanned three times: reported once
                clock.now += SETTLE_S + 1
                daemon.loose.touch(clock.now - 1)
                finish_jobs(daemon, clock)
        counts = daemon.store.counts()
        sample = daemon.metrics.registry.get_sample_value
        reported = [sample("scoutzoom_loose_groups_reported_total", {"kind": k}) for k in ("ambiguous", "broken")]
    finally:
        daemon.shutdown()
    assert ledger() == [] and sum(counts.values()) == 0
    assert reported == [1.0, 1.0]
    warnings = [entry for entry in logs if entry["event"] == "loose scans not paired; not processed"]
    assert sorted(entry["kind"] for entry in warnings) == ["ambiguous", "broken"]
    assert any("3 scans" in entry["reason"] for entry in warnings)

    assert main(["status", "--state-dir", str(tmp_path / "state")]) == 0
    shown = capsys.readouterr().out
    assert "AMBIGUOUS" in shown and "3 scans" in shown
    assert "BROKEN" in shown and str(broken.resolve()) in shown and "parallel-beam" in shown


def test_a_half_written_loose_file_waits_then_its_pair_is_processed(
    tmp_path: Path, ledger: Callable[[], list[str]]
) -> None:
    clock = Clock()
    scout, zoom = drop_pair(tmp_path)
    whole = scout.read_bytes()
    scout.write_bytes(whole[: len(whole) // 2])
    daemon = make_daemon(tmp_path, clock)
    daemon.start()
    try:
        clock.now += SETTLE_S + 1
        finish_jobs(daemon, clock)
        waiting = {item.pair: item.reason for item in daemon.store.pending()}
        assert daemon.store.get(zoom) is None and ledger() == []
        assert "incomplete" in waiting.get(scout, ""), waiting

        scout.write_bytes(whole)  # the copy finishes
        clock.now += daemon.config.watch.poll_interval_s + SETTLE_S + 1  # waiting scans are looked at again
        finish_jobs(daemon, clock)
        clock.now += SETTLE_S + 1
        finish_jobs(daemon, clock)
        job = daemon.store.get(zoom)
        pending = daemon.store.pending()
    finally:
        daemon.shutdown()
    assert job is not None and job.state == "done" and len(ledger()) == 1
    assert pending == []


def test_loose_files_are_left_alone_unless_switched_on(tmp_path: Path, ledger: Callable[[], list[str]]) -> None:
    clock = Clock()
    _, zoom = drop_pair(tmp_path)
    daemon = make_daemon(tmp_path, clock, loose_files=False)
    daemon.start()
    try:
        clock.now += SETTLE_S + 1
        finish_jobs(daemon, clock)
        job, pending = daemon.store.get(zoom), daemon.store.pending()
    finally:
        daemon.shutdown()
    assert job is None and pending == [] and ledger() == []


@pytest.mark.parametrize(
    "name, folder, expected",
    [
        ("foam_zoom.nx", False, "foam_zoom"),
        ("foam_zoom.txrm", False, "foam_zoom"),
        ("foam_zoom.ome.tif", False, "foam_zoom"),
        ("brain.nii.gz", False, "brain"),
        ("foam_1.5x", True, "foam_1.5x"),  # a scan folder keeps its whole name
    ],
)
def test_a_loose_pair_output_is_named_after_its_zoom(tmp_path: Path, name: str, folder: bool, expected: str) -> None:
    zoom = tmp_path / name
    zoom.mkdir() if folder else zoom.write_bytes(b"")
    assert output_name(zoom) == expected
