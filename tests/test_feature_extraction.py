"""torch.fx and torchvision's feature extraction on every flavour, as a detection or retrieval backbone
user runs them: any module's output as a node, train and eval mode, forward and backward."""

import pytest
import torch
from torch.fx import symbolic_trace
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

from googlenet import FLAVOURS
from helpers import real_scale_googlenet

STAGES = ("conv1", "conv3", "inception3a", "inception4a", "inception4e", "inception5b")


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_graph_node_names_hold_every_stage_and_the_aux_heads_in_training_only(flavour):
    model = real_scale_googlenet(flavour, num_classes=5)
    train_nodes, eval_nodes = get_graph_node_names(model)
    for stage in (*STAGES, "fc"):
        assert any(name.startswith(stage) for name in train_nodes) and any(name.startswith(stage) for name in eval_nodes)
    assert any(name.startswith("aux1.") for name in train_nodes) and any(name.startswith("aux2.") for name in train_nodes)
    assert not any(name.startswith("aux") for name in eval_nodes)  # eval mode never runs the aux heads


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_feature_extractor_returns_each_modules_output_in_eval_and_train_mode(flavour):
    model = real_scale_googlenet(flavour, num_classes=5)
    for head in (model.aux1, model.aux2):
        head.dropout.p = 0.0
    model.dropout.p = 0.0
    seen = {}
    for name in ("inception3b", "inception4d", "inception5b", "aux1", "aux2"):
        getattr(model, name).register_forward_hook(lambda module, args, output, name=name: seen.__setitem__(name, output))
    eval_nodes = {"inception3b": "c3", "inception4d": "c4", "inception5b": "c5"}
    extractor = create_feature_extractor(model, train_return_nodes={**eval_nodes, "aux1": "a1", "aux2": "a2"},
                                         eval_return_nodes=eval_nodes)
    x = torch.randn(2, 3, 64, 64)

    extractor.eval(), model.eval()
    with torch.no_grad():
        got = extractor(x)
        model(x)
    for node, key in eval_nodes.items():
        torch.testing.assert_close(got[key], seen[node], rtol=0, atol=0)

    extractor.train(), model.train()
    got = extractor(x)
    model(x)  # BatchNorm in training mode: the same batch statistics as the extractor's pass
    assert set(got) == {"c3", "c4", "c5", "a1", "a2"} and got["a1"].shape == (2, 5)
    for node, key in {**eval_nodes, "aux1": "a1", "aux2": "a2"}.items():
        torch.testing.assert_close(got[key], seen[node])
    (got["c5"].mean() + got["a1"].sum() + got["a2"].sum()).backward()
    gradients = [parameter.grad for name, parameter in extractor.named_parameters() if name.startswith("conv1.")]
    assert gradients and all(gradient is not None and gradient.abs().sum() > 0 for gradient in gradients)


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_the_whole_model_traces_with_torch_fx_and_computes_the_same(flavour):
    model = real_scale_googlenet(flavour, num_classes=5, transform_input=flavour == "torchvision").eval()
    traced = symbolic_trace(model)
    x = torch.randn(2, 3, 40, 48)
    with torch.no_grad():
        torch.testing.assert_close(traced(x), model(x), rtol=0, atol=0)


def test_a_bad_input_still_gets_its_one_line_error_outside_tracing():
    model = real_scale_googlenet("bn", num_classes=5).eval()
    with pytest.raises(ValueError, match=r"input has 1 channels but the model was built with in_chans=3"):
        model(torch.randn(1, 1, 64, 64))
    with pytest.raises(ValueError, match=r"input 16x16 is smaller than the minimum 31x31"):
        model.forward_features(torch.randn(1, 3, 16, 16))


def test_an_extractor_deep_copies_and_pickles_and_computes_the_same():
    import copy
    import io

    model = real_scale_googlenet("paper", num_classes=5).eval()
    extractor = create_feature_extractor(model, {"inception4a": "c4", "inception5b": "c5"})
    buffer = io.BytesIO()
    torch.save(extractor, buffer)
    buffer.seek(0)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        want = extractor(x)
        for again in (copy.deepcopy(extractor), torch.load(buffer, weights_only=False)):
            got = again(x)
            assert got.keys() == want.keys()
            for key in want:
                torch.testing.assert_close(got[key], want[key], rtol=0, atol=0)


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_the_traced_training_graph_returns_torchvisions_outputs_and_backpropagates_to_the_input(flavour):
    model = real_scale_googlenet(flavour, num_classes=5).train()
    traced = symbolic_trace(model)
    x = torch.randn(2, 3, 64, 64, requires_grad=True)
    logits, aux_logits2, aux_logits1 = traced(x)
    (logits.sum() + aux_logits2.sum() + aux_logits1.sum()).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(parameter.grad is not None for parameter in traced.parameters())


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_a_traced_graph_compiles_with_torchscript(flavour):
    """timm's test_model_forward_fx_torchscript: the last node's output through fx, then torch.jit.script."""
    model = real_scale_googlenet(flavour, num_classes=5).eval()
    train_nodes, eval_nodes = get_graph_node_names(model)
    scripted = torch.jit.script(create_feature_extractor(model, train_return_nodes=[train_nodes[-1]],
                                                         eval_return_nodes=[eval_nodes[-1]]))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x)[eval_nodes[-1]], model(x))
