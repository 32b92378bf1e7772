"""Veza: a self-hosted platform for listening to audio together."""

__version__ = "0.1.0"
