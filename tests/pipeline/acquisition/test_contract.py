"""scan.json models: round trip, schema, validation errors."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest
from pydantic import ValidationError

from pipeline.acquisition.contract import ScanMetadata, json_schema, pair_offset_mm
from tests.pipeline.acquisition.conftest import metadata_dict


def test_round_trip_keeps_unknown_keys() -> None:
    document = metadata_dict()
    meta = ScanMetadata.model_validate(document)
    again = ScanMetadata.model_validate_json(meta.model_dump_json())
    assert again == meta
    assert again.model_extra == {"lab_notes": {"operator": "ada"}}


def test_example_validates_against_exported_schema() -> None:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(metadata_dict(), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**metadata_dict(), "values": "counts"}, schema)


def test_angles_as_object_or_list() -> None:
    explicit = metadata_dict()
    explicit["geometry"]["angles_deg"] = [0.0, 90.0, 180.0, 270.0]
    assert ScanMetadata.model_validate(explicit).geometry.angles().tolist() == [0.0, 90.0, 180.0, 270.0]
    ranged = ScanMetadata.model_validate(metadata_dict(count=4))
    np.testing.assert_allclose(ranged.geometry.angles(), [0, 60, 120, 180])


def test_default_voxel_is_pitch_over_magnification() -> None:
    document = metadata_dict()
    del document["recon_voxel_mm"]
    assert ScanMetadata.model_validate(document).voxel_mm == pytest.approx(0.02)


def test_pair_offset_is_zoom_minus_scout() -> None:
    scout = ScanMetadata.model_validate({**metadata_dict(role="scout"), "sample_position_mm": [1.0, 2.0, 3.0]})
    zoom = ScanMetadata.model_validate({**metadata_dict(role="zoom"), "sample_position_mm": [1.5, 1.0, 3.25]})
    np.testing.assert_allclose(pair_offset_mm(scout, zoom), [0.5, -1.0, 0.25])


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d.pop("geometry"), "geometry: Field required"),
        (lambda d: d.update(format_version=2), "format_version"),
        (lambda d: d["geometry"].update(detector_shape=[256, "wide"]), "geometry.detector_shape.1"),
        (lambda d: d["geometry"].update(source_to_detector_mm=10.0), "source_to_detector_mm must exceed"),
        (lambda d: d["geometry"].update(detector_shape=[10**6, 10]), "geometry.detector_shape.0"),
        (lambda d: d["geometry"]["angles_deg"].update(step=0), "step must be finite and non-zero"),
        (lambda d: d.update(role="overview"), "role"),
    ],
)
def test_invalid_metadata_names_the_field(mutate, fragment: str) -> None:
    document = json.loads(json.dumps(metadata_dict()))
    mutate(document)
    with pytest.raises(ValidationError) as caught:
        ScanMetadata.model_validate(document)
    from models.errors import format_validation_error

    assert fragment in format_validation_error(caught.value) or fragment in str(caught.value)
