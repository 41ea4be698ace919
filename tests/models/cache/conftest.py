"""Fixtures for the model cache tests: tiny ONNX models, cards, model directories."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from models.cache.card import AcquisitionConditions, ModelCard, ScanConditions
from models.config import NetworkConfig
from models.trained import Normalisation, ValidationFigures


def _write_centre_slice_onnx(path: Path, slices: int = 5) -> Path:
    """A tiny ONNX model [N, H, W, slices] -> [N, H, W, 1] returning the centre slice."""
    centre = slices // 2
    inits = [
        helper.make_tensor(name, TensorProto.INT64, [1], [value])
        for name, value in (("starts", centre), ("ends", centre + 1), ("axes", 3))
    ]
    node = helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["y"])
    graph = helper.make_graph(
        [node],
        "centre_slice",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "H", "W", slices])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", "H", "W", 1])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def _make_card(
    *,
    voltage_kv: float = 80.0,
    objective: str = "4X",
    filter: str = "LE2",
    binning: int = 2,
    scout_voxel_mm: float = 0.03,
    zoom_voxel_mm: float = 0.01,
    sample_class: str | None = None,
    slices: int = 5,
    validation: ValidationFigures | None = None,
    **fields: object,
) -> ModelCard:
    conditions = AcquisitionConditions(
        voltage_kv=voltage_kv, current_ua=87, filter=filter, objective=objective, binning=binning, exposure_s=1.5
    )
    scout = ScanConditions(
        conditions=conditions, detector_shape=(64, 64), detector_pixel_mm=(0.2, 0.2), voxel_mm=scout_voxel_mm
    )
    zoom = ScanConditions(
        conditions=conditions, detector_shape=(64, 64), detector_pixel_mm=(0.2, 0.2), voxel_mm=zoom_voxel_mm
    )
    return ModelCard(
        scout=scout,
        zoom=zoom,
        voxel_ratio=scout_voxel_mm / zoom_voxel_mm,
        sample_class=sample_class,
        network=NetworkConfig(slices=slices, depth=2, base_filters=8).model_dump(),
        normalisation=Normalisation(offset=0.1, scale=2.0),
        validation=validation or ValidationFigures(psnr_db=30.0, ssim=0.9, psnr_input_db=24.0, ssim_input=0.7),
        **fields,
    )


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A directory as training writes it: model.onnx, model.keras (stand-in bytes), normalisation.json."""
    directory = tmp_path / "trained"
    directory.mkdir()
    _write_centre_slice_onnx(directory / "model.onnx")
    (directory / "model.keras").write_bytes(b"not really keras, only stored and checksummed here")
    (directory / "normalisation.json").write_text('{"offset": 0.1, "scale": 2.0}')
    return directory


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def make_card():
    """Factory: a valid card with overridable conditions (keyword arguments of ``_make_card``)."""
    return _make_card


@pytest.fixture
def write_onnx():
    """Factory: ``write_onnx(path, slices=5)`` writes a centre-slice ONNX model."""
    return _write_centre_slice_onnx
