"""Per-format completeness: a source still being written is never called complete."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import tifffile

from pipeline.acquisition.formats.completeness import check_source
from pipeline.acquisition.formats.registry import detect
from tests.pipeline.acquisition.formats.conftest import counts
from tests.pipeline.acquisition.formats.nikon_files import write_xtekct
from tests.pipeline.acquisition.formats.nxtomo_files import nx_frames, write_h5
from tests.pipeline.acquisition.formats.zeiss_files import write_txrm


def test_txrm_complete_truncated_and_half_taken(tmp_path, reference_meta, line_integrals, flat) -> None:
    images = counts(line_integrals, flat)
    whole = write_txrm(tmp_path / "whole.txrm", reference_meta, images, flat)
    assert check_source(detect(whole)).complete
    cut = tmp_path / "cut.txrm"
    cut.write_bytes(whole.read_bytes()[:-4096])
    result = check_source(detect(cut))
    assert not result.complete and "cut.txrm" in str(result)
    busy = write_txrm(
        tmp_path / "busy.txrm", reference_meta, images, flat, ImageInfo__ImagesTaken=np.asarray([7], "<u4").tobytes()
    )
    assert "7 of 12 images written" in str(check_source(detect(busy)))


def test_xtekct_missing_and_truncated_projection(tmp_path, line_integrals) -> None:
    white = np.round(60000 * np.exp(-line_integrals)).astype(np.uint16)
    path = write_xtekct(tmp_path, white)
    assert check_source(detect(path)).complete
    (tmp_path / "foam_0012.tif").unlink()
    assert "11 of 12 projection TIFFs" in str(check_source(detect(path)))
    tifffile.imwrite(tmp_path / "foam_0012.tif", white[-1])
    data = (tmp_path / "foam_0003.tif").read_bytes()
    (tmp_path / "foam_0003.tif").write_bytes(data[: len(data) // 2])
    assert "foam_0003.tif" in str(check_source(detect(path)))


def test_nxtomo_frames_cover_the_data(tmp_path, line_integrals, flat) -> None:
    stack, keys, angles = nx_frames(line_integrals, flat)
    path = write_h5(tmp_path / "z.nx", stack, keys, angles)
    assert check_source(detect(path)).complete
    with h5py.File(path, "a") as f:
        del f["entry/sample/rotation_angle"]
        f["entry/sample/rotation_angle"] = angles[:-3]
        f["entry/sample/rotation_angle"].attrs["units"] = "degree"
    assert "sample/rotation_angle has 12 of 15 frames" in str(check_source(detect(path)))
    (tmp_path / "broken.nx").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 50)
    assert not check_source(detect(tmp_path / "broken.nx")).complete


@pytest.mark.parametrize("cut", [False, True])
def test_volume_files(tmp_path, cut) -> None:
    tifffile.imwrite(tmp_path / "v.tif", np.ones((5, 64, 64), np.float32))
    if cut:
        data = (tmp_path / "v.tif").read_bytes()
        (tmp_path / "v.tif").write_bytes(data[: len(data) - 10000])
    assert check_source(detect(tmp_path / "v.tif")).complete is not cut
