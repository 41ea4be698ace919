"""Quality of a recovered pair, measured on zoom data the model never trained on.

Figures on the held-out slab: recovered, cubic upsampling of the scout (its
native reconstruction) and the scout reconstructed on the zoom grid, each
against the zoom (PSNR/SSIM inside the mask). The trust report (effective
resolution, disagreement map, hallucination indicator, flags) is built by
:mod:`pipeline.evaluate.trust`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.config import ProcessConfig
from pipeline.grid import VolumeGrid
from pipeline.pair.steps import VolumeWithMask
from pipeline.region import OutputPlacement
from pipeline.pair.report import QualityFigures


@dataclass
class Assessment:
    quality: QualityFigures
    trust: dict[str, Any]
    recovered_zoom_box: np.ndarray
    cubic_zoom_box: np.ndarray
    cubic_output_slice: np.ndarray
    output_slice_z: int
    held_mask: np.ndarray | None = None
    extra_previews: dict[str, Any] = field(default_factory=dict)


def predict_volume(model: Any, volume: np.ndarray, config: ProcessConfig) -> np.ndarray:
    """Run the model over an in-memory volume (same tiling as the output)."""
    from pipeline.infer.stream import infer_volume

    out = np.zeros(volume.shape, np.float32)
    infer_volume(model.runtime, volume.astype(np.float32, copy=False), out, model.normalisation, config.inference, slices=config.network.slices)
    return out


def assess_heldout(
    *, model: Any, registered_scout: np.ndarray, zoom: np.ndarray, mask: np.ndarray, slab: tuple[int, int], cubic_box: np.ndarray,
    scout_native: VolumeWithMask, zoom_grid_in_scout: VolumeGrid, output_scout: np.ndarray,
    output_recovered: np.ndarray, output_mask: np.ndarray, placement: OutputPlacement, config: ProcessConfig,
) -> Assessment:
    from pipeline.baselines.upsample import cubic_upsample
    from pipeline.evaluate.metrics import psnr_db, ssim

    recovered_box = predict_volume(model, registered_scout, config)
    z0, z1 = slab
    held = (slice(z0, z1),)
    held_mask = mask[held]
    quality = QualityFigures(
        heldout_slab_z=(z0, z1),
        psnr_recovered_db=psnr_db(recovered_box[held], zoom[held], held_mask),
        ssim_recovered=ssim(recovered_box[held], zoom[held], held_mask),
        psnr_cubic_db=psnr_db(cubic_box[held], zoom[held], held_mask),
        ssim_cubic=ssim(cubic_box[held], zoom[held], held_mask),
        psnr_scout_on_grid_db=psnr_db(registered_scout[held], zoom[held], held_mask),
        ssim_scout_on_grid=ssim(registered_scout[held], zoom[held], held_mask),
    )
    z_mid = placement.grid.shape_zyx[0] // 2
    slice_grid = placement.grid.sub_grid(z_mid, z_mid + 1)
    cubic_slice = cubic_upsample(scout_native.volume, scout_native.grid, slice_grid)[0].astype(np.float32)
    trust = _trust(recovered_box[held], cubic_box[held], zoom[held], held_mask, zoom_grid_in_scout.voxel_mm, config,
                   scout_heldout=registered_scout[held], outside=_outside_sample(output_scout, output_recovered, output_mask, placement, zoom.shape))
    return Assessment(quality=quality, trust=trust, recovered_zoom_box=recovered_box, cubic_zoom_box=cubic_box,
                      cubic_output_slice=cubic_slice, output_slice_z=z_mid, held_mask=held_mask)


def _outside_sample(output_scout, output_recovered, output_mask, placement: OutputPlacement, zoom_shape, max_slices: int = 64):
    """A central slab (at most ``max_slices``) of the output with the zoom box masked out, for the consistency check."""
    from pipeline.evaluate.consistency import outside_zoom_mask

    nz = placement.grid.shape_zyx[0]
    z0 = max(0, nz // 2 - max_slices // 2)
    z1 = min(nz, z0 + max_slices)
    ox, oy, oz = placement.zoom_offset_xyz
    mask = outside_zoom_mask(np.asarray(output_mask[z0:z1]), (ox, oy, oz - z0), zoom_shape)
    if not mask.any():
        return None
    return (np.asarray(output_recovered[z0:z1], np.float32), np.asarray(output_scout[z0:z1], np.float32)), mask


def _trust(recovered, cubic, zoom, mask, voxel_mm, config, *, scout_heldout, outside) -> dict[str, Any]:
    """The trust report (pipeline.evaluate.trust) as a JSON-ready dict."""
    from pipeline.evaluate.trust import build_trust_report

    outside_pair, outside_mask = outside if outside is not None else (None, None)
    report = build_trust_report(recovered, cubic, zoom, mask, voxel_mm, config.trust, outside_pair=outside_pair,
                                outside_mask=outside_mask, scout_heldout=scout_heldout)
    return report.model_dump(mode="json")
