"""Steps 2 and 3: Mattes mutual information (or correlation) + L-BFGS-B in SimpleITK, in the working frames.

Step 2 optimises a translation over an image pyramid; step 3 a rotation,
translation and scale about the zoom centre, started from step 2: one
isotropic scale (Similarity3D, 7 parameters) by default, a scale per axis
(ScaleVersor3D, 9) or none (VersorRigid3D, 6) when configured. Only voxels inside both
masks count, and the metric samples a fixed-seed subset of voxels to be fast.
Step 3 is watched at every iteration: a rotation, scale or translation that
runs past its limit stops the optimiser and raises :class:`StepDiverged`
before the moving box can leave the scout ("All samples map outside").
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

os.environ.setdefault("ITK_GLOBAL_DEFAULT_THREADER", "Pool")
import SimpleITK as sitk  # noqa: E402

from models.events import CancelToken  # noqa: E402
from pipeline.register.config import RegistrationConfig  # noqa: E402
from pipeline.register.frames import WorkingFrames  # noqa: E402


class StepDiverged(RuntimeError):
    """The optimiser's parameters ran past their limits."""


@dataclass(frozen=True)
class Limits:
    """How far step 3 may wander before it counts as diverged (degrees, scale error, working units)."""

    rotation_deg: float
    scale_error: float
    translation: float


@dataclass(frozen=True)
class Images:
    """The four SimpleITK images of one registration, in the working frames."""

    fixed: sitk.Image
    fixed_mask: sitk.Image
    moving: sitk.Image
    moving_mask: sitk.Image


@dataclass(frozen=True)
class StepOutcome:
    """Optimised working map ``w = linear @ q + tau`` and how the optimiser got there."""

    linear: np.ndarray
    tau: np.ndarray
    metric_end: float
    iterations: int
    stop_condition: str
    seconds: float


def _image(array: np.ndarray, geometry: tuple[tuple[float, ...], ...], dtype: int) -> sitk.Image:
    origin, spacing, direction = geometry
    image = sitk.Cast(sitk.GetImageFromArray(np.ascontiguousarray(array)), dtype)
    image.SetOrigin(origin)
    image.SetSpacing(spacing)
    image.SetDirection(direction)
    return image


def make_images(
    frames: WorkingFrames, zoom: np.ndarray, zoom_mask: np.ndarray, scout: np.ndarray, scout_mask: np.ndarray
) -> Images:
    """Wrap the arrays as SimpleITK images placed in the working frames."""
    fixed_geometry = frames.fixed_geometry()
    moving_geometry = frames.moving_geometry()
    return Images(
        fixed=_image(zoom.astype(np.float32), fixed_geometry, sitk.sitkFloat32),
        fixed_mask=_image(zoom_mask.astype(np.uint8), fixed_geometry, sitk.sitkUInt8),
        moving=_image(scout.astype(np.float32), moving_geometry, sitk.sitkFloat32),
        moving_mask=_image(scout_mask.astype(np.uint8), moving_geometry, sitk.sitkUInt8),
    )


def _method(
    images: Images,
    config: RegistrationConfig,
    shrink: Sequence[int],
    sigmas_voxels: Sequence[float],
    bound: float | None = None,
    metric: str = "mattes",
) -> sitk.ImageRegistrationMethod:
    """A Mattes MI (or correlation) + L-BFGS-B method; ``bound`` boxes every parameter into ``[-bound, bound]``."""
    method = sitk.ImageRegistrationMethod()
    if metric == "correlation":
        method.SetMetricAsCorrelation()
    else:
        method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=config.histogram_bins)
    method.SetMetricFixedMask(images.fixed_mask)
    method.SetMetricMovingMask(images.moving_mask)
    if config.sampling == "none":
        method.SetMetricSamplingStrategy(method.NONE)
    else:
        method.SetMetricSamplingStrategy(method.RANDOM if config.sampling == "random" else method.REGULAR)
        voxels = np.prod(images.fixed.GetSize())
        fractions = [min(1.0, config.metric_samples * f**3 / voxels) for f in shrink]
        method.SetMetricSamplingPercentagePerLevel(fractions, config.seed)
    # Gradients only at the sampled points, not a gradient image of every level (much faster when sampling).
    method.MetricUseFixedImageGradientFilterOff()
    method.MetricUseMovingImageGradientFilterOff()
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsLBFGSB(
        gradientConvergenceTolerance=config.gradient_tolerance,
        numberOfIterations=config.max_iterations,
        maximumNumberOfCorrections=5,
        maximumNumberOfFunctionEvaluations=4 * config.max_iterations,
        costFunctionConvergenceFactor=config.cost_convergence_factor,
        **({} if bound is None else {"lowerBound": -bound, "upperBound": bound}),
    )
    method.SetShrinkFactorsPerLevel(list(shrink))
    method.SetSmoothingSigmasPerLevel(list(sigmas_voxels))
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    if config.threads is not None:
        method.SetNumberOfThreads(config.threads)
    return method


def metric_value(images: Images, config: RegistrationConfig, transform: sitk.Transform) -> float:
    """Mattes MI (lower is better) of ``transform`` at full resolution, with the stage's sampling."""
    method = _method(images, config, [1], [0.0])
    method.SetInitialTransform(transform, inPlace=False)
    return float(method.MetricEvaluate(images.fixed, images.moving))


def translation_transform(tau: np.ndarray) -> sitk.Transform:
    return sitk.TranslationTransform(3, [float(v) for v in tau])


def scale_versor_transform(tau: np.ndarray) -> sitk.ScaleVersor3DTransform:
    """An identity-rotation, unit-scale ScaleVersor3D transform about the zoom centre (the working origin)."""
    transform = sitk.ScaleVersor3DTransform()
    transform.SetCenter((0.0, 0.0, 0.0))
    transform.SetTranslation([float(v) for v in tau])
    return transform


def similarity_transform(tau: np.ndarray, scaled: bool = True) -> sitk.Transform:
    """An identity-rotation Similarity3D (one isotropic scale) or, unscaled, Versor3D transform about the zoom
    centre."""
    transform = sitk.Similarity3DTransform() if scaled else sitk.VersorRigid3DTransform()
    transform.SetCenter((0.0, 0.0, 0.0))
    transform.SetTranslation([float(v) for v in tau])
    return transform


def _run(
    method: sitk.ImageRegistrationMethod, images: Images, cancel: CancelToken | None, where: str
) -> sitk.Transform:
    if cancel is not None:
        method.AddCommand(sitk.sitkIterationEvent, lambda: method.StopRegistration() if cancel.cancelled else None)
    transform = method.Execute(images.fixed, images.moving)
    if cancel is not None:
        cancel.raise_if_cancelled(where)
    return transform


def optimise_translation(
    images: Images,
    config: RegistrationConfig,
    tau0: np.ndarray,
    cancel: CancelToken | None = None,
    bound: float | None = None,
) -> StepOutcome:
    """Step 2: translation only, multi-resolution, from ``tau0``; ``bound`` keeps every component within ``[-bound,
    bound]``."""
    start = time.perf_counter()
    if bound is not None:
        tau0 = np.clip(tau0, -bound, bound)
    initial = translation_transform(tau0)
    method = _method(images, config, config.translation_shrink_factors, config.translation_smoothing_voxels, bound)
    method.SetInitialTransform(initial, inPlace=False)
    result = _run(method, images, cancel, "registration (translation)")
    tau = np.asarray(sitk.CompositeTransform(result).GetNthTransform(0).GetParameters(), dtype=float)
    return StepOutcome(
        linear=np.eye(3),
        tau=tau,
        metric_end=metric_value(images, config, translation_transform(tau)),
        iterations=int(method.GetOptimizerIteration()),
        stop_condition=method.GetOptimizerStopConditionDescription(),
        seconds=time.perf_counter() - start,
    )


def _beyond(position: np.ndarray, tau0: np.ndarray, limits: Limits) -> str | None:
    """Why a ScaleVersor3D position is past ``limits`` (None when it is not)."""
    angle = float(np.degrees(2.0 * np.arcsin(min(1.0, float(np.linalg.norm(position[:3]))))))
    scale_error = float(np.max(np.abs(position[6:9] - 1.0))) if position.size > 6 else 0.0
    moved = float(np.max(np.abs(position[3:6] - tau0)))
    if angle > limits.rotation_deg or scale_error > limits.scale_error or moved > limits.translation:
        return f"rotation {angle:.2f} deg, scale error {scale_error:.3f}, translation moved {moved:.3f} half-fields"
    return None


def _watch(method: sitk.ImageRegistrationMethod, tau0: np.ndarray, limits: Limits) -> list[str]:
    """Stop ``method`` when an accepted iterate passes ``limits``; the returned list then names why.

    L-BFGS-B reports every line-search trial as an iteration event, and its
    first trials are wild (a unit step in parameter space); only the last
    position seen before the iteration count moves on is an accepted iterate.
    """
    why: list[str] = []
    last: dict[str, object] = {"iteration": 0, "position": None}

    def check() -> None:
        iteration = int(method.GetOptimizerIteration())
        if iteration != last["iteration"] and last["position"] is not None:
            reason = _beyond(last["position"], tau0, limits)  # type: ignore[arg-type]
            if reason is not None and not why:
                why.append(reason)
                method.StopRegistration()
        last.update(iteration=iteration, position=np.asarray(method.GetOptimizerPosition(), dtype=float))

    method.AddCommand(sitk.sitkIterationEvent, check)
    method.AddCommand(sitk.sitkMultiResolutionIterationEvent, lambda: last.update(iteration=0, position=None))
    return why


def optimise_scale_versor(
    images: Images,
    config: RegistrationConfig,
    tau0: np.ndarray,
    cancel: CancelToken | None = None,
    limits: Limits | None = None,
    model: str = "scale_versor",
) -> StepOutcome:
    """Step 3: versor rotation, translation and scale, from translation ``tau0``.

    ``model`` ``"scale_versor"`` fits a scale per axis (9 parameters),
    ``"similarity"`` one scale factor (7: a magnification error is
    isotropic), ``"rigid"`` none (6). Raises
    :class:`StepDiverged` when the parameters pass ``limits``.
    """
    start = time.perf_counter()
    initial = (
        scale_versor_transform(tau0) if model == "scale_versor" else similarity_transform(tau0, model == "similarity")
    )
    method = _method(
        images, config, config.affine_shrink_factors, config.affine_smoothing_voxels, metric=config.affine_metric
    )
    method.SetInitialTransform(initial, inPlace=False)
    diverged = _watch(method, np.asarray(tau0, dtype=float), limits) if limits is not None else []
    result = _run(method, images, cancel, "registration (rotation and scale)")
    nth = sitk.CompositeTransform(result).GetNthTransform(0)
    found = {
        "scale_versor": sitk.ScaleVersor3DTransform,
        "similarity": sitk.Similarity3DTransform,
        "rigid": sitk.VersorRigid3DTransform,
    }[model](nth)
    if not diverged and limits is not None:
        reason = _beyond(np.asarray(found.GetParameters(), dtype=float), np.asarray(tau0, dtype=float), limits)
        diverged += [reason] if reason else []
    if diverged:
        raise StepDiverged(f"the parameters ran away ({diverged[0]})")
    linear = np.asarray(found.GetMatrix(), dtype=float).reshape(3, 3)
    # About centre 0: w = linear @ q + translation.
    tau = np.asarray(found.GetTranslation(), dtype=float)
    return StepOutcome(
        linear=linear,
        tau=tau,
        metric_end=metric_value(images, config, found),
        iterations=int(method.GetOptimizerIteration()),
        stop_condition=method.GetOptimizerStopConditionDescription(),
        seconds=time.perf_counter() - start,
    )
