"""Steps 2 and 3: Mattes mutual information + L-BFGS-B in SimpleITK, in the working frames.

Step 2 optimises a translation over an image pyramid; step 3 a
ScaleVersor3DTransform (versor, translation, per-axis scale; 9 parameters)
centred on the zoom centre, started from step 2. Only voxels inside both
masks count, and the metric samples a fixed-seed subset of voxels to be fast.
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


def make_images(frames: WorkingFrames, zoom: np.ndarray, zoom_mask: np.ndarray, scout: np.ndarray, scout_mask: np.ndarray) -> Images:
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
    images: Images, config: RegistrationConfig, shrink: Sequence[int], sigmas_voxels: Sequence[float], bound: float | None = None
) -> sitk.ImageRegistrationMethod:
    """A Mattes MI + L-BFGS-B method; ``bound`` boxes every parameter into ``[-bound, bound]``."""
    method = sitk.ImageRegistrationMethod()
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


def _run(method: sitk.ImageRegistrationMethod, images: Images, cancel: CancelToken | None, where: str) -> sitk.Transform:
    if cancel is not None:
        method.AddCommand(sitk.sitkIterationEvent, lambda: method.StopRegistration() if cancel.cancelled else None)
    transform = method.Execute(images.fixed, images.moving)
    if cancel is not None:
        cancel.raise_if_cancelled(where)
    return transform


def optimise_translation(
    images: Images, config: RegistrationConfig, tau0: np.ndarray, cancel: CancelToken | None = None, bound: float | None = None
) -> StepOutcome:
    """Step 2: translation only, multi-resolution, from ``tau0``; ``bound`` keeps every component within ``[-bound, bound]``."""
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


def optimise_scale_versor(images: Images, config: RegistrationConfig, tau0: np.ndarray, cancel: CancelToken | None = None) -> StepOutcome:
    """Step 3: versor rotation, translation and per-axis scale (9 parameters), from translation ``tau0``."""
    start = time.perf_counter()
    initial = scale_versor_transform(tau0)
    method = _method(images, config, config.affine_shrink_factors, config.affine_smoothing_voxels)
    method.SetInitialTransform(initial, inPlace=False)
    result = _run(method, images, cancel, "registration (9 parameters)")
    found = sitk.ScaleVersor3DTransform(sitk.CompositeTransform(result).GetNthTransform(0))
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
