"""The loop's parts without a data set: unreadable images in a batch, frozen stages, learning rates per
group, and the weight average's warm-up."""

import pytest
import torch
from torch import nn

from googlenet.data.batches import Batch
from googlenet.models.network import googlenet
from googlenet.training.config import TrainConfig
from googlenet.training.ema import WeightAverage
from googlenet.training.loop import UnreadableTrainingImagesWarning, _keep_frozen_norms_in_eval, _next_batch
from googlenet.training.schedule import LearningRateSchedule
from googlenet.training.setup import freeze_through, learning_rate_scales
from googlenet.training.state import RunState
from googlenet.training.step import build_optimizer


def state_of(model: nn.Module) -> RunState:
    return RunState(model, build_optimizer(model, TrainConfig()), LearningRateSchedule.for_run("cosine", 4, 1, 0), None)


def test_a_batch_with_unreadable_images_trains_on_the_rest_and_names_them():
    state = state_of(nn.Linear(2, 2))
    batch = Batch(torch.zeros(3, 2), torch.tensor([0, 1, 1]), [("data/a/broken.png", "truncated")])
    with pytest.warns(UnreadableTrainingImagesWarning, match=r"epoch 1, step 1: skipped 1 unreadable .*broken.png"):
        images, targets = _next_batch(iter([batch]), state)
    assert images.shape[0] == 3 and targets.tolist() == [0, 1, 1]
    assert state.totals.skipped_images == 1
    lonely = Batch(torch.zeros(1, 2), torch.tensor([0]), [("x.png", "bad"), ("y.png", "bad")])
    with pytest.warns(UnreadableTrainingImagesWarning), pytest.raises(ValueError, match="fewer than 2 readable"):
        _next_batch(iter([lonely]), state)


def test_frozen_stages_do_not_train_and_keep_their_batchnorm_statistics():
    model = googlenet("bn", num_classes=3, in_chans=1, aux_logits=False)
    frozen = freeze_through(model, "inception3b")
    assert frozen[-1] == "inception3b" and frozen[0] == "conv1" and "inception4a" not in frozen
    assert not any(parameter.requires_grad for parameter in model.inception3b.parameters())
    assert all(parameter.requires_grad for parameter in model.inception4a.parameters())
    before_frozen = model.conv1.bn.running_mean.clone() if hasattr(model.conv1, "bn") else None
    norms = {name: module.running_mean.clone() for name, module in model.named_modules()
             if isinstance(module, nn.BatchNorm2d)}
    model.train()
    _keep_frozen_norms_in_eval(model)
    model(torch.randn(4, 1, 32, 32))
    for name, module in model.named_modules():
        if isinstance(module, nn.BatchNorm2d):
            unchanged = torch.equal(module.running_mean, norms[name])
            assert unchanged == name.startswith(tuple(frozen)), name
    assert before_frozen is None or torch.equal(model.conv1.bn.running_mean, before_frozen)
    with pytest.raises(ValueError, match=r"--freeze-to 'inception9' is not a stage.*conv1, .*inception5b"):
        freeze_through(model, "inception9")


def test_pretrained_layers_train_at_a_fraction_of_the_new_heads_rate():
    model = googlenet("bn", num_classes=3, in_chans=1)
    config = TrainConfig(init="weights", pretrained_lr_scale=0.1, lr=0.2)
    optimizer = build_optimizer(model, config, learning_rate_scales(model, config))
    rate_of = {id(parameter): group["initial_lr"] for group in optimizer.param_groups for parameter in group["params"]}
    assert rate_of[id(model.fc.weight)] == pytest.approx(0.2) and rate_of[id(model.aux1.fc1.weight)] == pytest.approx(0.2)
    assert rate_of[id(model.conv1.conv.weight)] == pytest.approx(0.02)
    assert rate_of[id(model.inception5b.branch1.conv.weight)] == pytest.approx(0.02)
    assert len(rate_of) == sum(1 for parameter in model.parameters() if parameter.requires_grad)
    decay = {id(parameter): group["weight_decay"] for group in optimizer.param_groups for parameter in group["params"]}
    assert decay[id(model.fc.weight)] == config.weight_decay and decay[id(model.fc.bias)] == 0.0
    assert learning_rate_scales(model, TrainConfig()) is None  # from random weights: one rate


def test_the_weight_average_warms_up_so_a_short_run_is_not_left_near_random():
    """130 steps (the issue's short run): with a fixed decay of 0.998 the average is still mostly the
    random start; with the warm-up it is close to the trained weights."""
    torch.manual_seed(0)
    centres = torch.randn(4, 8) * 3
    labels = torch.randint(0, 4, (512,))
    points = centres[labels] + torch.randn(512, 8)

    def accuracy(model):
        return (model(points).argmax(1) == labels).float().mean().item()

    model = nn.Linear(8, 4)
    warm, fixed = WeightAverage(model, 0.998), WeightAverage(model, 0.998, warmup=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for step in range(130):
        batch = torch.randint(0, 512, (32,))
        loss = nn.functional.cross_entropy(model(points[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        warm.update(model)
        fixed.update(model)
    assert accuracy(model) > 0.9
    assert accuracy(warm.module) > accuracy(model) - 0.05
    assert accuracy(fixed.module) < accuracy(model) - 0.2
    assert warm.decay_at(0) == pytest.approx(0.1) and warm.decay_at(130) == pytest.approx(131 / 140)
    assert warm.decay_at(100_000) == 0.998 and fixed.decay_at(5) == 0.998


def test_the_weight_average_is_the_warm_up_formula_bit_for_bit_and_resumes_from_its_state_dict():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(3 * 4 * 4, 2))
    average, expected = WeightAverage(model, 0.9), None
    for update in range(12):
        model.train()(torch.randn(4, 1, 6, 6))  # moves the BatchNorm statistics and its step count
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(torch.randn_like(parameter))
        current = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
        if expected is None:
            expected = current
        else:  # written here from the module's docstring: lerp by 1 - min(decay, (1 + n) / (10 + n))
            weight = 1.0 - min(0.9, (1 + update) / (10 + update))
            expected = {name: torch.lerp(expected[name], tensor, weight) if tensor.is_floating_point() else tensor
                        for name, tensor in current.items()}
        average.update(model)
        if update == 6:  # a checkpoint here, loaded into a fresh average, continues the same decays
            resumed = WeightAverage(nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.Flatten(),
                                                  nn.Linear(3 * 4 * 4, 2)), 0.9)
            resumed.load_state_dict(average.state_dict())
        elif update > 6:
            resumed.update(model)
    got = {name.removeprefix("module."): tensor for name, tensor in average.state_dict().items()}
    assert got.pop("n_averaged") == 12 and average.updates == 12
    assert all(torch.equal(got[name], expected[name]) for name in expected)
    assert all(torch.equal(a, b) for a, b in zip(average.state_dict().values(), resumed.state_dict().values()))
    assert not any(parameter.requires_grad for parameter in average.module.parameters())


def test_each_batch_of_an_epoch_draws_its_own_augmentation():
    # 12 copies of one image through the small preset (shifts, flips, erasing): batches augmented alike
    # would hold the same 4 images in each of the 3 batches, whatever the sample order.
    from types import SimpleNamespace

    from torch.utils.data import Dataset

    from googlenet.data.transforms import train_preset_by_name
    from googlenet.distributed import DistributedContext
    from googlenet.training.loop import train_loader
    from googlenet.training.state import Position

    augment = train_preset_by_name("small", 32, (0.5,), (0.25,), 1, hflip=True, random_erase=0.5)
    image = torch.randint(0, 256, (1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))

    class Copies(Dataset):
        def __len__(self):
            return 12

        def __getitem__(self, index):
            return augment(image), 0

    session = SimpleNamespace(config=TrainConfig(batch_size=4, seed=3), train_set=Copies(),
                              context=DistributedContext(device=torch.device("cpu")))
    batches = [images for images, _, _ in train_loader(session, SimpleNamespace(position=Position()))]
    assert len(batches) == 3
    for first in range(3):
        for second in range(first + 1, 3):
            assert not torch.equal(batches[first], batches[second]), (first, second)
    # Within a batch too, each image is augmented anew (its own draws from the batch's seed).
    assert not torch.equal(batches[0][0], batches[0][1])
