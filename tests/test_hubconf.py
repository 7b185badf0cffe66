"""hubconf.py: `torch.hub.load(checkout, ..., source="local")` builds each flavour, loads torchvision's ImageNet
weights from the torch hub cache like torchvision does, and loads model directories. No network: the cache is
prepared in tmp_path with a torchvision-format file of random weights at a real scale."""

import importlib.util
import warnings
from pathlib import Path

import pytest
import torch
import torchvision

from helpers import real_scale_googlenet
from googlenet import GoogLeNet_Weights
from googlenet.weights.model_dir import save_pretrained

CHECKOUT = str(Path(__file__).resolve().parents[1])


def hub_load(entry: str, *args, **kwargs):
    return torch.hub.load(CHECKOUT, entry, *args, source="local", **kwargs)


def relative_difference(got: torch.Tensor, want: torch.Tensor) -> float:
    assert want.std() > 0.1, "the reference barely varies: any weights would agree"
    return ((got - want).norm() / want.norm()).item()


def test_the_entry_points_and_their_dependencies():
    spec = importlib.util.spec_from_file_location("hubconf_under_test", Path(CHECKOUT) / "hubconf.py")
    hubconf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hubconf)
    # What torch.hub offers: the module's public callables.
    entries = {name for name in dir(hubconf) if callable(getattr(hubconf, name)) and not name.startswith("_")}
    assert entries == {"googlenet", "googlenet_bn", "googlenet_paper", "googlenet_torchvision", "from_pretrained"}
    assert all(importlib.util.find_spec(name) is not None for name in hubconf.dependencies)
    assert all(getattr(hubconf, name).__doc__ for name in entries)


@pytest.mark.parametrize("entry, flavour", [("googlenet", "torchvision"), ("googlenet_torchvision", "torchvision"),
                                            ("googlenet_bn", "bn"), ("googlenet_paper", "paper")])
def test_weights_none_builds_the_flavour(entry, flavour):
    model = hub_load(entry, weights=None, num_classes=7, dropout_aux=0.5)  # torchvision's name for aux dropout
    assert (model.config.flavour, model.config.num_classes, model.config.aux_dropout) == (flavour, 7, 0.5)
    assert model.training and model.aux1 is not None


def test_googlenet_without_weights_is_torchvisions_network():
    with warnings.catch_warnings(), torch.device("meta"):  # shapes only
        warnings.simplefilter("ignore", FutureWarning)
        reference = torchvision.models.googlenet(weights=None, init_weights=False)
    ours = hub_load("googlenet", weights=None)
    want = {key: value.shape for key, value in reference.state_dict().items()}
    assert {key: value.shape for key, value in ours.state_dict().items()} == want


def test_imagenet_weights_from_the_torch_hub_cache_equal_torchvisions(torchvision_release_cached):
    cached = torchvision_release_cached
    ours = hub_load("googlenet", weights="IMAGENET1K_V1")
    reference = torchvision.models.googlenet(weights=torchvision.models.GoogLeNet_Weights.IMAGENET1K_V1)
    assert ours.training == reference.training and ours.aux1 is None and ours.config.transform_input
    assert len(ours.class_names) == 1000 and ours.preprocessing == GoogLeNet_Weights.IMAGENET1K_V1.preprocessing
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        got, want = ours.eval()(x), reference.eval()(x)
    assert relative_difference(got, want) < 1e-5
    # torchvision's weights object and "DEFAULT" name the same file.
    again = hub_load("googlenet", weights=torchvision.models.GoogLeNet_Weights.DEFAULT, aux_logits=True)
    assert torch.equal(again.aux1.fc1.weight, torch.load(cached, weights_only=True)["aux1.fc1.weight"])


def test_imagenet_weights_refuse_another_class_count_and_other_weights(torchvision_release_cached):
    with pytest.raises(ValueError, match=r"weights=IMAGENET1K_V1 classify 1000 classes, not 10"):
        hub_load("googlenet", weights="IMAGENET1K_V1", num_classes=10)
    with pytest.raises(ValueError, match=r"unknown GoogLeNet weights 'IMAGENET1K_V2'; choose one of: IMAGENET1K_V1"):
        hub_load("googlenet", weights="IMAGENET1K_V2")
    with pytest.raises(ValueError, match=r"no published weights for the 'bn' flavour"):
        hub_load("googlenet_bn", weights="IMAGENET1K_V1")


def test_from_pretrained_loads_a_model_directory(tmp_path):
    model = real_scale_googlenet("bn", num_classes=3).eval()
    directory = save_pretrained(model, tmp_path / "model", class_names=["a", "b", "c"])
    loaded = hub_load("from_pretrained", str(directory))
    assert loaded.class_names == ["a", "b", "c"] and not loaded.training
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
