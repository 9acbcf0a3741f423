"""The local backend: a sweep's runs trained here, one after another or `--jobs N` at a time,
stage by stage; each run's output goes to ROOT/logs/NAME.log.

Ctrl-C or SIGTERM reaches the sweep alone (each run trains in a session of its own, so a
terminal's Ctrl-C does not reach it twice), which passes it on to every run in flight: each
stops after its piece in flight with a checkpoint, as `grokjax train` does, and no further run
starts. A second signal is passed on too, and quits the runs at once.
"""

from __future__ import annotations

import concurrent.futures
import os
import pathlib
import signal
import subprocess
import sys
import threading

from grokjax import signals
from grokjax.errors import BUSY_EXIT
from grokjax.launch import sweep as sweep_lib
from grokjax.launch.sweep import Print


class _Forward(signals.Handled):
    """While a sweep trains here: the runs in flight, and the first SIGINT or SIGTERM (its
    number, `signum`), passed on to each of them; once it has come, no run starts. A second
    signal is passed on as well."""

    def __init__(self):
        super().__init__()
        self.signum: int | None = None
        self._live: set[subprocess.Popen] = set()
        self._lock = threading.Lock()

    def _handle(self, signum: int, frame) -> None:
        again = self.signum is not None
        self.signum = self.signum or signum
        with self._lock:
            live = list(self._live)
        for proc in live:
            proc.send_signal(signum)  # a no-op for a run that has just ended
        print(f"grokjax sweep: {signal.Signals(signum).name}"
              + (" again: passed on; the runs in flight quit now" if again else
                 f": passed on to the {len(live)} run{'' if len(live) == 1 else 's'} in flight, "
                 "which stop after their piece in flight with a checkpoint; no further run "
                 "starts (send it again to quit them at once)"), file=sys.stderr, flush=True)

    def start(self, command: list[str], **kwargs) -> subprocess.Popen | None:
        """`command` started in a session of its own and followed, unless a signal came
        first (None)."""
        with self._lock:
            if self.signum is not None:
                return None
            proc = subprocess.Popen(command, start_new_session=True, **kwargs)
            self._live.add(proc)
        return proc

    def wait(self, proc: subprocess.Popen) -> int:
        rc = proc.wait()
        with self._lock:
            self._live.discard(proc)
        return rc


def run_local(everything: list[sweep_lib.Planned], todo: list[sweep_lib.Planned],
              root: pathlib.Path, jobs: int = 1, echo: Print = print) -> dict:
    """Trains the runs of `todo` that are not finished here, stage by stage, `jobs` at a time;
    a stage starts only once every earlier run of the sweep (`everything`) has finished.
    Returns counts, the names of failed runs (their logs are in ROOT/logs) and, where a signal
    stopped the sweep, its number (`stopped`; the module's docstring)."""
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    # several runs at once on one GPU: each takes the memory it needs, not 75% of it
    env = dict(os.environ, **({"XLA_PYTHON_CLIENT_PREALLOCATE": "false"} if jobs > 1 else {}))
    done = {"finished": 0, "skipped": 0, "failed": [], "stopped": None}
    with _Forward() as forward:
        _stages(everything, todo, logs, jobs, env, forward, done, echo)
    done["stopped"] = forward.signum
    return done


def _stages(everything, todo, logs: pathlib.Path, jobs: int, env: dict, forward: _Forward,
            done: dict, echo: Print) -> None:
    def one(p: sweep_lib.Planned) -> tuple[str, str]:
        st = sweep_lib.state(p)
        if st in ("finished", "running"):
            return p.name, f"skip ({'finished' if st == 'finished' else 'running elsewhere'})"
        log = logs / (p.name.replace("/", "__") + ".log")
        with open(log, "a") as f:
            proc = forward.start(p.command(), stdout=f, stderr=subprocess.STDOUT, env=env)
            if proc is None:
                return p.name, "not started (the sweep was stopped)"
            rc = forward.wait(proc)
        if rc == BUSY_EXIT:
            return p.name, "skip (running elsewhere)"
        if forward.signum is not None and rc in (128 + signal.SIGINT, 128 + signal.SIGTERM):
            return p.name, (f"stopped (exit {rc}; the same command resumes it from its last "
                            f"checkpoint; see {log})")
        return p.name, ("finished" if rc == 0 else f"FAILED (exit {rc}; see {log})")

    for stage in sweep_lib.stages(todo):
        if forward.signum is not None:
            return
        # what this stage and the later ones need is finished by now, or still to come (an
        # earlier run skipped as trained elsewhere is neither: stop, naming it)
        sweep_lib.check_order(everything, [p for p in todo if p.stage >= stage[0].stage])
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for name, outcome in pool.map(one, stage):
                echo(f"{name}: {outcome}")
                if outcome.startswith("skip"):
                    done["skipped"] += 1
                elif outcome == "finished":
                    done["finished"] += 1
                elif not outcome.startswith(("stopped", "not started")):
                    done["failed"].append(name)
        if done["failed"]:  # a later stage needs this one's runs
            return
