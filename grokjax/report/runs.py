"""What the report commands share: a finished run opened and checked, its title, one member's
params and task, the latest probe report, and how tables write phases and key frequencies.

Every view (`plot`, `probe`, `describe`, `collect`, `report`, `circuits`) opens runs with
`grokjax.saved.open_run` (here, `read_finished`, for the views that need a finished run), so
"which files a finished run has" and "which seed a figure shows" are each decided once.
"""

from __future__ import annotations

import pathlib

import jax
import numpy as np

from grokjax.errors import GrokjaxError
from grokjax.saved import SavedRun, open_run
from grokjax.store import files
from grokjax.summary import n_members
# One seed's phases as the tables name them: (label, summary.phases' key).
PHASES = (("memorised", "memorisation_end"), ("circuit formed", "circuit_formation_end"),
          ("cleaned up", "cleanup_end"))


def read_finished(run: str | pathlib.Path, command: str) -> SavedRun:
    """A finished run, opened; a one-line error naming the missing file otherwise (`command`
    says who needs it)."""
    return open_run(run, use=f"{command} needs a finished grokjax run").require_finished(command)


def run_title(run: SavedRun) -> str:
    """`title` of a finished run."""
    return title(run.config, n_members(run.summary), run.summary.get("grid"))


def seeds_text(n: int) -> str:
    """'1 seed', '3 seeds'."""
    return f"{n} seed{'s' * (n != 1)}"


def title(cfg: dict, n: int, grid: dict | None = None) -> str:
    """'task add, p=97, r=0.3, 4 seeds' for a run of n members; for a grid run (its summary's
    'grid'), its axes instead of the values they replace, and the seeds per setting."""
    if not grid:
        return (f"task {cfg['task']}, p={cfg['p']}, r={cfg['train_fraction']}, "
                f"{seeds_text(n)}")
    axes = grid["axes"]
    per = n // max(len(grid["cells"]), 1)
    task = "" if "task" in axes else f"task {cfg['task']}, "
    r = "" if "train_fraction" in axes else f", r={cfg['train_fraction']}"
    return (f"{task}p={cfg['p']}{r}, grid {' x '.join(axes)} "
            f"({len(grid['cells'])} settings x {seeds_text(per)})")


def member_params(params, member_seeds: list[int], seed: int | None, where: str = "this run"
                  ) -> tuple[int, dict]:
    """(index, host params) of the member a figure shows: the first one of `seed` (default: the
    first member); a seed the run lacks is a one-line error."""
    if seed is not None and seed not in member_seeds:
        raise GrokjaxError(f"--seed {seed} is not a seed of {where} ({member_seeds})")
    i = member_seeds.index(seed) if seed is not None else 0
    return i, jax.tree.map(lambda x: np.asarray(x)[i], jax.device_get(params))


def member_task(task: str, entry: dict) -> str:
    """A member's task (a summary's seed entry): its grid setting's, or the run's `task`."""
    return str(entry.get("hparams", {}).get("task", task))


def latest_probe_report(out_dir: str | pathlib.Path, step: int | None = None
                        ) -> tuple[int, pathlib.Path] | None:
    """(step, path) of the report `grokjax probe` left in `out_dir`: report-step<step>.json,
    or the latest step's; None if there is none."""
    found = {}
    for f in pathlib.Path(out_dir).iterdir() if pathlib.Path(out_dir).is_dir() else ():
        at = files.probe_report_step(f)
        if at is not None:
            found[at] = f
    step = max(found, default=None) if step is None else step
    return (step, found[step]) if step in found else None


def phase_cells(phases: dict | None) -> list[str]:
    """One seed's phase steps in the order of PHASES ('-': not reached)."""
    phases = phases or {}
    return ["-" if phases.get(key) is None else str(phases[key]) for _, key in PHASES]


def freqs_text(freqs: list[int] | None) -> str:
    """Key frequencies in a table: '1,9,13'; 'none' for an empty list; '-' unknown."""
    if freqs is None:
        return "-"
    return ",".join(map(str, freqs)) if freqs else "none"
