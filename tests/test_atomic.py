"""Atomic writes: all or nothing, with the permissions a plain open gives."""

import os
import stat

import pytest

from musictag.utils.atomic import atomic_open, atomic_path


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(target) as handle:
        handle.write("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["out.json"]


def test_written_files_get_the_umask_permissions_and_folders_are_made(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_open(tmp_path / "a" / "b.txt") as handle:
            handle.write("x")
        with atomic_path(tmp_path / "c.npy") as tmp:
            tmp.unlink()  # writers like safetensors make a new, owner-only file
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o600)
            os.close(fd)
    finally:
        os.umask(old)
    for path in (tmp_path / "a" / "b.txt", tmp_path / "c.npy"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(os.listdir(tmp_path)) == ["a", "c.npy"]
