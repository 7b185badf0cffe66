"""googlenet.timm_registry: the three flavours through `timm.create_model`, timm's data config and transform
for them, and pretrained=True from a prepared torch hub cache (no network)."""

import warnings
from pathlib import Path

import pytest
import timm
import torch
import torchvision
from PIL import Image
from timm.data import create_transform, resolve_data_config

import googlenet
import googlenet.timm_registry  # noqa: F401 - registers the models with timm
from helpers import give_real_scale
from googlenet.data.transforms import eval_preset
from googlenet import GoogLeNet_Weights

IMAGENET = GoogLeNet_Weights.IMAGENET1K_V1
NAMES = ["googlenet_bn", "googlenet_paper", "googlenet_torchvision"]
IMAGE = Path(__file__).resolve().parents[1] / "docs" / "serve-page.png"  # a real picture, not noise


def test_the_flavours_are_in_timms_registry():
    assert timm.list_models("googlenet*") == NAMES
    assert timm.list_models("googlenet*", pretrained=True) == ["googlenet_torchvision"]
    assert timm.models.get_pretrained_cfg("googlenet_torchvision").url == GoogLeNet_Weights.IMAGENET1K_V1.url


@pytest.mark.parametrize("name", NAMES)
def test_create_model_takes_timms_arguments(name):
    model = timm.create_model(name, pretrained=False, num_classes=5, in_chans=1, drop_rate=0.25)
    config = model.config
    assert (config.flavour, config.num_classes, config.in_chans, config.dropout) == (name[10:], 5, 1, 0.25)
    # A timm model gives logits in training mode too: no aux heads unless asked for.
    assert model.train()(torch.randn(2, 1, 64, 64)).shape == (2, 5)
    assert timm.create_model(name, aux_logits=True).aux1 is not None


@pytest.mark.parametrize("name", NAMES)
def test_timms_forward_features_check(name):
    """timm's test_model_forward_features, written out: the input size from the backbone's own cfg, a map per
    feature_info entry with its channels, at most ceil(side / reduction) + 1 on a side."""
    backbone = timm.create_model(name, features_only=True).eval()
    assert backbone.default_cfg["input_size"] == (3, 224, 224) and backbone.pretrained_cfg["min_input_size"][0] == 3
    side = 96
    with torch.no_grad():
        maps = backbone(torch.randn(1, 3, side, side))
    info = backbone.feature_info
    assert len(maps) == len(info.channels()) == 5
    for channels, reduction, found in zip(info.channels(), info.reduction(), maps):
        assert found.shape[:2] == (1, channels) and max(found.shape[2:]) <= -(-side // reduction) + 1


def test_timms_backbone_and_headless_options():
    backbone = timm.create_model("googlenet_bn", features_only=True, out_indices=(2, 3, 4), in_chans=1)
    assert backbone.feature_info.channels() == [480, 832, 1024] and backbone.feature_info.reduction() == [8, 16, 32]
    maps = backbone(torch.randn(1, 1, 64, 64))
    assert [tuple(m.shape) for m in maps] == [(1, 480, 8, 8), (1, 832, 4, 4), (1, 1024, 2, 2)]
    headless = timm.create_model("googlenet_paper", num_classes=0)
    assert headless.train()(torch.randn(2, 3, 64, 64)).shape == (2, headless.num_features)


def test_timms_data_config_and_transform_are_the_models_evaluation_transform():
    model = timm.create_model("googlenet_bn", num_classes=3)
    config = resolve_data_config(model=model)
    assert config == {"input_size": (3, 224, 224), "interpolation": "bilinear", "mean": IMAGENET.preprocessing.mean,
                      "std": IMAGENET.preprocessing.std, "crop_pct": 0.875, "crop_mode": "center"}
    image = Image.open(IMAGE).convert("RGB")
    # The same pixels (PIL resizes in both); timm's ToTensor divides by 255 where ours multiplies by 1/255.
    torch.testing.assert_close(create_transform(**config)(image), eval_preset(IMAGENET.preprocessing)(image),
                               rtol=0, atol=1e-6)
    gray = resolve_data_config(model=timm.create_model("googlenet_bn", num_classes=3, in_chans=1))
    assert gray["input_size"] == (1, 224, 224) and gray["mean"] == (0.449,) and gray["std"] == (0.226,)


def test_what_googlenet_has_not_is_refused():
    with pytest.raises(ValueError, match=r"drop_path_rate: GoogLeNet has no residual connections for stochastic depth"):
        timm.create_model("googlenet_bn", drop_path_rate=0.1)
    assert timm.create_model("googlenet_bn", drop_path_rate=0.0, num_classes=3).num_classes == 3  # timm's default
    with pytest.raises(ValueError, match=r"global_pool='gem': GoogLeNet pools with one of \['avg', 'max'"):
        timm.create_model("googlenet_bn", global_pool="gem")
    with pytest.raises(ValueError, match=r"googlenet_paper has no published weights"):
        timm.create_model("googlenet_paper", pretrained=True)


def test_timms_pool_types_and_unpooled_features_through_create_model():
    unpooled = timm.create_model("googlenet_paper", num_classes=0, global_pool="").eval()
    assert unpooled(torch.randn(1, 3, 64, 64)).shape == (1, 1024, 2, 2)
    assert timm.create_model("googlenet_bn", global_pool="catavgmax", num_classes=4).fc.in_features == 2048


def test_timm_arguments_with_pretrained_weights_from_a_file_the_overlay_names(tmp_path):
    source = googlenet.googlenet("bn", num_classes=3, aux_logits=False)
    give_real_scale(source)
    file = tmp_path / "weights.pth"
    torch.save(source.state_dict(), file)
    overlay = {"file": str(file), "num_classes": 3}
    model = timm.create_model("googlenet_bn", pretrained=True, pretrained_cfg_overlay=overlay, drop_rate=0.1).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), source.eval()(x), rtol=0, atol=0)  # the same classes: the head kept
    assert model.dropout.p == 0.1 and model.config.dropout == 0.1 and model.pretrained_cfg["file"] == str(file)
    backbone = timm.create_model("googlenet_bn", pretrained=True, pretrained_cfg_overlay=overlay,
                                 features_only=True, out_indices=(3, 4)).eval()
    with torch.no_grad():
        torch.testing.assert_close(backbone(x)[1], source.forward_features(x), rtol=0, atol=0)
    tuned = timm.create_model("googlenet_bn", pretrained=True, pretrained_cfg_overlay=overlay, num_classes=5,
                              global_pool="catavgmax")
    assert tuned.fc.in_features == 2048 and torch.equal(tuned.inception5b.branch1.conv.weight,
                                                         source.inception5b.branch1.conv.weight)


@pytest.mark.slow  # three GoogLeNets built and loaded: ~6 s on 2 shared cores
def test_pretrained_torchvision_is_torchvisions_imagenet_network(torchvision_release_cached, monkeypatch):
    cached = torchvision_release_cached
    ours = timm.create_model("googlenet_torchvision", pretrained=True).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        reference = torchvision.models.googlenet(weights="IMAGENET1K_V1").eval()
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        got, want = ours(x), reference(x)
    assert want.std() > 0.1 and ((got - want).norm() / want.norm()).item() < 1e-5
    assert len(ours.class_names) == 1000 and resolve_data_config(model=ours)["crop_pct"] == 0.875

    # What timm's train.py passes, and a backbone: on the same weights.
    tuned = timm.create_model("googlenet_torchvision", pretrained=True, drop_rate=0.1).eval()
    backbone = timm.create_model("googlenet_torchvision", pretrained=True, features_only=True).eval()
    with torch.no_grad():
        torch.testing.assert_close(tuned(x), got, rtol=0, atol=0)
        torch.testing.assert_close(backbone(x)[-1], ours.forward_features(x), rtol=0, atol=0)
    assert tuned.dropout.p == 0.1 and backbone.feature_info.channels() == [64, 192, 480, 832, 1024]

    # Fine-tuning: a new classifier for other classes, the first convolution summed for gray input.
    tuned = timm.create_model("googlenet_torchvision", pretrained=True, num_classes=10, in_chans=1)
    assert tuned.fc.out_features == 10 and tuned.aux1 is None
    torch.testing.assert_close(tuned.conv1.conv.weight, reference.conv1.conv.weight.sum(1, keepdim=True))
    assert torch.equal(tuned.inception5b.branch1.conv.weight, reference.inception5b.branch1.conv.weight)
