"""The model card: everything needed to decide whether a cached model fits a new
pair, and to check that its files are the ones that were trained.

Stored as ``card.json`` next to the model files. ``card_version`` is a literal:
a card written by a future, incompatible version fails to parse and the entry
is rejected instead of being used on a guess.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.clock import utc_now
from models.conditions import AcquisitionConditions
from models.trained import CurvePoint, Normalisation, ValidationFigures

CARD_VERSION = 1
CARD_FILE = "card.json"
ONNX_FILE = "model.onnx"
KERAS_FILE = "model.keras"


def new_model_id(now: datetime | None = None) -> str:
    """A sortable, unique id: ``20250102T030405Z-1a2b3c4d``."""
    now = now or utc_now()
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def code_version() -> str:
    """Installed scoutzoom version (recorded on every card)."""
    try:
        return metadata.version("scoutzoom")
    except metadata.PackageNotFoundError:
        return "unknown"


def sha256_file(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def array_fingerprint(*arrays: np.ndarray) -> str:
    """sha256 of the arrays' shapes, dtypes and bytes: identifies training data."""
    digest = hashlib.sha256()
    for array in arrays:
        contiguous = np.ascontiguousarray(array)
        digest.update(f"{contiguous.shape}|{contiguous.dtype.str}|".encode())
        digest.update(memoryview(contiguous).cast("B"))
    return digest.hexdigest()


class ScanConditions(BaseModel):
    """Acquisition conditions of one scan, as far as matching needs them (lengths in mm)."""

    model_config = ConfigDict(extra="forbid")

    conditions: AcquisitionConditions = Field(default_factory=AcquisitionConditions)
    detector_shape: tuple[int, int]
    detector_pixel_mm: tuple[float, float]
    voxel_mm: float = Field(gt=0)


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(ge=0)


class RuntimeEngine(BaseModel):
    """A runtime artefact built from the ONNX file (e.g. a TensorRT engine)."""

    model_config = ConfigDict(extra="allow")

    file: str
    runtime: str = Field(description="e.g. tensorrt")
    tile_shape: tuple[int, ...] | None = None
    precision: str | None = None
    built_utc: datetime = Field(default_factory=utc_now)


class ModelCard(BaseModel):
    """``card.json`` of one cached model (version 1)."""

    model_config = ConfigDict(extra="forbid")

    card_version: Literal[1] = CARD_VERSION
    id: str = Field(default_factory=new_model_id, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    created_utc: datetime = Field(default_factory=utc_now)
    code_version: str = Field(default_factory=code_version)
    scout: ScanConditions
    zoom: ScanConditions
    voxel_ratio: float = Field(gt=0, description="scout voxel / zoom voxel")
    sample_class: str | None = None
    network: dict[str, Any] = Field(description="models.config.NetworkConfig as a dict (checked on verify)")
    normalisation: Normalisation
    training_data_fingerprint: str = ""
    training_iterations: int | None = None
    finetuned_from: str | None = None
    curve: list[CurvePoint] = Field(default_factory=list)
    validation: ValidationFigures
    files: dict[str, FileEntry] = Field(default_factory=dict, description="file name -> checksum; model.onnx required")
    engines: list[RuntimeEngine] = Field(default_factory=list)
    last_used_utc: datetime | None = None
    use_count: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _ratio_consistent(self) -> ModelCard:
        expected = self.scout.voxel_mm / self.zoom.voxel_mm
        if abs(expected - self.voxel_ratio) > 1e-6 * expected:
            raise ValueError(
                f"voxel_ratio must be scout.voxel_mm / zoom.voxel_mm = {expected:.6g} (got {self.voxel_ratio})"
            )
        return self

    @property
    def last_activity_utc(self) -> datetime:
        """When the model was last used, or created if never used (LRU key)."""
        return self.last_used_utc or self.created_utc

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        return cls.model_validate_json(text)


def build_card(
    scout: ScanConditions,
    zoom: ScanConditions,
    network: BaseModel | dict[str, Any],
    normalisation: Normalisation,
    validation: ValidationFigures,
    *,
    curve: list[CurvePoint] | None = None,
    sample_class: str | None = None,
    training_data_fingerprint: str = "",
    training_iterations: int | None = None,
    finetuned_from: str | None = None,
) -> ModelCard:
    """A card for a freshly trained model (``files`` are filled by ``ModelCache.add``)."""
    return ModelCard(
        scout=scout,
        zoom=zoom,
        voxel_ratio=scout.voxel_mm / zoom.voxel_mm,
        sample_class=sample_class,
        network=network.model_dump() if isinstance(network, BaseModel) else dict(network),
        normalisation=normalisation,
        validation=validation,
        curve=list(curve or []),
        training_data_fingerprint=training_data_fingerprint,
        training_iterations=training_iterations,
        finetuned_from=finetuned_from,
    )


def card_from_trained(
    trained: Any,
    scout: ScanConditions,
    zoom: ScanConditions,
    *,
    sample_class: str | None = None,
    validation: ValidationFigures | None = None,
    training_data_fingerprint: str = "",
    finetuned_from: str | None = None,
) -> ModelCard:
    """A card for a ``models.trained.TrainedModel`` (its network, normalisation, curve, held-out figures).

    ``validation`` (e.g. figures on a test slab that did not choose the model) replaces the model's own
    validation-slab figures when given.
    """
    figures = validation if validation is not None else trained.validation
    if figures is None:
        raise ValueError("a model without held-out validation figures cannot be cached (got validation=None)")
    return build_card(
        scout,
        zoom,
        trained.network,
        trained.normalisation,
        figures,
        curve=list(trained.curve),
        sample_class=sample_class,
        training_data_fingerprint=training_data_fingerprint,
        training_iterations=trained.iterations_run,
        finetuned_from=finetuned_from,
    )


def card_json_schema() -> dict[str, Any]:
    """JSON Schema of ``card.json`` (``scoutzoom schema model-card``)."""
    schema = ModelCard.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "scoutzoom model card (card.json, version 1)"
    return schema
