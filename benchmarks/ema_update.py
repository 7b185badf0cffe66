"""Time one update of the weight average: googlenet's WeightAverage against torch's AveragedModel with the
same warm-up (a multi_avg_fn), on GoogLeNet (flavour bn, aux heads: every parameter and buffer), per device.

    python benchmarks/ema_update.py [--updates 200] [--device cpu|cuda]

Prints the median time per update and whether both averages hold the same tensors after the updates.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.optim.swa_utils import AveragedModel

from googlenet import googlenet
from googlenet.training.ema import WeightAverage

DECAY = 0.998


def warmup_multi_avg_fn(decay: float):
    """AveragedModel's multi_avg_fn with WeightAverage's warm-up: decay min(decay, (1 + n) / (10 + n))."""

    @torch.no_grad()
    def update(averaged: list, current: list, n_averaged: torch.Tensor) -> None:
        if not averaged[0].is_floating_point():  # BatchNorm's num_batches_tracked: copied, not averaged
            torch._foreach_copy_(averaged, current)
            return
        updates = int(n_averaged)  # one more device sync on a GPU
        torch._foreach_lerp_(averaged, current, 1.0 - min(decay, (1 + updates) / (10 + updates)))

    return update


def timed(update, model: torch.nn.Module, updates: int, device: torch.device) -> float:
    seconds = []
    for _ in range(updates):
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(0.001)  # a step's worth of change, so each update has work to do
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        update(model)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds[updates // 10:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = googlenet("bn", num_classes=10).to(device)
    ours = WeightAverage(model, DECAY)
    theirs = AveragedModel(model, multi_avg_fn=warmup_multi_avg_fn(DECAY), use_buffers=True)
    figures = {}
    for name, average in (("googlenet WeightAverage", ours), ("torch AveragedModel + warm-up", theirs)):
        torch.manual_seed(1)
        fresh = googlenet("bn", num_classes=10).to(device)
        fresh.load_state_dict(model.state_dict())
        update = average.update if isinstance(average, WeightAverage) else average.update_parameters
        figures[name] = timed(update, fresh, args.updates, device)
    same = all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()))
    keys_alike = list(ours.state_dict()) == list(theirs.state_dict())
    print(f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}), "
          f"torch {torch.__version__}, {args.updates} updates of GoogLeNet bn ({len(ours.state_dict())} tensors)")
    for name, seconds in figures.items():
        print(f"  {name:32s} {seconds * 1e3:8.3f} ms per update (median)")
    print(f"  same tensors after the updates: {same}; same state_dict keys: {keys_alike}")


if __name__ == "__main__":
    main()
