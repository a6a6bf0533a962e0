"""Export folders on disk: readable by other users once published, and no stale temp folders left behind."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

from trainer.export import layout


def test_a_published_version_is_readable_by_other_users(tmp_path):
    previous = os.umask(0o022)
    try:
        temp_dir = layout.make_temp_dir(tmp_path / "model")
        (temp_dir / "saved_model.pb").write_bytes(b"x")
        published = layout.publish(temp_dir, 1)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(published.stat().st_mode) == 0o755
    assert stat.S_IMODE((published / "saved_model.pb").stat().st_mode) == 0o644


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_new_export_removes_temp_folders_whose_writer_died_and_keeps_live_ones(tmp_path):
    model = tmp_path / "model"
    dead = model / f"{layout.TEMP_PREFIX}{dead_pid()}-abc"
    live = model / f"{layout.TEMP_PREFIX}{os.getppid()}-def"
    old_unowned = model / f"{layout.TEMP_PREFIX}xyz"
    new_unowned = model / f"{layout.TEMP_PREFIX}uvw"
    for folder in (dead, live, old_unowned, new_unowned):
        folder.mkdir(parents=True)
    long_ago = time.time() - layout.UNOWNED_TEMP_STALE_SECONDS - 60
    os.utime(old_unowned, (long_ago, long_ago))
    fresh = layout.make_temp_dir(model)
    assert not dead.exists() and not old_unowned.exists()
    assert live.exists() and new_unowned.exists() and fresh.exists()
    assert fresh.name.startswith(f"{layout.TEMP_PREFIX}{os.getpid()}-")
