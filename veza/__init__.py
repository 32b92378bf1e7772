"""Veza: a self-hosted platform for listening to audio together."""

import os

# Set before numpy loads OpenBLAS (Veza imports numpy only below this package): Veza runs its
# numpy work in worker threads of its own, and OpenBLAS's pool only spins beside them. Its idle
# thread alone cost 0.08 s of CPU at every process start (`python -c "import numpy"`: 0.14 s
# of CPU against 0.06 s with one thread), and more in products big enough to share.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
