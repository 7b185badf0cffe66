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
    with pytest.raises(ValueError, match=r"global_pool='sum': GoogLeNet pools with one of \['avg', 'max', 'avgmax', 'catavgmax', ''\]"):
        model.reset_classifier(3, global_pool="sum")
    with pytest.raises(ValueError, match=r"global_pool='' leaves the map unpooled, which no classifier reads: pass num_classes=0"):
        model.reset_classifier(3, global_pool="")


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


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_timms_default_cfg_checks_with_global_pool_off(flavour):
    """timm's test_model_default_cfgs, written out: the unpooled map at pool_size, pre_logits and a headless
    forward of num_features, reset_classifier(0, '') and create_model(num_classes=0, global_pool='') unpooled,
    the classifier and first convolution named by the cfg."""
    timm = pytest.importorskip("timm")
    import googlenet.timm_registry  # noqa: F401

    name = f"googlenet_{flavour}"
    model = timm.create_model(name).eval()
    cfg, state_dict = model.default_cfg, model.state_dict()
    x = torch.randn(1, *cfg["input_size"])
    with torch.no_grad():
        features = model.forward_features(x)
        pre_logits = model.forward_head(features, pre_logits=True)
        assert features.shape == (1, model.num_features, *cfg["pool_size"])
        assert pre_logits.shape == (1, model.head_hidden_size)
        model.reset_classifier(0)
        assert model.num_classes == 0 and model(x).shape == pre_logits.shape
        model.reset_classifier(0, "")
        torch.testing.assert_close(model(x), features, rtol=0, atol=0)
        unpooled = timm.create_model(name, num_classes=0, global_pool="").eval()
        assert unpooled(x).shape == (1, 1024, *cfg["pool_size"])
    assert f"{cfg['classifier']}.weight" in state_dict and f"{cfg['first_conv']}.weight" in state_dict


@pytest.mark.parametrize("global_pool", ["avg", "max", "avgmax", "catavgmax"])
def test_every_pool_type_pools_the_last_map_as_timm_defines_it(global_pool):
    model = real_scale_googlenet("bn", num_classes=5).eval()
    model.reset_classifier(4, global_pool)
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        features = model.forward_features(x)
        pooled = model.forward_head(features, pre_logits=True)
        logits = model(x)
    average, largest = features.mean((2, 3)), features.amax((2, 3))
    want = {"avg": average, "max": largest, "avgmax": (average + largest) / 2,
            "catavgmax": torch.cat((average, largest), 1)}[global_pool]
    torch.testing.assert_close(pooled, want)
    assert model.head_hidden_size == want.shape[1] and logits.shape == (2, 4)
    torch.testing.assert_close(logits, model.fc(want))


@pytest.mark.parametrize(("num_classes", "global_pool"), [(0, ""), (4, "catavgmax")])
def test_torchscript_compiles_the_pool_chosen(num_classes, global_pool):
    model = real_scale_googlenet("bn", num_classes=5).eval()
    model.reset_classifier(num_classes, global_pool)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.script(model)(x), model(x))


def test_a_pool_is_changed_on_a_kept_classifier_only_where_it_fits():
    model = real_scale_googlenet("torchvision", num_classes=5).eval()
    classifier = model.fc
    model.set_global_pool("max")
    assert model.fc is classifier and isinstance(model.avgpool, torch.nn.AdaptiveMaxPool2d)
    with pytest.raises(ValueError, match=r"global_pool='catavgmax' gives the classifier 2048 features, and this one "
                                         r"reads 1024: make a new one with reset_classifier"):
        model.set_global_pool("catavgmax")
    assert model.global_pool == "max"


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_layer_groups_are_the_stem_each_inception_stage_or_module_and_the_head(flavour):
    from timm.models import group_parameters
    from timm.optim import create_optimizer_v2

    model = googlenet.googlenet(flavour, num_classes=5)
    names = [name for name, _ in model.named_parameters()]
    coarse = group_parameters(model, model.group_matcher(coarse=True), reverse=True)
    fine = group_parameters(model, model.group_matcher(coarse=False), reverse=True)
    assert set(coarse) == set(fine) == set(names)  # every parameter in a group

    def members(groups, group):
        return {name.split(".")[0] for name, index in groups.items() if index == group}

    assert [members(coarse, group) for group in range(5)] == [
        {"conv1", "conv2", "conv3"}, {"inception3a", "inception3b"},
        {"inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "aux1", "aux2"},
        {"inception5a", "inception5b"}, {"fc"}]
    modules = [name for name, _ in model.stages() if name.startswith("inception")]
    assert [members(fine, group) for group in range(11)] == [
        {"conv1", "conv2", "conv3"}, *({name} | ({"aux1"} if name == "inception4a" else {"aux2"} if
                                                 name == "inception4d" else set()) for name in modules), {"fc"}]
    assert model.no_weight_decay() == set()

    optimizer = create_optimizer_v2(model, "sgd", lr=0.1, weight_decay=1e-4, layer_decay=0.7)
    scale_of = {id(parameter): group["lr_scale"] for group in optimizer.param_groups for parameter in group["params"]}
    assert scale_of[id(model.fc.weight)] == 1.0
    assert scale_of[id(model.inception5b.branch1.conv.weight)] == pytest.approx(0.7)
    assert scale_of[id(model.conv1.conv.weight)] == pytest.approx(0.7 ** 10)
    decayed = {id(p) for group in optimizer.param_groups if group["weight_decay"] for p in group["params"]}
    assert id(model.fc.weight) in decayed and id(model.fc.bias) not in decayed
