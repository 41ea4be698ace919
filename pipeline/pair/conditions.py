"""Adapters from scan metadata (``scan.json``) to the model cache's own records.

The model card keeps its own acquisition-conditions record
(:class:`models.cache.card.ScanConditions`), so its saved format does not depend
on the contract's classes; this is the one place that maps one onto the other.
"""

from __future__ import annotations

from models.cache.card import AcquisitionConditions, ScanConditions
from models.cache.matching import MatchQuery
from pipeline.acquisition.contract import ScanMetadata


def scan_conditions(meta: ScanMetadata) -> ScanConditions:
    """The conditions of one scan that model matching compares (voxel and pitch in mm)."""
    return ScanConditions(
        conditions=AcquisitionConditions.model_validate(meta.conditions.model_dump()),
        detector_shape=meta.geometry.detector_shape,
        detector_pixel_mm=meta.geometry.detector_pixel_mm,
        voxel_mm=meta.voxel_mm,
    )


def pair_sample_class(scout: ScanMetadata, zoom: ScanMetadata, override: str | None = None) -> str | None:
    """The pair's sample class: ``override`` (from config) wins over the zoom's, then the scout's ``scan.json``."""
    return override if override is not None else (zoom.sample_class or scout.sample_class)


def match_query(
    scout: ScanMetadata, zoom: ScanMetadata, *, slices: int = 5, sample_class: str | None = None
) -> MatchQuery:
    """What a new pair looks like to the model cache."""
    return MatchQuery(
        scout=scan_conditions(scout),
        zoom=scan_conditions(zoom),
        sample_class=pair_sample_class(scout, zoom, sample_class),
        slices=slices,
    )
