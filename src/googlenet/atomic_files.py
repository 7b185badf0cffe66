"""Files that appear whole or not at all: every file and directory googlenet writes goes through here.

A writer fills a temporary sibling (same directory, so the final rename never crosses a file system)
and renames it over the target; a crash, Ctrl-C or full disk half-way leaves the previous version in
place and no temporary behind (a hidden `.NAME.tmp-*` sibling only if the process itself dies). A failure
is raised as `AtomicWriteError`, whose message is one line naming the path: "cannot write
runs/x/metrics.json: No space left on device".

The bytes go to the disk through `os.write` and `os.fsync` here and nowhere else, so a test can make
each file-system call fail in turn (tests/test_write_faults.py).

Imports only the standard library, so every layer of the package may use it.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

WRITE_BUFFER_BYTES = 1 << 20


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
        super().__init__(f"cannot write {path}: {' '.join(reason.split())}")  # one line, whatever the cause
        self.path = path


class _DiskFile(io.RawIOBase):
    """An open descriptor as a binary file whose writes are `os.write` calls, for writers that take a
    file object (torch.save, savefig, onnx and torch.jit's savers)."""

    def __init__(self, descriptor: int) -> None:
        super().__init__()
        self._descriptor = descriptor
        self.failure: OSError | None = None  # the first failed write, which some writers report otherwise

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return os.lseek(self._descriptor, offset, whence)

    def fileno(self) -> int:
        return self._descriptor

    def write(self, data: Any) -> int:
        view = memoryview(data)
        view = view if view.format == "B" and view.ndim == 1 else view.cast("B")
        written = 0
        try:
            while written < len(view):  # os.write may write less than asked
                written += os.write(self._descriptor, view[written:])
        except OSError as error:
            self.failure = self.failure or error
            raise
        return written


def _fsync_file(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_directory(directory: Path) -> None:
    """Make a rename in `directory` survive a power cut. A failure is ignored: the rename has happened,
    the file is whole under its name, and not every file system lets a directory be opened and synced."""
    with contextlib.suppress(OSError):
        _fsync_file(directory)


def _sibling_name(path: Path, kind: str) -> Path:
    return path.with_name(f".{path.name}.{kind}-{os.getpid()}-{os.urandom(4).hex()}")


def _keep_as(target: Path, previous: Path) -> None:
    """Make `previous` a second name of `target`'s current file (a hard link, or a copy where the file
    system has none), renamed into place, so that neither name is ever missing."""
    if not target.is_file():
        return
    link = _sibling_name(previous, "tmp")
    try:
        try:
            os.link(target, link)
        except OSError as error:
            if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
            shutil.copyfile(target, link)
            _fsync_file(link)
        os.replace(link, previous)
    except BaseException:
        with contextlib.suppress(OSError):
            link.unlink()
        raise


@contextlib.contextmanager
def _replacing(target: Path, keep_previous_as: Path | None) -> Iterator[Path]:
    """Yield an empty temporary sibling of `target`; once the caller has filled and synced it, the
    current `target` (if `keep_previous_as`) gets that second name, then the temporary replaces
    `target`. Any failure removes the temporary and leaves both names as they were."""
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
        if keep_previous_as is not None:
            _keep_as(target, keep_previous_as)
        os.replace(temporary, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        if isinstance(error, OSError) and not isinstance(error, AtomicWriteError):
            raise AtomicWriteError(target, error) from error
        raise
    _fsync_directory(target.parent)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, keep_previous_as: str | os.PathLike | None = None) -> Iterator[Path]:
    """Yield a temporary path next to `path`; when the block ends without an error it replaces `path`.
    With `keep_previous_as`, the version being replaced stays under that name.

    For writers that want a file name; those that take a file object use `write_with`."""
    previous = Path(keep_previous_as) if keep_previous_as is not None else None
    with _replacing(Path(path), previous) as temporary:
        yield temporary
        _fsync_file(temporary)  # the data on disk before the name points at it


def write_with(path: str | os.PathLike, write: Callable[[IO[bytes]], Any],
               keep_previous_as: str | os.PathLike | None = None) -> None:
    """Call `write(file)` on a binary file that becomes `path` only once `write` has returned."""
    previous = Path(keep_previous_as) if keep_previous_as is not None else None
    with _replacing(Path(path), previous) as temporary:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_TRUNC)
        disk = _DiskFile(descriptor)
        try:
            # Buffered: torch.save writes a record at a time, a few bytes each for small ones.
            with io.BufferedWriter(disk, buffer_size=WRITE_BUFFER_BYTES) as file:
                write(file)  # type: ignore[arg-type]
                file.flush()
                os.fsync(descriptor)  # the data on disk before the name points at it
        except Exception as error:
            if disk.failure is not None and error is not disk.failure:
                # torch's writer turns a failed write into "unexpected pos 30 vs 0": name the disk's reason
                raise disk.failure from error
            raise
        finally:
            with contextlib.suppress(OSError):
                os.close(descriptor)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    write_with(path, lambda file: file.write(data))


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def torch_save(payload: Any, path: str | os.PathLike, keep_previous_as: str | os.PathLike | None = None) -> None:
    """torch.save(payload) to `path`, atomically; see `atomic_path` for `keep_previous_as`."""
    import torch  # only here: this module is imported by layers that must not pay for torch twice

    try:
        write_with(path, lambda file: torch.save(payload, file), keep_previous_as)
    except RuntimeError as error:  # torch's writer reports some failures of the file as a RuntimeError
        raise AtomicWriteError(Path(path), error) from error


def write_link(path: str | os.PathLike, source: str | os.PathLike) -> None:
    """Make `path` a symbolic link to `source` (a copy of it where the file system has no links), in
    place whole or not at all, as every other write: a cache of the user's files without a second copy."""
    with _replacing(Path(path), None) as temporary:
        temporary.unlink()  # the name is this process's own: mkstemp drew it at random
        try:
            temporary.symlink_to(Path(source).resolve())
        except OSError:
            shutil.copyfile(source, temporary)
            _fsync_file(temporary)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, *, keep_existing: bool = False) -> Iterator[Path]:
    """Yield an empty temporary directory next to `path`; when the block ends without an error it takes
    `path`'s place (the old directory is moved aside, the new one renamed in, then the old one removed).

    Between the two renames `path` is absent for an instant; a failure there puts the old one back, so
    only a crash at that instant leaves the previous version under `.NAME.old-*`, to be renamed back by
    hand. `keep_existing`: a cache's rule, where any whole copy will do: a `path` already there (another
    process finished first) stays, and the new one is dropped, so no reader ever sees it swapped."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        _give_usual_permissions(staging, directory=True)
    except OSError as error:
        raise AtomicWriteError(target, error) from error
    old = None
    try:
        yield staging
        for file in staging.rglob("*"):
            if file.is_file() and not file.is_symlink():
                _fsync_file(file)
        if keep_existing:
            _rename_unless_present(staging, target)
            return
        if target.exists():
            old = _sibling_name(target, "old")
            os.replace(target, old)
        os.replace(staging, target)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None and not target.exists():
            with contextlib.suppress(OSError):
                os.replace(old, target)
        if isinstance(error, OSError) and not isinstance(error, AtomicWriteError):
            raise AtomicWriteError(target, error) from error
        raise
    _fsync_directory(target.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _rename_unless_present(staging: Path, target: Path) -> None:
    """Rename `staging` to `target` unless a `target` is there (then drop `staging`). os.rename refuses
    to replace a directory that holds anything, so two processes cannot both put theirs in place."""
    try:
        os.rename(staging, target)
    except OSError:
        if not target.is_dir():
            raise
        shutil.rmtree(staging, ignore_errors=True)
        return
    _fsync_directory(target.parent)
