"""Off Fashion-MNIST: a folder of photos gets a run directory of its own name, a batch size that fits the
free memory (said with its reason), the advice to start from ImageNet weights, an early time per epoch,
example images to predict on, and a last line that names what the model recognises."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from googlenet.training import batch_size as batch_size_module
from googlenet.training.batch_size import choose_batch_size, training_mib_per_image, wanted_batch_size
from googlenet.training.config import TrainConfig, default_output_dir
from googlenet.training.epoch_clock import EpochClock
from googlenet.training.outputs import example_file_name
from helpers import image_tree

GIB = 2**30


def test_fashion_mnist_at_32_px_keeps_the_batch_of_256_even_on_a_small_machine():
    batch, why = choose_batch_size(32, 1 * GIB, train_count=54_000)
    assert batch == 256 and why.startswith("batch size 256: ") and "32x32" in why


def test_small_inputs_take_256_unless_the_training_set_is_small_and_the_paper_size_takes_128():
    assert wanted_batch_size(32) == wanted_batch_size(112, 25_600) == 256  # 100 steps an epoch
    assert wanted_batch_size(32, 25_599) == 128  # fewer than 100 steps of 256
    assert wanted_batch_size(224) == wanted_batch_size(224, 10**6) == 128
    assert choose_batch_size(64, None, train_count=1_500) == (128, "batch size 128: the free memory cannot be read here")


def test_a_training_set_too_small_for_four_batches_gets_the_largest_batch_that_makes_them():
    assert wanted_batch_size(32, 1_023) == wanted_batch_size(32, 512) == 128
    assert wanted_batch_size(32, 511) == wanted_batch_size(224, 300) == 64
    assert wanted_batch_size(100, 36) == 8  # 36 // 4 = 9: the power of two below
    assert wanted_batch_size(32, 7) == 2  # BatchNorm's minimum; the data's check refuses the set itself


@pytest.mark.parametrize(("per_class", "side", "batch"), [(300, 100, 128), (20, 100, 8), (20, 300, 8)])
def test_the_automatic_batch_fits_a_small_folder_instead_of_refusing_it(tmp_path, per_class, side, batch):
    """The data is first read counting at the batch its input size most likely gets (256 below 224 px): a
    folder of 540 training images (under 4 x 256) at 100 px was refused there before a batch was chosen."""
    from googlenet.distributed import DistributedContext
    from googlenet.training.setup import load_choosing_batch_size

    image_tree(tmp_path / "photos", per_class=per_class, size=(side, side))
    config = TrainConfig(data=str(tmp_path / "photos"), epochs=1)
    data, chosen, _ = load_choosing_batch_size(config, None, None, DistributedContext())
    train_count = len(data.train)
    assert chosen.batch_size == batch and 4 * batch <= train_count < 8 * max(batch, 128)
    with pytest.raises(ValueError, match=r"the training split holds \d+ images, fewer than 4 batches of 512"):
        load_choosing_batch_size(replace(config, batch_size=512), None, None, DistributedContext())  # given: kept


def test_photos_at_224_px_get_the_largest_power_of_two_that_fits_half_the_free_memory():
    # 4 GiB free: half is 2048 MiB, at about 60 MiB an image 34 images fit: 32
    batch, why = choose_batch_size(224, 4 * GIB)
    assert batch == 32
    assert "not 128" in why and "224x224" in why and "4.0 GiB free" in why and "--batch-size overrides" in why
    assert choose_batch_size(224, 16 * GIB)[0] == 128  # 7.5 GiB needed, 8 GiB allowed
    assert choose_batch_size(224, 4 * GIB, processes_sharing=2)[0] == 16
    assert choose_batch_size(224, 10 * 2**20)[0] == 2  # BatchNorm's minimum, whatever the memory
    assert choose_batch_size(224, None) == (128, "batch size 128: the free memory cannot be read here")


def test_the_memory_per_image_grows_with_the_square_of_the_side():
    assert training_mib_per_image(224) == pytest.approx(4 * training_mib_per_image(112))
    assert training_mib_per_image(32) >= 1.3  # measured at 32x32


def test_the_run_directory_is_named_after_the_data():
    assert TrainConfig().resolved().output_dir == "runs/fashion-mnist"
    assert TrainConfig(data="cifar10").resolved().output_dir == "runs/cifar10"
    assert TrainConfig(data="/home/me/photos/").resolved().output_dir == "runs/photos"
    assert TrainConfig(data="photos", output_dir="elsewhere").resolved().output_dir == "elsewhere"
    assert default_output_dir("~/holiday") == "runs/holiday"


def test_example_files_are_named_by_class():
    assert example_file_name("T-shirt/top") == "T-shirt_top.png"
    assert example_file_name("Ankle boot") == "Ankle_boot.png"


def test_the_epoch_clock_speaks_once_after_its_timed_steps():
    said = []
    clock = EpochClock(steps_per_epoch=100, epochs_left=4, say=said.append)
    for _ in range(30):
        clock()
    assert len(said) == 1
    assert said[0].startswith("time: about ") and "per epoch of 100 steps" in said[0]
    assert "measured over 10 steps after the first); 4 epochs: about" in said[0]
    assert clock.estimate(10.0) == ("time: about 2 min per epoch of 100 steps (1.00 s a step, measured over 10 steps "
                                    "after the first); 4 epochs: about 7 min of training, evaluations aside")


@pytest.mark.slow
def test_a_photo_folder_run_from_the_command_line(tmp_path, monkeypatch, capsys):
    from googlenet.cli import main

    image_tree(tmp_path / "photos", classes=("cat", "dog"), per_class=20, size=(100, 100))
    monkeypatch.chdir(tmp_path)
    # A machine with little free memory: 8 images would not fit at 32x32 (about 1.4 MiB each), 4 do.
    monkeypatch.setattr(batch_size_module, "DEFAULT_BATCH_SIZE", 8)
    monkeypatch.setattr(batch_size_module, "SMALL_INPUT_BATCH_SIZE", 8)  # the batch wanted below 224 px
    monkeypatch.setattr(batch_size_module, "free_memory_bytes", lambda device: 16 * 2**20)
    code = main(["train", "--data", "photos", "--epochs", "1", "--input-size", "32", "--no-progress",
                 "--no-tensorboard"])
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, captured.out + captured.err
    run = Path("runs/photos")
    assert json.loads((run / "config.json").read_text())["batch_size"] == 4
    assert out.count("advice: these images are 100 px") == 1 and "--init torchvision-imagenet" in out
    assert "batch size 4, not 8: at 32x32" in out
    assert sum(line.startswith("time: about ") for line in out.splitlines()) == 1
    for name in ("cat", "dog"):
        with Image.open(run / "examples" / f"{name}.png") as example:
            assert example.format == "PNG" and example.size == (100, 100)
    assert out.strip().splitlines()[-1] == ("the model recognises 2 classes: cat, dog; try: googlenet predict "
                                            "runs/photos runs/photos/examples/cat.png")
    assert main(["predict", "runs/photos", "runs/photos/examples/cat.png"]) == 0
