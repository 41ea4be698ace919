"""Backend discovery and selection; GPU backends are compared with RTK only where present."""

from __future__ import annotations

import numpy as np
import pytest

from models.errors import BackendUnavailable
from pipeline.acquisition.scan import Scan
from pipeline.grid import VolumeGrid
from pipeline.reconstruct import ReconConfig, available_backends, reconstruct
from pipeline.reconstruct.backends import make_backend
from pipeline.reconstruct.backends.tigre import extend_truncated

AVAILABLE = available_backends()


def test_rtk_cpu_is_always_available_and_others_say_why_not() -> None:
    assert AVAILABLE["rtk"] is None
    for name in ("tigre", "rtk-cuda"):
        assert AVAILABLE[name] is None or len(AVAILABLE[name]) > 10


@pytest.mark.parametrize("name", ["tigre", "rtk-cuda"])
def test_unavailable_backend_raises_with_reason(name: str) -> None:
    if AVAILABLE[name] is None:
        pytest.skip(f"{name} is available here")
    with pytest.raises(BackendUnavailable, match=name):
        make_backend(name)


def test_explicit_extension_tapers_edges_to_zero() -> None:
    stack = np.full((2, 3, 4), 2.0, dtype=np.float32)
    wide = extend_truncated(stack, 5)
    assert wide.shape == (2, 3, 14)
    assert np.array_equal(wide[:, :, 5:9], stack)
    assert np.all(np.diff(wide[0, 0, :6]) >= 0) and 0 < wide[0, 0, 0] < 0.2


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["tigre", "rtk-cuda"])
def test_gpu_backend_matches_rtk_cpu(name: str, sphere_scan: Scan) -> None:
    if AVAILABLE[name] is not None:
        pytest.skip(f"{name} unavailable: {AVAILABLE[name]}")
    grid = VolumeGrid.isotropic((24, 24, 24), 0.02, (0.2, -0.15, 0.1))
    cpu = reconstruct(sphere_scan, grid, ReconConfig(backend="rtk")).volume
    gpu = reconstruct(sphere_scan, grid, ReconConfig(backend=name)).volume
    assert np.corrcoef(cpu.ravel(), gpu.ravel())[0, 1] > 0.99
    assert abs(gpu.mean() - cpu.mean()) < 0.02 * abs(cpu).max()


def test_a_gpu_backend_is_probed_once_per_process_but_a_timed_out_probe_is_asked_again(monkeypatch) -> None:
    from pipeline.reconstruct.backends import probe

    calls: list[str] = []
    answers = iter(["probe timed out after 120 s", "TIGRE found no CUDA device", "unused"])

    def fake() -> str | None:
        calls.append("probe")
        return next(answers)

    monkeypatch.setattr(probe, "_answers", {})
    assert probe._remembered("tigre", fake).startswith("probe timed out")
    assert probe._remembered("tigre", fake) == "TIGRE found no CUDA device"
    assert probe._remembered("tigre", fake) == "TIGRE found no CUDA device"
    assert len(calls) == 2
