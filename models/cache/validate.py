"""Validation of a cached model on a new pair before it is reused.

The candidate predicts the new pair's registered scout region (the network's
input, on the zoom grid); its prediction and the input itself are compared with
the zoom inside the mask. The model is reused only if its gain over the input
and its PSNR/SSIM stay within ``ValidationPolicy`` margins of the figures on
its card (measured the same way on its own held-out slab), so a model that
does not transfer (other blur, other material) is caught.

Figures come from :mod:`models.quality` (PSNR with the zoom's range inside the
mask; mean SSIM over masked voxels), the same functions that measure the
held-out figures recorded on a card at training time, so they compare.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from models.cache.card import ModelCard
from models.cache.config import ValidationPolicy
from models.quality import psnr_db as masked_psnr_db
from models.quality import ssim as masked_ssim

Predictor = Callable[[np.ndarray], np.ndarray]
"""Whole-volume prediction: input [z, y, x] float32 -> output of the same shape (e.g. a closure around infer_volume)."""


class ValidationOutcome(BaseModel):
    """Figures of a candidate on the new pair and the decision taken on them (None: not measurable)."""

    model_config = ConfigDict(ser_json_inf_nan="null")

    accepted: bool
    psnr_db: float | None
    ssim: float | None
    psnr_input_db: float
    ssim_input: float
    gain_db: float | None
    psnr_baseline_db: float | None = None
    reasons: list[str] = Field(default_factory=list)


def judge(
    card: ModelCard,
    psnr_db: float,
    ssim: float,
    psnr_input_db: float,
    policy: ValidationPolicy,
    psnr_baseline_db: float | None = None,
) -> list[str]:
    """Reasons why the figures on the new pair are not good enough (empty: accept)."""
    reasons: list[str] = []
    own = card.validation
    gain = psnr_db - psnr_input_db
    if np.isnan(psnr_db) or psnr_db == float("-inf"):
        return [f"prediction is not usable (PSNR {psnr_db})"]
    if gain < policy.min_gain_db:
        reasons.append(f"gain over input {gain:+.2f} dB < required {policy.min_gain_db:+.2f} dB")
    if policy.max_gain_drop_db is not None and gain < own.gain_db - policy.max_gain_drop_db:
        reasons.append(
            f"gain over input {gain:+.2f} dB vs {own.gain_db:+.2f} dB on its own data (allowed drop "
            f"{policy.max_gain_drop_db} dB)"
        )
    if policy.max_psnr_drop_db is not None and psnr_db < own.psnr_db - policy.max_psnr_drop_db:
        reasons.append(
            f"PSNR {psnr_db:.2f} dB vs {own.psnr_db:.2f} dB on its own data (allowed drop {policy.max_psnr_drop_db} dB)"
        )
    if policy.max_ssim_drop is not None and ssim < own.ssim - policy.max_ssim_drop:
        reasons.append(f"SSIM {ssim:.3f} vs {own.ssim:.3f} on its own data (allowed drop {policy.max_ssim_drop})")
    if psnr_baseline_db is not None and policy.min_gain_over_baseline_db is not None:
        over = psnr_db - psnr_baseline_db
        if over < policy.min_gain_over_baseline_db:
            reasons.append(f"gain over baseline {over:+.2f} dB < required {policy.min_gain_over_baseline_db:+.2f} dB")
    return reasons


def validate_candidate(
    card: ModelCard,
    predict: Predictor,
    inputs: np.ndarray,
    target: np.ndarray,
    mask: np.ndarray,
    policy: ValidationPolicy,
    *,
    baseline: np.ndarray | None = None,
) -> ValidationOutcome:
    """Run ``predict`` on ``inputs`` and judge it against ``target`` inside ``mask``.

    ``inputs``/``target``/``mask``: the new pair's registered scout, zoom and
    valid field of view, [z, y, x] on the zoom grid. ``baseline`` (optional,
    e.g. cubic upsampling of the scout) must also be beaten when given.
    """
    mask = np.asarray(mask, dtype=bool)
    if inputs.shape != target.shape or mask.shape != target.shape:
        raise ValueError(
            f"inputs, target and mask must have one shape (got {inputs.shape}, {target.shape}, {mask.shape})"
        )
    inputs, target, mask, baseline = _central_slab(inputs, target, mask, baseline, policy.max_slices, card)
    if not mask.any():
        raise ValueError("mask is empty: nothing to validate on")
    prediction = np.asarray(predict(inputs))
    if prediction.shape != target.shape:
        raise ValueError(f"prediction shape {prediction.shape} differs from target {target.shape}")
    if not np.isfinite(prediction[mask]).all():
        return ValidationOutcome(
            accepted=False,
            psnr_db=None,
            ssim=None,
            psnr_input_db=masked_psnr_db(inputs, target, mask),
            ssim_input=masked_ssim(inputs, target, mask),
            gain_db=None,
            reasons=["prediction has NaN or inf values"],
        )
    psnr_db = masked_psnr_db(prediction, target, mask)
    ssim = masked_ssim(prediction, target, mask)
    psnr_input_db = masked_psnr_db(inputs, target, mask)
    psnr_baseline_db = masked_psnr_db(baseline, target, mask) if baseline is not None else None
    reasons = judge(card, psnr_db, ssim, psnr_input_db, policy, psnr_baseline_db)
    return ValidationOutcome(
        accepted=not reasons,
        psnr_db=_finite(psnr_db),
        ssim=ssim,
        psnr_input_db=psnr_input_db,
        ssim_input=masked_ssim(inputs, target, mask),
        gain_db=_finite(psnr_db - psnr_input_db),
        psnr_baseline_db=_finite(psnr_baseline_db),
        reasons=reasons,
    )


def _central_slab(
    inputs: np.ndarray,
    target: np.ndarray,
    mask: np.ndarray,
    baseline: np.ndarray | None,
    max_slices: int | None,
    card: ModelCard,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """At most ``max_slices`` central z-slices; slices whose stack would reach past a cut are left out of the mask."""
    depth = inputs.shape[0]
    if max_slices is None or depth <= max_slices:
        return inputs, target, mask, baseline
    start = (depth - max_slices) // 2
    window = slice(start, start + max_slices)
    mask = mask[window].copy()
    half = int(card.network.get("slices", 1)) // 2
    if half and max_slices > 2 * half:
        mask[:half] = False
        mask[-half:] = False
    return inputs[window], target[window], mask, (baseline[window] if baseline is not None else None)


def _finite(value: float | None) -> float | None:
    """None for values JSON cannot hold (an exact prediction has infinite PSNR)."""
    return value if value is not None and np.isfinite(value) else None
