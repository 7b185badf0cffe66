"""Run by tests/test_distributed.py under torchrun: 3 steps on each rank's half of a fixed batch, then
rank 0 saves every rank's weights and those of one process trained on the whole batch."""

import sys
import torch
import torch.distributed as dist
sys.path.insert(0, sys.argv[2])
from helpers import give_real_scale
from googlenet.distributed import setup_distributed, teardown_distributed
from googlenet.models.loss import GoogLeNetLoss
from googlenet.models.network import googlenet
from googlenet.training.config import TrainConfig
from googlenet.training.setup import wrap_for_processes
from googlenet.training.step import build_optimizer, train_step

def trained(images, targets, context):
    torch.manual_seed(0)
    model = give_real_scale(googlenet("paper", num_classes=3, in_chans=1, dropout=0.0, aux_dropout=0.0))
    initial = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    network = wrap_for_processes(model, TrainConfig(), context)
    optimizer = build_optimizer(model, TrainConfig(lr=0.01))
    criterion = GoogLeNetLoss((0.3, 0.3), 0.0)
    for step in range(3):
        train_step(network, criterion, optimizer, images[step], targets[step], autocast_dtype=None)
    return initial, torch.cat([p.detach().flatten() for p in model.parameters()])

context = setup_distributed("cpu")
generator = torch.Generator().manual_seed(1)
images = torch.randn(3, 16, 1, 32, 32, generator=generator)
targets = torch.randint(0, 3, (3, 16), generator=generator)
half = slice(8 * context.rank, 8 * context.rank + 8)
initial, mine = trained(images[:, half], targets[:, half], context)
gathered = [torch.empty_like(mine) for _ in range(context.world_size)]
dist.all_gather(gathered, mine)
if context.rank == 0:
    from googlenet.distributed import DistributedContext
    _, alone = trained(images, targets, DistributedContext())
    torch.save({"initial": initial, "ranks": gathered, "alone": alone}, sys.argv[1])
teardown_distributed(context)
