"""Every writer's building block: a failure half-way leaves the previous version whole."""

import pytest

from googlenet import atomic_files
from googlenet.atomic_files import AtomicWriteError, atomic_directory, write_text, write_with


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "metrics.json"
    write_text(target, "old")

    def half_then_crash(file):
        file.write(b"ne")
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        write_with(target, half_then_crash)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_an_os_error_names_the_path(tmp_path, monkeypatch):
    target = tmp_path / "checkpoint.pt"
    write_text(target, "old")

    def disk_full(descriptor, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_files.os, "write", disk_full)
    with pytest.raises(AtomicWriteError, match=r"cannot write .*checkpoint.pt: No space left on device"):
        write_text(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old"


def test_a_directory_is_swapped_whole(tmp_path):
    target = tmp_path / "model"
    with atomic_directory(target) as staging:
        (staging / "a").write_text("1")
    with pytest.raises(RuntimeError), atomic_directory(target) as staging:
        (staging / "a").write_text("2")
        raise RuntimeError("crash while writing the second file")
    assert (target / "a").read_text() == "1"
    with atomic_directory(target) as staging:
        (staging / "b").write_text("3")
    assert [p.name for p in target.iterdir()] == ["b"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_written_files_and_directories_get_the_usual_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        write_text(tmp_path / "f", "x")
        with atomic_directory(tmp_path / "d") as staging:
            (staging / "a").write_text("1")
    finally:
        os.umask(umask)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755


class CallOrder:
    """Records os.write/os.fsync/os.replace/os.rename in the order they happen, each with the files it
    touches as inode numbers (a name changes under a rename; the inode does not)."""

    def __init__(self, monkeypatch) -> None:
        import os

        self.calls: list[tuple[str, set[int]]] = []
        real = {name: getattr(os, name) for name in ("write", "fsync", "replace", "rename")}

        def files_under(path) -> set[int]:
            path = os.fspath(path)
            if os.path.isdir(path):
                return {os.stat(os.path.join(top, name)).st_ino for top, _, names in os.walk(path) for name in names}
            return {os.stat(path).st_ino}

        def by_descriptor(name):
            def call(descriptor, *args):
                self.calls.append((name, {os.fstat(descriptor).st_ino}))
                return real[name](descriptor, *args)
            return call

        def by_path(name):
            def call(source, destination, *args, **kwargs):
                self.calls.append((name, files_under(source)))
                return real[name](source, destination, *args, **kwargs)
            return call

        for name in ("write", "fsync"):
            monkeypatch.setattr(atomic_files.os, name, by_descriptor(name))
        for name in ("replace", "rename"):
            monkeypatch.setattr(atomic_files.os, name, by_path(name))

    def renamed_before_synced(self) -> list[int]:
        """The files that took their final name before their data was synced (none, for an atomic write)."""
        synced: set[int] = set()
        early = []
        for name, files in self.calls:
            if name == "fsync":
                synced |= files
            elif name in ("replace", "rename"):
                early += sorted(files - synced)
        return early


@pytest.mark.parametrize("writer", ["write_text", "torch_save", "atomic_path", "keep_previous", "atomic_directory"])
def test_every_file_is_synced_before_it_takes_its_name(writer, tmp_path, monkeypatch):
    # A rename that reaches the disk before the data leaves an empty or partial file under the final name
    # after a power cut: the data's fsync must come first (ext4's and XFS's documented hazard).
    from googlenet.atomic_files import atomic_path, torch_save

    target = tmp_path / "file"
    order = CallOrder(monkeypatch)
    write_text(target, "old")  # for keep_previous: the version kept under a second name, synced when written
    if writer == "write_text":
        write_text(target, "new")
    elif writer == "torch_save":
        torch_save({"weights": [1.0, 2.0]}, target)
    elif writer == "atomic_path":
        with atomic_path(target) as temporary:
            temporary.write_text("new")
    elif writer == "keep_previous":
        write_with(target, lambda file: file.write(b"new"), keep_previous_as=tmp_path / "previous")
    else:
        with atomic_directory(tmp_path / "folder") as staging:
            (staging / "a").write_text("1")
            (staging / "b").write_text("2")
    renames = [files for name, files in order.calls if name in ("replace", "rename")]
    assert renames and any(name == "fsync" for name, _ in order.calls), order.calls  # the test sees both
    assert order.renamed_before_synced() == [], order.calls


def test_a_cache_directory_keeps_the_first_whole_copy(tmp_path):
    # Two processes filling the same cache folder: the second's copy is dropped, the first never swapped
    # under a reader; nothing else is left behind.
    target = tmp_path / "extracted"
    with atomic_directory(target, keep_existing=True) as first, \
            atomic_directory(target, keep_existing=True) as second:
        (first / "a").write_text("first")
        (second / "a").write_text("second")
    assert (target / "a").read_text() == "second"  # the inner block ended first
    assert [path.name for path in tmp_path.iterdir()] == ["extracted"]
    with atomic_directory(target, keep_existing=True) as third:
        (third / "a").write_text("third")
    assert (target / "a").read_text() == "second"
    assert [path.name for path in tmp_path.iterdir()] == ["extracted"]


def test_a_link_is_put_in_place_whole(tmp_path):
    from googlenet.atomic_files import write_link

    source = tmp_path / "source.bin"
    source.write_bytes(b"data")
    write_text(tmp_path / "cache", "stale")
    write_link(tmp_path / "cache", source)
    assert (tmp_path / "cache").read_bytes() == b"data"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cache", "source.bin"]
