"""sync_to_disk: a finished file and its folder are fsynced; a missing file is left alone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ivr.adapters.storage import durable


def test_fsyncs_the_file_and_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "rec.wav"
    target.write_bytes(b"RIFF")
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(durable.os, "fsync", spy)
    durable.sync_to_disk(target)
    assert synced == [str(target), str(tmp_path)]


def test_a_missing_file_is_a_no_op(tmp_path: Path) -> None:
    durable.sync_to_disk(tmp_path / "never-recorded.wav")
