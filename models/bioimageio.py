"""Export a cached model as a BioImage Model Zoo package (bioimageio.spec 0.5).

The package holds the ONNX weights (and a portable ``keras_v3`` copy when the
cached ``model.keras`` loads), an input tensor ``slices`` with axes
``batch, y, x, channel`` whose channels are the adjacent z-slices of the zoom
grid (``z-2 .. z+2`` for 5 slices), the output ``recovered`` (the centre
slice), pre- and post-processing that apply and undo the stored normalisation
(``scale_linear``), test tensors, a cover image, a README, and the model
card's acquisition conditions and validation figures under
``config.scoutzoom`` (the card itself is attached as ``card.json``).

Needs the ``bioimageio`` extra (``pip install 'scoutzoom[bioimageio]'``).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from models.bioimageio_tensors import (
    read_sample_volume,
    slab_from_volume,
    synthetic_slab,
    test_tensors,
    test_tile_px,
    write_cover,
    write_sample_tiffs,
)
from models.bioimageio_text import HALO_PX, channel_names, default_name, description, readme, scoutzoom_metadata
from models.cache.card import CARD_FILE, KERAS_FILE, ONNX_FILE, ModelCard
from models.errors import BackendUnavailable, InputError
from models.export import PAD_KEY, SLICES_KEY

VALUE_UNIT = "mm^-1"  # linear attenuation coefficient (1/mm), in the spec's SI-unit notation
UNET_CITATION = (
    "Ronneberger, Fischer and Brox (2015): U-Net: Convolutional Networks for Biomedical Image "
    "Segmentation, MICCAI 2015",
    "10.1007/978-3-319-24574-4_28",
)
TAGS = ["x-ray-ct", "micro-ct", "3d", "resolution-recovery", "super-resolution", "denoising", "unet", "scoutzoom"]


class PackageOptions(BaseModel):
    """What the package says about itself beyond the card (``scoutzoom models export --format bioimageio``)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, description="model name (default: from the conditions)")
    authors: list[str] = Field(min_length=1, description="who trained the model")
    license: str = Field("CC-BY-4.0", description="SPDX licence of the weights")
    cite: list[tuple[str, str]] = Field(default_factory=lambda: [UNET_CITATION], description="(text, DOI or URL)")
    sample: Path | None = Field(None, description="[z, y, x] volume on the zoom grid (1/mm) to cut the test input from")
    cover: Path | None = Field(None, description="PNG/JPEG cover (default: test input beside test output)")
    zip: bool = Field(False, description="write a .zip package instead of a folder")


def _require_spec() -> None:
    try:
        import bioimageio.spec  # noqa: F401
    except ImportError:
        raise BackendUnavailable(
            "BioImage Model Zoo export needs bioimageio.spec: pip install 'scoutzoom[bioimageio]'"
        ) from None


def onnx_facts(path: Path) -> dict[str, int]:
    """``slices``, ``pad_multiple_px`` and ``opset`` of an exported ONNX graph (our metadata keys)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False)
    props = {entry.key: entry.value for entry in graph.metadata_props}
    if SLICES_KEY not in props or PAD_KEY not in props:
        raise InputError(path, f"ONNX graph lacks the {SLICES_KEY} / {PAD_KEY} metadata written by models.export")
    opset = max(entry.version for entry in graph.opset_import if entry.domain in ("", "ai.onnx"))
    return {"slices": int(props[SLICES_KEY]), "pad_multiple_px": int(props[PAD_KEY]), "opset": int(opset)}


def _keras_versions() -> tuple[str, str, str]:
    """Keras version, its backend and the backend's version (recorded with the keras_v3 weights)."""
    import importlib

    import keras

    backend = keras.backend.backend()
    return keras.__version__, backend, importlib.import_module(backend).__version__


def _write_files(entry_dir: Path, card: ModelCard, options: PackageOptions, facts: dict[str, int], work: Path) -> Path:
    """Test and sample tensors, cover, README, card and ONNX weights into ``work``; returns the cover's path."""
    tile = test_tile_px(facts["pad_multiple_px"])
    if options.sample:
        slab = slab_from_volume(read_sample_volume(options.sample), facts["slices"], tile)
    else:
        slab = synthetic_slab(facts["slices"], tile, card.normalisation)
    stack, output = test_tensors(slab, entry_dir / ONNX_FILE, card.normalisation)
    np.save(work / "test_input.npy", stack)
    np.save(work / "test_output.npy", output)
    write_sample_tiffs(work, stack, output)
    if options.cover:
        cover = work / f"cover{options.cover.suffix.lower()}"
        shutil.copyfile(options.cover, cover)
    else:
        cover = write_cover(work / "cover.png", stack, output)
    (work / "README.md").write_text(readme(card, facts["slices"], facts["pad_multiple_px"]), encoding="utf-8")
    shutil.copyfile(entry_dir / CARD_FILE, work / CARD_FILE)
    shutil.copyfile(entry_dir / ONNX_FILE, work / "weights.onnx")
    return cover


def _input_descr(spec, card: ModelCard, facts: dict[str, int], work: Path):
    """``slices``: batch, y, x (multiples of the pad size, mm scale of the zoom grid), channel = adjacent z-slices."""
    n, step = card.normalisation, facts["pad_multiple_px"]
    space = {"unit": "millimeter", "scale": card.zoom.voxel_mm}
    size = spec.ParameterizedSize(min=max(step, 4 * HALO_PX), step=step)
    return spec.InputTensorDescr(
        id=spec.TensorId("slices"),
        description=f"{facts['slices']} adjacent z-slices of the volume on the zoom grid as channels (1/mm)",
        axes=[
            spec.BatchAxis(),
            spec.SpaceInputAxis(id=spec.AxisId("y"), size=size, **space),
            spec.SpaceInputAxis(id=spec.AxisId("x"), size=size, **space),
            spec.ChannelAxis(channel_names=[spec.Identifier(name) for name in channel_names(facts["slices"])]),
        ],
        test_tensor=spec.FileDescr(source=work / "test_input.npy"),
        sample_tensor=spec.FileDescr(source=work / "sample_input.tif"),
        data=spec.IntervalOrRatioDataDescr(type="float32", unit=VALUE_UNIT),
        preprocessing=[
            spec.EnsureDtypeDescr(kwargs=spec.EnsureDtypeKwargs(dtype="float32")),
            spec.ScaleLinearDescr(kwargs=spec.ScaleLinearKwargs(gain=1.0 / n.scale, offset=-n.offset / n.scale)),
        ],
    )


def _output_descr(spec, card: ModelCard, work: Path):
    """``recovered``: the centre slice, same y and x as the input, a halo to drop when tiling, back in 1/mm."""
    n = card.normalisation
    space = {"unit": "millimeter", "scale": card.zoom.voxel_mm, "halo": HALO_PX}

    def same_as_input(axis: str):
        return spec.SizeReference(tensor_id=spec.TensorId("slices"), axis_id=spec.AxisId(axis))

    return spec.OutputTensorDescr(
        id=spec.TensorId("recovered"),
        description="the recovered centre slice (1/mm)",
        axes=[
            spec.BatchAxis(),
            spec.SpaceOutputAxisWithHalo(id=spec.AxisId("y"), size=same_as_input("y"), **space),
            spec.SpaceOutputAxisWithHalo(id=spec.AxisId("x"), size=same_as_input("x"), **space),
            spec.ChannelAxis(channel_names=[spec.Identifier("recovered")]),
        ],
        test_tensor=spec.FileDescr(source=work / "test_output.npy"),
        sample_tensor=spec.FileDescr(source=work / "sample_output.tif"),
        data=spec.IntervalOrRatioDataDescr(type="float32", unit=VALUE_UNIT),
        postprocessing=[
            spec.ScaleLinearDescr(kwargs=spec.ScaleLinearKwargs(gain=n.scale, offset=n.offset)),
            spec.EnsureDtypeDescr(kwargs=spec.EnsureDtypeKwargs(dtype="float32")),
        ],
    )


def describe(entry_dir: Path, card: ModelCard, options: PackageOptions, work: Path):
    """The ``ModelDescr`` of the entry, with its files (test tensors, cover, README, weights) written into ``work``."""
    from bioimageio.spec.generic.v0_3 import Author, CiteEntry
    from bioimageio.spec.model import v0_5 as spec

    facts = onnx_facts(entry_dir / ONNX_FILE)
    cover = _write_files(entry_dir, card, options, facts, work)
    onnx_weights = spec.OnnxWeightsDescr(source=work / "weights.onnx", opset_version=facts["opset"])
    weights: dict[str, Any] = {"onnx": onnx_weights}
    keras_comment = _add_keras(entry_dir, work, weights, spec)
    metadata = scoutzoom_metadata(card) | ({"keras_weights": keras_comment} if keras_comment else {})
    return spec.ModelDescr(
        name=options.name or default_name(card),
        description=description(card, facts["slices"]),
        authors=[Author(name=name) for name in options.authors],  # no github_user: checking one needs the network
        cite=[
            CiteEntry(text=text, **({"doi": ref} if ref.startswith("10.") else {"url": ref}))
            for text, ref in options.cite
        ],
        license=options.license,
        documentation=spec.FileDescr(source=work / "README.md"),
        covers=[spec.FileDescr(source=cover)],
        attachments=[spec.FileDescr(source=work / CARD_FILE)],
        tags=TAGS,
        version=card.code_version if card.code_version[:1].isdigit() else None,
        inputs=[_input_descr(spec, card, facts, work)],
        outputs=[_output_descr(spec, card, work)],
        weights=spec.WeightsDescr(**weights),
        config={"scoutzoom": metadata},
    )


def _add_keras(entry_dir: Path, work: Path, weights: dict[str, Any], spec) -> str:
    """Add ``keras_v3`` weights (the ONNX's parent) when the cached model.keras loads; returns why not, else ""."""
    cached = entry_dir / KERAS_FILE
    if not cached.is_file():
        return f"not included: the cache entry has no {KERAS_FILE}"
    from models.bioimageio_keras import write_portable_keras

    try:
        write_portable_keras(cached, work / "weights.keras")
    except Exception as error:  # Keras raises many kinds on a file it cannot read; the ONNX weights stand alone
        return f"not included: {KERAS_FILE} does not load ({type(error).__name__}: {error})"[:300]
    keras_version, backend, backend_version = _keras_versions()
    weights["keras_v3"] = spec.KerasV3WeightsDescr(
        source=work / "weights.keras", keras_version=keras_version, backend=(backend, backend_version)
    )
    weights["onnx"] = weights["onnx"].model_copy(update={"parent": "keras_v3"})
    return ""


def export_bioimageio(entry_dir: Path, card: ModelCard, dest: Path, options: PackageOptions) -> Path:
    """Write the package to ``dest`` (a new folder, or a ``.zip`` with ``options.zip``); returns the rdf/zip path."""
    _require_spec()
    from bioimageio.spec import save_bioimageio_package, save_bioimageio_package_as_folder

    dest = Path(dest).expanduser()
    if dest.exists():
        raise InputError(dest, "already exists")
    with tempfile.TemporaryDirectory(prefix="scoutzoom-bioimageio-") as temp:
        descr = describe(Path(entry_dir), card, options, Path(temp))
        if options.zip:
            return Path(save_bioimageio_package(descr, output_path=dest))
        save_bioimageio_package_as_folder(descr, output_path=dest)
    return dest / "rdf.yaml"


def validate_package(source: Path, weight_formats: Sequence[str] = ()) -> dict[str, Any]:
    """Format validation (bioimageio.spec) and, with bioimageio.core installed, its test-model per weight format."""
    _require_spec()
    from bioimageio.spec import load_description

    descr = load_description(source)
    result: dict[str, Any] = {"format": descr.validation_summary.status, "details": descr.validation_summary.format()}
    try:
        from bioimageio.core import test_model
    except ImportError:
        result["test_model"] = "skipped: bioimageio.core not installed"
        return result
    for weight_format in weight_formats:
        summary = test_model(source, weight_format=weight_format)
        result[f"test_model_{weight_format}"] = summary.status
        result[f"test_model_{weight_format}_details"] = summary.format()
    return result
