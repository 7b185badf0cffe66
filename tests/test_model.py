"""GoogLeNet's forward contract, options and error messages."""

import pytest
import torch
from torch import nn

from helpers import real_scale_googlenet
from googlenet import FLAVOURS, GoogLeNet, GoogLeNetConfig, GoogLeNetOutputs, googlenet
from googlenet.models import uninitialised_googlenet


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_training_returns_logits_aux1_aux2_and_eval_returns_logits(flavour):
    model = googlenet(flavour, num_classes=7)
    x = torch.randn(2, 3, 96, 96)
    outputs = model.train()(x)
    assert isinstance(outputs, GoogLeNetOutputs)
    assert outputs._fields == ("logits", "aux_logits2", "aux_logits1")  # torchvision's names and order
    assert all(t.shape == (2, 7) for t in outputs)
    logits = model.eval()(x)
    assert isinstance(logits, torch.Tensor) and logits.shape == (2, 7)


def test_aux1_reads_4a_and_aux2_reads_4d():
    model = real_scale_googlenet("bn", num_classes=5).train()
    model.aux1.dropout.p = model.aux2.dropout.p = model.dropout.p = 0.0
    seen = {}
    for name in ("inception4a", "inception4d"):
        getattr(model, name).register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, o))
    outputs = model(torch.randn(2, 3, 64, 64))
    torch.testing.assert_close(outputs.aux_logits1, model.aux1(seen["inception4a"]))
    torch.testing.assert_close(outputs.aux_logits2, model.aux2(seen["inception4d"]))
    assert not torch.allclose(outputs.aux_logits1, outputs.aux_logits2)


def test_without_aux_heads_training_returns_logits():
    model = googlenet(aux_logits=False, num_classes=3).train()
    assert model.aux1 is None and model.aux2 is None
    out = model(torch.randn(2, 3, 64, 64))
    assert isinstance(out, torch.Tensor) and out.shape == (2, 3)


def test_features_and_head_compose_to_forward():
    model = real_scale_googlenet("bn", num_classes=10).eval()
    x = torch.randn(2, 3, 64, 64)
    features = model.forward_features(x)  # timm's: the last map, before pooling
    assert features.shape == (2, 1024, 2, 2) and model.num_features == model.head_hidden_size == 1024
    torch.testing.assert_close(model.forward_head(features), model(x))
    torch.testing.assert_close(model.forward_head(features, pre_logits=True), features.mean((2, 3)))


def test_reset_classifier_for_fine_tuning():
    model = googlenet("bn", num_classes=1000)
    model.reset_classifier(4)
    assert model.get_classifier().out_features == 4 and model.aux1.fc2.out_features == 4
    assert model.config.num_classes == 4
    assert all(t.shape == (2, 4) for t in model.train()(torch.randn(2, 3, 64, 64)))


def test_reset_classifier_keeps_the_heads_dtype_and_device():
    model = googlenet("bn", num_classes=5).to(torch.bfloat16)
    model.reset_classifier(3)
    heads = [model.fc, model.aux1.fc2, model.aux2.fc2]
    assert [(head.weight.dtype, head.weight.device.type) for head in heads] == [(torch.bfloat16, "cpu")] * 3
    assert model.eval()(torch.randn(1, 3, 64, 64, dtype=torch.bfloat16)).dtype == torch.bfloat16


def test_building_patches_no_torch_layer_for_the_process():
    # A network built uninitialised must not change how other code (another thread) builds torch's layers.
    own = {cls: cls.reset_parameters for cls in (nn.Conv2d, nn.Linear)}
    seen_while_building = []

    def check(module, name, parameter):
        seen_while_building.append(all(cls.reset_parameters is method for cls, method in own.items()))

    handle = torch.nn.modules.module.register_module_parameter_registration_hook(check)
    try:
        googlenet("bn", num_classes=3)
        uninitialised_googlenet(GoogLeNetConfig("paper", num_classes=3))
    finally:
        handle.remove()
    assert len(seen_while_building) > 100 and all(seen_while_building)


def test_an_uninitialised_network_is_allocated_where_asked_and_loads_strictly():
    source = real_scale_googlenet("torchvision", num_classes=4)
    model = uninitialised_googlenet(GoogLeNetConfig("torchvision", num_classes=4))
    assert not any(tensor.is_meta for tensor in [*model.parameters(), *model.buffers()])
    model.load_state_dict(source.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(model.eval()(x), source.eval()(x), rtol=0, atol=0)


def test_grayscale_input():
    model = googlenet(in_chans=1, num_classes=10).eval()
    assert model.conv1.conv.in_channels == 1
    assert model(torch.randn(2, 1, 64, 64)).shape == (2, 10)


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_minimum_input_size_works_and_one_less_is_a_clear_error(flavour):
    model = googlenet(flavour).eval()
    side = model.min_input_size
    assert model(torch.randn(1, 3, side, side)).shape == (1, 1000)
    assert model(torch.randn(1, 3, side + 1, 300)).shape == (1, 1000)  # odd and non-square sizes
    with pytest.raises(ValueError, match=f"minimum {side}x{side}"):
        model(torch.randn(1, 3, side - 1, side - 1))
    # The check is ours, not torch's: without it, torch fails deep inside a pooling layer.
    model.min_input_size = 1
    with pytest.raises(RuntimeError, match="too small"):
        model(torch.randn(1, 3, side - 1, side - 1))


def test_minimum_sizes():
    assert googlenet("torchvision").min_input_size == 15  # torchvision's own meta["min_size"]
    assert googlenet("paper").min_input_size == googlenet("bn").min_input_size == 31


def test_paper_flavour_is_the_caffe_network():
    model = googlenet("paper")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert all(m.bias is not None for m in model.modules() if isinstance(m, nn.Conv2d))
    lrns = [name for name, m in model.named_children() if isinstance(m, nn.LocalResponseNorm)]
    assert lrns == ["lrn1", "lrn2"]
    order = list(dict(model.named_children()))
    assert order.index("lrn1") == order.index("maxpool1") + 1 and order.index("lrn2") == order.index("conv3") + 1
    assert (model.lrn1.size, model.lrn1.alpha, model.lrn1.beta) == (5, 1e-4, 0.75)
    assert model.dropout.p == 0.4 and model.aux1.dropout.p == 0.7
    assert {m.kernel_size for n, m in model.named_children() if isinstance(m, nn.MaxPool2d)} == {3}


@pytest.mark.slow  # the naive network has 97M parameters
def test_naive_option_builds_naive_modules_at_network_scale():
    model = googlenet("bn", naive=True, num_classes=10).eval()
    assert type(model.inception3a).__name__ == "NaiveInceptionModule"
    # The pool branch passes its input through, so the channels pile up: 192 + 64 + 128 + 32 at 3a.
    assert model.inception3a.out_channels == 416
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 10)


def test_transform_input_is_visible():
    model = googlenet("torchvision", transform_input=True)
    assert "ImageNetToUnitRange" in repr(model)
    assert "ImageNetToUnitRange" not in repr(googlenet("torchvision"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(flavour="caffe"), "unknown flavour 'caffe'; choose one of: paper, bn, torchvision"),
        (dict(num_classes=-1), "num_classes must be a whole number >= 0"),
        (dict(in_chans=-1), "in_chans must be a positive whole number"),
        (dict(dropout=1.5), r"dropout must be in \[0, 1\)"),
        (dict(in_chans=1, transform_input=True), "transform_input needs 3 input channels"),
    ],
)
def test_bad_options_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        googlenet(**kwargs)


def test_wrong_channel_count_is_named_before_any_convolution():
    model = googlenet(in_chans=1)
    calls = []
    model.conv1.conv.register_forward_pre_hook(lambda *args: calls.append(1))
    with pytest.raises(ValueError, match=r"input has 3 channels but the model was built with in_chans=1"):
        model(torch.randn(2, 3, 64, 64))
    with pytest.raises(ValueError, match=r"4-d batch"):
        model(torch.randn(1, 64, 64))
    assert calls == []


def test_builder_and_class_agree():
    assert isinstance(googlenet(), GoogLeNet)
    assert googlenet().config.flavour == "bn"
    model = googlenet("paper", num_classes=10, in_chans=1, aux_logits=False, dropout=0.5)
    assert model.config.to_dict() == dict(flavour="paper", num_classes=10, in_chans=1, aux_logits=False,
                                          dropout=0.5, aux_dropout=0.7, naive=False, transform_input=False)


def test_bn_flavour_initialisation_keeps_activations_alive():
    # Kaiming init: a freshly built bn model in eval mode does not collapse to ~0 (torchvision's does).
    model = googlenet("bn", num_classes=10).eval()
    assert model.forward_features(torch.randn(2, 3, 96, 96)).std() > 1e-2


def test_drop_aux_heads():
    model = googlenet("bn")
    model.drop_aux_heads()
    assert "aux1.fc1.weight" not in model.state_dict() and not model.config.aux_logits
    assert isinstance(model.train()(torch.randn(1, 3, 64, 64)), torch.Tensor)


# -- the config is the constructor ---------------------------------------------------------------------


def test_the_config_builds_the_model_and_googlenet_builds_the_config():
    from googlenet import GoogLeNetConfig

    config = GoogLeNetConfig("paper", num_classes=10, in_chans=1, aux_logits=False)
    torch.manual_seed(3)
    direct = GoogLeNet(config)
    torch.manual_seed(3)
    built = googlenet("paper", num_classes=10, in_chans=1, aux_logits=False)
    assert direct.config == built.config == GoogLeNet(direct.config).config
    assert direct.config.dropout == 0.4  # the flavour's rate, written in
    for (name, got), want in zip(direct.state_dict().items(), built.state_dict().values()):
        assert torch.equal(got, want), name


def test_a_bad_config_is_refused_when_it_is_made():
    from googlenet import GoogLeNetConfig

    with pytest.raises(ValueError, match="num_classes must be a whole number >= 0, got -1"):
        GoogLeNetConfig(num_classes=-1)
    with pytest.raises(ValueError, match="unknown flavour 'inception3'"):
        GoogLeNetConfig(flavour="inception3")
    with pytest.raises(TypeError, match=r"googlenet\(\) got unknown options \['drop_out'\]"):
        googlenet(drop_out=0.3)


def test_the_class_called_with_torchvision_options_refuses_and_says_how_to_ask():
    # torchvision's GoogLeNet(num_classes=..., ...) builds torchvision's network: never silently another one.
    with pytest.raises(TypeError, match=r"googlenet.googlenet\('torchvision', num_classes=\.\.\."):
        GoogLeNet(num_classes=10, aux_logits=True, transform_input=False, init_weights=True)
    with pytest.raises(TypeError, match="GoogLeNet takes a GoogLeNetConfig"):
        GoogLeNet("torchvision")
    with pytest.raises(TypeError, match="GoogLeNet takes a GoogLeNetConfig"):
        GoogLeNet()


def test_config_fields_are_read_only_views():
    model = googlenet("bn", num_classes=4)
    assert (model.num_classes, model.in_chans, model.aux_logits, model.flavour.name) == (4, 3, True, "bn")
    with pytest.raises(AttributeError):
        model.num_classes = 7


# -- stages ----------------------------------------------------------------------------------------------


def test_stages_are_the_trunk_in_forward_order_with_torchvisions_names():
    names = [name for name, _ in googlenet("bn").stages()]
    assert names == ["conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
                     "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
                     "inception5a", "inception5b"]
    paper = [name for name, _ in googlenet("paper").stages()]
    assert paper[:6] == ["conv1", "maxpool1", "lrn1", "conv2", "conv3", "lrn2"]


def test_running_the_stages_by_hand_gives_the_features():
    model = real_scale_googlenet("bn", num_classes=3).eval()
    x = torch.randn(2, 3, 64, 64)
    y = x
    for _, module in model.stages():
        y = module(y)
    torch.testing.assert_close(y, model.forward_features(x))


# -- sizes from an empty-batch forward pass ---------------------------------------------------------


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_empty_batch_stage_shapes_agree_with_a_real_forward_pass(flavour):
    from googlenet.models.shapes import stage_shapes

    model = googlenet(flavour, aux_logits=False).eval()
    for height, width in ((224, 224), (57, 100), (model.min_input_size, 33)):
        seen = {}
        hooks = [module.register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, tuple(o.shape[1:])))
                 for name, module in model.stages()]
        with torch.no_grad():
            model(torch.randn(1, 3, height, width))
        for hook in hooks:
            hook.remove()
        assert stage_shapes(flavour, height, width) == seen
    assert stage_shapes(flavour, 224)["inception4a"] == (512, 14, 14)  # Table 1's 14x14x512


def test_a_size_with_no_output_names_the_stage():
    from googlenet.models.shapes import stage_shapes

    with pytest.raises(ValueError, match=r"a 30x30 input leaves maxpool4 of the 'bn' flavour without an output"):
        stage_shapes("bn", 30)


def test_measuring_the_smallest_input_leaves_the_callers_random_stream_alone():
    from googlenet.models.shapes import smallest_input_side

    smallest_input_side.cache_clear()
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    assert smallest_input_side("paper") == 31
    torch.testing.assert_close(torch.rand(3), expected)


def fan_in(weight: torch.Tensor) -> int:
    return weight[0].numel()  # input channels x kernel area (a linear layer's in_features)


def fan_out(weight: torch.Tensor) -> int:
    return weight.shape[0] * weight[0, 0].numel()  # output channels x kernel area


def check_paper_init(name: str, module: nn.Module) -> None:
    """BVLC GoogLeNet's train_val.prototxt gives every convolution and inner product `weight_filler { type:
    "xavier" }`: Caffe's XavierFiller with its default variance_norm FAN_IN, U(-a, a) with a = sqrt(3 / fan_in),
    so std sqrt(1 / fan_in). Its bias_filler is the constant 0.2 for every convolution and for the aux heads'
    1024-unit layers (loss1/fc, loss2/fc, each before a ReLU), 0 for the three classifiers."""
    weight = module.weight.detach()
    bound = (3.0 / fan_in(weight)) ** 0.5
    assert weight.abs().max().item() <= bound * (1 + 1e-6), name
    if weight.numel() >= 10_000:
        assert weight.std().item() == pytest.approx((1.0 / fan_in(weight)) ** 0.5, rel=0.05), name
    hidden = isinstance(module, nn.Conv2d) or name.endswith("fc1")
    assert torch.equal(module.bias.detach(), torch.full_like(module.bias, 0.2 if hidden else 0.0)), name


def check_bn_init(name: str, module: nn.Module) -> None:
    """He et al. 2015 for the convolutions, in torchvision's ResNet/VGG form: normal, std sqrt(2 / fan_out)
    (kaiming_normal_(mode="fan_out", nonlinearity="relu")), no bias (BatchNorm follows); linear layers
    N(0, 0.01) with bias 0, as torchvision's VGG."""
    weight = module.weight.detach()
    expected = (2.0 / fan_out(weight)) ** 0.5 if isinstance(module, nn.Conv2d) else 0.01
    if weight.numel() >= 10_000:
        assert weight.std().item() == pytest.approx(expected, rel=0.05), name
        assert weight.mean().abs().item() <= 0.05 * expected, name
    if isinstance(module, nn.Conv2d):
        assert module.bias is None, name
    else:
        assert torch.equal(module.bias.detach(), torch.zeros_like(module.bias)), name


@pytest.mark.parametrize("flavour", ["paper", "bn"])
def test_every_layer_starts_as_the_flavours_source_initialises_it(flavour):
    """Expectations from the sources, written here (not the formulas googlenet's code uses). Construction
    skips torch's own Conv2d/Linear initialisation, so a layer the scheme missed would show leftover memory."""
    model = googlenet(flavour, num_classes=10)
    check = {"paper": check_paper_init, "bn": check_bn_init}[flavour]
    layers = [(name, module) for name, module in model.named_modules() if isinstance(module, (nn.Conv2d, nn.Linear))]
    assert len(layers) == 57 + 2 * 3 + 1  # 57 convolutions, the two aux heads' conv, fc1 and fc2, the classifier
    for name, module in layers:
        assert torch.isfinite(module.weight).all(), name
        check(name, module)


def test_the_torchvision_flavour_starts_as_torchvisions_googlenet_does():
    """torchvision's own network, built with its initialisation and measured, is the reference: weights
    truncated normal std 0.01, BatchNorm (1, 0), and nn.Linear's own bias initialisation left in place."""
    import torchvision

    reference = torchvision.models.googlenet(weights=None, num_classes=10, aux_logits=True, init_weights=True)
    expected = dict(reference.named_parameters())
    model = googlenet("torchvision", num_classes=10)
    compared = 0
    for name, parameter in model.named_parameters():
        want, got = expected[name].detach(), parameter.detach()
        assert got.shape == want.shape, name
        if want.numel() >= 1_000:
            assert got.std().item() == pytest.approx(want.std().item(), rel=0.1, abs=1e-6), name
            assert got.abs().max().item() <= 1.5 * want.abs().max().item() + 1e-6, name
            compared += 1
        elif want.std() == 0:  # BatchNorm's constants
            assert torch.equal(got, want), name
    assert compared >= 60


def test_layers_built_afterwards_get_torchs_default_initialisation_again():
    googlenet("bn", num_classes=10)
    assert "reset_parameters" not in vars(nn.Conv2d) and nn.Conv2d(8, 8, 3).weight.abs().sum() > 0
