"""Slice figures agree: round scale bars of the right length in pixels, one grey window, the same labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.output import previews
from pipeline.output.panels import TRIO_LABELS, grey_window, scale_bar
from pipeline.output.report_html import report_images


@pytest.mark.parametrize(
    ("width", "voxel_mm", "length_um", "length_px", "label"),
    [
        (64, 0.01, 100.0, 10.0, "100 µm"),  # 640 µm wide: a fifth is 128 µm -> 100 µm
        (512, 0.001, 100.0, 100.0, "100 µm"),
        (300, 0.05, 2000.0, 40.0, "2 mm"),  # 15 mm wide: 3 mm -> 2 mm
        (256, 0.0025, 100.0, 40.0, "100 µm"),  # 2.5 µm voxels: 640 µm wide -> 128 µm -> 100 µm
        (100, 0.2, 2000.0, 10.0, "2 mm"),
        (10, 0.0001, 0.2, 2.0, "0.2 µm"),
        (480, 0.003, 200.0, 66.6667, "200 µm"),
    ],
)
def test_scale_bar_is_a_round_length_about_a_fifth_of_the_width(
    width: int, voxel_mm: float, length_um: float, length_px: float, label: str
) -> None:
    bar = scale_bar(width, voxel_mm)
    assert bar.length_um == pytest.approx(length_um)
    assert bar.length_px == pytest.approx(length_px, rel=1e-4)
    assert bar.label == label
    assert 0.08 * width <= bar.length_px <= 0.2 * width + 1e-9  # never longer than a fifth, never tiny


def bar_lines(axis) -> list[float]:
    """Lengths (pixels) of the horizontal lines drawn on an image panel."""
    return [float(np.ptp(line.get_xdata())) for line in axis.get_lines() if np.ptp(line.get_ydata()) == 0]


def test_preview_panels_have_scale_bars_one_window_and_the_report_labels() -> None:
    rng = np.random.default_rng(5)
    zoom = rng.normal(1.0, 0.2, (48, 64)).astype(np.float32)
    cubic = zoom * 0.5  # darker: a window per panel would hide that
    window = grey_window([zoom])
    fig = previews.preview_figure([cubic, zoom * 0.98, zoom], TRIO_LABELS, "test slab", voxel_mm=0.01, window=window)
    axes = fig.axes
    assert [axis.get_title() for axis in axes] == list(TRIO_LABELS)
    for axis in axes:
        assert bar_lines(axis) == pytest.approx([10.0, 10.0])  # 100 µm of 10 µm voxels, white under black
        assert [text.get_text() for text in axis.texts] == ["100 µm"]
        assert axis.images[0].get_clim() == pytest.approx(window)


def test_preview_window_defaults_to_the_reference_panel() -> None:
    zoom = np.linspace(0.0, 1.0, 64 * 64).reshape(64, 64)
    fig = previews.preview_figure([zoom * 3, zoom], ("before", "zoom"), "t", voxel_mm=0.002)
    clims = {axis.images[0].get_clim() for axis in fig.axes}
    assert len(clims) == 1 and clims.pop() == pytest.approx(grey_window([zoom]))


def test_previews_and_report_use_the_same_labels(tmp_path: Path) -> None:
    volume = np.ones((8, 8, 8), np.float32)
    images = report_images(volume, volume, volume, None, (2, 6), voxel_mm=0.01)
    assert all(s.labels == TRIO_LABELS for s in images.slices)
    previews.side_by_side(tmp_path / "p.png", [volume[4]] * 3, TRIO_LABELS, "t", voxel_mm=0.01)
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
