"""Tracks: ingest, catalogue rules, deletion, playback tokens and the transcode job kind."""

from veza.store.tracks import Track
from veza.tracks.cache import HlsCache
from veza.tracks.media import MediaLayout
from veza.tracks.service import HlsFile, HlsLocation, Playback, Tracks
from veza.tracks.tags import Tags
from veza.tracks.transcoding import TRANSCODE, TranscodeJobs

__all__ = [
    "TRANSCODE",
    "HlsCache",
    "HlsFile",
    "HlsLocation",
    "MediaLayout",
    "Playback",
    "Tags",
    "Track",
    "Tracks",
    "TranscodeJobs",
]
