"""The signals a long command answers, SIGINT (Ctrl-C) and SIGTERM (`kill`, a batch system):
`Handled`, a context that routes them to its `_handle` while it is open and puts the previous
handlers back when it closes. `grokjax train` stops after its piece in flight
(grokjax.run), `grokjax sweep` passes them on to its runs (grokjax.launch.local).
"""

from __future__ import annotations

import signal
import threading


class Handled:
    """SIGINT and SIGTERM go to `_handle(signum, frame)` while the context is open. Signals
    reach only the main thread: opened elsewhere (a test's thread), it handles none."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self._previous: dict = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)

    def _handle(self, signum: int, frame) -> None:
        raise NotImplementedError
