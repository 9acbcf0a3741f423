"""Progress of a training run: a tqdm bar on a terminal, plain lines elsewhere.

It starts once the run's programs are compiled (grokjax.run says when, and how long that
took); a run's first piece is short (a tenth of `train.chunk_steps`), so the first progress
follows within seconds. Both show the step out of the total, steps per second, the median
(over members) of the train and test accuracy (mean over tasks; healthy members), how many
members have memorised and grokked (and diverged, once one has), and the ETA. The loop reports
every piece it dispatches (about two seconds of training, grokjax.run), so the bar moves while
a long chunk runs. Without a terminal (CI, batch jobs) a line is printed with the first
progress, then at most every `interval` seconds, and at the end.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from tqdm.auto import tqdm

from grokjax.summary import finite_median


def _fmt_time(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    def __init__(self, total: int, start: int = 0, *, enabled: bool = True, interval: float = 30.0,
                 stream=None):
        self.total, self.step, self.start = total, start, start
        self.stream = stream or sys.stderr
        self.enabled, self.interval = enabled, interval
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = self.t_run = self.last_print = time.perf_counter()  # (after the compile)
        self.bar = tqdm(total=total, initial=start, file=self.stream, dynamic_ncols=True,
                        unit="step") if self.tty else None
        self.postfix = ""
        self.reported = False  # whether a progress line was printed yet (without a terminal)

    def update(self, step: int, train_acc: np.ndarray, test_acc: np.ndarray,
               memorised: int, grokked: int, n_members: int, diverged: int = 0) -> None:
        """Accuracies are per member (mean over tasks; NaN for a diverged member, left out of
        the median); counts are members so far."""
        train, test = finite_median(train_acc), finite_median(test_acc)
        self.postfix = (f"train {train:.3f} test {test:.3f} "
                        f"memorised {memorised}/{n_members} grokked {grokked}/{n_members}"
                        + (f" diverged {diverged}/{n_members}" if diverged else ""))
        if self.bar is not None:
            self.bar.update(step - self.step)
            self.bar.set_postfix_str(self.postfix)
        self.step = step
        now = time.perf_counter()
        if self.enabled and not self.tty and (now - self.last_print >= self.interval
                                              or step >= self.total or not self.reported):
            self.last_print, self.reported = now, True
            print(self.line(), file=self.stream, flush=True)

    def line(self) -> str:
        now = time.perf_counter()
        elapsed, running = now - self.t0, now - self.t_run
        rate = (self.step - self.start) / running if running > 0 else 0.0
        eta = (self.total - self.step) / rate if rate > 0 else float("nan")
        eta_s = _fmt_time(eta) if np.isfinite(eta) else "?"
        return (f"step {self.step}/{self.total} ({rate:.1f} steps/s, elapsed "
                f"{_fmt_time(elapsed)}, eta {eta_s}) {self.postfix}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
