"""int8 is right on every CPU: a model trained on real Fashion-MNIST loses at most 0.3 points of accuracy.

Without VNNI, uint8 x int8 kernels add pairs of products into saturating 16-bit sums; with 8-bit weights a
trained GoogLeNet lost 2.68 points that way on an AVX2 CPU. `quantize` keeps weights to 7 bits there
(`saturation_safe`). This test holds every int8 path installed to the bound, whatever the machine; with
the 7-bit weights turned off (`seven_bit_weights=False`) it fails on an AVX2-only CPU.
"""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from googlenet import googlenet
from googlenet.inference.quantize import INT8_BACKENDS, calibration_images, int8_problem, quantize
from googlenet.training.config import TrainConfig
from googlenet.training.step import build_optimizer, train_step

pytestmark = pytest.mark.slow
MAX_DROP_POINTS = 0.3
STEPS = 500
BATCH = 128
# Peak learning rate of the one-cycle schedule. 0.2 was unstable over so short a run: 84.5%, 82.3% and 75.7%
# validation top-1 from three initial draws; 0.1 gave 84.1% on the draw that gave 75.7%.
PEAK_LR = 0.1


@pytest.fixture(scope="module")
def trained():
    """A bn GoogLeNet trained for STEPS steps at 32x32 (about 1.2 epochs), the validation split
    as tensors, and 512 calibration images from the training split."""
    from googlenet.data import load_data

    torch.manual_seed(0)
    data = load_data("fashion-mnist")
    model = googlenet("bn", num_classes=10, in_chans=1, aux_logits=False).to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, TrainConfig(lr=PEAK_LR))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, PEAK_LR, total_steps=STEPS, pct_start=0.15)
    loader = DataLoader(data.train, batch_size=BATCH, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(0))
    criterion = nn.CrossEntropyLoss()
    model.train()
    step = 0
    while step < STEPS:
        for images, targets in loader:
            train_step(model, criterion, optimizer, images.contiguous(memory_format=torch.channels_last), targets,
                       autocast_dtype=None)
            schedule.step()
            step += 1
            if step == STEPS:
                break
    model.eval()
    images, targets = map(torch.cat, zip(*DataLoader(data.validation, batch_size=1000)))
    return model, images, targets, calibration_images(data)


def top1(network, images, targets) -> float:
    with torch.no_grad():
        hits = sum((network(batch).argmax(1) == labels).sum().item()
                   for batch, labels in zip(images.split(500), targets.split(500)))
    return 100.0 * hits / len(targets)


# "auto" is what `googlenet evaluate --int8` runs: every installed path that can run the model (OpenVINO
# cannot at 32x32: a 3x3 max-pool over a 2x2 map), the fastest kept; ONNX Runtime's path on its own too.
@pytest.mark.parametrize("backend", ["auto", INT8_BACKENDS[0]])
def test_int8_loses_at_most_0_3_points_on_this_machine(trained, backend):
    model, images, targets, calibration = trained
    fp32 = top1(model, images, targets)
    assert fp32 >= 80.0  # a trained model: an untrained one would agree with anything
    int8 = quantize(model, calibration, backend=backend)
    drop = fp32 - top1(int8, images, targets)
    assert drop <= MAX_DROP_POINTS, f"{backend}: {fp32:.2f}% fp32, {fp32 - drop:.2f}% int8 ({int8.describe()})"


def test_onnxruntime_int8_is_installed_so_the_bound_is_checked_somewhere():
    assert int8_problem(INT8_BACKENDS[0]) is None
