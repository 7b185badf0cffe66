"""Time feature visualisation and the dataset-example pass on this machine's CPU.

    python benchmarks/feature_visualisation.py [--steps 128] [--skip-imagenet] [--skip-dataset-pass]

Prints, each with its reference ratio (measured / reference):
  - one channel of a Fashion-MNIST-shaped model (1 channel, 10 classes, 32 px): inception4c.branch3, channel 0
    (reference: 5 s);
  - a whole branch, all its channels in one batch: inception4c.branch3, 64 channels (reference: 60 s);
  - one channel of the ImageNet network at 224 px: torchvision's architecture (flavour "torchvision", 1,000
    classes, RGB) with random weights at a real scale, since no weights are downloaded here (reference: 60 s);
  - the dataset-example pass over the 60,000 Fashion-MNIST training images at 32 px, every branch of every
    module recorded at once (reference: 120 s; needs the data in /usr/share/datasets/fashion-mnist);
  - the process's peak resident memory (ru_maxrss).
The weights do not change the time: a random model costs what a trained one does. On a shared machine
every time is an upper bound.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import torch

from googlenet import googlenet
from googlenet.machine import describe_machine
from googlenet.models.preprocessing import Preprocessing
from googlenet.visualise.optimise import STEPS, visualise_channels
from googlenet.visualise.units import resolve_unit

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
UNIT = "inception4c.branch3"


def timed(what: str, reference: float, work, steps: int | None = None) -> float:
    """Time `work`; with `steps` other than the default, also the time per step and the default's at that rate
    (labelled as projected: on a crowded machine fewer steps is what fits)."""
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    if steps is not None and steps != STEPS:
        print(f"{what}: {seconds:.1f} s for {steps} steps, {seconds / steps:.2f} s a step; {STEPS} steps projected "
              f"{seconds / steps * STEPS:.1f} s (reference {reference:.0f} s: ratio {seconds / steps * STEPS / reference:.2f})",
              flush=True)
    else:
        print(f"{what}: {seconds:.1f} s (reference {reference:.0f} s: ratio {seconds / reference:.2f})", flush=True)
    return seconds


def fashion_mnist_shaped() -> torch.nn.Module:
    model = googlenet(num_classes=10, in_chans=1).eval()
    model.preprocessing = Preprocessing(input_size=32, resize_size=32, mean=(0.286,), std=(0.353,), channel_order="L")
    return model


def imagenet_shaped() -> torch.nn.Module:
    model = googlenet(flavour="torchvision", num_classes=1000).eval()
    with torch.no_grad():  # weights at a real scale (He), as trained weights roughly are
        for parameter in model.parameters():
            if parameter.dim() > 1:
                parameter.normal_(0, (2 / parameter[0].numel()) ** 0.5)
    return model


def dataset_pass(model: torch.nn.Module) -> None:
    from googlenet.data.load import load_data
    from googlenet.visualise.examples import split_dataset, top_k_pass

    splits = load_data("fashion-mnist", data_dir=str(FASHION_MNIST), input_size=32, val_fraction=0)
    dataset = split_dataset(splits, "train")
    assert len(dataset) == 60_000, len(dataset)
    timed(f"dataset examples: one pass over {len(dataset):,} training images at 32 px, every branch", 120,
          lambda: top_k_pass(model, dataset))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--skip-imagenet", action="store_true")
    parser.add_argument("--skip-dataset-pass", action="store_true")
    args = parser.parse_args()
    print(f"machine: {describe_machine()}; torch {torch.__version__}; {args.steps} steps per image")
    small = fashion_mnist_shaped()
    unit = resolve_unit(small, UNIT)
    visualise_channels(small, unit, [0], steps=2)  # first-call set-up (oneDNN primitives) outside the timing
    timed(f"a channel, Fashion-MNIST model at 32 px ({UNIT} 0)", 5,
          lambda: visualise_channels(small, unit, [0], steps=args.steps), args.steps)
    if not args.skip_dataset_pass:
        dataset_pass(small)
    if not args.skip_imagenet:
        large = imagenet_shaped()
        timed(f"a channel, ImageNet network (torchvision's architecture, random weights) at 224 px ({UNIT} 0)", 60,
              lambda: visualise_channels(large, UNIT, [0], steps=args.steps), args.steps)
    timed(f"a branch in one batch, Fashion-MNIST model at 32 px ({UNIT}, {unit.channels} channels)", 60,
          lambda: visualise_channels(small, unit, list(range(unit.channels)), steps=args.steps), args.steps)
    print(f"peak resident memory (the whole process, every measurement above): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
