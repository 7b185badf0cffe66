import pytest
import torch
import torch.nn.functional as F

from googlenet import GoogLeNetLoss, GoogLeNetOutputs


def outputs_and_target():
    logits, aux_logits2, aux_logits1 = (torch.randn(8, 5) for _ in range(3))
    return GoogLeNetOutputs(logits, aux_logits2, aux_logits1), torch.randint(0, 5, (8,))


def test_training_loss_is_main_plus_0_3_times_each_aux():
    outputs, target = outputs_and_target()
    expected = (F.cross_entropy(outputs.logits, target) + 0.3 * F.cross_entropy(outputs.aux_logits1, target)
                + 0.3 * F.cross_entropy(outputs.aux_logits2, target))
    torch.testing.assert_close(GoogLeNetLoss()(outputs, target), expected)


def test_eval_outputs_get_plain_cross_entropy():
    outputs, target = outputs_and_target()
    torch.testing.assert_close(GoogLeNetLoss()(outputs.logits, target), F.cross_entropy(outputs.logits, target))


def test_weights_and_label_smoothing_are_configurable():
    outputs, target = outputs_and_target()
    loss = GoogLeNetLoss(aux_weights=(0.5, 0.0), label_smoothing=0.1)(outputs, target)
    expected = (F.cross_entropy(outputs.logits, target, label_smoothing=0.1)
                + 0.5 * F.cross_entropy(outputs.aux_logits1, target, label_smoothing=0.1))
    torch.testing.assert_close(loss, expected)


@pytest.mark.parametrize("kwargs", [dict(aux_weights=(0.3,)), dict(aux_weights=(-1.0, 0.3)), dict(label_smoothing=1.0)])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        GoogLeNetLoss(**kwargs)
