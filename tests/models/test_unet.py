"""The 2.5D U-Net: shapes, residual behaviour, size of the standard network."""

from __future__ import annotations

import numpy as np
import pytest

from models.config import NetworkConfig
from models.unet import build_unet25d, inference_model, pad_multiple_px


@pytest.mark.parametrize("hw", [(16, 16), (48, 80)])
def test_two_outputs_of_input_size(small_net, hw):
    model = build_unet25d(small_net)
    x = np.random.default_rng(0).random((2, *hw, 5), dtype=np.float32)
    unet_out, final_out = model(x)
    assert tuple(unet_out.shape) == (2, *hw, 1) and tuple(final_out.shape) == (2, *hw, 1)
    assert pad_multiple_px(model) == 4
    assert len(inference_model(model).outputs) == 1


def test_residual_network_starts_from_the_centre_slice(small_net):
    model = build_unet25d(small_net)
    for name in ("unet_proj", "head_proj"):
        layer = model.get_layer(name)
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    x = np.random.default_rng(1).random((1, 32, 32, 5), dtype=np.float32)
    unet_out, final_out = model(x)
    np.testing.assert_allclose(np.asarray(final_out)[..., 0], x[..., 2], atol=1e-6)
    np.testing.assert_allclose(np.asarray(unet_out)[..., 0], x[..., 2], atol=1e-6)


def test_standard_network_is_paper_sized():
    params = build_unet25d(NetworkConfig()).count_params()
    assert 7.0e6 < params < 8.5e6


def test_even_slice_count_is_refused():
    with pytest.raises(ValueError, match="odd"):
        NetworkConfig(slices=4)


def test_medium_network_takes_64_px_tiles_and_is_half_a_million_parameters():
    net = NetworkConfig(depth=3, base_filters=16, head_layers=2)  # the CPU preset `medium` (pipeline/config.py)
    model = build_unet25d(net)
    assert 4.5e5 < model.count_params() < 5.2e5 and net.pad_multiple_px == 8
    _, final_out = model(np.zeros((1, 64, 64, 5), np.float32))
    assert tuple(final_out.shape) == (1, 64, 64, 1)
