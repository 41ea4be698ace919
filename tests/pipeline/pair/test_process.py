"""End to end on CPU: a small simulated pair from projections to recovered volume."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from pipeline.evaluate.metrics import psnr_db
from pipeline.output.volumes import read_ome_grid
from pipeline.pair.process import process_pair
from pipeline.region import OutputPlacement, zoom_slices
from pipeline.simulate import load_truth, voxelise
from tests.pipeline.pair.conftest import fast_config


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def processed(simulated: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("out")
    before = tree_digest(simulated / "pair")
    events = []
    config = fast_config().model_copy(
        update={"output": fast_config().output.model_copy(update={"keep_intermediates": True, "format": "both"})}
    )
    outcome = process_pair(simulated / "pair", out, config, progress=events.append)
    return outcome, out, events, before


def test_outputs_complete(processed) -> None:
    outcome, out, events, _ = processed
    assert outcome.status == "done", outcome.message
    for name in (
        "recovered.ome.tif",
        "report.json",
        "DONE",
        "zoom_fdk.ome.tif",
        "scout_fdk.ome.tif",
        "scout_registered.ome.tif",
        "previews/zoom_region_axial.png",
        "previews/loss_curve.png",
        "previews/heldout_disagreement.png",
    ):
        assert (out / name).is_file(), name
    assert not (out / "FAILED.json").exists()
    assert not list(out.glob(".*tmp-*")), "temporary files left behind"
    finished = [e.stage for e in events if e.kind == "stage_finished"]
    for stage in ("reconstruct_zoom", "register", "train", "infer", "write"):
        assert stage in finished


def test_report_keys_and_ome_metadata(processed) -> None:
    _, out, _, _ = processed
    report = json.loads((out / "report.json").read_text())
    grid = read_ome_grid(out / "recovered.ome.tif")
    assert tuple(report["output"]["shape_zyx"]) == grid.shape_zyx
    np.testing.assert_allclose(report["output"]["origin_mm"], grid.origin_mm, atol=1e-9)
    assert report["output"]["voxel_mm"] == pytest.approx(grid.voxel_mm, rel=0.05)
    assert len(report["registration"]["zoom_centre_in_scout_mm"]) == 3
    assert report["stages"]["train"]["seconds"] > 0
    assert report["model"]["runtime"] in ("tensorrt", "onnxruntime", "keras")
    assert report["model"]["reused"] is False and report["model"]["id"]
    assert {"heldout_psnr_db", "heldout_psnr_cubic_db", "effective_resolution_mm", "flagged"} <= set(report["trust"])
    with tifffile.TiffFile(out / "recovered.ome.tif") as tif:
        assert tif.is_ome
        assert tif.series[0].shape == grid.shape_zyx


def test_ome_zarr_output_equals_the_tiff_and_carries_grid_pyramid_mask_and_provenance(processed) -> None:
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    _, out, _, _ = processed
    report = json.loads((out / "report.json").read_text())
    assert report["output"]["files"] == ["recovered.ome.tif", "recovered.ome.zarr"]
    image = next(iter(Reader(parse_url(str(out / "recovered.ome.zarr")))()))
    np.testing.assert_array_equal(np.asarray(image.data[0]), tifffile.imread(out / "recovered.ome.tif"))
    assert len(image.data) >= 2
    shift = next(t for t in image.metadata["coordinateTransformations"][0] if t["type"] == "translation")["translation"]
    np.testing.assert_allclose(shift, report["output"]["origin_mm"][::-1], atol=1e-9)

    import zarr

    root = zarr.open_group(str(out / "recovered.ome.zarr"), mode="r")
    provenance = root.attrs["scoutzoom"]
    assert provenance["model_id"] == report["model"]["id"] and provenance["value_unit"] == "1/mm"
    assert provenance["trust"]["flagged"] == report["trust"]["flagged"]
    assert np.asarray(root["labels/mask/0"]).any()


def test_registration_finds_the_true_zoom_position(processed, simulated: Path) -> None:
    _, out, _, _ = processed
    truth, _ = load_truth(simulated / "truth")
    report = json.loads((out / "report.json").read_text())
    found = np.asarray(report["registration"]["zoom_centre_in_scout_mm"])
    error_vox = np.linalg.norm(found - np.asarray(truth.zoom_position_true_mm)) / truth.zoom_voxel_true_mm
    prior_error_vox = np.linalg.norm(np.asarray(truth.zoom_position_error_mm)) / truth.zoom_voxel_true_mm
    assert prior_error_vox > 1.0
    assert error_vox < 0.5


def test_recovered_beats_cubic_outside_the_zoom(processed, simulated: Path) -> None:
    """Against the simulator's truth, inside the mask, outside the zoom's box (never trained on)."""
    from pipeline.baselines.upsample import cubic_upsample

    _, out, _, _ = processed
    _, phantom = load_truth(simulated / "truth")
    report = json.loads((out / "report.json").read_text())
    grid = read_ome_grid(out / "recovered.ome.tif")
    recovered = tifffile.imread(out / "recovered.ome.tif")
    truth = voxelise(phantom, grid, supersample=2)
    scout_grid = read_ome_grid(out / "scout_fdk.ome.tif")
    cubic = cubic_upsample(tifffile.imread(out / "scout_fdk.ome.tif"), scout_grid, grid)
    mask = phantom_support(grid, phantom)
    placement = OutputPlacement(
        grid=grid,
        zoom_offset_xyz=tuple(report["output"]["zoom_offset_xyz"]),
        clipped_by_budget=True,
        requested_voxels=0,
    )
    zoom_box = zoom_slices(placement, tifffile.imread(out / "zoom_fdk.ome.tif").shape)
    if zoom_box is not None:
        mask[zoom_box] = False
    assert mask.sum() > 10_000
    psnr_recovered = psnr_db(recovered, truth, mask)
    psnr_cubic = psnr_db(cubic, truth, mask)
    assert psnr_recovered > psnr_cubic + 0.5, (psnr_recovered, psnr_cubic)


def phantom_support(grid, phantom) -> np.ndarray:
    """Voxels well inside the sample cylinder (away from the cylinder wall and the volume edges)."""
    centres = grid.voxel_centres()
    radius = np.hypot(centres[..., 0] - phantom.cylinder.centre_mm[0], centres[..., 1] - phantom.cylinder.centre_mm[1])
    inside = radius < phantom.cylinder.radius_mm * 0.95
    inside[:3] = inside[-3:] = False
    return inside


def test_inputs_untouched_and_rerun_skips(processed, simulated: Path) -> None:
    outcome, out, _, before = processed
    assert tree_digest(simulated / "pair") == before
    done_before = (out / "DONE").read_text()
    again = process_pair(simulated / "pair", out, fast_config())
    assert again.status == "skipped"
    assert (out / "DONE").read_text() == done_before
