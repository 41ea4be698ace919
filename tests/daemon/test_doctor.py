"""``scoutzoom doctor``: the real probes on this CPU machine, and the exit-code rule."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from daemon.cli import main
from daemon.commands.doctor import Configured, missing_configured
from models.runtimes.probe import Check


@pytest.fixture(scope="module")
def rtk_cuda_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict]:
    """``doctor --json`` for real, with a config that asks for RTK's CUDA FDK (absent on a CPU machine)."""
    config = tmp_path_factory.mktemp("doctor") / "config.toml"
    config.write_text('[pipeline.reconstruction]\nbackend = "rtk-cuda"\n', encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_BACKEND", "tensorflow")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["doctor", "--json", "--config", str(config)])
    return code, json.loads(out.getvalue())


def by_name(checks: list[dict]) -> dict[str, dict]:
    return {check["name"]: check for check in checks}


def test_cpu_machine_reports_no_gpu_and_the_cpu_backends(rtk_cuda_run: tuple[int, dict]) -> None:
    _, report = rtk_cuda_run
    fdk = by_name(report["fdk_backends"])
    assert fdk["numba"]["usable"] and fdk["rtk"]["usable"]
    assert not fdk["rtk-cuda"]["usable"] and "not installed" in fdk["rtk-cuda"]["reason"]
    assert report["gpus_seen"] == []
    runtimes = by_name(report["inference_runtimes"])
    assert runtimes["onnxruntime"]["usable"] and runtimes["onnxruntime"]["devices"] == []
    assert "CPU" in runtimes["onnxruntime"]["device_note"]
    assert not runtimes["tensorrt"]["usable"] and runtimes["tensorrt"]["reason"]
    tensorflow = by_name(report["keras_backends"])["tensorflow"]
    assert tensorflow["usable"] and tensorflow["devices"] == [] and tensorflow["device_note"]


def test_a_configured_backend_that_is_missing_fails_with_its_reason(rtk_cuda_run: tuple[int, dict]) -> None:
    code, report = rtk_cuda_run
    assert code == 1 and not report["ok"]
    assert report["configured"]["fdk_backend"] == "rtk-cuda"
    assert len(report["missing"]) == 1 and "'rtk-cuda'" in report["missing"][0]


def test_the_defaults_are_satisfied_by_what_this_machine_has(rtk_cuda_run: tuple[int, dict]) -> None:
    _, report = rtk_cuda_run
    checks = [[Check(**c) for c in report[key]] for key in ("fdk_backends", "inference_runtimes", "keras_backends")]
    wanted = Configured(source="defaults", fdk_backend="auto", inference_runtime="auto", keras_backend="tensorflow")
    assert missing_configured(wanted, *checks) == []


def check(name: str, usable: bool) -> Check:
    return Check(name=name, usable=usable, reason=None if usable else f"{name} is not installed")


@pytest.mark.parametrize(
    "fdk, runtime, keras_backend, problem",
    [
        ("auto", "auto", "jax", None),
        ("numba", "onnxruntime", "jax", None),
        ("tigre", "auto", "jax", "reconstruction backend 'tigre': tigre is not installed"),
        ("auto", "tensorrt", "jax", "inference runtime 'tensorrt': tensorrt is not installed"),
        ("auto", "auto", "torch", "Keras backend 'torch': torch is not installed"),
        ("auto", "auto", "mlx", "Keras backend 'mlx': unknown"),
    ],
)
def test_exit_rule(fdk: str, runtime: str, keras_backend: str, problem: str | None) -> None:
    wanted = Configured(source="test", fdk_backend=fdk, inference_runtime=runtime, keras_backend=keras_backend)
    found = missing_configured(
        wanted,
        [check("tigre", False), check("numba", True)],
        [check("tensorrt", False), check("onnxruntime", True)],
        [check("jax", True), check("torch", False)],
    )
    assert found == ([] if problem is None else [problem])


def test_auto_fails_when_nothing_of_its_kind_is_usable() -> None:
    wanted = Configured(source="test", fdk_backend="auto", inference_runtime="auto", keras_backend="jax")
    found = missing_configured(wanted, [check("rtk", False)], [check("keras", True)], [check("jax", True)])
    assert found == ["reconstruction backend auto: none usable"]


@pytest.mark.slow
def test_text_report_with_the_defaults_exits_zero(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    code = main(["doctor"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "GPUs seen: none" in out and out.strip().endswith("ok")
