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


def test_output_to_dev_null_fifo_and_symlink_writes_through_them(tmp_path, tiny_model_dir, capsys):
    """Defect 1 (sweep round 2): ``-o`` replaced special files, pipes and links instead of writing to them."""
    import threading

    import soundfile as sf

    from musictag.cli.main import main

    from conftest import music_like

    song = tmp_path / "song.wav"
    sf.write(song, music_like(4.0, 16000), 16000)
    tag = ("tag", str(song), "--model", str(tiny_model_dir), "--format", "csv", "-o")
    # a character device is written to, not replaced: a null device of our own where we may make one
    # (never the system's /dev/null, which a failing run would replace)
    device = null_device(tmp_path)
    assert main([*tag, str(device)]) == 0
    assert stat.S_ISCHR(os.lstat(device).st_mode)
    # a fifo: the reader gets the whole output
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    assert main([*tag, str(fifo)]) == 0
    reader.join(timeout=60)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and received[0].startswith("path,")
    # a symbolic link stays a link and its target gets the output
    target, link = tmp_path / "real.csv", tmp_path / "link.csv"
    target.write_text("old")
    link.symlink_to(target)
    assert main([*tag, str(link)]) == 0
    assert link.is_symlink() and target.read_text().startswith("path,")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "null", "out.fifo", "real.csv", "song.wav"]
    # embed and models export write through links too
    npz_target, npz_link = tmp_path / "e.npz", tmp_path / "e-link.npz"
    npz_link.symlink_to(npz_target)
    assert main(["embed", str(song), "--model", str(tiny_model_dir), "-o", str(npz_link)]) == 0
    assert npz_link.is_symlink() and npz_target.stat().st_size > 0
    capsys.readouterr()


def test_atomic_path_into_a_device_copies_the_written_file(tmp_path):
    device = null_device(tmp_path)
    with atomic_path(device) as tmp:
        tmp.write_bytes(b"x" * 100)
    assert stat.S_ISCHR(os.lstat(device).st_mode) and not tmp.exists()


def null_device(folder):
    """A character device like /dev/null in ``folder`` (root only: mknod)."""
    if os.geteuid() != 0:
        pytest.skip("making a device file needs root")
    device = folder / "null"
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return device
