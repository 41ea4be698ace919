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

from models.bioimageio_tensors import (read_sample_volume, slab_from_volume, synthetic_slab, test_tensors, test_tile_px,
                                       write_cover, write_sample_tiffs)
from models.cache.card import CARD_FILE, KERAS_FILE, ONNX_FILE, ModelCard
from models.errors import BackendUnavailable, InputError
from models.export import PAD_KEY, SLICES_KEY

VALUE_UNIT = "mm^-1"  # linear attenuation coefficient (1/mm), in the spec's SI-unit notation
HALO_PX = 16  # output border to discard when tiling (half the paper's 32 px overlap)
UNET_CITATION = ("Ronneberger, Fischer and Brox (2015): U-Net: Convolutional Networks for Biomedical Image Segmentation, "
                 "MICCAI 2015", "10.1007/978-3-319-24574-4_28")


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
        raise BackendUnavailable("BioImage Model Zoo export needs bioimageio.spec: pip install 'scoutzoom[bioimageio]'") from None


def onnx_facts(path: Path) -> dict[str, int]:
    """``slices``, ``pad_multiple_px`` and ``opset`` of an exported ONNX graph (our metadata keys)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False)
    props = {entry.key: entry.value for entry in graph.metadata_props}
    if SLICES_KEY not in props or PAD_KEY not in props:
        raise InputError(path, f"ONNX graph lacks the {SLICES_KEY} / {PAD_KEY} metadata written by models.export")
    opset = max(entry.version for entry in graph.opset_import if entry.domain in ("", "ai.onnx"))
    return {"slices": int(props[SLICES_KEY]), "pad_multiple_px": int(props[PAD_KEY]), "opset": int(opset)}


def channel_names(slices: int) -> list[str]:
    """``z_m2, z_m1, z, z_p1, z_p2`` for 5 slices: offset of each channel's slice from the centre slice."""
    half = slices // 2
    return [("z" if k == 0 else f"z_{'m' if k < 0 else 'p'}{abs(k)}") for k in range(-half, half + 1)]


def scoutzoom_metadata(card: ModelCard) -> dict[str, Any]:
    """The card's conditions, normalisation and held-out figures for ``config.scoutzoom``."""
    return {
        "model_id": card.id,
        "code_version": card.code_version,
        "created_utc": card.created_utc.isoformat(),
        "voxel_ratio": card.voxel_ratio,
        "sample_class": card.sample_class,
        "scout": card.scout.model_dump(mode="json"),
        "zoom": card.zoom.model_dump(mode="json"),
        "network": card.network,
        "normalisation": card.normalisation.model_dump(mode="json"),
        "validation": card.validation.model_dump(mode="json") | {"gain_db": card.validation.gain_db},
        "training_iterations": card.training_iterations,
        "finetuned_from": card.finetuned_from,
        "value_unit": "1/mm",
        "slices_axis": "channel: adjacent z-slices of the zoom grid, bottom to top; the output is the centre slice",
    }


def default_name(card: ModelCard) -> str:
    c = card.scout.conditions
    parts = [f"scoutzoom {card.voxel_ratio:.3g}x resolution recovery", card.sample_class, f"{c.voltage_kv:g} kV" if c.voltage_kv else None,
             c.objective]
    return " ".join(part for part in parts if part)[:128]


def readme(card: ModelCard, facts: dict[str, int]) -> str:
    """Markdown documentation of the package (what the model does, its input, its limits)."""
    v = card.validation
    names = ", ".join(channel_names(facts["slices"]))
    return f"""# {default_name(card)}

A 2.5D U-Net trained by scoutzoom (version {card.code_version}) to recover resolution in X-ray micro-CT:
it maps a low-resolution scout scan, resampled onto the grid of a high-resolution zoom scan
({card.zoom.voxel_mm * 1000:.3g} µm voxels; scout voxels {card.scout.voxel_mm * 1000:.3g} µm, ratio {card.voxel_ratio:.3g}:1),
to what the zoom scan shows.

## Input and output

- input `slices`: `[batch, y, x, channel]`, float32, linear attenuation in 1/mm; the {facts['slices']} channels
  ({names}) are adjacent z-slices of the volume on the zoom grid, bottom to top. y and x must be multiples
  of {facts['pad_multiple_px']} px.
- output `recovered`: `[batch, y, x, 1]`, the recovered centre slice, 1/mm. Slide the 5-slice window along z
  (stride 1) to recover a volume; overlap tiles by at least {2 * HALO_PX} px in y and x.
- pre-processing `(value - {card.normalisation.offset:.6g}) / {card.normalisation.scale:.6g}` and post-processing
  (its inverse) are in the description; the weights work on normalised values.

## Validation

Trained under these acquisition conditions only (scout / zoom): {card.scout.conditions.model_dump(exclude_none=True)} /
{card.zoom.conditions.model_dump(exclude_none=True)}; `config.scoutzoom` and the attached `card.json` hold them in full.
On held-out zoom data (never trained on) it reached PSNR {v.psnr_db:.2f} dB (input: {v.psnr_input_db:.2f} dB) and
SSIM {v.ssim:.3f} (input: {v.ssim_input:.3f}). Other samples, scanners or settings need their own check against a zoom scan.
"""


def _keras_versions() -> tuple[str, str, str]:
    """Keras version, its backend and the backend's version (recorded with the keras_v3 weights)."""
    import importlib

    import keras

    backend = keras.backend.backend()
    return keras.__version__, backend, importlib.import_module(backend).__version__


def describe(entry_dir: Path, card: ModelCard, options: PackageOptions, work: Path):
    """The ``ModelDescr`` of the entry, with its files (test tensors, cover, README, weights) written into ``work``."""
    from bioimageio.spec.generic.v0_3 import Author, CiteEntry
    from bioimageio.spec.model import v0_5 as spec

    onnx_path = entry_dir / ONNX_FILE
    facts = onnx_facts(onnx_path)
    tile = test_tile_px(facts["pad_multiple_px"])
    slab = (slab_from_volume(read_sample_volume(options.sample), facts["slices"], tile) if options.sample
            else synthetic_slab(facts["slices"], tile, card.normalisation))
    stack, output = test_tensors(slab, onnx_path, card.normalisation)
    np.save(work / "test_input.npy", stack)
    np.save(work / "test_output.npy", output)
    write_sample_tiffs(work, stack, output)
    cover = work / f"cover{options.cover.suffix.lower()}" if options.cover else work / "cover.png"
    if options.cover:
        shutil.copyfile(options.cover, cover)
    else:
        write_cover(cover, stack, output)
    (work / "README.md").write_text(readme(card, facts), encoding="utf-8")
    shutil.copyfile(entry_dir / CARD_FILE, work / CARD_FILE)
    shutil.copyfile(onnx_path, work / "weights.onnx")

    n = card.normalisation
    voxel_mm = card.zoom.voxel_mm
    step = facts["pad_multiple_px"]
    space = {"unit": "millimeter", "scale": voxel_mm}
    inputs = [spec.InputTensorDescr(
        id=spec.TensorId("slices"),
        description=f"{facts['slices']} adjacent z-slices of the volume on the zoom grid as channels (1/mm)",
        axes=[spec.BatchAxis(),
              spec.SpaceInputAxis(id=spec.AxisId("y"), size=spec.ParameterizedSize(min=max(step, 4 * HALO_PX), step=step), **space),
              spec.SpaceInputAxis(id=spec.AxisId("x"), size=spec.ParameterizedSize(min=max(step, 4 * HALO_PX), step=step), **space),
              spec.ChannelAxis(channel_names=[spec.Identifier(name) for name in channel_names(facts["slices"])])],
        test_tensor=spec.FileDescr(source=work / "test_input.npy"),
        sample_tensor=spec.FileDescr(source=work / "sample_input.tif"),
        data=spec.IntervalOrRatioDataDescr(type="float32", unit=VALUE_UNIT),
        preprocessing=[spec.EnsureDtypeDescr(kwargs=spec.EnsureDtypeKwargs(dtype="float32")),
                       spec.ScaleLinearDescr(kwargs=spec.ScaleLinearKwargs(gain=1.0 / n.scale, offset=-n.offset / n.scale))],
    )]
    outputs = [spec.OutputTensorDescr(
        id=spec.TensorId("recovered"),
        description="the recovered centre slice (1/mm)",
        axes=[spec.BatchAxis(),
              spec.SpaceOutputAxisWithHalo(id=spec.AxisId("y"), halo=HALO_PX,
                                           size=spec.SizeReference(tensor_id=spec.TensorId("slices"), axis_id=spec.AxisId("y")), **space),
              spec.SpaceOutputAxisWithHalo(id=spec.AxisId("x"), halo=HALO_PX,
                                           size=spec.SizeReference(tensor_id=spec.TensorId("slices"), axis_id=spec.AxisId("x")), **space),
              spec.ChannelAxis(channel_names=[spec.Identifier("recovered")])],
        test_tensor=spec.FileDescr(source=work / "test_output.npy"),
        sample_tensor=spec.FileDescr(source=work / "sample_output.tif"),
        data=spec.IntervalOrRatioDataDescr(type="float32", unit=VALUE_UNIT),
        postprocessing=[spec.ScaleLinearDescr(kwargs=spec.ScaleLinearKwargs(gain=n.scale, offset=n.offset)),
                        spec.EnsureDtypeDescr(kwargs=spec.EnsureDtypeKwargs(dtype="float32"))],
    )]
    weights: dict[str, Any] = {"onnx": spec.OnnxWeightsDescr(source=work / "weights.onnx", opset_version=facts["opset"])}
    keras_comment = _add_keras(entry_dir, work, weights, spec)
    return spec.ModelDescr(
        name=options.name or default_name(card),
        description=(f"Resolution recovery for X-ray micro-CT: scout ({card.scout.voxel_mm * 1000:.3g} µm) to zoom "
                     f"({card.zoom.voxel_mm * 1000:.3g} µm) under fixed acquisition conditions; 2.5D U-Net, {facts['slices']} slices in."),
        authors=[Author(name=name) for name in options.authors],  # no github_user: checking one needs the network
        cite=[CiteEntry(text=text, **({"doi": ref} if ref.startswith("10.") else {"url": ref})) for text, ref in options.cite],
        license=options.license,
        documentation=spec.FileDescr(source=work / "README.md"),
        covers=[spec.FileDescr(source=cover)],
        attachments=[spec.FileDescr(source=work / CARD_FILE)],
        tags=["x-ray-ct", "micro-ct", "3d", "resolution-recovery", "super-resolution", "denoising", "unet", "scoutzoom"],
        version=card.code_version if card.code_version[:1].isdigit() else None,
        inputs=inputs,
        outputs=outputs,
        weights=spec.WeightsDescr(**weights),
        config={"scoutzoom": scoutzoom_metadata(card) | ({"keras_weights": keras_comment} if keras_comment else {})},
    )


def _add_keras(entry_dir: Path, work: Path, weights: dict[str, Any], spec) -> str:
    """Add ``keras_v3`` weights (parent: the ONNX's source) when the cached model.keras loads; returns why not, else ""."""
    cached = entry_dir / KERAS_FILE
    if not cached.is_file():
        return f"not included: the cache entry has no {KERAS_FILE}"
    from models.bioimageio_keras import write_portable_keras

    try:
        write_portable_keras(cached, work / "weights.keras")
    except Exception as error:  # Keras raises many kinds on a file it cannot read; the ONNX weights stand alone
        return f"not included: {KERAS_FILE} does not load ({type(error).__name__}: {error})"[:300]
    keras_version, backend, backend_version = _keras_versions()
    weights["keras_v3"] = spec.KerasV3WeightsDescr(source=work / "weights.keras", keras_version=keras_version,
                                                   backend=(backend, backend_version))
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
    """Format validation (bioimageio.spec) and, when bioimageio.core is installed, its test-model per weight format."""
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
