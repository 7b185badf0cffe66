"""timm's model interface on every flavour, as timm's generic model checks and fine-tuning scripts use
it: the unpooled features, the head, headless models, the data config, feature maps by stride."""

import pytest
import torch

import googlenet
from googlenet import FLAVOURS
from helpers import real_scale_googlenet

timm_data = pytest.importorskip("timm.data", reason="timm is in the test extra")


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_features_are_the_unpooled_last_map_and_the_head_pools_them(flavour):
    model = real_scale_googlenet(flavour, num_classes=5).eval()
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        features = model.forward_features(x)
        assert features.shape == (2, model.num_features, 2, 3) and model.head_hidden_size == 1024
        pre_logits = model.forward_head(features, pre_logits=True)
        torch.testing.assert_close(pre_logits, features.mean((2, 3)))
        torch.testing.assert_close(model.forward_head(features), model(x))
        torch.testing.assert_close(model.get_classifier()(pre_logits), model(x))


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_reset_classifier_zero_makes_it_headless_and_a_new_head_fine_tunes(flavour):
    model = real_scale_googlenet(flavour, num_classes=5)
    model.class_names = list("abcde")
    x = torch.randn(2, 3, 64, 64)
    model.reset_classifier(0)
    assert model.num_classes == 0 and model.aux1 is None and model.class_names is None
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), model.forward_head(model.forward_features(x), pre_logits=True))
    model.reset_classifier(3, global_pool="avg")
    assert model.eval()(x).shape == (2, 3) and model.train()(x).shape == (2, 3)
    with pytest.raises(ValueError, match="pools by average only"):
        model.reset_classifier(3, global_pool="max")


def test_num_classes_zero_at_construction_is_headless():
    model = googlenet.googlenet("bn", num_classes=0)
    assert model.aux1 is None and model.train()(torch.randn(2, 3, 64, 64)).shape == (2, 1024)
    with pytest.raises(ValueError, match="headless network, which has no aux classifiers"):
        googlenet.googlenet("bn", num_classes=0, aux_logits=True)


@pytest.mark.parametrize(("flavour", "in_chans"), [("bn", 3), ("paper", 1), ("torchvision", 3)])
def test_the_pretrained_cfg_is_what_timm_resolves_a_data_config_from(flavour, in_chans):
    model = googlenet.googlenet(flavour, num_classes=4, in_chans=in_chans)
    cfg = model.pretrained_cfg
    assert model.default_cfg == cfg and cfg["num_classes"] == 4 and cfg["classifier"] == "fc"
    assert model.get_submodule(cfg["first_conv"]).in_channels == in_chans
    data = timm_data.resolve_data_config(model=model)
    assert data["input_size"] == (in_chans, 224, 224) and data["crop_pct"] == 0.875
    assert len(data["mean"]) == len(data["std"]) == in_chans
    model.preprocessing = googlenet.Preprocessing(input_size=64, resize_size=72, mean=(0.5,) * in_chans,
                                                  std=(0.25,) * in_chans, interpolation="bicubic")
    data = timm_data.resolve_data_config(model=model)
    assert (data["input_size"], data["interpolation"], data["mean"]) == ((in_chans, 64, 64), "bicubic", (0.5,) * in_chans)


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_features_only_returns_the_maps_at_strides_2_to_32_as_feature_info_says(flavour):
    backbone = googlenet.googlenet(flavour, features_only=True)
    maps = backbone.eval()(torch.randn(1, 3, 64, 64))
    info = backbone.feature_info
    assert info.reduction() == [2, 4, 8, 16, 32] and info.channels() == [64, 192, 480, 832, 1024]
    assert [tuple(m.shape[1:]) for m in maps] == [(c, 64 // r, 64 // r) for c, r in zip(info.channels(), info.reduction())]

    model = real_scale_googlenet(flavour, num_classes=5).eval()
    partial = googlenet.googlenet(flavour, features_only=True, out_indices=(1, -1))
    partial.load_state_dict({key: value for key, value in model.state_dict().items() if key in partial.state_dict()})
    assert partial.feature_info.module_name() == ["conv3", "inception5b"]
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        final, intermediates = model.forward_intermediates(x)
        got = partial.eval()(x)
        torch.testing.assert_close(final, model.forward_features(x))
    assert len(intermediates) == 5
    torch.testing.assert_close(got, [intermediates[1], intermediates[4]], rtol=0, atol=0)
    with torch.no_grad():
        last_two = model.forward_intermediates(x, indices=2, intermediates_only=True)
    torch.testing.assert_close(last_two, intermediates[3:], rtol=0, atol=0)
    with pytest.raises(ValueError, match="out_indices must be indices of the 5 feature maps"):
        googlenet.googlenet(flavour, features_only=True, out_indices=(5,))


def test_gradient_checkpointing_gives_the_same_gradients():
    model = real_scale_googlenet("bn", num_classes=5).train()
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    x, target = torch.randn(2, 3, 64, 64), torch.tensor([1, 3])

    def gradients():
        model.zero_grad()
        googlenet.GoogLeNetLoss()(model(x), target).backward()
        return [parameter.grad.clone() for parameter in model.parameters()]

    calls = []
    model.inception3a.register_forward_pre_hook(lambda *args: calls.append(1))
    plain = gradients()
    assert len(calls) == 1
    model.set_grad_checkpointing(True)
    checkpointed = gradients()
    assert len(calls) == 3  # with checkpointing, the stage runs again in the backward pass
    for got, want in zip(checkpointed, plain):
        torch.testing.assert_close(got, want)
