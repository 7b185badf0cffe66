"""The caller's model comes back as it went in from evaluate, predict and explain: its mode, its device, its
dtype and every weight, never moved in place (no `.to()` on it), whatever the call did with it."""

import pytest
import torch
from helpers import image_tree, real_scale_googlenet

from googlenet.evaluation.evaluate import evaluate
from googlenet.evaluation.predict import predict
from googlenet.explain.attribution import explain
from googlenet.models.preprocessing import Preprocessing

CLASSES = ["cat", "dog"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    image_tree(root / "train", per_class=1)
    image_tree(root / "val", per_class=2)
    return root


def evaluated(model, folder):
    result = evaluate(model, folder, split="validation")
    return result.count == 4


def predicted(model, folder):
    entries = predict(model, [folder / "val" / "cat"]).predictions
    return len(entries) == 2 and all(entry.error is None for entry in entries)


def explained(model, folder):
    return explain(model, next((folder / "val" / "dog").iterdir())).class_name in CLASSES


def moves_recorded(model) -> list:
    """Every move or cast of `model` from now on: nn.Module's .to, .cuda, .double, .half ... all go through
    _apply. A copy made to run elsewhere is not the caller's model and records nothing."""
    calls, apply = [], model._apply

    def recording(fn, *args, **kwargs):
        calls.append(fn)
        return apply(fn, *args, **kwargs)

    model._apply = recording
    return calls


@pytest.mark.parametrize(("training", "dtype"), [(True, torch.float64), (False, torch.float32)],
                         ids=["train-mode-float64", "eval-mode-float32"])
@pytest.mark.parametrize("entry_point", [evaluated, predicted, explained], ids=["evaluate", "predict", "explain"])
def test_the_model_comes_back_as_it_went_in(entry_point, training, dtype, folder):
    model = real_scale_googlenet("bn", num_classes=2, aux_logits=False).to(dtype).train(training)
    model.class_names = list(CLASSES)
    model.preprocessing = Preprocessing(input_size=32, resize_size=32)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    moves = moves_recorded(model)

    assert entry_point(model, folder)  # it ran, in the model's own dtype

    assert model.training is training
    assert moves == []
    assert {(tensor.device.type, tensor.dtype) for tensor in model.parameters()} == {("cpu", dtype)}
    after = model.state_dict()
    assert all(torch.equal(after[name], tensor) for name, tensor in before.items())  # BatchNorm statistics too
    assert all(parameter.grad is None for parameter in model.parameters())
