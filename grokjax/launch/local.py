"""The local backend: a sweep's runs trained here, one after another or `--jobs N` at a time,
stage by stage; each run's output goes to ROOT/logs/NAME.log.
"""

from __future__ import annotations

import concurrent.futures
import os
import pathlib
import subprocess

from grokjax.errors import BUSY_EXIT
from grokjax.launch import sweep as sweep_lib
from grokjax.launch.sweep import Print


def run_local(everything: list[sweep_lib.Planned], todo: list[sweep_lib.Planned],
              root: pathlib.Path, jobs: int = 1, echo: Print = print) -> dict:
    """Trains the runs of `todo` that are not finished here, stage by stage, `jobs` at a time;
    a stage starts only once every earlier run of the sweep (`everything`) has finished.
    Returns counts and the names of failed runs (their logs are in ROOT/logs)."""
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    # several runs at once on one GPU: each takes the memory it needs, not 75% of it
    env = dict(os.environ, **({"XLA_PYTHON_CLIENT_PREALLOCATE": "false"} if jobs > 1 else {}))
    done = {"finished": 0, "skipped": 0, "failed": []}

    def one(p: sweep_lib.Planned) -> tuple[str, str]:
        st = sweep_lib.state(p)
        if st in ("finished", "running"):
            return p.name, f"skip ({'finished' if st == 'finished' else 'running elsewhere'})"
        log = logs / (p.name.replace("/", "__") + ".log")
        with open(log, "a") as f:
            rc = subprocess.run(p.command(), stdout=f, stderr=subprocess.STDOUT,
                                env=env).returncode
        if rc == BUSY_EXIT:
            return p.name, "skip (running elsewhere)"
        return p.name, ("finished" if rc == 0 else f"FAILED (exit {rc}; see {log})")

    for stage in sweep_lib.stages(todo):
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
                else:
                    done["failed"].append(name)
        if done["failed"]:  # a later stage needs this one's runs
            break
    return done
