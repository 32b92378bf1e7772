"""Tags: what a file says of itself, and what a client may give."""

from __future__ import annotations

from pathlib import Path

import mutagen
import numpy as np
import pytest
import soundfile as sf

from veza.errors import ValidationFailed
from veza.tracks.tags import checked_tag, read_tags


def test_tags_found_in_a_file_keep_only_printable_text(tmp_path: Path) -> None:
    path = tmp_path / "tagged.flac"
    sf.write(path, np.zeros((4410, 2), np.float32), 44100)
    tagged = mutagen.File(path)
    tagged["title"] = "Nul\x00and\ttab"
    tagged.save()
    assert read_tags(path).title == "Nul and tab"


def test_a_tag_from_a_client_is_trimmed_bounded_and_printable() -> None:
    assert checked_tag("title", "  Song  ") == "Song"
    for bad in ("x" * 501, "a\x00b", "line\nbreak"):
        with pytest.raises(ValidationFailed, match="title"):
            checked_tag("title", bad)
