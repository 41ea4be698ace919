"""Volume scans: every file kind, voxel size from the file or scan.json, slice order, resampling onto a grid."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import tifffile

from models.errors import InputError
from pipeline.acquisition.volume import read_volume_scan, resample_onto, valid_mask
from pipeline.acquisition.volume_files import read_volume_file
from pipeline.grid import VolumeGrid
from tests.pipeline.acquisition.formats.zeiss_files import write_txm

SHAPE = (6, 10, 12)  # z, y, x


@pytest.fixture
def volume() -> np.ndarray:
    z, y, x = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in SHAPE), indexing="ij")
    return 100 * z + 10 * y + x  # each voxel tells its index


def write_scan_json(folder: Path, file: str, **volume: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    document = {
        "format_version": 1,
        "role": "scout",
        "data": "volume",
        "sample_id": "foam-0007",
        "volume": {"file": file, **volume},
        "sample_position_mm": [0.5, 0.0, -0.25],
        "conditions": {"voltage_kv": 80},
    }
    (folder / "scan.json").write_text(json.dumps(document))
    return folder


def test_ome_tiff_voxel_in_micrometres(tmp_path, volume) -> None:
    tifffile.imwrite(
        tmp_path / "v.ome.tif",
        volume,
        ome=True,
        metadata={
            "axes": "ZYX",
            "PhysicalSizeX": 20.0,
            "PhysicalSizeY": 20.0,
            "PhysicalSizeZ": 30.0,
            "PhysicalSizeZUnit": "µm",
        },
    )
    stored = read_volume_file(tmp_path / "v.ome.tif")
    assert stored.kind == "ome-tiff" and stored.voxel_zyx_mm == pytest.approx((0.03, 0.02, 0.02))
    scan = read_volume_scan(write_scan_json(tmp_path, "v.ome.tif"))
    assert scan.grid.spacing_mm == pytest.approx((0.02, 0.02, 0.03)) and scan.grid.centre_mm == (0.0, 0.0, 0.0)
    np.testing.assert_array_equal(scan.volume, volume)
    assert scan.meta.sample_position_mm == (0.5, 0.0, -0.25) and scan.voxel_mm == pytest.approx(0.07 / 3)


def test_our_own_ome_output_reads_back(tmp_path, volume) -> None:
    from pipeline.output.volumes import write_ome_tiff

    write_ome_tiff(tmp_path / "r.ome.tif", volume, VolumeGrid.isotropic(SHAPE, 0.015))
    assert read_volume_file(tmp_path / "r.ome.tif").voxel_zyx_mm == pytest.approx((0.015,) * 3)


def test_imagej_tiff_and_top_down_order(tmp_path, volume) -> None:
    tifffile.imwrite(
        tmp_path / "ij.tif",
        volume[::-1].copy(),
        imagej=True,
        resolution=(1 / 0.025, 1 / 0.025),
        metadata={"spacing": 0.025, "unit": "mm", "axes": "ZYX"},
    )
    scan = read_volume_scan(write_scan_json(tmp_path, "ij.tif", slice_order="top_down"))
    assert scan.grid.spacing_mm == pytest.approx((0.025,) * 3)
    np.testing.assert_array_equal(scan.volume, volume)  # slice 0 is the bottom again


def test_plain_tiff_needs_voxel_in_scan_json(tmp_path, volume) -> None:
    tifffile.imwrite(tmp_path / "plain.tif", volume)
    with pytest.raises(InputError, match="no voxel size: the file carries none"):
        read_volume_scan(write_scan_json(tmp_path, "plain.tif"))
    scan = read_volume_scan(write_scan_json(tmp_path, "plain.tif", voxel_mm=[0.03, 0.02, 0.02]))
    assert scan.grid.spacing_mm == pytest.approx((0.02, 0.02, 0.03))


def test_voxel_disagreement_is_refused(tmp_path, volume) -> None:
    image = sitk.GetImageFromArray(volume)
    image.SetSpacing((0.02, 0.02, 0.02))
    sitk.WriteImage(image, str(tmp_path / "v.nrrd"))
    with pytest.raises(InputError, match=r"voxel size in the file \(0.02, 0.02, 0.02\) mm disagrees with scan.json"):
        read_volume_scan(write_scan_json(tmp_path, "v.nrrd", voxel_mm=0.021))
    assert read_volume_scan(write_scan_json(tmp_path, "v.nrrd", voxel_mm=0.02)).grid.spacing_mm == pytest.approx(
        (0.02,) * 3
    )


@pytest.mark.parametrize("suffix", [".mha", ".nii.gz"])
def test_itk_files_and_flipped_directions(tmp_path, volume, suffix) -> None:
    image = sitk.GetImageFromArray(volume[:, :, ::-1].copy())
    image.SetSpacing((0.01, 0.02, 0.03))
    image.SetDirection((-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
    sitk.WriteImage(image, str(tmp_path / f"v{suffix}"))
    stored = read_volume_file(tmp_path / f"v{suffix}")
    assert stored.voxel_zyx_mm == pytest.approx((0.03, 0.02, 0.01))
    np.testing.assert_array_equal(stored.data, volume)
    assert any("flips axis x" in w for w in stored.warnings)


def test_slice_folder_sorted_by_name(tmp_path, volume) -> None:
    folder = tmp_path / "slices"
    folder.mkdir()
    for index, image in enumerate(volume):
        tifffile.imwrite(folder / f"slice_{index:03d}.tif", image)
    (folder / ".partial.tif").write_bytes(b"")
    scan = read_volume_scan(write_scan_json(tmp_path, "slices", voxel_mm=0.02))
    np.testing.assert_array_equal(scan.volume, volume)
    tifffile.imwrite(folder / "slice_999.tif", volume[0, :5])
    with pytest.raises(InputError, match="slice_999.tif: slice is"):
        read_volume_scan(write_scan_json(tmp_path, "slices", voxel_mm=0.02))


def test_txm_through_scan_json(tmp_path, volume) -> None:
    write_txm(tmp_path / "scout.txm", volume, voxel_um=20.0)
    scan = read_volume_scan(write_scan_json(tmp_path, "scout.txm"))
    assert scan.grid.spacing_mm == pytest.approx((0.02,) * 3)
    np.testing.assert_array_equal(scan.volume, volume)


@pytest.mark.parametrize(
    ("file", "fragment"), [("../elsewhere.tif", "inside the scan directory"), ("missing.tif", "missing")]
)
def test_bad_file_entries(tmp_path, file, fragment) -> None:
    with pytest.raises(InputError, match=fragment):
        read_volume_scan(write_scan_json(tmp_path, file, voxel_mm=0.02))


def test_mask_is_the_inscribed_cylinder_and_finite() -> None:
    data = np.ones((2, 9, 9), np.float32)
    data[1, 4, 4] = np.nan
    mask = valid_mask(data)
    assert mask[0, 4, 4] and not mask[1, 4, 4] and not mask[0, 0, 0] and mask[0, 4, 0]


def test_resample_onto_a_finer_shifted_grid_is_exact_for_a_linear_volume(tmp_path) -> None:
    z, y, x = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in (12, 14, 16)), indexing="ij")
    data = 0.5 * z + 0.25 * y + 0.125 * x
    tifffile.imwrite(tmp_path / "lin.tif", data)
    scan = read_volume_scan(write_scan_json(tmp_path, "lin.tif", voxel_mm=0.03))
    target = VolumeGrid.isotropic((8, 8, 8), 0.01, centre_mm=(0.02, -0.01, 0.015))
    result = resample_onto(scan, target)
    index = scan.grid.physical_to_index(target.voxel_centres())  # fractional (x, y, z) in the source
    expected = 0.5 * index[..., 2] + 0.25 * index[..., 1] + 0.125 * index[..., 0]
    np.testing.assert_allclose(result.volume, expected, atol=1e-3)  # spline boundary handling: ~2e-4
    assert result.mask.all() and result.grid == target
    outside = resample_onto(scan, target.with_centre((1.0, 0.0, 0.0)))
    assert not outside.mask.any()


def test_volume_scan_json_schema_accepts_the_design_example() -> None:
    import jsonschema

    from pipeline.acquisition.contract import volume_json_schema

    example = {
        "format_version": 1,
        "role": "scout",
        "data": "volume",
        "sample_id": "foam-0007",
        "volume": {"file": "volume.ome.tif", "voxel_mm": 0.02, "slice_order": "bottom_up", "units": "1/mm"},
        "sample_position_mm": [0.0, 0.0, 0.0],
        "conditions": {"voltage_kv": 80, "objective": "4X", "binning": 2},
    }
    jsonschema.Draft202012Validator.check_schema(volume_json_schema())
    jsonschema.validate(example, volume_json_schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {**example, "volume": {**example["volume"], "slice_order": "sideways"}}, volume_json_schema()
        )


def test_resample_onto_a_rotated_grid_into_a_memmap(tmp_path) -> None:
    z, y, x = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in (10, 12, 12)), indexing="ij")
    tifffile.imwrite(tmp_path / "lin.tif", (0.5 * z + 0.25 * y + 0.125 * x).astype(np.float32))
    scan = read_volume_scan(write_scan_json(tmp_path, "lin.tif", voxel_mm=0.03))
    c, s = np.cos(0.3), np.sin(0.3)
    target = VolumeGrid(shape_zyx=(4, 5, 6), spacing_mm=(0.02, 0.02, 0.025), direction=(c, -s, 0, s, c, 0, 0, 0, 1))
    out = np.lib.format.open_memmap(tmp_path / "out.npy", mode="w+", dtype=np.float32, shape=target.shape_zyx)
    result = resample_onto(scan, target, out=out, slab_z=3)
    index = scan.grid.physical_to_index(target.voxel_centres())
    np.testing.assert_allclose(out, 0.5 * index[..., 2] + 0.25 * index[..., 1] + 0.125 * index[..., 0], atol=1e-3)
    assert result.volume is out and result.mask.all()
    same = resample_onto(scan, scan.native_grid())
    np.testing.assert_array_equal(same.volume, scan.volume)


def test_volume_header_matches_the_full_read(tmp_path, volume) -> None:
    from pipeline.acquisition.volume_files import volume_header

    tifffile.imwrite(
        tmp_path / "v.ome.tif",
        volume,
        ome=True,
        metadata={"axes": "ZYX", "PhysicalSizeX": 20.0, "PhysicalSizeY": 20.0, "PhysicalSizeZ": 30.0},
    )
    image = sitk.GetImageFromArray(volume)
    image.SetSpacing((0.01, 0.02, 0.03))
    sitk.WriteImage(image, str(tmp_path / "v.mha"))
    write_txm(tmp_path / "v.txm", volume, voxel_um=20.0)
    folder = tmp_path / "slices"
    folder.mkdir()
    for index, page in enumerate(volume):
        tifffile.imwrite(folder / f"s{index:02d}.tif", page)
    for name in ("v.ome.tif", "v.mha", "v.txm", "slices"):
        shape, voxel = volume_header(tmp_path / name)
        stored = read_volume_file(tmp_path / name)
        assert shape == stored.data.shape and voxel == stored.voxel_zyx_mm, name
