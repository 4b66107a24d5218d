"""`python -m tests.pipeline.worker_process START`: the real `worker` command in its own process,
on a clock that starts at START (ISO-8601) and runs at the wall clock's pace.

The clock reaches the worker through `main(argv, clock=...)`, the same door `create_app` has, so a
test that kills and restarts worker processes controls "now" as well as an in-process test does.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from integration.cli import main


def ticking_from(start: datetime) -> Callable[[], datetime]:
    """A clock at `start` now, advancing with the monotonic clock (leases still expire)."""
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


if __name__ == "__main__":
    sys.exit(main(["worker"], clock=ticking_from(datetime.fromisoformat(sys.argv[1]))))
