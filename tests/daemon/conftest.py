"""A real ``scoutzoom watch`` process in temp folders, on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], object], timeout_s: float, what: str) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


class DaemonProcess:
    """Config, state and ledger of one daemon under test; start/stop/kill it as often as needed."""

    def __init__(
        self,
        base: Path,
        *,
        settle_s: float = 1.0,
        stop_timeout_s: float = 10.0,
        observer: str = "auto",
        state: Path | None = None,
        out: Path | None = None,
        **sections: dict,
    ) -> None:
        self.base = base
        self.root = base / "in"
        self.state = state or base / "state"
        self.out = out or self.state / "output"
        self.ledger_path = base / "ledger.txt"
        self.port = free_port()
        self.root.mkdir(parents=True, exist_ok=True)
        self.config = base / "scoutzoom.toml"
        self.settings: dict[str, dict] = {
            "watch": {"roots": [str(self.root)], "settle_s": settle_s, "poll_interval_s": 0.5, "observer": observer},
            "output": {"root": str(self.out)},
            "jobs": {"stop_timeout_s": stop_timeout_s},
            "metrics": {"address": "127.0.0.1", "port": self.port},
            "log": {"format": "json", "level": "debug"},
            "advanced": {"processor": "tests.daemon.fake_processor:process_pair"},
            "pipeline": {"preset": "small"},
        }
        for name, values in sections.items():
            self.settings.setdefault(name, {}).update(values)
        self.write_config()
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def write_config(self) -> None:
        """Write :attr:`settings` as TOML (strings, numbers, booleans, lists of strings, nested tables)."""

        def value(v: object) -> str:
            if isinstance(v, bool):
                return "true" if v else "false"
            if isinstance(v, (int, float)):
                return repr(v)
            if isinstance(v, list):
                return "[" + ", ".join(value(x) for x in v) + "]"
            return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

        lines = [f"state_dir = {value(str(self.state))}"]

        def table(prefix: str, body: dict) -> None:
            lines.append(f"[{prefix}]")
            nested = {}
            for key, v in body.items():
                if isinstance(v, dict):
                    nested[key] = v
                else:
                    lines.append(f"{key} = {value(v)}")
            for key, v in nested.items():
                table(f"{prefix}.{key}", v)

        for name, body in self.settings.items():
            table(name, body)
        self.config.write_text("\n".join(lines) + "\n")

    @property
    def log_path(self) -> Path:
        return self.base / f"daemon-{self.starts}.log"

    def launch(self) -> subprocess.Popen:
        """Start the process without waiting for it (see :meth:`start`)."""
        self.starts += 1
        env = dict(os.environ, PYTHONPATH=str(REPO), FAKE_LEDGER=str(self.ledger_path))
        env.pop("NOTIFY_SOCKET", None)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "daemon.cli", "watch", "--config", str(self.config)],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self.proc

    def start(self) -> None:
        self.launch()
        wait_for(
            lambda: b"daemon started" in self.log_path.read_bytes() or self.proc.poll() is not None, 30, "start-up"
        )
        assert self.proc.poll() is None, self.log_path.read_text()

    def peak_rss_mib(self) -> float:
        """The process's peak resident memory so far (VmHWM, MiB)."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_s(self) -> float:
        """User + system CPU seconds the process has used so far."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def wait_exit(self, timeout_s: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout_s)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.wait_exit(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.wait_exit(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def ledger(self, kind: str | None = None, pair: Path | None = None) -> list[tuple[float, str, Path]]:
        if not self.ledger_path.exists():
            return []
        rows = []
        for line in self.ledger_path.read_text().splitlines():
            stamp, _pid, what, where = line.split(" ", 3)
            if (kind is None or what == kind) and (pair is None or Path(where) == pair):
                rows.append((float(stamp), what, Path(where)))
        return rows

    def metrics(self) -> dict[str, float]:
        """Samples by ``name{label="value"}``, as scraped from the endpoint."""
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as response:
            text = response.read().decode()
        samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
        return samples

    def raw_metrics(self) -> str:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as response:
            return response.read().decode()


@pytest.fixture
def daemon_process(tmp_path: Path) -> Iterator[Callable[..., DaemonProcess]]:
    made: list[DaemonProcess] = []

    def make(**kwargs: object) -> DaemonProcess:
        process = DaemonProcess(tmp_path, **kwargs)  # type: ignore[arg-type]
        made.append(process)
        return process

    yield make
    for process in made:
        process.stop()
