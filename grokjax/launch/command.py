"""`grokjax sweep FILE`: a sweep planned, checked and handed to a backend.

The dry run of the local backend prints each run's stage, state and command; every other launch
first records the runs in ROOT/sweep.json (which `grokjax collect` reads), then trains them
here, submits them to SLURM or starts them on a TPU pod.
"""

from __future__ import annotations

import pathlib
import signal
from typing import Sequence

from grokjax import config as config_lib
from grokjax.errors import GrokjaxError
from grokjax.launch import local, slurm, sweep, tpu
from grokjax.launch.sweep import Print


def default_root(spec: str) -> pathlib.Path:
    """runs/<sweep name>: 'experiments/sweep_transfer.py:scratch' -> runs/transfer-scratch."""
    return pathlib.Path("runs") / config_lib.spec_name(spec)


def run(spec: str, *, backend: str = "local", root: str | None = None, dry_run: bool = False,
        only: str | None = None, extra: Sequence[str] = (), seeds: int | None = None,
        seeds_per_task: int = 0, jobs: int = 1, slurm_options: dict | None = None,
        tpu_options: dict | None = None, submit: bool = False, echo: Print = print) -> int:
    """Plans the sweep `spec` under `root` (default `default_root`) and launches it; returns
    the exit status (1 when a local run failed, 128 + the signal when one stopped it)."""
    if seeds_per_task < 0 or jobs < 1:
        raise GrokjaxError("--seeds-per-task must be >= 0 and --jobs >= 1")
    _, runs = sweep.load(spec)
    name = default_root(spec).name
    where = pathlib.Path(root) if root else default_root(spec)
    if backend != "tpu":  # a TPU pod's root is a path on its workers
        where = where.absolute()
    everything = sweep.plan(runs, where, extra=extra, seeds=seeds, seeds_per_task=seeds_per_task)
    planned = sweep.select(everything, only)
    if backend == "local" and dry_run:
        sweep.check_order(everything, planned)
        for p in planned:
            echo(f"[stage {p.stage}] {sweep.state(p):>8}  {p.shell()}")
        return 0
    target = None
    if backend == "tpu":
        options = dict(tpu_options or {})
        if not (options.get("name") and options.get("zone")):
            raise GrokjaxError("--backend tpu needs --tpu NAME and --zone ZONE (the TPU VM pod)")
        target = tpu.TpuTarget(**{k: v for k, v in options.items() if v is not None})
    if not dry_run:
        sweep.write_manifest(where, spec, planned, {"backend": backend})
    if backend == "local":
        done = local.run_local(everything, planned, where, jobs, echo)
        echo(f"{done['finished']} trained, {done['skipped']} skipped, {len(done['failed'])} "
             f"failed or not started; the table: grokjax collect {where}")
        if done["stopped"]:
            echo(f"stopped by {signal.Signals(done['stopped']).name}; the same command "
                 "resumes the sweep")
            return 128 + done["stopped"]
        return 1 if done["failed"] else 0
    if backend == "slurm":
        options = dict(slurm_options or {})
        prof = slurm.SlurmProfile.load(options.pop("profile", None), **options)
        out = slurm.submit_slurm(everything, planned, where, name, prof, dry_run, echo)
    else:
        out = tpu.launch_tpu(everything, planned, where, target, dry_run, submit, echo)
    if not dry_run and out["runs"]:
        echo(f"when it is done: grokjax collect {where}")
    return 0
