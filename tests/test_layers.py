import pytest
import torch
from torch import nn

from googlenet import AuxClassifier, ConvBlock, InceptionModule, NaiveInceptionModule


def trainable(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_naive_module_matches_the_tutorial():
    module = NaiveInceptionModule(256)  # 64 features per convolution
    out = module(torch.rand(1, 256, 28, 28))
    assert out.shape == (1, 64 + 64 + 64 + 256, 28, 28)
    assert trainable(module) == 573_824


def test_reduced_module_matches_the_tutorial():
    module = InceptionModule(256, 64, 96, 128, 16, 32, 32)
    out = module(torch.rand(1, 256, 28, 28))
    assert out.shape == (1, 64 + 128 + 32 + 32, 28, 28)
    assert trainable(module) == 177_376
    assert module.out_channels == 256


def test_reduced_module_branch_order_is_1x1_3x3_5x5_pool():
    module = InceptionModule(8, 1, 2, 3, 2, 4, 5).eval()
    x = torch.rand(1, 8, 6, 6)
    out = module(x)
    expected = torch.cat([module.branch1(x), module.branch2(x), module.branch3(x), module.branch4(x)], 1)
    torch.testing.assert_close(out, expected)
    assert module.branch3[1].conv.kernel_size == (5, 5)
    assert [out.shape[1] for out in (module.branch1(x), module.branch2(x), module.branch3(x), module.branch4(x))] == [1, 3, 4, 5]


def test_conv_block_is_the_tutorial_unit():
    block = ConvBlock(3, 8, 3, padding=1)
    assert block.conv.bias is None
    assert isinstance(block.bn, nn.BatchNorm2d) and block.bn.eps == 1e-3
    assert (block(torch.randn(2, 3, 5, 5)) >= 0).all()


def test_conv_block_without_batch_norm_has_a_bias():
    block = ConvBlock(3, 8, 1, batch_norm=False)
    assert block.conv.bias is not None
    assert not any(isinstance(m, nn.BatchNorm2d) for m in block.modules())


def test_aux_classifier_pools_like_the_paper_at_14x14():
    head = AuxClassifier(512, 10).eval()
    x = torch.randn(2, 512, 14, 14)
    pooled = nn.functional.avg_pool2d(x, 5, 3)
    assert pooled.shape[-2:] == (4, 4)  # paper section 5: 4x4x512 for 4a
    expected = head.fc2(torch.relu(head.fc1(torch.flatten(head.conv(pooled), 1))))
    torch.testing.assert_close(head(x), expected)
    assert head.dropout.p == 0.7
    assert head.conv.conv.out_channels == 128 and head.fc1.out_features == 1024


@pytest.mark.parametrize("side", [3, 7, 19])
def test_aux_classifier_works_at_other_sizes(side):
    assert AuxClassifier(16, 5)(torch.randn(2, 16, side, side)).shape == (2, 5)


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda: InceptionModule(256, 0, 96, 128, 16, 32, 32), "ch1x1"),
        (lambda: InceptionModule(256, 64, -1, 128, 16, 32, 32), "ch3x3_reduce"),
        (lambda: InceptionModule(256, 64, 96, 128, 16, 32, 0), "pool_proj"),
        (lambda: NaiveInceptionModule(0), "in_channels"),
        (lambda: AuxClassifier(512, 0), "num_classes"),
        (lambda: ConvBlock(3, -8, 3), "out_channels"),
    ],
)
def test_bad_channel_numbers_are_named(build, name):
    with pytest.raises(ValueError, match=name):
        build()
