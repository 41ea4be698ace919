"""The contract v1 -> RTK mapping, checked point by point against RTK's own geometry."""

from __future__ import annotations

import numpy as np

from pipeline.grid import VolumeGrid
from pipeline.reconstruct._itk import itk_modules
from pipeline.reconstruct.rtk_geometry import (
    RTK_FROM_CONTRACT,
    itk_image,
    projection_placement,
    rtk_geometry,
    to_rtk_projections,
    volume_placement,
)
from tests.pipeline.reconstruct.phantoms import make_meta, rays


def test_mapping_is_a_proper_rotation() -> None:
    assert np.allclose(RTK_FROM_CONTRACT @ RTK_FROM_CONTRACT.T, np.eye(3))
    assert np.linalg.det(RTK_FROM_CONTRACT) == 1.0


def test_source_and_detector_pixels_land_where_the_contract_puts_them() -> None:
    itk, _ = itk_modules()
    meta = make_meta(detector=(10, 12), angles=8, start_deg=17.0, offset_px=(1.25, -0.75))
    geometry = meta.geometry
    rtk_geo = rtk_geometry(geometry)
    row0, row1 = 2, 9
    placement = projection_placement(geometry, row0, row1)
    sdd = geometry.source_to_detector_mm
    for index, angle in enumerate(geometry.angles()):
        source, direction = rays(geometry, float(angle))
        assert np.allclose(np.asarray(rtk_geo.GetSourcePosition(index))[:3], RTK_FROM_CONTRACT @ source, atol=1e-9)
        to_fixed = itk.array_from_matrix(rtk_geo.GetProjectionCoordinatesToFixedSystemMatrix(index))
        for row, col in [(2, 0), (8, 11), (5, 3)]:
            # the pixel's position on the detector plane per the test oracle
            distance = (sdd) / (direction[row, col] @ (-source / np.linalg.norm(source)))
            expected = RTK_FROM_CONTRACT @ (source + distance * direction[row, col])
            flipped_row = (row1 - 1) - row  # rows are handed to RTK reversed
            u = placement.origin[0] + col * placement.spacing[0]
            v = placement.origin[1] + flipped_row * placement.spacing[1]
            actual = to_fixed @ np.array([u, v, 0.0, 1.0])
            assert np.allclose(actual[:3], expected, atol=1e-9), (angle, row, col)


def test_projection_rows_are_reversed_copies() -> None:
    stack = np.arange(2 * 5 * 3, dtype=np.float32).reshape(2, 5, 3)
    handed = to_rtk_projections(stack, 1, 4)
    assert handed.flags.c_contiguous
    assert np.array_equal(handed[:, 0], stack[:, 3]) and np.array_equal(handed[:, -1], stack[:, 1])


def test_volume_placement_keeps_index_to_physical() -> None:
    itk, _ = itk_modules()
    rotation = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    grid = VolumeGrid(
        shape_zyx=(3, 4, 5), spacing_mm=(0.1, 0.2, 0.3), centre_mm=(1.0, -2.0, 0.5), direction=tuple(rotation.ravel())
    )
    array = np.zeros(grid.shape_zyx, dtype=np.float32)
    image = itk_image(array, volume_placement(grid))
    for index in [(0, 0, 0), (4, 3, 2), (1, 2, 1)]:
        physical = np.asarray(image.TransformIndexToPhysicalPoint(index))
        assert np.allclose(physical, RTK_FROM_CONTRACT @ grid.index_to_physical(np.array(index)), atol=1e-12)
