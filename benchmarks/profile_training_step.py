"""Where `googlenet train`'s step spends its time: torch.profiler over training/step.py's train_step.

    python benchmarks/profile_training_step.py                       # 32x32 b128 and 96x96 b64, aux heads
    python benchmarks/profile_training_step.py --sizes 96:64 --top 15 --no-channels-last

The step is set up exactly as the benchmark and the command set it up (benchmark_subjects.our_training_step,
TrainConfig's defaults, the bn flavour of `make train` unless --flavour), on random images. The table is
the operators' self CPU time (the time inside each operator, not in those it calls), as a share of the
profiled steps' total, over --steps steps after --warmup. Shares hold on a busy machine better than
absolute times; the machine's kind is printed first.
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from googlenet.inference.benchmark_subjects import our_training_step, realistic_weights
from googlenet.machine import describe_machine
from googlenet.models.network import googlenet


def profile_step(size: int, batch: int, *, flavour: str, num_classes: int, steps: int, warmup: int, top: int,
                 channels_last: bool) -> list[str]:
    model = googlenet(flavour, num_classes=num_classes, in_chans=3, aux_logits=True)
    realistic_weights(model, 0)
    name, step = our_training_step(model, channels_last=channels_last)
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 3, size, size, generator=generator)
    labels = torch.randint(num_classes, (batch,), generator=generator)
    for _ in range(warmup):
        step(images, labels)
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        for _ in range(steps):
            step(images, labels)
    events = [event for event in profiler.key_averages() if event.self_cpu_time_total > 0]
    total = sum(event.self_cpu_time_total for event in events)
    lines = [f"{size}x{size}, batch {batch}, {flavour} flavour, aux heads: {name}",
             f"  {total / steps / 1e3:.0f} ms of operator time per step ({steps} steps profiled)",
             f"  {'operator':44} {'share':>6} {'ms/step':>8} {'calls/step':>10}"]
    for event in sorted(events, key=lambda event: event.self_cpu_time_total, reverse=True)[:top]:
        lines.append(f"  {event.key[:44]:44} {event.self_cpu_time_total / total:6.1%} "
                     f"{event.self_cpu_time_total / steps / 1e3:8.1f} {event.count / steps:10.0f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["32:128", "96:64"], metavar="SIZE:BATCH")
    parser.add_argument("--flavour", default="bn")
    parser.add_argument("--num-classes", type=int, default=10)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    print(describe_machine())
    for pair in args.sizes:
        size, batch = (int(part) for part in pair.split(":"))
        print("\n".join(profile_step(size, batch, flavour=args.flavour, num_classes=args.num_classes,
                                     steps=args.steps, warmup=args.warmup, top=args.top,
                                     channels_last=args.channels_last)), flush=True)


if __name__ == "__main__":
    main()
