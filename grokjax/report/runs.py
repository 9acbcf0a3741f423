"""What the report commands share: a finished run read and checked, its title, one member's
params.

Every view (`plot`, `probe`, `describe`, `collect`) reads runs through here or through
`grokjax.store`, so "which files a finished run has" and "which seed a figure shows" are each
decided once.
"""

from __future__ import annotations

import pathlib

import jax
import numpy as np

from grokjax.errors import GrokjaxError
from grokjax import run as run_lib
from grokjax.store import rundir

FINISHED = ("config.json", "history.npz", "summary.json")  # what a finished run has


def read_finished(run: str | pathlib.Path, command: str) -> dict:
    """A finished run's directory, config, history and summary; a one-line error naming the
    missing file otherwise (`command` says who needs it)."""
    run = rundir.require(run, FINISHED, use=(
        f"{command} needs a finished grokjax run (train it to its end, or resume it with "
        f"`grokjax train CONFIG --workdir {run}`)"))
    return {"dir": run, "cfg": rundir.read_json(run / "config.json"),
            "history": rundir.read_npz(run / "history.npz"),
            "summary": run_lib.read_summary(run)}


def title(cfg: dict, n: int, grid: dict | None = None) -> str:
    """'task add, p=97, r=0.3, 4 seeds' for a run of n members; for a grid run (its summary's
    'grid'), its axes instead of the values they replace, and the seeds per setting."""
    if not grid:
        return (f"task {cfg['task']}, p={cfg['p']}, r={cfg['train_fraction']}, "
                f"{n} seed{'s' * (n != 1)}")
    axes = grid["axes"]
    per = n // max(len(grid["cells"]), 1)
    task = "" if "task" in axes else f"task {cfg['task']}, "
    r = "" if "train_fraction" in axes else f", r={cfg['train_fraction']}"
    return (f"{task}p={cfg['p']}{r}, grid {' x '.join(axes)} "
            f"({len(grid['cells'])} settings x {per} seed{'s' * (per != 1)})")


def member_params(params, member_seeds: list[int], seed: int | None, where: str = "this run"
                  ) -> tuple[int, dict]:
    """(index, host params) of the member a figure shows: the first one of `seed` (default: the
    first member); a seed the run lacks is a one-line error."""
    if seed is not None and seed not in member_seeds:
        raise GrokjaxError(f"--seed {seed} is not a seed of {where} ({member_seeds})")
    i = member_seeds.index(seed) if seed is not None else 0
    return i, jax.tree.map(lambda x: np.asarray(x)[i], jax.device_get(params))
