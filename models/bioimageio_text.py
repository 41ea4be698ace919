"""What a BioImage Model Zoo package says about its model: name, README and the ``config.scoutzoom`` metadata.

All of it comes from the model card, so a package never claims more than the
cache knows: the acquisition conditions it was trained under, its
normalisation and its figures on held-out zoom data.
"""

from __future__ import annotations

from typing import Any

from models.cache.card import ModelCard

HALO_PX = 16  # output border to discard when tiling (half the paper's 32 px overlap)


def channel_names(slices: int) -> list[str]:
    """``z_m2, z_m1, z, z_p1, z_p2`` for 5 slices: offset of each channel's slice from the centre slice."""
    half = slices // 2
    return [("z" if k == 0 else f"z_{'m' if k < 0 else 'p'}{abs(k)}") for k in range(-half, half + 1)]


def default_name(card: ModelCard) -> str:
    """E.g. ``scoutzoom 3x resolution recovery foam 80 kV 4X`` (at most 128 characters, the spec's limit)."""
    c = card.scout.conditions
    parts = [
        f"scoutzoom {card.voxel_ratio:.3g}x resolution recovery",
        card.sample_class,
        f"{c.voltage_kv:g} kV" if c.voltage_kv else None,
        c.objective,
    ]
    return " ".join(part for part in parts if part)[:128]


def description(card: ModelCard, slices: int) -> str:
    """One-line description for the package."""
    return (
        f"Resolution recovery for X-ray micro-CT: scout ({card.scout.voxel_mm * 1000:.3g} µm) to zoom "
        f"({card.zoom.voxel_mm * 1000:.3g} µm) under fixed acquisition conditions; 2.5D U-Net, {slices} slices in."
    )


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


def readme(card: ModelCard, slices: int, pad_multiple_px: int) -> str:
    """Markdown documentation of the package (what the model does, its input, its limits)."""
    v, n = card.validation, card.normalisation
    scout = card.scout.conditions.model_dump(exclude_none=True)
    zoom = card.zoom.conditions.model_dump(exclude_none=True)
    return f"""# {default_name(card)}

A 2.5D U-Net trained by scoutzoom (version {card.code_version}) to recover resolution in X-ray micro-CT:
it maps a low-resolution scout scan, resampled onto the grid of a high-resolution zoom scan
({card.zoom.voxel_mm * 1000:.3g} µm voxels; scout voxels {card.scout.voxel_mm * 1000:.3g} µm,
ratio {card.voxel_ratio:.3g}:1), to what the zoom scan shows.

## Input and output

- input `slices`: `[batch, y, x, channel]`, float32, linear attenuation in 1/mm; the {slices} channels
  ({", ".join(channel_names(slices))}) are adjacent z-slices of the volume on the zoom grid, bottom to top.
  y and x must be multiples of {pad_multiple_px} px.
- output `recovered`: `[batch, y, x, 1]`, the recovered centre slice, 1/mm. Slide the {slices}-slice window
  along z (stride 1) to recover a volume; overlap tiles by at least {2 * HALO_PX} px in y and x.
- pre-processing `(value - {n.offset:.6g}) / {n.scale:.6g}` and post-processing (its inverse) are in the
  description; the weights work on normalised values.

## Validation

Trained under these acquisition conditions only (scout / zoom): {scout} / {zoom};
`config.scoutzoom` and the attached `card.json` hold them in full. On held-out zoom data (never trained on)
it reached PSNR {v.psnr_db:.2f} dB (input: {v.psnr_input_db:.2f} dB) and SSIM {v.ssim:.3f}
(input: {v.ssim_input:.3f}). Other samples, scanners or settings need their own check against a zoom scan.
"""
