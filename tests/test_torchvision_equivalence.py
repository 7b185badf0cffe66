"""The `torchvision` flavour is torchvision's googlenet: same state_dict keys, same outputs."""

import copy
import functools
import warnings

import pytest
import torch
import torchvision

from helpers import give_real_scale, uninitialised_googlenet
from googlenet import googlenet

TOLERANCE = 1e-5


def torchvision_model(aux_logits: bool, transform_input: bool) -> torch.nn.Module:
    return copy.deepcopy(_torchvision_model(aux_logits, transform_input))


@functools.lru_cache(maxsize=None)
def _torchvision_model(aux_logits: bool, transform_input: bool) -> torch.nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torchvision's note about its slow init
        model = torchvision.models.googlenet(weights=None, aux_logits=aux_logits, transform_input=transform_input,
                                             init_weights=False)
    return give_real_scale(model)


def ours_loaded_from(reference: torch.nn.Module, aux_logits: bool, transform_input: bool) -> torch.nn.Module:
    ours = uninitialised_googlenet("torchvision", aux_logits=aux_logits, transform_input=transform_input)
    ours.load_state_dict(reference.state_dict(), strict=True)
    return ours


def assert_same(ours: torch.Tensor, reference: torch.Tensor) -> None:
    # The reference must vary: a near-constant output would let any wiring "agree".
    assert reference.std() > 0.1, f"reference output barely varies (std {reference.std():.2e})"
    difference = (ours - reference).abs().max().item()
    assert difference <= TOLERANCE, f"max abs difference {difference:.2e}"
    assert difference / reference.abs().max().item() <= TOLERANCE


@pytest.mark.parametrize("aux_logits", [True, False])
@pytest.mark.parametrize("transform_input", [False, True])
def test_eval_outputs_match_torchvision(aux_logits, transform_input):
    reference = torchvision_model(aux_logits, transform_input).eval()
    ours = ours_loaded_from(reference, aux_logits, transform_input).eval()
    x = torch.randn(1, 3, 224, 224)  # eval mode: one image is as good as many, at the paper's size
    with torch.no_grad():
        assert_same(ours(x), reference(x))


def test_state_dict_keys_and_shapes_are_torchvisions():
    reference = torchvision_model(True, False)
    ours = googlenet("torchvision")
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in reference.state_dict().items()}


def test_training_outputs_match_torchvision_with_aux_in_paper_order():
    reference = torchvision_model(True, False).train()
    ours = ours_loaded_from(reference, True, False).train()
    x = torch.randn(4, 3, 96, 96)
    # Dropout draws random numbers: same seed, same order of draws (aux1, aux2, main) in both models.
    torch.manual_seed(1)
    expected = reference(x)
    torch.manual_seed(1)
    outputs = ours(x)
    assert_same(outputs.logits, expected.logits)
    assert tuple(outputs._fields) == tuple(expected._fields)  # torchvision's names and order
    assert_same(outputs.aux_logits1, expected.aux_logits1)
    assert_same(outputs.aux_logits2, expected.aux_logits2)


def test_a_miswired_network_fails_the_comparison():
    """The comparison is strong enough to see a wrong pool: the paper's 3x3 pool before 5a."""
    reference = torchvision_model(False, False).eval()
    ours = ours_loaded_from(reference, False, False).eval()
    ours.maxpool4 = torch.nn.MaxPool2d(3, stride=2, ceil_mode=True)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad(), pytest.raises(AssertionError, match="max abs difference"):
        assert_same(ours(x), reference(x))


def test_flavours_differ_where_documented():
    flavour = googlenet("torchvision")
    assert flavour.inception3a.branch3[1].conv.kernel_size == (3, 3)  # pytorch/vision#906
    assert flavour.maxpool4.kernel_size == 2
    assert flavour.dropout.p == 0.2
    bn = googlenet("bn")
    assert bn.inception3a.branch3[1].conv.kernel_size == (5, 5)
    assert bn.maxpool4.kernel_size == 3 and bn.dropout.p == 0.4
