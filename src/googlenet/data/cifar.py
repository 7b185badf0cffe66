"""CIFAR-10/100's python archives: extracted once into the cache folder, safely."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import tarfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from googlenet.atomic_files import atomic_directory
from googlenet.data.cache import DataFilesNotFound, cache_dir, fingerprint

if TYPE_CHECKING:
    from googlenet.data.builtin import BuiltinDataset

def cifar_root(spec: BuiltinDataset, data_dir: Path | None, download: bool) -> Path:
    """The root under which spec.dataset_class finds its extracted folder (cifar-10-batches-py/ ...)."""
    dataset_class = spec.dataset_class
    root = data_dir if data_dir is not None else cache_dir() / "downloads"
    if (root / dataset_class.base_folder).is_dir():
        return root
    archive = root / dataset_class.filename
    if archive.is_file():
        return _extract_to_cache(archive, dataset_class.base_folder)
    if download:  # torchvision checks the archive's published md5 before it extracts it
        dataset_class(str(root), train=True, download=True)
        return root
    raise DataFilesNotFound([root])


class UnsafeArchiveError(ValueError):
    """An archive member would be written outside the extraction folder, or is a link or device file."""


def extract_tar_safely(archive: Path, destination: Path) -> None:
    """Extract a tar archive into `destination`: plain files and folders only, each inside `destination`.
    Any link, device file, absolute path or ../ path refuses the whole archive before anything is written.

    Done here rather than by tarfile's `data` filter (PEP 706), which came in a patch release (3.11.4; Debian
    12's 3.11.2 lacks it) and accepts links that stay inside and absolute paths (rewritten as relative): the
    same archive must be refused or accepted on every Python the package supports."""
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for member in members:
            _check_member(archive, member, destination)
        for member in members:
            target = destination / member.name
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as source, open(target, "wb") as written:  # type: ignore[union-attr]
                shutil.copyfileobj(source, written)


def _check_member(archive: Path, member: tarfile.TarInfo, destination: Path) -> None:
    if not (member.isfile() or member.isdir()):
        raise UnsafeArchiveError(f"{archive}: refused to extract: {member.name!r} is a link or a special file")
    target = (destination / member.name).resolve()
    if member.name.startswith(("/", "\\")) or not target.is_relative_to(destination.resolve()):
        raise UnsafeArchiveError(
            f"{archive}: refused to extract: {member.name!r} would be written outside {destination}"
        )


def _extract_to_cache(archive: Path, folder: str) -> Path:
    key = hashlib.sha256(repr(fingerprint(archive)).encode()).hexdigest()[:16]
    root = cache_dir() / "extracted" / key
    if (root / folder).is_dir():
        return root
    # Whole or not at all, and the first whole copy stays: a concurrent or interrupted extraction never
    # leaves a partial folder, nor swaps one under a process reading it.
    with atomic_directory(root, keep_existing=True) as staging:
        try:
            extract_tar_safely(archive, staging)
        # What reading a damaged archive raises (a cut-off .gz ends in EOFError); a failed write is left to
        # atomic_directory, which names the cache folder it could not write.
        except (EOFError, tarfile.TarError, gzip.BadGzipFile, zlib.error) as error:
            raise ValueError(f"{archive}: cannot be extracted ({error}); the archive is damaged") from error
        if not (staging / folder).is_dir():
            raise ValueError(f"{archive}: has no {folder}/ folder inside; not the right archive")
    return root
