"""``scoutzoom bench`` from an installed wheel (no ``benchmarks`` package): a usage error that says why."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from daemon import exit_codes
from daemon.cli import main
from daemon.commands import bench


@pytest.fixture
def installed_wheel(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """As from a wheel: no checkout beside the package and ``benchmarks`` not importable."""
    monkeypatch.setattr(bench, "REPO_ROOT", tmp_path)
    for name in [name for name in sys.modules if name == "benchmarks" or name.startswith("benchmarks.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "benchmarks", None)  # importing it raises ModuleNotFoundError


def test_bench_without_a_checkout_is_a_usage_error_naming_the_fix(installed_wheel, tmp_path: Path, capsys) -> None:
    code = main(["bench", "foam", "--size", "tiny", "--out", str(tmp_path / "results")])
    err = " ".join(capsys.readouterr().err.split())
    assert code == exit_codes.USAGE
    assert "needs a source checkout" in err and "Traceback" not in err
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("argv", [["bench", "--help"], ["bench", "foam", "--help"]])
def test_bench_help_says_it_needs_a_source_checkout(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert "needs a source checkout" in " ".join(capsys.readouterr().out.split())
