"""Files that appear whole or not at all: every file and directory googlenet writes goes through here.

A writer fills a temporary sibling (same directory, so the final rename never crosses a file system)
and renames it over the target; a crash, Ctrl-C or full disk half-way leaves the previous version in
place and at most a hidden `.NAME.tmp-*` sibling behind. A failure is raised as `AtomicWriteError`,
whose message names the path: "cannot write runs/x/metrics.json: No space left on device".

Imports only the standard library, so every layer of the package may use it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _give_usual_permissions(path: Path, directory: bool) -> None:
    """mkstemp/mkdtemp make owner-only entries; a saved model should get what open() would give it."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


class AtomicWriteError(OSError):
    """Writing `path` failed; the previous version of `path`, if any, is untouched."""

    def __init__(self, path: Path, cause: BaseException) -> None:
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)
        super().__init__(f"cannot write {path}: {reason}")
        self.path = path


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a directory be opened and synced
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; when the block ends without an error it replaces `path`.

    For writers that want a file name (torch.save, matplotlib's savefig, onnx.save)."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
        os.close(descriptor)
        temporary = Path(name)
        _give_usual_permissions(temporary, directory=False)
    except OSError as error:
        raise AtomicWriteError(target, error) from error
    try:
        yield temporary
        with open(temporary, "rb+") as written:  # the data on disk before the name points at it
            os.fsync(written.fileno())
        os.replace(temporary, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        if isinstance(error, OSError) and not isinstance(error, AtomicWriteError):
            raise AtomicWriteError(target, error) from error
        raise
    _fsync_directory(target.parent)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_with(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> None:
    """Call `write(file)` on a binary file that becomes `path` only once `write` has returned."""
    with atomic_path(path) as temporary, open(temporary, "wb") as file:
        write(file)


def torch_save(payload: Any, path: str | os.PathLike) -> None:
    import torch  # only here: this module is imported by layers that must not pay for torch twice

    with atomic_path(path) as temporary:
        torch.save(payload, temporary)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary directory next to `path`; when the block ends without an error it takes
    `path`'s place (the old directory is moved aside, the new one renamed in, then the old one removed).

    Between the two renames `path` is absent for an instant; a reader that finds it absent finds the
    previous version under `.NAME.old-*` (what `recover_directory` puts back)."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        _give_usual_permissions(staging, directory=True)
    except OSError as error:
        raise AtomicWriteError(target, error) from error
    try:
        yield staging
        for file in staging.rglob("*"):
            if file.is_file():
                with open(file, "rb+") as written:
                    os.fsync(written.fileno())
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            old.rmdir()
            os.replace(target, old)
        os.replace(staging, target)
        _fsync_directory(target.parent)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, OSError) and not isinstance(error, AtomicWriteError):
            raise AtomicWriteError(target, error) from error
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def recover_directory(path: str | os.PathLike) -> bool:
    """If a crash fell between `atomic_directory`'s two renames, put the previous version back. True if it did."""
    target = Path(path)
    if target.exists():
        return False
    olds = sorted(target.parent.glob(f".{target.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if not olds:
        return False
    os.replace(olds[-1], target)
    return True
