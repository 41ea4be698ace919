"""Model card: JSON round trip, schema, version and consistency checks."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from models.cache.card import ModelCard, build_card, card_json_schema
from models.config import NetworkConfig
from models.trained import CurvePoint, Normalisation, ValidationFigures
from pipeline.acquisition.contract import ScanMetadata
from pipeline.pair.conditions import pair_sample_class, scan_conditions


def _scan(role: str, voxel_mm: float, sample_class: str | None = None) -> ScanMetadata:
    return ScanMetadata.model_validate(
        {
            "format_version": 1,
            "role": role,
            "sample_id": "foam-1",
            "values": "line_integral",
            "geometry": {
                "source_to_axis_mm": 25.0,
                "source_to_detector_mm": 250.0,
                "detector_shape": [64, 80],
                "detector_pixel_mm": [0.2, 0.2],
                "angles_deg": {"step": 1.0, "count": 360},
            },
            "conditions": {"voltage_kv": 80, "filter": "LE2", "objective": "4X", "binning": 2},
            "recon_voxel_mm": voxel_mm,
            "sample_class": sample_class,
        }
    )


def test_card_round_trips_through_json(make_card) -> None:
    card = make_card(sample_class="foam", curve=[CurvePoint(iteration=0, train_loss=1.0, val_loss=1.2)])
    again = ModelCard.from_json(card.to_json())
    assert again == card
    assert json.loads(card.to_json())["card_version"] == 1


def test_card_json_schema_describes_the_card(make_card) -> None:
    schema = card_json_schema()
    assert schema["properties"]["card_version"]["const"] == 1
    assert {"scout", "zoom", "voxel_ratio", "network", "validation", "files"} <= set(schema["properties"])
    assert "scout" in schema["required"] and "validation" in schema["required"]


def test_unsupported_card_version_does_not_parse(make_card) -> None:
    data = json.loads(make_card().to_json())
    data["card_version"] = 2
    with pytest.raises(ValidationError, match="card_version"):
        ModelCard.model_validate(data)


def test_inconsistent_voxel_ratio_is_refused(make_card) -> None:
    data = json.loads(make_card().to_json())
    data["voxel_ratio"] = 5.0
    with pytest.raises(ValidationError, match="voxel_ratio"):
        ModelCard.model_validate(data)


def test_build_card_from_scan_metadata() -> None:
    scout, zoom = _scan("scout", 0.03), _scan("zoom", 0.01, sample_class="foam")
    card = build_card(
        scan_conditions(scout),
        scan_conditions(zoom),
        NetworkConfig(),
        Normalisation(offset=0.0, scale=1.0),
        ValidationFigures(psnr_db=31.0, ssim=0.9, psnr_input_db=25.0, ssim_input=0.8),
        sample_class=pair_sample_class(scout, zoom),
    )
    assert card.voxel_ratio == pytest.approx(3.0)
    assert card.sample_class == "foam"
    assert card.scout.detector_shape == (64, 80)
    assert card.zoom.conditions.objective == "4X"
    assert card.network["slices"] == 5
    assert card.validation.gain_db == pytest.approx(6.0)
    assert card.code_version  # recorded from the installed package


def test_card_from_trained_model_record() -> None:
    from models.cache.card import card_from_trained
    from models.config import TrainingConfig
    from models.trained import CurvePoint as TrainedPoint
    from models.trained import Normalisation, TrainedModel
    from models.trained import ValidationFigures as TrainedFigures

    trained = TrainedModel(
        model=None,
        network=NetworkConfig(depth=2),
        training=TrainingConfig(),
        normalisation=Normalisation(offset=0.5, scale=3.0),
        curve=[TrainedPoint(iteration=10, train_loss=0.2, val_loss=0.3)],
        validation=TrainedFigures(
            psnr_db=30.0, ssim=0.9, psnr_input_db=25.0, ssim_input=0.8, slab_z=(0, 4), voxels=100
        ),
        iterations_run=300,
    )
    card = card_from_trained(
        trained,
        scan_conditions(_scan("scout", 0.03)),
        scan_conditions(_scan("zoom", 0.01)),
        training_data_fingerprint="abc",
    )
    assert card.network["depth"] == 2 and card.normalisation.scale == 3.0
    assert card.curve[0].val_loss == 0.3 and card.training_iterations == 300
    assert ModelCard.from_json(card.to_json()).validation.gain_db == pytest.approx(5.0)
