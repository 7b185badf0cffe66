"""`load_initial_weights`: a run started from a model directory, a run directory, torchvision's ImageNet
weights or a .pth file, with new heads, adapted input channels and the weights' preprocessing. Small
random-weight fixtures at a real scale; never the network."""

import json
import urllib.error
import warnings

import pytest
import torch
import torchvision

from helpers import give_real_scale, real_scale_googlenet, trust_as_release
from googlenet import googlenet
from googlenet.models.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from googlenet.weights import imagenet
from googlenet.weights.adapt import adapt_input_conv
from googlenet.weights.init import load_initial_weights
from googlenet.weights.model_dir import save_pretrained

SIDE = 64


def relative_difference(got: torch.Tensor, want: torch.Tensor) -> float:
    assert want.std() > 0.1, "the reference barely varies: any weights would agree"
    return ((got - want).norm() / want.norm()).item()


def features(model, x):
    with torch.no_grad():
        return model.eval().forward_head(model.forward_features(x), pre_logits=True)


@pytest.fixture(scope="module")
def torchvision_file(tmp_path_factory):
    """A torchvision googlenet state_dict as torchvision's release holds it (aux heads included), random
    weights at a real scale (`trust_as_release` makes it stand in for the ImageNet file)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        reference = torchvision.models.googlenet(weights=None, aux_logits=True, transform_input=True,
                                                 init_weights=False)
    give_real_scale(reference).eval()
    path = tmp_path_factory.mktemp("downloads") / "googlenet-imagenet-copy.pth"
    torch.save(reference.state_dict(), path)
    return reference, path


def torchvision_features(reference, x):
    seen = {}
    hook = reference.avgpool.register_forward_hook(lambda m, i, o: seen.__setitem__("pooled", o))
    with torch.no_grad():
        reference(x)
    hook.remove()
    return torch.flatten(seen["pooled"], 1)


def test_the_imagenet_file_gives_its_trunk_new_heads_and_imagenet_preprocessing(torchvision_file, monkeypatch):
    reference, path = torchvision_file
    trust_as_release(monkeypatch, path)  # this file stands in for googlenet-1378be20.pth
    initial = load_initial_weights(path, num_classes=10, in_chans=3)
    model = initial.model
    assert model.training and model.config.flavour == "torchvision" and model.config.transform_input
    assert model.fc.out_features == 10 and model.aux1.fc2.out_features == 10
    assert initial.preprocessing == imagenet.PREPROCESSING == model.preprocessing
    assert "torchvision's ImageNet GoogLeNet" in initial.description and "new aux heads" in initial.description
    # The aux heads of the release were never trained: they are not carried over.
    assert not torch.equal(model.aux1.fc1.weight, reference.aux1.fc1.weight)
    x = torch.randn(2, 3, 96, 96)
    assert relative_difference(features(model, x), torchvision_features(reference, x)) < 1e-5


def test_imagenet_weights_onto_grayscale_images_sum_the_first_convolution(torchvision_file, monkeypatch):
    reference, path = torchvision_file
    trust_as_release(monkeypatch, path)
    initial = load_initial_weights(path, num_classes=4, in_chans=1)
    model = initial.model
    torch.testing.assert_close(model.conv1.conv.weight, reference.conv1.conv.weight.sum(1, keepdim=True))
    # transform_input needs RGB: its conversion becomes the normalisation, (pixel - 0.5) / 0.5.
    assert not model.config.transform_input
    assert initial.preprocessing.mean == (0.5,) and initial.preprocessing.channel_order == "L"
    pixels = torch.rand(2, 1, 96, 96)
    gray = (pixels - 0.5) / 0.5
    rgb = (pixels.expand(-1, 3, -1, -1) - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(
        IMAGENET_STD).view(1, 3, 1, 1)
    assert relative_difference(features(model, gray), torchvision_features(reference, rgb)) < 1e-5
    assert "adapted from 3 to 1 input channels" in initial.description


def test_a_plain_pth_reads_its_flavour_and_keeps_trained_aux_heads(torchvision_file):
    reference, path = torchvision_file  # its hash is not the release's: a torchvision model of one's own
    initial = load_initial_weights(path, num_classes=5, in_chans=3)
    model = initial.model
    assert model.config.flavour == "torchvision" and not model.config.transform_input
    assert initial.preprocessing is None  # a bare state_dict does not say
    assert torch.equal(model.aux1.fc1.weight, reference.aux1.fc1.weight)  # trained heads kept...
    assert model.aux1.fc2.out_features == 5  # ...with new classifiers
    with pytest.raises(ValueError, match="are a GoogLeNet of flavour 'torchvision', but flavour 'bn' was asked"):
        load_initial_weights(path, num_classes=5, in_chans=3, flavour="bn")


def gray_model_dir(tmp_path, **options):
    model = real_scale_googlenet("bn", num_classes=3, in_chans=1, **options, seed=2)
    model.class_names = ["a", "b", "c"]
    model.preprocessing = Preprocessing(input_size=SIDE, resize_size=SIDE, mean=(0.3,), std=(0.35,),
                                        channel_order="L")
    return model, save_pretrained(model, tmp_path / "model")


def test_a_grayscale_model_directory_onto_rgb_images(tmp_path):
    source, directory = gray_model_dir(tmp_path)
    initial = load_initial_weights(directory, num_classes=7, in_chans=3)
    model = initial.model
    assert model.config.flavour == "bn" and model.in_chans == 3 and model.num_classes == 7
    torch.testing.assert_close(model.conv1.conv.weight, source.conv1.conv.weight.repeat(1, 3, 1, 1) / 3)
    assert initial.preprocessing.mean == (0.3, 0.3, 0.3) and initial.preprocessing.channel_order == "RGB"
    assert initial.preprocessing.input_size == SIDE and model.class_names is None
    assert torch.equal(model.inception4a.branch2[1].conv.weight, source.inception4a.branch2[1].conv.weight)
    assert torch.equal(model.aux2.fc1.weight, source.aux2.fc1.weight)
    gray = torch.randn(2, 1, SIDE, SIDE)
    assert relative_difference(features(model, gray.expand(-1, 3, -1, -1)), features(source, gray)) < 1e-5
    with pytest.raises(ValueError, match="flavour 'bn', but flavour 'paper' was asked for"):
        load_initial_weights(directory, num_classes=7, in_chans=3, flavour="paper")


def test_a_run_directory_starts_from_its_model_and_the_same_classes_keep_the_classifier(tmp_path):
    run = tmp_path / "run"
    source, _ = gray_model_dir(run)
    (run / "config.json").write_text(json.dumps({"epochs": 3, "flavour": "bn"}))  # a run's TrainConfig
    initial = load_initial_weights(run, num_classes=3, in_chans=1, class_names=["a", "b", "c"])
    assert initial.source == str(run / "model") and "classifiers kept" in initial.description
    assert initial.model.class_names == ["a", "b", "c"]
    x = torch.randn(2, 1, SIDE, SIDE)
    with torch.no_grad():
        torch.testing.assert_close(initial.model.eval()(x), source.eval()(x))
    other = load_initial_weights(run, num_classes=3, in_chans=1, class_names=["x", "y", "z"])
    assert not torch.equal(other.model.fc.weight, source.fc.weight)  # other classes: a new classifier


def test_no_aux_heads_asked_for(tmp_path):
    _, directory = gray_model_dir(tmp_path)
    model = load_initial_weights(directory, num_classes=2, in_chans=1, aux_logits=False).model
    assert model.aux1 is None and not model.config.aux_logits


def test_adapt_input_conv_follows_timms_rule():
    weight = torch.randn(8, 3, 7, 7)
    torch.testing.assert_close(adapt_input_conv(weight, 1), weight.sum(1, keepdim=True))
    four = adapt_input_conv(weight, 4)
    torch.testing.assert_close(four, torch.cat([weight, weight[:, :1]], 1) * 3 / 4)
    assert torch.equal(adapt_input_conv(weight, 3), weight)
    half = weight.half()
    assert adapt_input_conv(half, 1).dtype == torch.float16


# -- weights that do not fit ------------------------------------------------------------------------------


def test_another_architecture_names_the_first_mismatching_tensor(tmp_path):
    path = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    with pytest.raises(ValueError, match=rf"^{path} does not fit a GoogLeNet .*: the first mismatching tensor is "
                                         r"conv1.conv.weight, which the weights do not hold .*conv1.weight"):
        load_initial_weights(path, num_classes=3, in_chans=3)


def test_a_changed_tensor_is_named_with_both_shapes(tmp_path):
    state_dict = googlenet("bn", num_classes=10, aux_logits=False).state_dict()
    state_dict["inception4c.branch3.1.conv.weight"] = torch.zeros(64, 24, 3, 3)
    torch.save(state_dict, tmp_path / "edited.pth")
    with pytest.raises(ValueError, match=r"the first mismatching tensor is inception4c.branch3.1.conv.weight: "
                                         r"\(64, 24, 3, 3\) in the weights, \(64, 24, 5, 5\) in the model"):
        load_initial_weights(tmp_path / "edited.pth", num_classes=3, in_chans=3)


def test_a_damaged_file_is_named(tmp_path):
    _, directory = gray_model_dir(tmp_path)
    weights = directory / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:5000])
    with pytest.raises(ValueError, match=rf"{weights} is not a readable safetensors file"):
        load_initial_weights(directory, num_classes=3, in_chans=1)
    with pytest.raises(FileNotFoundError, match=r"nowhere does not exist: give a model or run directory, a weights "
                                                r"file \(.pth, .pt, .bin, .safetensors\), hf-hub:user/repo or "
                                                r"'torchvision-imagenet'"):
        load_initial_weights(tmp_path / "nowhere", num_classes=3, in_chans=1)
    (tmp_path / "notes.txt").write_text("not weights")
    with pytest.raises(ValueError, match=r"notes.txt is a file but not a weights file: give a model or run directory"):
        load_initial_weights(tmp_path / "notes.txt", num_classes=3, in_chans=1)


# -- torchvision-imagenet: the torch hub cache, offline ------------------------------------------------


def test_the_release_is_torchvisions():
    weights = torchvision.models.GoogLeNet_Weights.IMAGENET1K_V1
    assert imagenet.URL == weights.url and imagenet.TOP1 == weights.meta["_metrics"]["ImageNet-1K"]["acc@1"]
    transforms = weights.transforms()
    assert (imagenet.PREPROCESSING.input_size, imagenet.PREPROCESSING.resize_size) == (224, 256)
    assert list(imagenet.PREPROCESSING.mean) == transforms.mean and list(imagenet.PREPROCESSING.std) == transforms.std


def test_offline_the_message_names_the_file_and_the_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(ValueError) as error:
        load_initial_weights("torchvision-imagenet", num_classes=3, in_chans=3)
    message = str(error.value)
    assert "googlenet-1378be20.pth" in message and f"{tmp_path / 'hub' / 'checkpoints'}/" in message
    assert "name resolution" in message and imagenet.URL in message


def test_a_cached_file_is_checked_against_the_published_hash(tmp_path, monkeypatch, torchvision_file):
    reference, path = torchvision_file
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("no download when cached"))
    cached = tmp_path / "hub" / "checkpoints" / "googlenet-1378be20.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match=rf"{cached} is not torchvision's googlenet-1378be20.pth: its SHA-256 is "):
        load_initial_weights("torchvision-imagenet", num_classes=3, in_chans=3)
    trust_as_release(monkeypatch, path)
    initial = load_initial_weights("torchvision-imagenet", num_classes=3, in_chans=3)
    assert initial.source == f"torchvision-imagenet ({cached})"
    assert torch.equal(initial.model.inception5b.branch1.conv.weight, reference.inception5b.branch1.conv.weight)
