"""The pure audio pipeline: numpy arrays and bytes in, bytes out (no network, database or trio)."""
