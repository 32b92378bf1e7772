"""Whole-or-absent files: what a reader can see is always complete."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from veza.files import (
    copy_atomically,
    create_once,
    make_dirs,
    remove_temporary_files,
    write_atomically,
)


def test_write_atomically_replaces_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "playlist.m3u8"
    write_atomically(path, b"old")
    write_atomically(path, b"new contents")
    assert path.read_bytes() == b"new contents"
    assert os.listdir(tmp_path) == ["playlist.m3u8"]


def test_create_once_keeps_the_first_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    assert create_once(path, b"first") == b"first"
    assert create_once(path, b"second") == b"first"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["secret.key"]


def test_a_copy_interrupted_midway_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "upload.wav"
    source.write_bytes(os.urandom(3 << 20))
    destination = tmp_path / "track" / "original.wav"
    make_dirs(destination.parent)

    def interrupted(reader: object, writer: object, length: int = 0) -> None:
        raise KeyboardInterrupt  # as a crash or Ctrl-C in the middle of the copy would

    monkeypatch.setattr(shutil, "copyfileobj", interrupted)
    with pytest.raises(KeyboardInterrupt):
        copy_atomically(source, destination)
    assert os.listdir(destination.parent) == []
    monkeypatch.undo()
    assert copy_atomically(source, destination) == 3 << 20
    assert destination.read_bytes() == source.read_bytes()


def test_leftover_temporary_files_are_found_and_removed(tmp_path: Path) -> None:
    (tmp_path / "mp3_128").mkdir()
    (tmp_path / "mp3_128" / ".3.mp3.ab12cd34.tmp").write_bytes(b"half")
    (tmp_path / "mp3_128" / "2.mp3").write_bytes(b"whole")
    remove_temporary_files(tmp_path)
    assert os.listdir(tmp_path / "mp3_128") == ["2.mp3"]


def test_make_dirs_creates_every_missing_level(tmp_path: Path) -> None:
    make_dirs(tmp_path / "a" / "b" / "c")
    make_dirs(tmp_path / "a" / "b" / "c")
    assert (tmp_path / "a" / "b" / "c").is_dir()
