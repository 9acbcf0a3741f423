"""Sweeps as code: a sweep file lists its runs; this module turns them into `grokjax train`
commands, knows which are finished, and keeps the sweep's manifest.

A sweep file (experiments/sweep_*.py) defines `get_runs(arg=None) -> list[Run]`:

    from grokjax.launch.sweep import Run

    def get_runs(arg=None):
        return [Run(f"{task}/r{r}", f"configs/polynomials.py:{task}", {"train_fraction": r},
                    seeds=3) for task in ("x2_y2", "x_x_y") for r in (0.3, 0.5)]

Each run is an ordinary run directory, ROOT/NAME. A run's `stage` orders it: every run of
stage k starts after the runs of stage k-1 (transfer: pre-training, then the downstream runs,
whose overrides name `{root}/pretrain/add`). A run needs the earlier runs its overrides name by
directory, or else every earlier run; a launch refuses to start a run whose needs are neither
finished nor part of it. `--seeds-per-task K` cuts each
run into runs of K seeds each (ROOT/NAME/seeds-A-B): a seed's training is the same alone or in
a batch (with train.stop_when_grokked a piece stops once its own seeds grokked), and `grokjax
collect` puts the pieces together again.

The backends (grokjax.launch.local, .slurm, .tpu) only ever run `grokjax train` on these
directories, which resumes a run from its checkpoint; a run being trained holds a lock
(grokjax.store.rundir), so a sweep started twice never trains a run twice, and a finished run
is skipped.
"""

from __future__ import annotations

import dataclasses
import datetime
import fnmatch
import pathlib
import shlex
import sys
from typing import Any, Callable, Mapping, Sequence

from grokjax import config as config_lib
from grokjax.errors import GrokjaxError
from grokjax.store import checkpoint as ckpt_lib
from grokjax.store.files import RunFiles
from grokjax.store import rundir
from grokjax.summary import damage, n_members

MANIFEST = "sweep.json"
Print = Callable[[str], None]  # where a launcher's messages go


@dataclasses.dataclass(frozen=True)
class Run:
    """One run of a sweep: its directory under the sweep root, a config spec, overrides
    ({'key': value} or ('key=value', ...); '{root}' in a value is the sweep root), seeds (a
    count, a tuple of seeds, or None for the config's), a vmapped grid ({'weight_decay':
    (0.3, 1, 3)}: one program) and a stage."""

    name: str
    config: str
    set: Mapping[str, Any] | Sequence[str] = ()
    seeds: int | tuple[int, ...] | None = None
    grid: Mapping[str, Sequence[Any]] = dataclasses.field(default_factory=dict)
    stage: int = 0

    def overrides(self, root: pathlib.Path) -> list[str]:
        items = (self.set.items() if isinstance(self.set, Mapping)
                 else (item.partition("=")[::2] for item in self.set))
        return [f"{k}={str(v).replace('{root}', str(root))}" for k, v in items]


@dataclasses.dataclass(frozen=True)
class Planned:
    """A run as it will be trained: its group (the sweep file's run name), its directory and
    the `grokjax train` arguments that train it."""

    group: str
    name: str
    workdir: pathlib.Path
    stage: int
    train_args: tuple[str, ...]
    target_steps: int
    stop_when_grokked: bool
    task: str = ""
    p: int = 0
    r: float = 0.0
    needs: tuple[str, ...] = ()  # the runs (groups) that must have finished before it starts

    def command(self, python: str = sys.executable) -> list[str]:
        return [python, "-m", "grokjax", "train", *self.train_args]

    def shell(self, python: str = sys.executable) -> str:
        return shlex.join(self.command(python))


def load(spec: str) -> tuple[pathlib.Path, list[Run]]:
    """The runs of a sweep file 'experiments/sweep_x.py[:ARG]'."""
    path_text, _, arg = spec.partition(":")
    path = pathlib.Path(path_text)
    if not path.is_file():
        here = sorted(str(p) for p in pathlib.Path("experiments").glob("sweep_*.py"))
        raise GrokjaxError(f"sweep file {path_text!r} not found; give a path such as "
                           + (", ".join(here) if here else "experiments/sweep_arithmetic.py"))
    module = config_lib.exec_file(path)
    if not hasattr(module, "get_runs"):
        raise GrokjaxError(f"sweep file {path} defines no get_runs(); see grokjax/launch/sweep.py")
    try:
        runs = module.get_runs(arg) if arg else module.get_runs()
    except (KeyError, ValueError, TypeError) as e:
        raise GrokjaxError(f"sweep {spec!r}: {e}") from None
    if not runs:
        raise GrokjaxError(f"sweep {spec!r} lists no runs")
    bad = [r for r in runs if not isinstance(r, Run)]
    if bad:
        raise GrokjaxError(f"sweep {spec!r}: get_runs() must return grokjax.launch.sweep.Run objects, "
                           f"not {type(bad[0]).__name__}")
    names = [r.name for r in runs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise GrokjaxError(f"sweep {spec!r} names runs twice: {', '.join(dup)}")
    for r in runs:
        parts = pathlib.PurePosixPath(r.name).parts
        if not parts or r.name.startswith("/") or ".." in parts:
            raise GrokjaxError(f"run name {r.name!r} must be a relative path inside the sweep "
                               "root, e.g. 'add/r0.3'")
    return path, runs


def plan(runs: list[Run], root: pathlib.Path, *, extra: Sequence[str] = (),
         seeds: int | None = None, seeds_per_task: int = 0) -> list[Planned]:
    """Every run as `grokjax train` arguments, checked now (unknown keys, tasks that do not
    suit p, ...) rather than on a compute node; `extra` overrides and `seeds` apply to all.
    With `seeds_per_task`, runs are cut into pieces of that many seeds."""
    planned = []
    for run in runs:
        needs = _needs(run, runs, root)
        overrides = [*run.overrides(root), *extra,
                     *config_lib.seed_overrides(seeds if seeds is not None else run.seeds or None)]
        overrides += [config_lib.grid_override(axis, values) for axis, values in run.grid.items()]
        try:
            cfg = config_lib.load_config(run.config, overrides)
            config_lib.validate(cfg)
        except GrokjaxError as e:
            raise GrokjaxError(f"sweep run {run.name!r}: {e}") from None
        all_seeds = config_lib.seeds(cfg)
        chunks = ([all_seeds[i:i + seeds_per_task]
                   for i in range(0, len(all_seeds), seeds_per_task)]
                  if seeds_per_task and len(all_seeds) > seeds_per_task else [None])
        for chunk in chunks:
            name = run.name if chunk is None else f"{run.name}/{_piece_name(chunk)}"
            args = [run.config, "--workdir", str(root / name), "--no-progress"]
            args += [a for o in overrides for a in ("--set", o)]
            if chunk is not None:
                args += [a for o in config_lib.seed_overrides(chunk) for a in ("--set", o)]
            planned.append(Planned(group=run.name, name=name, workdir=root / name,
                                   stage=run.stage, train_args=tuple(args),
                                   target_steps=cfg.train.steps,
                                   stop_when_grokked=bool(cfg.train.stop_when_grokked),
                                   task=cfg.task, p=cfg.p, r=cfg.train_fraction,
                                   needs=needs))
    _check_pieces(planned, root)
    return sorted(planned, key=lambda p: p.stage)


def _needs(run: Run, runs: list[Run], root: pathlib.Path) -> tuple[str, ...]:
    """The earlier runs a run starts from: those an override names by their directory
    ('{root}/pretrain/add'), else every run of an earlier stage."""
    values = {o.partition("=")[2] for o in run.overrides(root)}
    earlier = [r.name for r in runs if r.stage < run.stage]
    named = tuple(n for n in earlier if str(root / n) in values)
    return named or tuple(earlier)


def _piece_name(chunk: list[int]) -> str:
    """'seeds-0-15' for a contiguous range of seeds, else 'seeds-3_5_9'."""
    if chunk == list(range(chunk[0], chunk[-1] + 1)):
        return f"seeds-{chunk[0]}-{chunk[-1]}"
    return "seeds-" + "_".join(map(str, chunk))


def _check_pieces(planned: list[Planned], root: pathlib.Path) -> None:
    """Refuses seed pieces that would lose or repeat work: a run cut into pieces that a later
    stage starts from (its directory would hold no run), and a run whose directory already
    holds it cut otherwise (whole, or into other pieces)."""
    split = {p.group for p in planned if p.name != p.group}
    for p in planned:
        for group in split:
            if any(arg == f"transfer.from_run={root / group}" for arg in p.train_args):
                raise GrokjaxError(f"--seeds-per-task would cut {group!r} into pieces, but "
                                   f"{p.name!r} starts from it; leave it whole (drop "
                                   "--seeds-per-task, or --only the runs without a successor)")
    for group in {p.group for p in planned}:
        names = {p.name for p in planned if p.group == group}
        here = root / group
        if not here.is_dir():
            continue
        whole = RunFiles(here).is_run()
        pieces = {f"{group}/{d.name}" for d in here.iterdir()
                  if d.is_dir() and d.name.startswith("seeds-") and RunFiles(d).is_run()}
        if (whole and names != {group}) or (pieces and not pieces <= names):
            had = "whole" if whole else ", ".join(sorted(pieces))
            raise GrokjaxError(f"{here} already holds {group!r} as {had}; rerun the sweep with "
                               "the same --seeds and --seeds-per-task as before, or another "
                               "--root")


def select(planned: list[Planned], only: str | None) -> list[Planned]:
    """The runs whose name (or group) matches one of the comma-separated globs of `only`
    ('x2_*', 'pge-add/*'); all without it."""
    if not only:
        return planned
    patterns = [p.strip() for p in only.split(",")]
    chosen = [p for p in planned
              if any(fnmatch.fnmatch(p.group, g) or fnmatch.fnmatch(p.name, g) for g in patterns)]
    if not chosen:
        raise GrokjaxError(f"--only {only!r} matches none of the sweep's {len(planned)} runs "
                           f"(e.g. {planned[0].group!r})")
    return chosen


def stages(planned: list[Planned]) -> list[list[Planned]]:
    """The runs grouped by stage, in order."""
    out: dict[int, list[Planned]] = {}
    for p in planned:
        out.setdefault(p.stage, []).append(p)
    return [out[k] for k in sorted(out)]


def check_order(everything: list[Planned], todo: list[Planned]) -> None:
    """Refuses to launch `todo` while runs it needs (`needs`) are neither finished nor part of
    it (running elsewhere, or left out by --only), naming them."""
    names = {p.name for p in todo}
    needed = {g for p in todo for g in p.needs}
    waiting = [p.name for p in everything
               if p.group in needed and p.name not in names and state(p) != "finished"]
    if waiting:
        raise GrokjaxError(
            f"runs of this launch start from earlier runs that are not finished: "
            f"{', '.join(waiting[:5])}{' ...' if len(waiting) > 5 else ''}; let them finish "
            "first, or include them (--only)")


def run_state(workdir: pathlib.Path, target_steps: int | None = None,
              stop_when_grokked: bool = False) -> str:
    """'running' (a live process holds its lock), 'finished' (its summary reached the target
    steps, or every member grokked under stop_when_grokked; any summary when no target is
    known), 'damaged' (a summary.json that is not one: `collect` rebuilds it, a sweep trains
    the run again, which resumes it), 'partial (step N)' (checkpoints, no finished summary) or
    'new'."""
    if rundir.is_locked(workdir):
        return "running"
    summary, reason = damage(workdir)
    if reason:
        return "damaged"
    if summary is not None and (target_steps is None or summary["steps"] >= target_steps or (
            stop_when_grokked and summary["grokked"] == n_members(summary))):
        return "finished"
    steps = ckpt_lib.saved_steps(workdir)
    return f"partial (step {steps[-1]})" if steps else "new"


def state(p: Planned) -> str:
    """A planned run's state: 'finished', 'running', 'partial (step N)' or 'new'."""
    return run_state(p.workdir, p.target_steps, p.stop_when_grokked)


def write_manifest(root: pathlib.Path, sweep_spec: str, planned: list[Planned],
                   submission: dict) -> None:
    """ROOT/sweep.json: the sweep file, its runs (group, directory, stage, target, task, p, r,
    command) and every submission so far (backend, time, runs, job ids). A run's group
    replaces the group's earlier entries. `grokjax collect` reads it."""
    root.mkdir(parents=True, exist_ok=True)
    old = rundir.read_json(root / MANIFEST, {})
    groups = {p.group for p in planned}
    known = {r["name"]: r for r in old.get("runs", []) if r["group"] not in groups}
    for p in planned:
        known[p.name] = {"name": p.name, "group": p.group, "stage": p.stage,
                         "workdir": str(p.workdir.relative_to(root)),
                         "target_steps": p.target_steps,
                         "stop_when_grokked": p.stop_when_grokked,
                         "task": p.task, "p": p.p, "r": p.r,
                         "command": ["grokjax", "train", *p.train_args]}
    submission = {"time": datetime.datetime.now().isoformat(timespec="seconds"), **submission}
    rundir.write_json(root / MANIFEST, {
        "sweep": sweep_spec, "argv": sys.argv, "runs": list(known.values()),
        "submissions": [*old.get("submissions", []), submission]})


def record_job(root: pathlib.Path, job_id: str) -> None:
    """Adds a submitted job's id to the manifest's last submission, as soon as it exists."""
    manifest = rundir.read_json(root / MANIFEST)
    manifest["submissions"][-1].setdefault("job_ids", []).append(job_id)
    rundir.write_json(root / MANIFEST, manifest)


def submitted_jobs(root: pathlib.Path) -> list[str]:
    """Every job id the manifest records."""
    manifest = rundir.read_json(root / MANIFEST, {})
    return [j for s in manifest.get("submissions", []) for j in s.get("job_ids", [])]
