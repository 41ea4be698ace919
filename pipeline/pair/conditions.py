"""Adapters from scan metadata (``scan.json``) to the model cache's own records.

The model card keeps its own acquisition-conditions record
(:class:`models.cache.card.ScanConditions`), so its saved format does not depend
on the contract's classes; this is the one place that maps one onto the other.
"""

from __future__ import annotations

from models.cache.card import AcquisitionConditions, ScanConditions
from models.cache.matching import MatchQuery
from pipeline.acquisition.contract import ScanMetadata, VolumeScanMetadata

AnyMetadata = ScanMetadata | VolumeScanMetadata
NO_DETECTOR = ((0, 0), (0.0, 0.0))  # a reconstructed-volume scan: no detector is known (shape, pitch mm)


def scan_conditions(meta: AnyMetadata) -> ScanConditions:
    """The conditions of one scan that model matching compares (voxel and pitch in mm); a volume scan records
    no detector (shape ``(0, 0)``, pitch 0: matching compares conditions and voxel sizes, not the detector)."""
    shape, pitch = (
        NO_DETECTOR
        if isinstance(meta, VolumeScanMetadata)
        else (meta.geometry.detector_shape, meta.geometry.detector_pixel_mm)
    )
    return ScanConditions(
        conditions=AcquisitionConditions.model_validate(meta.conditions.model_dump()),
        detector_shape=shape,
        detector_pixel_mm=pitch,
        voxel_mm=meta.voxel_mm,
    )


def pair_sample_class(scout: AnyMetadata, zoom: AnyMetadata, override: str | None = None) -> str | None:
    """The pair's sample class: ``override`` (from config) wins over the zoom's, then the scout's ``scan.json``."""
    return override if override is not None else (zoom.sample_class or scout.sample_class)


def match_query(
    scout: AnyMetadata, zoom: AnyMetadata, *, slices: int = 5, sample_class: str | None = None
) -> MatchQuery:
    """What a new pair looks like to the model cache."""
    return MatchQuery(
        scout=scan_conditions(scout),
        zoom=scan_conditions(zoom),
        sample_class=pair_sample_class(scout, zoom, sample_class),
        slices=slices,
    )
