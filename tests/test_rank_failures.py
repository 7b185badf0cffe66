"""No hung ranks (torchrun, two processes, gloo on CPU): a failure on one rank ends every rank at once
with one message naming the rank and its cause, while the failing process itself stays alive (so
nothing relies on its connections closing); the caller's own process group stays usable afterwards."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = '''
import os, sys, time
import torch
import torch.distributed as dist

dist.init_process_group("gloo")  # the caller's own group: train() must leave it usable
rank = dist.get_rank()
import googlenet.training.loop as loop
import googlenet.training.checkpoint as checkpoint
from googlenet.data.batches import Batch
from googlenet.cli import main

run, failure = sys.argv[1], sys.argv[2]
fetched = [0]
real_as_batch, real_save = loop.as_batch, checkpoint.torch_save

def short_batch(raw):  # rank 1's second batch: all but one of its images unreadable
    batch = real_as_batch(raw)
    fetched[0] += 1
    if rank == 1 and fetched[0] == 2:
        return Batch(batch.images[:1], batch.targets[:1], [(f"bad{i}.png", "truncated") for i in range(7)])
    return batch

def full_disk(payload, path, **kwargs):
    from googlenet.atomic_files import AtomicWriteError
    raise AtomicWriteError(path, OSError(28, "No space left on device"))

if failure == "short-batch":
    loop.as_batch = short_batch
else:
    checkpoint.torch_save = full_disk
code = main(["train", "--output-dir", run, "--train-subset", "64", "--val-subset", "16", "--test-subset", "16",
             "--batch-size", "8", "--epochs", "1", "--amp", "off", "--no-progress", "--no-tensorboard",
             "--train-preset", "none"])
print(f"RANK {rank} EXIT {code} AT {time.time()}", flush=True)
if (failure == "short-batch" and rank == 1) or (failure == "full-disk" and rank == 0):
    time.sleep(8)  # the failing process lingers: the others must not be waiting for it to go
dist.barrier()
print(f"RANK {rank} BARRIER PASSED", flush=True)
'''


def torchrun(script: Path, *args: str) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "torchrun"), "--standalone", "--nproc_per_node=2", str(script),
               *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "GOOGLENET_RANK_TIMEOUT": "120"})


def exits(stdout: str) -> dict[int, tuple[int, float]]:
    # The ranks share one pipe, so their lines may run together: found anywhere, not line by line.
    return {int(rank): (int(code), float(when))
            for rank, code, when in re.findall(r"RANK (\d) EXIT (\d+) AT (\d+\.\d+)", stdout)}


@pytest.mark.slow
@pytest.mark.parametrize("failure, failing_rank, cause", [
    ("short-batch", 1, "a training batch held fewer than 2 readable images"),
    ("full-disk", 0, "cannot write {run}/checkpoint_last.pt: No space left on device"),
])
def test_a_failure_on_one_rank_ends_every_rank_with_one_message(tmp_path, failure, failing_rank, cause):
    script = tmp_path / "fail.py"
    script.write_text(SCRIPT)
    run = tmp_path / "run"
    started = time.time()
    result = torchrun(script, str(run), failure)
    ended = exits(result.stdout)
    assert set(ended) == {0, 1}, result.stdout[-2000:] + result.stderr[-3000:]
    assert all(code == 2 for code, _ in ended.values()), ended  # bad input or a full disk: exit status 2
    assert abs(ended[0][1] - ended[1][1]) < 5, ended  # together, not when the failing process goes
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert errors == [f"googlenet train: error: rank {failing_rank} of 2 failed: {cause.format(run=run)}"] \
        or (len(errors) == 1 and errors[0].startswith(
            f"googlenet train: error: rank {failing_rank} of 2 failed: {cause.format(run=run)}")), errors
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stdout.count("BARRIER PASSED") == 2  # the caller's process group still works
    assert time.time() - started < 240
