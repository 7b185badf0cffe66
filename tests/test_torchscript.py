"""torch.jit.script(model), as torchvision's GoogLeNet allows: the eval-mode forward, every flavour (the
plain bn and paper networks are the naive and headless ones with fewer kinds of module)."""

import warnings

import pytest
import torch

from googlenet import googlenet
from helpers import real_scale_googlenet


def scripted(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated upstream, still used
        return torch.jit.script(model)


@pytest.mark.parametrize("flavour, options", [("bn", {"num_classes": 0, "aux_logits": False, "in_chans": 1}),
                                              ("paper", {"naive": True}), ("torchvision", {"transform_input": True})])
def test_a_scripted_model_computes_what_the_model_does(tmp_path, flavour, options):
    model = real_scale_googlenet(flavour, **options).eval()
    compiled = scripted(model)
    images = torch.randn(2, model.in_chans, 32, 32)
    with torch.no_grad():
        expected = model(images)
        assert expected.std() > 0.01  # an output that varies
        torch.testing.assert_close(compiled(images), expected, rtol=1e-5, atol=1e-5 * expected.abs().max().item())
    assert set(compiled.state_dict()) <= set(model.state_dict())  # the model's own names
    assert (model.aux1 is not None) == model.config.aux_logits  # the model itself is not changed
    if flavour == "bn":  # timm's unpooled map, and another of its pools
        for pool in ("", "catavgmax"):
            model.reset_classifier(0, pool)
            with torch.no_grad():
                torch.testing.assert_close(scripted(model)(images), model(images))
    if flavour == "torchvision":  # what a scripted model is for: a file torch.jit.load runs without the code
        torch.jit.save(compiled, tmp_path / "model.pt")
        with torch.no_grad():
            torch.testing.assert_close(torch.jit.load(tmp_path / "model.pt")(images), expected)


def test_training_mode_with_aux_outputs_is_refused_not_cut_short():
    model = googlenet("bn", num_classes=4).train()
    with pytest.raises(ValueError, match=r"eval-mode forward: call model.eval\(\) first"):
        scripted(model)
    model.aux_logits = False  # training mode then returns the logits only, which the chain computes
    assert scripted(model).training
