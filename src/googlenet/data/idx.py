"""The MNIST family's IDX files: found (plain or gzipped), checked, and laid out as torchvision reads them.

torchvision's MNIST classes want `root/<Name>/raw/<uncompressed IDX files>`; files found elsewhere, or
gzipped, are staged that way in the cache folder (googlenet.data.cache).
"""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path
from typing import IO, TYPE_CHECKING

import torch

from googlenet.atomic_files import write_link, write_with
from googlenet.data.cache import DataFilesNotFound, cache_dir, fingerprint

if TYPE_CHECKING:
    from googlenet.data.builtin import BuiltinDataset

# MNIST family: IDX files (http://yann.lecun.com/exdb/mnist/ "FILE FORMATS"): a big-endian header of a magic
# number (0x0000, the element type 0x08 = unsigned byte, the number of dimensions) and one uint32 per
# dimension, then the elements.
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_root(spec: BuiltinDataset, data_dir: Path | None, download: bool) -> Path:
    """The root under which spec.dataset_class finds `<Name>/raw/<uncompressed IDX files>`."""
    folder = spec.dataset_class.__name__
    download_root = data_dir if data_dir is not None else cache_dir() / "downloads"
    if data_dir is not None:
        places = [data_dir, data_dir / folder / "raw"]
    else:
        places = [Path(spec.system_dir)] if spec.system_dir else []
        places.append(download_root / folder / "raw")
    for place in places:
        found = _find_idx_files(place)
        if found is None:
            continue
        if place == download_root / folder / "raw" and all(path.suffix != ".gz" for path in found.values()):
            root = download_root  # already torchvision's layout
        else:
            root = _stage_idx_files(found, folder)
        _check_idx_files(root / folder / "raw", found)
        return root
    if download:
        spec.dataset_class(str(download_root), train=True, download=True)
        raw = download_root / folder / "raw"
        _check_idx_files(raw, {name: raw / name for name in IDX_FILES})
        return download_root
    raise DataFilesNotFound(places)


def _find_idx_files(place: Path) -> dict[str, Path] | None:
    """The four IDX files in `place` (plain preferred to gzipped), None if none is there; an error naming
    the missing ones if only some are."""
    found = {}
    for name in IDX_FILES:
        for candidate in (place / name, place / f"{name}.gz"):
            if candidate.is_file():
                found[name] = candidate
                break
    if not found:
        return None
    missing = [name for name in IDX_FILES if name not in found]
    if missing:
        raise FileNotFoundError(f"{place} holds only some of the IDX files; missing: {', '.join(missing)} (or .gz)")
    return found


def _stage_idx_files(found: dict[str, Path], folder: str) -> Path:
    """Lays `found` out as torchvision wants them, <cache>/idx/<key>/<folder>/raw/<name>: gzipped files
    decompressed, plain ones linked. The key changes with the files' paths, sizes and times, so replaced
    files are staged afresh; each file appears whole (atomic_files), so that processes loading at the
    same time (torchrun) never read a half-written one."""
    files = sorted((name, fingerprint(path)) for name, path in found.items())
    key = hashlib.sha256(repr((folder, files)).encode()).hexdigest()[:16]
    root = cache_dir() / "idx" / key
    raw = root / folder / "raw"
    for name, source in found.items():
        target = raw / name
        if target.exists():
            continue
        if source.suffix == ".gz":
            write_with(target, lambda file, source=source: _decompress(source, file))
        else:
            write_link(target, source)
    return root


def _decompress(source: Path, file: IO[bytes]) -> None:
    """`source` gunzipped into `file`. A damaged archive is a ValueError naming it; a failed write stays
    the OSError that atomic_files names the cache file by."""
    with gzip.open(source) as compressed:
        while True:
            try:
                chunk = compressed.read(1 << 20)
            except (OSError, EOFError) as error:  # gzip.BadGzipFile is an OSError; a cut-off file ends in EOFError
                raise ValueError(f"{source}: cannot be read as a gzip file ({error}); the file is damaged") from None
            if not chunk:
                return
            file.write(chunk)


def _check_idx_files(raw: Path, sources: dict[str, Path]) -> None:
    """Magic numbers, sizes and matching counts of the four files, so that a damaged file is named here
    rather than failing inside torchvision. `sources` maps each name to the user's file, for messages."""
    for split in ("train", "t10k"):
        images_name, labels_name = f"{split}-images-idx3-ubyte", f"{split}-labels-idx1-ubyte"
        image_dims = _idx_dims(raw / images_name, sources[images_name], dimensions=3)
        label_dims = _idx_dims(raw / labels_name, sources[labels_name], dimensions=1)
        if image_dims[0] != label_dims[0]:
            raise ValueError(
                f"{sources[images_name]} holds {image_dims[0]} images but {sources[labels_name]} holds "
                f"{label_dims[0]} labels; the counts must match"
            )


def _idx_dims(path: Path, shown: Path, dimensions: int) -> tuple[int, ...]:
    expected_magic = 0x0800 + dimensions  # unsigned bytes
    header_size = 4 * (1 + dimensions)
    with open(path, "rb") as file:
        header = file.read(header_size)
    if len(header) < header_size:
        raise ValueError(f"{shown}: {len(header)} bytes, too short for an IDX header; the file is damaged")
    magic, *dims = struct.unpack(f">{1 + dimensions}I", header)
    if magic != expected_magic:
        raise ValueError(
            f"{shown}: magic number 0x{magic:08x}, expected 0x{expected_magic:08x} "
            f"(an IDX file of {dimensions}-d unsigned bytes); wrong or damaged file"
        )
    expected_size = header_size + int(torch.tensor(dims).prod())
    actual_size = path.stat().st_size
    if actual_size != expected_size:
        shape = "x".join(map(str, dims))
        raise ValueError(
            f"{shown}: its header describes {shape} values ({expected_size} bytes with the header) but it "
            f"holds {actual_size} bytes; the file is {'truncated' if actual_size < expected_size else 'damaged'}"
        )
    return tuple(dims)
