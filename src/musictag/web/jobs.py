"""One model job at a time, with a bounded queue: a request that would wait beyond it is refused (429)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class QueueFull(Exception):
    """More requests are waiting for the model than the queue holds."""


class JobGate:
    """Runs one job at a time; at most ``queue`` more may wait for their turn."""

    def __init__(self, queue: int):
        self.queue = queue
        self._run = threading.Lock()
        self._count = threading.Lock()
        self._waiting = 0

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for the model (raises :class:`QueueFull` when too many wait), then hold it."""
        with self._count:
            if self._waiting >= self.queue + 1:  # the one running counts too
                raise QueueFull(f"{self._waiting - 1} requests are already waiting for the model; try again soon")
            self._waiting += 1
        try:
            with self._run:
                yield
        finally:
            with self._count:
                self._waiting -= 1
