"""torchvision's GoogLeNet interface on the `torchvision` flavour: its builder's signature and meanings,
its weights object, its output tuple and its own test recipes, run as torchvision code would run them."""

import warnings

import pytest
import torch
import torchvision
from PIL import Image

import googlenet
from googlenet import GoogLeNet, GoogLeNet_Weights, GoogLeNetOutputs
from helpers import real_scale_googlenet


def torchvision_googlenet(**options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its init_weights FutureWarning, its untrained-aux-heads warning
        return torchvision.models.googlenet(**options)


def test_the_builder_takes_torchvisions_keywords_with_their_meanings():
    model = googlenet.googlenet("torchvision", weights=None, progress=False, num_classes=7, aux_logits=False,
                                transform_input=True, init_weights=False, dropout=0.3, dropout_aux=0.6)
    config = model.config
    assert (config.num_classes, config.aux_logits, config.transform_input, config.dropout, config.aux_dropout) == (
        7, False, True, 0.3, 0.6)
    reference = torchvision_googlenet(num_classes=7, aux_logits=False, transform_input=True, init_weights=False)
    assert model.state_dict().keys() == reference.state_dict().keys()


@pytest.mark.parametrize("weights", ["IMAGENET1K_V1", "DEFAULT", GoogLeNet_Weights.IMAGENET1K_V1,
                                     torchvision.models.GoogLeNet_Weights.IMAGENET1K_V1])
def test_weights_by_name_or_object_load_as_torchvision_loads_them(torchvision_release_cached, weights):
    ours = googlenet.googlenet("torchvision", weights=weights, progress=False)
    reference = torchvision_googlenet(weights="IMAGENET1K_V1", progress=False)  # reads the same cached file
    assert ours.aux1 is None and reference.aux1 is None and not ours.aux_logits
    assert ours.class_names == GoogLeNet_Weights.IMAGENET1K_V1.meta["categories"]
    assert ours.preprocessing == GoogLeNet_Weights.IMAGENET1K_V1.preprocessing
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), reference.eval()(x), rtol=0, atol=0)


def test_weights_with_aux_logits_keep_the_released_heads(torchvision_release_cached):
    with pytest.warns(UserWarning, match="never trained"):
        ours = googlenet.googlenet("torchvision", weights="DEFAULT", aux_logits=True, progress=False)
    release = torch.load(torchvision_release_cached, weights_only=True)
    assert torch.equal(ours.aux2.fc2.weight, release["aux2.fc2.weight"]) and ours.config.transform_input


def test_the_weights_object_describes_torchvisions_release():
    ours, theirs = GoogLeNet_Weights.IMAGENET1K_V1, torchvision.models.GoogLeNet_Weights.IMAGENET1K_V1
    assert GoogLeNet_Weights.DEFAULT is ours and ours.url == theirs.url and ours.hash_prefix == "1378be20"
    assert ours.meta["categories"] == theirs.meta["categories"] and len(ours.meta["categories"]) == 1000
    assert ours.meta["_metrics"] == theirs.meta["_metrics"] and ours.meta["num_params"] == theirs.meta["num_params"]
    assert ours.meta["min_size"] == theirs.meta["min_size"] and ours.meta["recipe"] == theirs.meta["recipe"]
    built = googlenet.googlenet("torchvision", aux_logits=False)  # the published count leaves the aux heads out
    assert sum(parameter.numel() for parameter in built.parameters()) == ours.meta["num_params"]


def test_the_weights_transforms_compute_what_torchvisions_compute():
    pixels = torch.randint(0, 256, (3, 300, 380), dtype=torch.uint8)
    image = Image.fromarray(pixels.permute(1, 2, 0).numpy())
    ours = GoogLeNet_Weights.IMAGENET1K_V1.transforms()
    theirs = torchvision.models.GoogLeNet_Weights.IMAGENET1K_V1.transforms()
    torch.testing.assert_close(ours(image), theirs(image), rtol=0, atol=1e-6)  # PIL images: the same
    # uint8 tensors: transforms v2 resizes them in uint8 (one rounding), torchvision's preset in float.
    torch.testing.assert_close(ours(pixels), theirs(pixels), rtol=0, atol=1.01 / 255 / min(ours.transforms[-1].std))


def test_setting_aux_logits_false_is_torchvisions_recipe():
    model = googlenet.googlenet("torchvision", num_classes=5)
    model.aux_logits = False  # keeps the heads, returns the logits only
    out = model.train()(torch.randn(2, 3, 64, 64))
    assert isinstance(out, torch.Tensor) and out.shape == (2, 5) and model.aux1 is not None
    model.aux_logits = True
    assert isinstance(model(torch.randn(2, 3, 64, 64)), GoogLeNetOutputs)
    model.drop_aux_heads()
    with pytest.raises(ValueError, match="no aux heads to return"):
        model.aux_logits = True


def test_train_mode_outputs_have_torchvisions_fields_in_its_order():
    ours = real_scale_googlenet("torchvision", num_classes=5).train()
    reference = torchvision_googlenet(num_classes=5, init_weights=False).train()
    reference.load_state_dict(ours.state_dict())
    for model in (ours, reference):
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    x = torch.randn(2, 3, 64, 64)
    expected = reference(x)
    assert GoogLeNetOutputs._fields == type(expected)._fields == ("logits", "aux_logits2", "aux_logits1")
    for got, want in zip(ours(x), expected):  # by position, as code unpacking torchvision's tuple reads it
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_options_that_contradict_a_flavour_are_refused():
    with pytest.raises(ValueError, match=r"ask for googlenet\('torchvision', weights='IMAGENET1K_V1'\)"):
        googlenet.googlenet("bn", weights="IMAGENET1K_V1")
    with pytest.raises(ValueError, match="classify 1000 classes, not 10"):
        googlenet.googlenet("torchvision", weights="IMAGENET1K_V1", num_classes=10)
    with pytest.raises(ValueError, match="unknown GoogLeNet weights 'IMAGENET1K_V2'"):
        googlenet.googlenet("torchvision", weights="IMAGENET1K_V2")
    with pytest.raises(ValueError, match="no naive Inception modules"):
        googlenet.googlenet("torchvision", naive=True)
    with pytest.raises(TypeError, match=r"googlenet.googlenet\('torchvision', num_classes="):
        GoogLeNet(num_classes=10, aux_logits=True, transform_input=False, init_weights=True)
