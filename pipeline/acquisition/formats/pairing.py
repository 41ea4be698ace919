"""Pairing loose scans by their metadata: same sample, the coarser voxel is the scout, the zoom inside it.

Pure functions on summaries (no file access once summarised), so the
watcher can call them every scan cycle and report every group that is not
exactly one clear pair, never guess: one scan waits for its partner; three or
more, voxel sizes too close to tell scout from zoom, roles that contradict the
voxel sizes, or a zoom field of view outside the scout's by the stage
positions are ambiguous. The ``scout/`` + ``zoom/`` folder layout is the rule
that needs none of this (the folders say the roles).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from pipeline.acquisition.contract import ScanMetadata, VolumeScanMetadata

GroupBy = Literal["sample_id", "folder", "name"]
ROLE_WORDS = re.compile(r"([_\-. ]+(scout|zoom|overview|detail|roi|lowres|highres|\d+(\.\d+)?x|\d+))+$", re.IGNORECASE)


class ScanSummary(BaseModel):
    """What pairing needs of one scan: where it is, the sample, voxel size and field of view (mm, sample frame)."""

    model_config = ConfigDict(frozen=True)

    path: Path
    kind: str
    sample_id: str
    voxel_mm: float
    centre_mm: tuple[float, float, float]  # the sample point at the volume centre (sample_position_mm)
    radius_mm: float  # field-of-view cylinder radius about the rotation axis
    height_mm: float
    role: Literal["scout", "zoom"] | None = None  # declared by the source itself (contract folder, sidecar), if any


class ProposedPair(BaseModel):
    key: str
    scout: Path
    zoom: Path
    voxel_ratio: float


class UnpairedGroup(BaseModel):
    key: str
    paths: list[Path]
    reason: str
    ambiguous: bool  # False: waiting for a partner; True: reported, never processed


class PairingResult(BaseModel):
    pairs: list[ProposedPair] = []
    unpaired: list[UnpairedGroup] = []

    @property
    def ambiguous(self) -> list[UnpairedGroup]:
        return [g for g in self.unpaired if g.ambiguous]


def summarise(
    path: Path,
    kind: str,
    meta: ScanMetadata | VolumeScanMetadata,
    volume_shape_zyx: tuple[int, int, int] | None = None,
    volume_voxel_zyx_mm: tuple[float, float, float] | None = None,
    declared_role: bool = False,
) -> ScanSummary:
    """A summary from typed metadata; a volume scan also needs its array shape and voxel size."""
    if isinstance(meta, ScanMetadata):
        voxel, radius, height = (
            meta.voxel_mm,
            meta.geometry.field_of_view_radius_mm(),
            meta.geometry.field_of_view_height_mm(),
        )
    else:
        if volume_shape_zyx is None or volume_voxel_zyx_mm is None:
            raise ValueError("a volume scan's summary needs its shape and voxel size")
        size_zyx = np.asarray(volume_shape_zyx, float) * np.asarray(volume_voxel_zyx_mm, float)
        voxel, radius, height = (
            float(np.mean(volume_voxel_zyx_mm)),
            float(min(size_zyx[1], size_zyx[2]) / 2),
            float(size_zyx[0]),
        )
    return ScanSummary(
        path=path,
        kind=kind,
        sample_id=meta.sample_id,
        voxel_mm=voxel,
        centre_mm=meta.sample_position_mm,
        radius_mm=radius,
        height_mm=height,
        role=meta.role if declared_role else None,
    )


def group_key(summary: ScanSummary, group_by: GroupBy) -> str:
    """The sample a scan belongs to: its sample id, its folder, or its file name without role words and numbers."""
    if group_by == "sample_id":
        return summary.sample_id
    if group_by == "folder":
        return str(summary.path.parent)
    stem = summary.path.name.split(".")[0]
    return str(summary.path.parent / (ROLE_WORDS.sub("", stem).lower() or stem.lower()))


def zoom_inside_scout(scout: ScanSummary, zoom: ScanSummary, tolerance: float) -> tuple[bool, str]:
    """Whether the zoom's field-of-view cylinder lies in the scout's (stage prior), with a relative tolerance."""
    dx, dy, dz = (z - s for z, s in zip(zoom.centre_mm, scout.centre_mm, strict=True))
    radial = math.hypot(dx, dy) + zoom.radius_mm
    vertical = abs(dz) + zoom.height_mm / 2
    if radial > scout.radius_mm * (1 + tolerance):
        return False, f"zoom reaches {radial:.3f} mm from the scout axis, the scout sees {scout.radius_mm:.3f} mm"
    if vertical > scout.height_mm / 2 * (1 + tolerance):
        return (
            False,
            f"zoom reaches {vertical:.3f} mm from the scout centre height, "
            f"the scout covers ±{scout.height_mm / 2:.3f} mm",
        )
    return True, ""


def _judge(key: str, members: list[ScanSummary], min_ratio: float, tolerance: float) -> ProposedPair | UnpairedGroup:
    paths = sorted(m.path for m in members)
    if len(members) == 1:
        return UnpairedGroup(key=key, paths=paths, reason="one scan; waiting for its partner", ambiguous=False)
    if len(members) > 2:
        return UnpairedGroup(
            key=key,
            paths=paths,
            reason=f"{len(members)} scans of one sample; which two pair is not guessed",
            ambiguous=True,
        )
    scout, zoom = sorted(members, key=lambda m: -m.voxel_mm)
    ratio = scout.voxel_mm / zoom.voxel_mm
    if ratio < min_ratio:
        return UnpairedGroup(
            key=key,
            paths=paths,
            ambiguous=True,
            reason=f"voxel sizes {scout.voxel_mm:.5f} and {zoom.voxel_mm:.5f} mm (ratio {ratio:.2f} < {min_ratio}): "
            "cannot tell scout from zoom",
        )
    if scout.role == "zoom" or zoom.role == "scout":
        return UnpairedGroup(key=key, paths=paths, ambiguous=True, reason="declared roles contradict the voxel sizes")
    inside, why = zoom_inside_scout(scout, zoom, tolerance)
    if not inside:
        return UnpairedGroup(
            key=key, paths=paths, ambiguous=True, reason=f"zoom outside the scout by the stage positions: {why}"
        )
    return ProposedPair(key=key, scout=scout.path, zoom=zoom.path, voxel_ratio=ratio)


def pair_scans(
    summaries: list[ScanSummary],
    *,
    group_by: GroupBy = "sample_id",
    min_voxel_ratio: float = 1.5,
    fov_tolerance: float = 0.05,
) -> PairingResult:
    """Group ``summaries`` by sample and judge each group (see module docstring)."""
    groups: dict[str, list[ScanSummary]] = defaultdict(list)
    for summary in summaries:
        groups[group_key(summary, group_by)].append(summary)
    result = PairingResult()
    for key in sorted(groups):
        judged = _judge(key, groups[key], min_voxel_ratio, fov_tolerance)
        (result.pairs if isinstance(judged, ProposedPair) else result.unpaired).append(judged)  # type: ignore[arg-type]
    return result
