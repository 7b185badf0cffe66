"""The aux heads at every input size: the paper's 5x5/3 pool where it yields 4x4 or more, an adaptive 4x4
pool below that, and never a cell copied into two places (issue 11 item 6). The torchvision flavour keeps
torchvision's adaptive pool exactly."""

import warnings

import pytest
import torch
import torch.nn.functional as F
import torchvision

from helpers import give_real_scale, real_scale_googlenet, uninitialised_googlenet
from googlenet import AuxClassifier


def aux_inputs(model, side: int) -> dict[str, torch.Tensor]:
    """The maps 4a and 4d hand to aux1 and aux2 for a side x side input."""
    seen = {}
    hooks = [getattr(model, name).register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, o))
             for name in ("inception4a", "inception4d")]
    with torch.no_grad():
        model(torch.randn(1, model.in_chans, side, side))
    for hook in hooks:
        hook.remove()
    return seen


def assert_no_cell_repeats_its_neighbour(pooled: torch.Tensor) -> None:
    rows, columns = pooled.shape[-2:]
    for row in range(rows - 1):
        assert not torch.equal(pooled[..., row, :], pooled[..., row + 1, :]), f"row {row} copied"
    for column in range(columns - 1):
        assert not torch.equal(pooled[..., column], pooled[..., column + 1]), f"column {column} copied"


@pytest.mark.parametrize("flavour", ["bn", "paper"])
@pytest.mark.parametrize("side, map_side, pool", [(96, 6, "adaptive"), (128, 8, "adaptive"), (160, 10, "adaptive"),
                                                   (224, 14, "paper")])
def test_aux_heads_pool_to_4x4_without_replication(flavour, side, map_side, pool):
    model = real_scale_googlenet(flavour, num_classes=5).eval()
    feature_maps = aux_inputs(model, side)
    for name, head in (("inception4a", model.aux1), ("inception4d", model.aux2)):
        feature_map = feature_maps[name]
        assert feature_map.shape[-2:] == (map_side, map_side)
        pooled = head.pool_map(feature_map)
        assert pooled.shape[-2:] == (4, 4)
        expected = F.avg_pool2d(feature_map, 5, 3) if pool == "paper" else F.adaptive_avg_pool2d(feature_map, 4)
        torch.testing.assert_close(pooled, expected, rtol=0, atol=0)
        assert_no_cell_repeats_its_neighbour(pooled)
        assert head.grid(feature_map).shape[1:] == (128, 4, 4)


@pytest.mark.parametrize("side, map_side", [(32, 2), (48, 3)])
def test_a_map_smaller_than_4x4_sits_in_zeros_instead_of_being_repeated(side, map_side):
    model = real_scale_googlenet("bn", num_classes=5).eval()
    feature_map = aux_inputs(model, side)["inception4a"]
    assert feature_map.shape[-2:] == (map_side, map_side)
    assert model.aux1.pool_map(feature_map).shape[-2:] == (map_side, map_side)
    grid = model.aux1.grid(feature_map)
    assert grid.shape[1:] == (128, 4, 4)
    top = (4 - map_side) // 2
    inside = grid[..., top:top + map_side, top:top + map_side]
    torch.testing.assert_close(inside, model.aux1.conv(feature_map), rtol=0, atol=0)
    outside = grid.clone()
    outside[..., top:top + map_side, top:top + map_side] = 0
    assert inside.abs().sum() > 0 and not outside.any()  # everything outside the map is zero
    assert_no_cell_repeats_its_neighbour(inside)


def test_non_square_maps_are_handled_per_side():
    head = give_real_scale(AuxClassifier(16, 3)).eval()
    x = torch.randn(2, 16, 2, 20)
    assert head.pool_map(x).shape[-2:] == (2, 4)
    assert head.grid(x).shape[-2:] == (4, 4)
    assert head(x).shape == (2, 3)
    assert head.pool_map(torch.randn(2, 16, 30, 14)).shape[-2:] == (4, 4)  # paper pool, then 9x4 -> 4x4


@pytest.mark.parametrize("side", [48, 96])
def test_the_torchvision_flavour_keeps_torchvisions_adaptive_pool(side):
    """At 48 px 4a's map is 3x3, which torchvision's adaptive pool repeats: so does this flavour."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        reference = give_real_scale(torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False))
    ours = uninitialised_googlenet("torchvision")
    ours.load_state_dict(reference.state_dict())
    reference.train(), ours.train()
    for module in (reference, ours):
        module.dropout.p = module.aux1.dropout.p = module.aux2.dropout.p = 0.0
    # BatchNorm in training mode on a batch of 4: the same statistics in both models.
    x = torch.randn(4, 3, side, side)
    with torch.no_grad():
        expected, outputs = reference(x), ours(x)
    assert expected.aux_logits1.std() > 0.1
    torch.testing.assert_close(outputs.aux_logits1, expected.aux_logits1, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(outputs.aux_logits2, expected.aux_logits2, rtol=1e-4, atol=1e-4)
