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
