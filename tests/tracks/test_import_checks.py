"""`veza import` checks each file as an upload is checked: what is not audio is refused with
one line, the other files of the same command are imported, and the exit status says that
something was refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.process import run_veza
from tests.support.tracks import write_music


@pytest.mark.slow
def test_import_refuses_what_is_not_audio_one_line_each_and_imports_the_rest(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    first = write_music(tmp_path / "first.wav", 2)
    elf = tmp_path / "program.mp3"
    shutil.copyfile("/bin/true", elf)
    notes = tmp_path / "notes.mp3"
    notes.write_text("these are my notes, not music\n" * 200)
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    last = write_music(tmp_path / "last.flac", 2)

    done = run_veza("import", "--data-dir", str(data), *map(str, (first, elf, notes, empty, last)))

    assert done.returncode == 1, done.stderr
    said = [line for line in done.stderr.splitlines() if line.startswith("veza: ")]
    assert said[0] == f"veza: data in {data.resolve()}"
    assert said[1:] == [
        f"veza: {elf}: not an audio file we can read",
        f"veza: {notes}: not an audio file we can read",
        f"veza: {empty}: the file is empty",
    ], done.stderr
    queued = [line for line in done.stdout.splitlines() if "queued for transcoding" in line]
    assert [line.split("  ")[1] for line in queued] == ["first", "last"]
    assert len(list((data / "media").iterdir())) == 2


@pytest.mark.slow
def test_import_of_audio_alone_exits_zero(tmp_path: Path) -> None:
    done = run_veza(
        "import", "--data-dir", str(tmp_path / "data"), str(write_music(tmp_path / "a.wav", 1))
    )
    assert done.returncode == 0, done.stderr
    assert "queued for transcoding" in done.stdout
