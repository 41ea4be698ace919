"""A pair cancelled during inference keeps its partial output; the retry predicts only the remaining slabs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.errors import Cancelled
from models.events import CancelToken, ProgressEvent
from pipeline.config import ProcessConfig
from pipeline.grid import VolumeGrid
from pipeline.pair.process import WORK, keep_resumable, process_pair
from pipeline.pair.run import grid_key
from tests.pipeline.pair.conftest import fast_config

CUT_AFTER_SLABS = 3
SLAB_Z = 8


def resumable_config(cache_dir: Path) -> ProcessConfig:
    """The test config, OME-Zarr output, slabs of one 8-slice chunk, a briefly trained net (values not judged).

    The model cache is on, and accepts its model back whatever its figures: a retry must run the model the
    interrupted attempt ran (as a service's retry does through its cache). Training again on CPU is not
    bit-reproducible, and the slab ledger rightly refuses slabs of another model."""
    config = fast_config(cache_dir, iterations=20)
    accept = config.cache.validation.model_copy(
        update={
            "max_psnr_drop_db": None,
            "max_ssim_drop": None,
            "max_gain_drop_db": None,
            "min_gain_db": -1e9,
            "min_gain_over_baseline_db": None,
        }
    )
    return config.model_copy(
        update={
            "output": config.output.model_copy(update={"format": "ome-zarr", "zarr_chunk_z": SLAB_Z}),
            "inference": config.inference.model_copy(update={"slab_z": SLAB_Z}),
            "cache": config.cache.model_copy(update={"validation": accept}),
        }
    )


def cancel_after_slabs(token: CancelToken, slabs: int):  # noqa: ANN201 - test helper
    """A listener that cancels the run once ``slabs`` inference slabs are reported written."""
    seen: list[ProgressEvent] = []

    def listen(event: ProgressEvent) -> None:
        if event.stage == "infer" and event.kind == "progress":
            seen.append(event)
            if len(seen) == slabs:
                token.cancel()

    return listen


def recovered(out: Path) -> tuple[np.ndarray, dict]:
    import zarr

    report = json.loads((out / "report.json").read_text())
    return np.asarray(zarr.open_group(str(out / "recovered.ome.zarr"), mode="r")["0"]), report["inference"]


def test_a_failed_run_keeps_only_the_partial_output_and_its_ledger(tmp_path: Path) -> None:
    work = tmp_path / WORK
    for name in ("recovered.npy", "recovered.ledger.json", "scout_native.npy", ".recovered.ome.zarr.partial/0/0.0.0"):
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_bytes(b"x")
    (work / "model").mkdir()

    keep_resumable(tmp_path, work)

    assert sorted(p.name for p in work.iterdir()) == [
        ".recovered.ome.zarr.partial",
        "recovered.ledger.json",
        "recovered.npy",
    ]
    assert (work / ".recovered.ome.zarr.partial/0/0.0.0").is_file()


def test_the_grid_fingerprint_ignores_float_noise_but_not_a_shift() -> None:
    grid = VolumeGrid(shape_zyx=(9, 10, 11), spacing_mm=(0.0133285732641024,) * 3, centre_mm=(0.0062640617325685, 0, 0))
    noisy = grid.model_copy(update={"centre_mm": (0.0062640617325689, 0, 0), "spacing_mm": (0.013328573264102387,) * 3})
    shifted = grid.model_copy(update={"centre_mm": (0.0062640617325685 + 0.001 * 0.0133, 0, 0)})

    assert grid_key(noisy) == grid_key(grid)
    assert grid_key(shifted) != grid_key(grid)


@pytest.mark.slow
def test_a_cancelled_inference_resumes_with_the_remaining_slabs_and_equals_an_uninterrupted_run(
    simulated: Path, tmp_path: Path
) -> None:
    config = resumable_config(tmp_path / "models")
    out = tmp_path / "resumed"
    token = CancelToken()
    with pytest.raises(Cancelled):
        process_pair(simulated / "pair", out, config, progress=cancel_after_slabs(token, CUT_AFTER_SLABS), cancel=token)
    kept = sorted(p.name for p in (out / WORK).iterdir())

    retry = process_pair(simulated / "pair", out, config)
    reference = process_pair(simulated / "pair", tmp_path / "uninterrupted", config)

    assert kept == [".recovered.ome.zarr.partial"]  # scratch volumes and the model went, the partial output stayed
    assert retry.status == "done" and reference.status == "done", (retry.message, reference.message)
    values, stats = recovered(out)
    expected, full = recovered(tmp_path / "uninterrupted")
    tiles_per_slice = full["tiles_run"] // values.shape[0]
    assert stats["slabs_skipped"] == CUT_AFTER_SLABS and full["slabs_skipped"] == 0
    assert stats["tiles_run"] == full["tiles_run"] - CUT_AFTER_SLABS * SLAB_Z * tiles_per_slice
    # The output region is reconstructed slab by slab inside inference: the resumed run reconstructs its first
    # slab's halo in another FDK call than the uninterrupted run did, which moves the last float32 bits (measured
    # 5e-7 on a range of about 1.3); a misplaced or repeated slab would differ by the values themselves.
    span = float(expected.max() - expected.min())
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-5 * span)
    assert not (out / WORK).exists()
