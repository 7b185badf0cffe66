"""The forward contract holds under torch.export and TorchScript tracing."""

import pytest
import torch

from helpers import real_scale_googlenet
from googlenet import GoogLeNetOutputs, googlenet


@pytest.mark.slow
def test_export_in_eval_mode_returns_logits_with_a_dynamic_batch():
    model = real_scale_googlenet("bn", num_classes=10).eval()
    x = torch.randn(2, 3, 64, 64)
    batch = torch.export.Dim("batch", min=1, max=64)
    exported = torch.export.export(model, (x,), dynamic_shapes=({0: batch},))
    for n in (1, 3):
        y = torch.randn(n, 3, 64, 64)
        out = exported.module()(y)
        assert isinstance(out, torch.Tensor)
        torch.testing.assert_close(out, model(y), rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_export_in_training_mode_returns_the_named_tuple():
    model = googlenet("bn", num_classes=10).train()
    model.aux1.dropout.p = model.aux2.dropout.p = model.dropout.p = 0.0
    x = torch.randn(2, 3, 64, 64)
    exported = torch.export.export(model, (x,))
    out = exported.module()(x)
    assert isinstance(out, GoogLeNetOutputs)
    expected = model(x)
    for got, want in zip(out, expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit is deprecated upstream; tracing still works
def test_torchscript_by_tracing_in_eval_mode():
    model = real_scale_googlenet("paper", num_classes=10).eval()
    traced = torch.jit.trace(model, torch.randn(2, 3, 64, 64))
    y = torch.randn(3, 3, 64, 64)
    torch.testing.assert_close(traced(y), model(y))
