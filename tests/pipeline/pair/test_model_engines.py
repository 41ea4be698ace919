"""TensorRT engines built for a cached model: written into its entry (complete under the final name when recorded,
no temporary file left) and listed on its card.

TensorRT itself is faked (availability, engine build, engine execution), so this runs on any CPU machine;
everything else is real: ``load_model_runtime`` with the cache's engine recorder, the atomic writer, the card.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import models.runtimes.tensorrt as tensorrt_runtime
from models.atomic import TEMP_MARKER
from models.cache.store import ModelCache
from pipeline.config import build_process_config
from pipeline.pair.model_step import _engine_recorder, load_model_runtime
from tests.models.cache.conftest import _make_card, _write_centre_slice_onnx

BATCH_SHAPE = (2, 24, 20, 5)  # [N, H, W, slices]; the centre-slice model needs no padding


class FakeEngine:
    """Stands in for a deserialised engine: the centre slice, off by ``fp16_error`` when built as FP16."""

    fp16_error = 0.0

    def __init__(self, serialized: bytes, shape: tuple[int, ...]) -> None:
        self.bias = self.fp16_error if serialized.startswith(b"fp16") else 0.0

    def run(self, batch: np.ndarray) -> np.ndarray:
        return batch[..., 2:3] + np.float32(self.bias)


@pytest.fixture
def fake_tensorrt(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, ...]]:
    """TensorRT 'available' with fake builds; returns the shapes built, in order."""
    built: list[tuple[int, ...]] = []

    def build(onnx_path: Path, shape: tuple[int, ...], fp16: bool) -> bytes:
        built.append(shape)
        return (b"fp16" if fp16 else b"fp32") + b" engine bytes " * 1000

    monkeypatch.setattr(tensorrt_runtime, "tensorrt_unavailable_reason", lambda: None)
    monkeypatch.setattr(tensorrt_runtime, "build_engine", build)
    monkeypatch.setattr(tensorrt_runtime, "_Engine", FakeEngine)
    return built


@pytest.fixture
def cached_model(tmp_path: Path) -> tuple[ModelCache, str]:
    source = tmp_path / "trained"
    source.mkdir()
    _write_centre_slice_onnx(source / "model.onnx")
    (source / "normalisation.json").write_text('{"offset": 0.1, "scale": 2.0}')
    cache = ModelCache(tmp_path / "cache")
    return cache, cache.add(source, _make_card())


@pytest.mark.parametrize("fp16_error, precisions", [(0.0, ["fp16"]), (0.5, ["fp16", "fp32"])])
def test_engines_are_written_into_the_entry_and_listed_on_its_card(
    fake_tensorrt, cached_model, monkeypatch: pytest.MonkeyPatch, fp16_error: float, precisions: list[str]
) -> None:
    monkeypatch.setattr(FakeEngine, "fp16_error", fp16_error)
    cache, model_id = cached_model
    entry = cache.path(model_id)
    record = _engine_recorder(cache, model_id)
    complete_when_recorded: list[bool] = []

    def recorder(path: Path, shape: tuple[int, ...], precision: str) -> None:
        complete_when_recorded.append(path.read_bytes().startswith(precision.encode()))
        record(path, shape, precision)

    config = build_process_config("small", {"inference": {"runtime": "tensorrt"}})
    batch = np.random.default_rng(3).random(BATCH_SHAPE, dtype=np.float32)

    runtime = load_model_runtime(entry, config, recorder)
    prediction = runtime.predict(batch)

    assert runtime.name == "tensorrt"
    np.testing.assert_allclose(prediction, batch[..., 2] + (fp16_error if precisions == ["fp16"] else 0.0))
    card = cache.get(model_id)
    assert [(e.runtime, e.tile_shape, e.precision) for e in card.engines] == [
        ("tensorrt", BATCH_SHAPE, p) for p in precisions
    ]
    for engine in card.engines:
        assert (entry / engine.file).is_file() and engine.file.endswith(f".{engine.precision}.engine")
    assert complete_when_recorded == [True] * len(precisions)
    assert not [p.name for p in entry.iterdir() if TEMP_MARKER in p.name]  # no half-written engine left behind
    cache.verify(model_id)  # listing engines keeps the entry's checksums valid

    load_model_runtime(entry, config, recorder).predict(batch)  # a new process on the same entry
    assert len(fake_tensorrt) == len(precisions), "engines on disk are reused, not rebuilt"
    assert len(cache.get(model_id).engines) == len(precisions)
