"""Named crash points for kill -9 tests of multi-write transactions.

A service calls :func:`crash_point` between the writes of one transaction. Normally it does
nothing. When ``NEXTBEST_CRASH_AT`` names that point, it writes the marker file named by
``NEXTBEST_CRASH_MARKER`` (proof that the writes before it happened, uncommitted) and then
blocks, so that a test can SIGKILL the process while the transaction is open.

The environment is read here, at the edge, only for this test hook: nothing else in the
process changes its behaviour because of these variables.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["CRASH_AT_ENV", "CRASH_MARKER_ENV", "crash_point"]

CRASH_AT_ENV = "NEXTBEST_CRASH_AT"
CRASH_MARKER_ENV = "NEXTBEST_CRASH_MARKER"
_BLOCK_SECONDS = 60.0


def crash_point(name: str) -> None:
    """Block here (after writing the marker) if ``NEXTBEST_CRASH_AT`` equals ``name``."""
    if os.environ.get(CRASH_AT_ENV) != name:
        return
    marker = os.environ.get(CRASH_MARKER_ENV)
    if marker:
        Path(marker).write_text(f"{name} {os.getpid()}\n")
    # waiting for SIGKILL; if none comes the request fails rather than commits
    time.sleep(_BLOCK_SECONDS)
    raise RuntimeError(f"crash point {name}: not killed within {_BLOCK_SECONDS:.0f} s")
