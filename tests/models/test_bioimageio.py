"""BioImage Model Zoo export: the package validates with bioimageio.spec, its test tensors reproduce through
the packaged weights with the described pre/post-processing, and bioimageio.core's test-model passes where installed."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

spec = pytest.importorskip("bioimageio.spec", reason="the [bioimageio] extra (bioimageio.spec) is not installed")

from daemon import exit_codes  # noqa: E402
from daemon.commands import models as models_command  # noqa: E402
from models.cache.card import AcquisitionConditions, ScanConditions, card_from_trained  # noqa: E402
from models.cache.store import ModelCache  # noqa: E402


def _scale_linear(steps):
    """kwargs of the one scale_linear step among a tensor's pre- or post-processing steps."""
    (found,) = [step.kwargs for step in steps if step.id == "scale_linear"]
    return found


def _models(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="scoutzoom")
    models_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["models", *argv])
    return args.func(args)


@pytest.fixture(autouse=True)
def _keras_backend_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """bioimageio.core sets KERAS_BACKEND (default torch) for the whole process when imported; undo it after each
    test, so later tests and the subprocesses they start keep TensorFlow."""
    import os

    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "tensorflow"))


@pytest.fixture(scope="module")
def cached(quick_model, tmp_path_factory) -> tuple[Path, str]:
    """The session's quickly trained U-Net as a cache entry with a card (80 kV, 4X scout / 20X zoom, 3:1, foam)."""
    trained, paths = quick_model
    scout = ScanConditions(
        conditions=AcquisitionConditions(voltage_kv=80, filter="LE2", objective="4X", binning=2),
        detector_shape=(64, 64),
        detector_pixel_mm=(0.2, 0.2),
        voxel_mm=0.03,
    )
    zoom = scout.model_copy(
        update={"conditions": scout.conditions.model_copy(update={"objective": "20X"}), "voxel_mm": 0.01}
    )
    card = card_from_trained(trained, scout, zoom, sample_class="foam")
    directory = tmp_path_factory.mktemp("bioimageio-cache")
    return directory, ModelCache(directory).add(paths["onnx"].parent, card)


@pytest.fixture(scope="module")
def package(cached, tmp_path_factory) -> Path:
    """``scoutzoom models export ID DEST --format bioimageio`` into a folder; returns its rdf.yaml."""
    directory, model_id = cached
    dest = tmp_path_factory.mktemp("bioimageio-out") / "package"
    code = _models(
        "--model-cache",
        str(directory),
        "export",
        model_id,
        str(dest),
        "--format",
        "bioimageio",
        "--author",
        "A. Tester",
        "--license",
        "MIT",
    )
    assert code == exit_codes.OK
    return dest / "rdf.yaml"


def test_package_passes_bioimageio_spec_validation(package: Path) -> None:
    descr = spec.load_description(package)
    summary = descr.validation_summary
    assert summary.status in ("valid-format", "passed"), summary.format()
    assert type(descr).__name__ == "ModelDescr" and str(descr.format_version).startswith("0.5")
    assert descr.license == "MIT" and [a.name for a in descr.authors] == ["A. Tester"]
    assert {"onnx", "keras_v3"} <= {name for name, entry in descr.weights if entry is not None}
    assert descr.covers and (package.parent / "cover.png").is_file()


def test_axes_units_and_normalisation_come_from_the_card(package: Path, cached) -> None:
    directory, model_id = cached
    card = ModelCache(directory).get(model_id)
    descr = spec.load_description(package)
    (inp,), (out,) = descr.inputs, descr.outputs
    assert [a.type for a in inp.axes] == ["batch", "space", "space", "channel"]
    assert [str(name) for name in inp.axes[3].channel_names] == ["z_m2", "z_m1", "z", "z_p1", "z_p2"]
    assert inp.axes[1].unit == "millimeter" and inp.axes[1].scale == pytest.approx(0.01)
    assert inp.axes[1].size.step == 4  # depth-2 U-Net: tiles in multiples of 2**2
    assert str(inp.data.unit) == "mm^-1" and str(out.data.unit) == "mm^-1"
    pre, post, n = _scale_linear(inp.preprocessing), _scale_linear(out.postprocessing), card.normalisation
    assert pre.gain == pytest.approx(1 / n.scale) and pre.offset == pytest.approx(-n.offset / n.scale)
    assert post.gain == pytest.approx(n.scale) and post.offset == pytest.approx(n.offset)
    meta = descr.config["scoutzoom"] if isinstance(descr.config, dict) else descr.config.model_extra["scoutzoom"]
    assert meta["model_id"] == model_id and meta["zoom"]["conditions"]["objective"] == "20X"
    assert meta["scout"]["voxel_mm"] == pytest.approx(0.03) and meta["voxel_ratio"] == pytest.approx(3.0)
    assert meta["validation"]["psnr_db"] == pytest.approx(card.validation.psnr_db)
    assert json.loads((package.parent / "card.json").read_text())["id"] == model_id


def test_test_tensors_reproduce_through_both_packaged_weights(package: Path) -> None:
    """Independent of bioimageio.core: apply the described scale_linear steps and run the weights ourselves."""
    import keras
    import onnxruntime

    descr = spec.load_description(package)
    (inp,), (out,) = descr.inputs, descr.outputs
    stack = np.load(package.parent / "test_input.npy")
    expected = np.load(package.parent / "test_output.npy")
    assert stack.shape[0] == 1 and stack.shape[-1] == 5 and expected.shape == (*stack.shape[:3], 1)
    pre, post = _scale_linear(inp.preprocessing), _scale_linear(out.postprocessing)
    normalised = (stack * pre.gain + pre.offset).astype(np.float32)
    session = onnxruntime.InferenceSession(str(package.parent / "weights.onnx"), providers=["CPUExecutionProvider"])
    onnx_out = session.run(None, {session.get_inputs()[0].name: normalised})[0] * post.gain + post.offset
    keras_model = keras.saving.load_model(package.parent / "weights.keras", compile=False)  # built-in layers only
    keras_out = np.asarray(keras_model.predict_on_batch(normalised)) * post.gain + post.offset
    span = float(np.ptp(expected))
    assert span > 0
    assert np.max(np.abs(onnx_out.reshape(expected.shape) - expected)) < 1e-4 * span
    assert np.max(np.abs(keras_out.reshape(expected.shape) - expected)) < 1e-3 * span
    assert not any("CentreSlice" in type(layer).__name__ for layer in keras_model.layers)


@pytest.mark.parametrize("weight_format", ["onnx", "keras_v3"])
def test_bioimageio_core_test_model_passes(package: Path, weight_format: str) -> None:
    core = pytest.importorskip(
        "bioimageio.core",
        reason="bioimageio.core not installed (every release pins a bioimageio.spec "
        "older than the 0.5.14 that works with pydantic 2.14; install it after the extra to run this)",
    )
    summary = core.test_model(package, weight_format=weight_format)
    assert summary.status == "passed", summary.format()


def test_sample_volume_sets_the_test_input(cached, tmp_path: Path) -> None:
    import tifffile

    from models.bioimageio_tensors import slab_from_volume

    directory, model_id = cached
    volume = np.random.default_rng(3).uniform(0.2, 0.8, (9, 80, 72)).astype(np.float32)
    tifffile.imwrite(tmp_path / "sample.tif", volume)
    expected = slab_from_volume(volume, 5, 64)
    assert expected.shape == (5, 64, 64)
    np.testing.assert_array_equal(expected[2], volume[4, 8:72, 4:68])
    from models.bioimageio import PackageOptions, describe

    work = tmp_path / "work"
    work.mkdir()
    descr = describe(
        directory / model_id,
        ModelCache(directory).get(model_id),
        PackageOptions(authors=["x"], sample=tmp_path / "sample.tif"),
        work,
    )
    np.testing.assert_array_equal(np.load(work / "test_input.npy")[0], np.moveaxis(expected, 0, -1))
    assert descr.inputs[0].test_tensor is not None


def test_too_small_sample_is_an_input_error() -> None:
    from models.bioimageio_tensors import slab_from_volume
    from models.errors import InputError

    with pytest.raises(InputError, match="smaller than 5 slices"):
        slab_from_volume(np.zeros((4, 100, 100), np.float32), 5, 64)


def test_without_the_extra_the_error_says_what_to_install(monkeypatch, cached, tmp_path: Path) -> None:
    import sys

    from models.bioimageio import PackageOptions, export_bioimageio
    from models.errors import BackendUnavailable

    directory, model_id = cached
    monkeypatch.setitem(sys.modules, "bioimageio.spec", None)
    with pytest.raises(BackendUnavailable, match=r"scoutzoom\[bioimageio\]"):
        export_bioimageio(
            directory / model_id, ModelCache(directory).get(model_id), tmp_path / "p", PackageOptions(authors=["x"])
        )
    assert not (tmp_path / "p").exists()


def test_export_refuses_a_corrupt_entry(cached, tmp_path: Path, capsys) -> None:
    import shutil

    directory, model_id = cached
    copy = tmp_path / "cache"
    shutil.copytree(directory, copy)
    (copy / model_id / "model.onnx").write_bytes(b"broken")
    from daemon.cli import main

    code = main(
        ["models", "--model-cache", str(copy), "export", model_id, str(tmp_path / "p"), "--format", "bioimageio"]
    )
    assert code == exit_codes.FAILED and "rejected" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


@pytest.mark.slow
def test_zip_package_validates(cached, tmp_path: Path) -> None:
    directory, model_id = cached
    dest = tmp_path / "model.zip"
    code = _models("--model-cache", str(directory), "export", model_id, str(dest), "--format", "bioimageio")
    assert code == exit_codes.OK and dest.is_file()
    descr = spec.load_description(dest)
    assert descr.validation_summary.status in ("valid-format", "passed"), descr.validation_summary.format()
