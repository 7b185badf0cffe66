"""Where staged, extracted and downloaded data set files go: $GOOGLENET_CACHE, else the user's cache folder."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "GOOGLENET_CACHE"


def cache_dir() -> Path:
    """$GOOGLENET_CACHE, else $XDG_CACHE_HOME/googlenet, else ~/.cache/googlenet."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "googlenet"


def fingerprint(path: Path) -> tuple[str, int, int]:
    """(resolved path, size, modification time): changes when a file is replaced, so caches keyed on it
    are rebuilt."""
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


class DataFilesNotFound(FileNotFoundError):
    """A built-in data set's files are in none of the places looked in (`looked_in`)."""

    def __init__(self, looked_in: list[Path]) -> None:
        super().__init__(f"not found in {', '.join(map(str, looked_in))}")
        self.looked_in = looked_in
