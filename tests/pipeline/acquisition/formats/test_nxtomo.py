"""NXtomo entries written by h5py (the NeXus layout by hand) and by ESRF's ``nxtomo`` package."""

from __future__ import annotations

import numpy as np
import pytest

from models.errors import InputError
from pipeline.acquisition.formats import nxtomo
from tests.pipeline.acquisition.formats.conftest import ANGLES, COLUMNS, ROWS
from tests.pipeline.acquisition.formats.nxtomo_files import nx_frames, write_h5


@pytest.fixture
def frames(line_integrals, flat) -> tuple[np.ndarray, list[int], np.ndarray]:
    return nx_frames(line_integrals, flat)


def test_cone_beam_entry_maps_onto_the_contract(tmp_path, frames, reference_meta) -> None:
    meta = nxtomo.read_nxtomo_metadata(write_h5(tmp_path / "z.nx", *frames), role="zoom")
    g = meta.geometry
    assert (g.source_to_axis_mm, g.source_to_detector_mm, g.detector_shape) == (20.0, 200.0, (ROWS, COLUMNS))
    np.testing.assert_allclose(g.detector_pixel_mm, [0.1, 0.1])
    np.testing.assert_allclose(g.detector_offset_px, [0.0, 1.25])
    np.testing.assert_allclose(g.angles(), 30.0 * np.arange(ANGLES))
    np.testing.assert_allclose(meta.sample_position_mm, reference_meta.sample_position_mm)
    assert meta.sample_id == "foam-0007" and meta.conditions.model_extra["energy_kev"] == 45.0


def test_projections_use_mean_flat_and_dark(tmp_path, frames, line_integrals) -> None:
    scan = nxtomo.read_nxtomo(write_h5(tmp_path / "z.nx", *frames), role="zoom")
    np.testing.assert_allclose(scan.line_integrals, line_integrals, atol=5e-4)


def test_parallel_beam_is_refused(tmp_path, frames) -> None:
    with pytest.raises(InputError, match="parallel-beam entry; scoutzoom reconstructs cone beam only"):
        nxtomo.read_nxtomo(write_h5(tmp_path / "p.nx", *frames, source_mm=None), role="zoom")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"pixel_unit": "parsec"}, "detector/y_pixel_size: unknown unit 'parsec'"),
        ({"pixel_unit": ""}, "has no units attribute"),
    ],
)
def test_bad_units_name_the_field(tmp_path, frames, kwargs, fragment) -> None:
    with pytest.raises(InputError, match=fragment):
        nxtomo.read_nxtomo_metadata(write_h5(tmp_path / "u.nx", *frames, **kwargs), role="zoom")


def test_zoom_without_flats_and_non_hdf5(tmp_path, frames) -> None:
    stack, keys, angles = frames
    keep = [i for i, k in enumerate(keys) if k != 1]
    path = write_h5(tmp_path / "nf.nx", stack[keep], [keys[i] for i in keep], angles[keep])
    with pytest.raises(InputError, match="no flat frames"):
        nxtomo.read_nxtomo(path, role="zoom")
    bogus = tmp_path / "bogus.nx"
    bogus.write_bytes(b"\x00" * 100)
    with pytest.raises(InputError, match="not a readable HDF5 file"):
        nxtomo.read_nxtomo(bogus, role="zoom")


def test_entry_written_by_the_nxtomo_package(tmp_path, frames, line_integrals) -> None:
    pint = pytest.importorskip("pint")
    nx = pytest.importorskip("nxtomo")
    from nxtomo.nxobject.nxdetector import ImageKey

    ureg = pint.get_application_registry()
    stack, keys, angles = frames
    tomo = nx.NXtomo()
    tomo.instrument.detector.data = stack
    tomo.instrument.detector.image_key_control = [ImageKey(k) for k in keys]
    tomo.instrument.detector.x_pixel_size = 100.0 * ureg.micrometer
    tomo.instrument.detector.y_pixel_size = 100.0 * ureg.micrometer
    tomo.instrument.detector.distance = 180.0 * ureg.millimeter
    tomo.instrument.detector.x_rotation_axis_pixel_position = 4.75
    tomo.instrument.source.distance = -20.0 * ureg.millimeter
    tomo.sample.rotation_angle = angles * ureg.degree
    tomo.sample.name = "foam-0007"
    path = tmp_path / "pkg.nx"
    tomo.save(str(path), data_path="entry0000")
    scan = nxtomo.read_nxtomo(path, role="zoom")
    g = scan.meta.geometry
    assert (g.source_to_axis_mm, g.source_to_detector_mm) == pytest.approx((20.0, 200.0))
    np.testing.assert_allclose(g.detector_pixel_mm, [0.1, 0.1])
    np.testing.assert_allclose(g.detector_offset_px, [0.0, 1.25])
    np.testing.assert_allclose(g.angles(), 30.0 * np.arange(ANGLES))
    np.testing.assert_allclose(scan.line_integrals, line_integrals, atol=5e-4)
