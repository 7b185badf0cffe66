"""Faults injected at every write: each file-system call a writer makes (the data's `os.write`, the file's
fsync, the link and rename that put it in place, the directory's fsync) fails in turn with a full disk.
Whichever fails, the previous file stays whole and loadable, no temporary is left behind, the error is
one line naming the file, and a checkpoint can still be resumed from."""

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from googlenet.atomic_files import AtomicWriteError
from googlenet.distributed import DistributedContext
from googlenet.training.checkpoint import read_checkpoint, restore, save_checkpoint
from test_checkpoint import advance, payload_of, small_state

FAULTED_CALLS = ("write", "fsync", "link", "replace", "rename")
NO_SPACE = os.strerror(errno.ENOSPC)


class FileSystemCalls:
    """While active: records the kind of every os.write/fsync/link/replace/rename call and makes the
    `fail_at`-th one (counting from 1) raise OSError(ENOSPC), as a full disk would."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.kinds: list[str] = []
        self.failed: str | None = None

    @contextlib.contextmanager
    def active(self) -> Iterator["FileSystemCalls"]:
        real = {name: getattr(os, name) for name in FAULTED_CALLS}

        def faulty(name: str) -> Callable:
            def call(*args, **kwargs):
                kind = name
                if name == "fsync" and stat.S_ISDIR(os.fstat(args[0]).st_mode):
                    kind = "directory fsync"
                self.kinds.append(kind)
                if len(self.kinds) == self.fail_at:
                    self.failed = kind
                    raise OSError(errno.ENOSPC, NO_SPACE)
                return real[name](*args, **kwargs)
            return call

        for name in FAULTED_CALLS:
            setattr(os, name, faulty(name))
        try:
            yield self
        finally:
            for name, function in real.items():
                setattr(os, name, function)


def contents(directory: Path) -> dict[str, bytes]:
    return {str(path.relative_to(directory)): path.read_bytes() for path in directory.rglob("*") if path.is_file()}


def each_fault(prepare: Callable[[Path], None], write: Callable[[Path], None], root: Path,
               first_and_last_only: bool = False) -> Iterator[tuple[str, BaseException | None, Path]]:
    """For each file-system call that `write(directory)` makes on a directory set up by `prepare`: a fresh
    directory, that call failing; yields (the failed call's kind, the error `write` raised or None, the
    directory). `first_and_last_only`: only the first and last call of each kind (for slow writers)."""
    clean = root / "clean"
    prepare(clean)
    before = contents(clean)
    with FileSystemCalls().active() as counted:
        write(clean)
    kinds = counted.kinds
    changed = [name for name, data in contents(clean).items() if before.get(name) != data]
    # Every file that changed was renamed into place (a writer that bypasses atomic_files is caught here).
    assert changed and kinds.count("replace") >= len(changed), (changed, kinds)
    chosen = range(1, len(kinds) + 1)
    if first_and_last_only:
        chosen = sorted({next(i for i, k in enumerate(kinds, 1) if k == kind) for kind in kinds}
                        | {max(i for i, k in enumerate(kinds, 1) if k == kind) for kind in kinds})
    assert {"write", "fsync", "replace", "directory fsync"} <= set(kinds), kinds
    for k in chosen:
        directory = root / f"fault-{k}"
        prepare(directory)
        calls = FileSystemCalls(fail_at=k)
        error = None
        with calls.active():
            try:
                write(directory)
            except Exception as raised:  # noqa: BLE001 - the test checks what it is
                error = raised
        assert calls.failed == kinds[k - 1]
        yield calls.failed, error, directory


def assert_one_clean_line(error: BaseException, directory: Path) -> None:
    """The message a user sees: one line, naming a file in `directory`, saying why."""
    assert isinstance(error, AtomicWriteError), repr(error)
    message = str(error)
    assert "\n" not in message and message.startswith(f"cannot write {directory}")
    assert message.endswith(f": {NO_SPACE}"), message


def leftovers(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.rglob(".*"))


def test_a_checkpoint_survives_a_fault_at_every_file_system_call(tmp_path):
    state = small_state()
    payloads = []
    for _ in range(3):
        advance(state, 1)
        payloads.append(payload_of(state))  # global steps 1, 2, 3

    def prepare(run: Path) -> None:
        run.mkdir()
        save_checkpoint(payloads[0], run)
        save_checkpoint(payloads[1], run, best=True)

    def step(path: Path) -> int:
        return read_checkpoint(path)["position"]["global_step"]

    seen = set()
    for kind, error, run in each_fault(prepare, lambda run: save_checkpoint(payloads[2], run, best=True), tmp_path):
        seen.add(kind)
        if kind == "directory fsync":  # after the rename: the new file is in place, the failure ignored
            assert error is None
        else:
            assert_one_clean_line(error, run)
        assert leftovers(run) == [], kind
        last, previous, best = (step(run / name) for name in
                                ("checkpoint_last.pt", "checkpoint_previous.pt", "checkpoint_best.pt"))
        assert (last, previous) in ((2, 1), (2, 2), (3, 2)), (kind, last, previous)
        assert best in (2, 3)
        # --resume's reading of the run still works.
        fresh = small_state(seed=1)
        restore(fresh, read_checkpoint(run / "checkpoint_last.pt"), DistributedContext())
        for name, tensor in fresh.model.state_dict().items():
            assert torch.equal(tensor, payloads[last - 1]["model"][name])
    assert seen == {"write", "fsync", "link", "replace", "directory fsync"}


def weights_equal(state: dict, model: torch.nn.Module) -> bool:
    return all(torch.equal(state[name], tensor) for name, tensor in model.state_dict().items() if name in state)


@pytest.mark.slow
def test_a_model_directory_survives_a_fault_at_every_kind_of_file_system_call(tmp_path):
    from helpers import real_scale_googlenet

    from googlenet.weights.model_dir import from_pretrained, save_pretrained

    old, new = (real_scale_googlenet("bn", num_classes=3, aux_logits=False, seed=seed) for seed in (0, 1))
    for kind, error, run in each_fault(lambda run: save_pretrained(old, run / "model"),
                                       lambda run: save_pretrained(new, run / "model"), tmp_path,
                                       first_and_last_only=True):
        if error is not None:
            assert_one_clean_line(error, run)
        assert leftovers(run) == [], kind
        kept = from_pretrained(run / "model").state_dict()
        assert weights_equal(kept, old if error is not None else new), kind


@pytest.mark.slow
def test_metrics_survive_a_fault_at_every_kind_of_file_system_call(tmp_path):
    import json

    from googlenet.training.outputs import RunOutputs

    rows = [{"epoch": 1, "train_loss": 2.0, "train_top1": 20.0, "validation_loss": 1.9, "validation_top1": 25.0}]
    more = rows + [{**rows[0], "epoch": 2, "train_loss": 1.5}]
    for kind, error, run in each_fault(lambda run: RunOutputs(run, tensorboard=False).log_epochs(rows),
                                       lambda run: RunOutputs(run, tensorboard=False).log_epochs(more), tmp_path,
                                       first_and_last_only=True):
        if error is not None:
            assert_one_clean_line(error, run)
        assert leftovers(run) == [], kind
        assert json.loads((run / "metrics.json").read_text()) in (rows, more)
        assert (run / "metrics.csv").read_text().count("\n") in (2, 3)
        from PIL import Image

        Image.open(run / "curves.png").verify()  # whole, whichever version


@pytest.mark.slow
def test_an_export_survives_a_fault_at_every_kind_of_file_system_call(tmp_path, monkeypatch):
    import json
    import zipfile

    from helpers import real_scale_googlenet

    from googlenet.weights import export as exports

    models = [real_scale_googlenet("bn", num_classes=3, aux_logits=False, seed=seed).eval() for seed in (0, 1)]
    example = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        traced = [torch.jit.trace(model, example) for model in models]
    current = [0]
    monkeypatch.setattr(exports.torch.jit, "trace", lambda *args, **kwargs: traced[current[0]])  # traced once
    before: dict[Path, bytes] = {}

    def write(run: Path, which: int) -> None:
        current[0] = which
        exports.export(models[which], run / "model.torchscript.pt", "torchscript")

    def prepare(run: Path) -> None:
        write(run, 0)
        before[run] = (run / "model.torchscript.pt").read_bytes()

    for kind, error, run in each_fault(prepare, lambda run: write(run, 1), tmp_path, first_and_last_only=True):
        exported = run / "model.torchscript.pt"
        if error is not None:
            assert_one_clean_line(error, run)
        assert leftovers(run) == [], kind
        if error is not None and error.path == exported:
            assert exported.read_bytes() == before[run], kind  # the previous export, untouched
        else:
            assert exported.read_bytes() != before[run], kind
        with zipfile.ZipFile(exported) as archive:
            assert archive.testzip() is None  # whole, whichever version
        assert json.loads((run / "model.torchscript.pt.json").read_text())["format"] == "torchscript"


@pytest.mark.slow
def test_a_run_whose_checkpoint_cannot_be_written_says_so_in_one_line_and_resumes(tmp_path, monkeypatch, capsys):
    from googlenet.cli import main

    run = tmp_path / "run"
    options = ["--train-subset", "48", "--val-subset", "16", "--test-subset", "16", "--batch-size", "8",
               "--epochs", "2", "--amp", "off", "--train-preset", "none", "--no-progress", "--no-tensorboard"]
    real_replace = os.replace
    renamed_in = []

    def full_disk_at_the_second_epoch(source, target, *args, **kwargs):
        if Path(target).name == "checkpoint_last.pt":
            renamed_in.append(target)
            if len(renamed_in) == 2:
                raise OSError(errno.ENOSPC, NO_SPACE)
        return real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", full_disk_at_the_second_epoch)
    assert main(["train", "--output-dir", str(run), *options]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith(
        f"googlenet train: error: cannot write {run / 'checkpoint_last.pt'}: {NO_SPACE}"), errors
    monkeypatch.undo()
    assert leftovers(run) == []
    assert read_checkpoint(run / "checkpoint_last.pt")["position"]["epoch"] == 1  # the first epoch's, whole

    assert main(["train", "--resume", str(run), "--no-progress", "--no-tensorboard"]) == 0
    assert read_checkpoint(run / "checkpoint_last.pt")["position"]["epoch"] == 2


def test_a_data_set_staged_into_the_cache_survives_a_fault_at_every_file_system_call(tmp_path, monkeypatch):
    import gzip

    from googlenet.data.idx import IDX_FILES, _stage_idx_files
    from helpers import write_idx_set

    write_idx_set(tmp_path / "fm")
    found = {name: tmp_path / "fm" / f"{name}.gz" for name in IDX_FILES}

    def stage(directory: Path) -> Path:
        monkeypatch.setenv("GOOGLENET_CACHE", str(directory))
        return _stage_idx_files(found, "FashionMNIST") / "FashionMNIST" / "raw"

    for kind, error, directory in each_fault(lambda directory: directory.mkdir(), stage, tmp_path):
        if kind != "directory fsync":
            assert_one_clean_line(error, directory)
        assert leftovers(directory) == [], kind
        raw = stage(directory)  # the next load stages what is missing; every file is whole
        for name, source in found.items():
            assert (raw / name).read_bytes() == gzip.decompress(source.read_bytes()), (kind, name)
