"""googlenet.explain: Grad-CAM and the per-branch evidence, checked against autograd by hand, and the command."""

import json

import numpy as np
import pytest
import torch
from helpers import give_real_scale
from PIL import Image

import googlenet
from googlenet.models.preprocessing import Preprocessing
from googlenet.explain.attribution import default_gradcam_layer, explain, inception_stages, stage_map_sizes
from googlenet.models.table import paper_table

CLASSES = [f"class{index}" for index in range(10)]


def small_model(flavour: str = "bn", in_chans: int = 1, seed: int = 0) -> googlenet.GoogLeNet:
    model = googlenet.googlenet(flavour, num_classes=10, in_chans=in_chans, aux_logits=False)
    give_real_scale(model, seed=seed).eval()
    model.class_names = list(CLASSES)
    model.preprocessing = Preprocessing(input_size=32, resize_size=32, mean=(0.5,) * in_chans,
                                        std=(0.25,) * in_chans, channel_order="L" if in_chans == 1 else "RGB")
    return model


@pytest.fixture(scope="module")
def model() -> googlenet.GoogLeNet:
    """A model the tests only read (the branch-zeroing test builds its own)."""
    return small_model()


def image(seed: int = 0, mode: str = "L") -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)
    return Image.fromarray(pixels).convert(mode)


def preprocessed(model, picture) -> torch.Tensor:
    from googlenet.data.transforms import eval_preset

    return eval_preset(model.preprocessing)(picture).unsqueeze(0)


def test_map_sizes_and_default_layer_follow_the_input_size(model):
    at_32 = stage_map_sizes(model, 32)
    assert list(at_32) == [row.name for row in paper_table if row.type == "inception"]
    assert at_32["inception3b"] == (4, 4) and at_32["inception4a"] == (2, 2) and at_32["inception5b"] == (1, 1)
    assert default_gradcam_layer(at_32) == "inception3b"  # the deepest with a map of at least 4x4
    at_224 = stage_map_sizes(model, 224)
    assert at_224["inception5b"] == (7, 7)
    assert default_gradcam_layer(at_224) == "inception5b"


def _manual_gradients(model, batch, target):
    """Each Inception module's output and the gradient of the target logit with respect to it (autograd)."""
    outputs = {}
    hooks = [module.register_forward_hook(lambda _m, _i, out, name=name: outputs.__setitem__(name, out))
             for name, module in inception_stages(model)]
    logits = model(batch)
    for hook in hooks:
        hook.remove()
    names = list(outputs)
    grads = torch.autograd.grad(logits[0, target], [outputs[name] for name in names])
    return {name: (outputs[name].detach(), grad) for name, grad in zip(names, grads)}


def test_gradcam_and_branch_sums_equal_autograd_by_hand(model):
    picture = image(1)
    result = explain(model, picture, class_name="class3")
    assert result.class_index == 3 and result.class_name == "class3"
    by_hand = _manual_gradients(model, preprocessed(model, picture), 3)

    activation, gradient = by_hand[result.gradcam_layer]
    cam = torch.relu((gradient.mean(dim=(2, 3), keepdim=True) * activation).sum(dim=1))[0]
    assert cam.max() > 0, "choose an image whose Grad-CAM is not all zero"
    np.testing.assert_allclose(result.gradcam, (cam / cam.max()).numpy(), rtol=1e-3, atol=1e-5)
    assert result.gradcam_upsampled.shape == (32, 32)

    rows = {row.name: row for row in paper_table}
    for module in result.modules:
        activation, gradient = by_hand[module.name]
        table_row = rows[module.name]
        widths = [table_row.ch1x1, table_row.ch3x3, table_row.ch5x5, table_row.pool_proj]  # Table 1's columns
        assert [branch.channels for branch in module.branches] == widths
        expected = [float(part.sum()) for part in torch.split((gradient * activation)[0].double(), widths)]
        got = [branch.attribution for branch in module.branches]
        np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-6 * max(map(abs, expected)))
        assert sum(branch.share for branch in module.branches) == pytest.approx(1.0)


@pytest.mark.parametrize("flavour", ["bn", "paper"])
def test_a_zeroed_branch_gets_no_share(flavour):
    model = small_model(flavour)
    picture = image(2)
    before = {module.name: module for module in explain(model, picture).modules}
    assert before["inception4a"].branches[2].share > 0.01

    with torch.no_grad():  # every parameter of 4a's "5x5" branch: its output is then exactly zero
        for parameter in model.inception4a.branch3.parameters():
            parameter.zero_()
    after = {module.name: module for module in explain(model, picture, class_index=0).modules}
    zeroed = after["inception4a"].branches
    assert zeroed[2].attribution == 0.0 and zeroed[2].share == 0.0
    assert all(branch.share > 0 for index, branch in enumerate(zeroed) if index != 2)
    assert after["inception4b"].branches[2].share > 0  # only the zeroed module's branch is affected


def test_branch_labels_name_the_flavours_5x5():
    from googlenet.explain.attribution import branch_label
    from googlenet.models.layers import InceptionModule, NaiveInceptionModule

    torchvision_like = InceptionModule(192, 64, 96, 128, 16, 32, 32, branch3_kernel_size=3)
    assert [branch_label(torchvision_like, name) for name in ("branch1", "branch2", "branch3", "branch4")] == \
        ["1x1", "3x3", "'5x5' (3x3)", "pool proj"]
    naive = NaiveInceptionModule(192, 64, 64, 64)
    assert [branch_label(naive, name) for name in ("branch3", "branch4")] == ["5x5", "3x3 max pool"]


def test_strongest_maps_are_the_channels_with_the_highest_mean_activation(model):
    result = explain(model, image(3), strongest=2)
    by_hand = _manual_gradients(model, preprocessed(model, image(3)), result.class_index)
    activation = by_hand["inception3a"][0][0]
    first = result.modules[0].branches[0]
    means = activation[:64].mean(dim=(1, 2))
    assert [item.channel for item in first.strongest] == means.topk(2).indices.tolist()
    assert first.strongest[0].map.shape == (4, 4) and first.strongest[0].map.max() == pytest.approx(1.0)


def test_bad_choices_are_named(model):
    with pytest.raises(ValueError, match="unknown class 'sock'.*class0"):
        explain(model, image(), class_name="sock")
    with pytest.raises(ValueError, match="unknown layer 'inception9z'.*inception3a"):
        explain(model, image(), layer="inception9z")
    with pytest.raises(ValueError, match="out of range"):
        explain(model, image(), class_index=10)


def test_explain_command_writes_the_png_and_the_numbers(model, tmp_path, capsys):
    from googlenet.cli import main

    googlenet.save_pretrained(model, tmp_path / "model")
    image(4).save(tmp_path / "shirt.png")
    output = tmp_path / "out" / "explain.png"
    code = main(["explain", str(tmp_path / "model"), str(tmp_path / "shirt.png"), "--class", "class7",
                 "--layer", "inception4a", "--output", str(output), "--json"])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert document["class_name"] == "class7" and document["gradcam_layer"] == "inception4a"
    assert [module["name"] for module in document["modules"]] == list(stage_map_sizes(model, 32))
    with Image.open(output) as written:
        assert written.format == "PNG" and written.width > 600
        assert np.asarray(written.convert("L")).std() > 10  # something was drawn

    (tmp_path / "notes.txt").write_text("not an image")
    code = main(["explain", str(tmp_path / "model"), str(tmp_path / "notes.txt"), "--output", str(output)])
    error = capsys.readouterr().err
    assert code == 2
    assert error.startswith("googlenet explain: error: ") and "not a readable image" in error
    assert "Traceback" not in error


def test_explain_warns_as_predict_does_about_a_colour_photo_for_a_grayscale_model(model, tmp_path, capsys,
                                                                                    monkeypatch):
    from googlenet.cli import main
    from googlenet.evaluation.input_fit import InputFitWarning
    from googlenet.evaluation.predict import predict

    googlenet.save_pretrained(model, tmp_path / "model")
    pixels = np.random.default_rng(7).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "photo.jpg")
    monkeypatch.chdir(tmp_path)
    with pytest.warns(InputFitWarning):
        expected = predict(model, ["photo.jpg"]).warnings
    with pytest.warns(InputFitWarning) as record:
        explained = explain(model, "photo.jpg")
    assert explained.warnings == expected and len(expected) == 2
    assert record[0].filename == __file__  # the caller's line

    code = main(["explain", "model", "photo.jpg", "--output", "out.png", "--json"])
    captured = capsys.readouterr()
    assert code == 0
    assert json.loads(captured.out)["warnings"] == expected
    assert [line for line in captured.err.splitlines() if line] == [
        f"googlenet explain: warning: {message}" for message in expected]
