"""Sweeps as code: a sweep file lists its runs; this module turns them into `grokjax train`
commands, knows which are finished, and keeps the sweep's manifest.

A sweep file (experiments/sweep_*.py) defines `get_runs(arg=None) -> list[Run]`:

    from grokjax.sweep import Run

    def get_runs(arg=None):
        return [Run(f"{task}/r{r}", f"configs/polynomials.py:{task}", {"train_fraction": r},
                    seeds=3) for task in ("x2_y2", "x_x_y") for r in (0.3, 0.5)]

Each run is an ordinary run directory, ROOT/NAME. A run's `stage` orders it: every run of
stage k starts after all runs of stage k-1 finished (transfer: pre-training, then the downstream
runs, whose overrides name `{root}/pretrain/add`). `--seeds-per-task K` cuts each run into runs
of K seeds each (ROOT/NAME/seeds-A-B): a seed gives the same result alone or in a batch, and
`grokjax collect` puts the pieces together again.

The launchers (grokjax/launch.py) only ever run `grokjax train` on these directories, which
resumes a run from its checkpoint; a run being trained holds a lock (grokjax/run.py), so a
sweep started twice never trains a run twice, and a finished run is skipped.
"""

from __future__ import annotations

import dataclasses
import datetime
import fnmatch
import pathlib
import shlex
import sys
from typing import Any, Mapping, Sequence

from grokjax import config as config_lib
from grokjax import rundir
from grokjax.errors import GrokjaxError

MANIFEST = "sweep.json"


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
        raise GrokjaxError(f"sweep file {path} defines no get_runs(); see grokjax/sweep.py")
    try:
        runs = module.get_runs(arg) if arg else module.get_runs()
    except (KeyError, ValueError, TypeError) as e:
        raise GrokjaxError(f"sweep {spec!r}: {e}") from None
    if not runs:
        raise GrokjaxError(f"sweep {spec!r} lists no runs")
    bad = [r for r in runs if not isinstance(r, Run)]
    if bad:
        raise GrokjaxError(f"sweep {spec!r}: get_runs() must return grokjax.sweep.Run objects, "
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


def plan(runs: list[Run], root: pathlib.Path, *, only: str | None = None,
         extra: Sequence[str] = (), seeds: int | None = None,
         seeds_per_task: int = 0) -> list[Planned]:
    """Every run as `grokjax train` arguments, checked now (unknown keys, tasks that do not
    suit p, ...) rather than on a compute node. `only`: a glob on run names ('x2_*',
    'pge-add/*'; comma-separated for several); `extra` overrides and `seeds` apply to all."""
    patterns = [p.strip() for p in only.split(",")] if only else []
    chosen = [r for r in runs if not patterns or any(fnmatch.fnmatch(r.name, p) for p in patterns)]
    if not chosen:
        raise GrokjaxError(f"--only {only!r} matches none of the sweep's {len(runs)} runs "
                           f"(e.g. {runs[0].name!r})")
    planned = []
    for run in chosen:
        overrides = [*run.overrides(root), *extra]
        if seeds is not None:
            overrides += [f"seeds={seeds}", "seed_list=()"]
        elif isinstance(run.seeds, int):
            overrides += [f"seeds={run.seeds}", "seed_list=()"]
        elif run.seeds:
            overrides.append(f"seed_list=({','.join(map(str, run.seeds))},)")
        overrides += [f"grid.{axis}=({','.join(map(str, values))},)"
                      for axis, values in run.grid.items()]
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
            name = run.name if chunk is None else f"{run.name}/seeds-{chunk[0]}-{chunk[-1]}"
            args = [run.config, "--workdir", str(root / name), "--no-progress"]
            args += [a for o in overrides for a in ("--set", o)]
            if chunk is not None:
                args += ["--set", f"seed_list=({','.join(map(str, chunk))},)"]
            planned.append(Planned(group=run.name, name=name, workdir=root / name,
                                   stage=run.stage, train_args=tuple(args),
                                   target_steps=cfg.train.steps,
                                   stop_when_grokked=bool(cfg.train.stop_when_grokked)))
    return sorted(planned, key=lambda p: p.stage)


def stages(planned: list[Planned]) -> list[list[Planned]]:
    """The runs grouped by stage, in order."""
    out: dict[int, list[Planned]] = {}
    for p in planned:
        out.setdefault(p.stage, []).append(p)
    return [out[k] for k in sorted(out)]


def state(p: Planned) -> str:
    """'finished', 'running' (locked by a live process), 'partial' (has checkpoints) or 'new'."""
    if rundir.is_locked(p.workdir):
        return "running"
    summary = rundir.read_json(p.workdir / "summary.json", None)
    if summary is not None and (summary["steps"] >= p.target_steps or (
            p.stop_when_grokked and summary["grokked"] == summary["n_seeds"])):
        return "finished"
    ckpts = p.workdir / "checkpoints"
    if ckpts.is_dir() and any(c.name.isdigit() for c in ckpts.iterdir()):
        return "partial"
    return "new"


def write_manifest(root: pathlib.Path, sweep_spec: str, planned: list[Planned],
                   submission: dict) -> None:
    """ROOT/sweep.json: the sweep file, its runs (group, directory, stage, command) and every
    submission so far (backend, time, runs, job ids). `grokjax collect` reads it."""
    root.mkdir(parents=True, exist_ok=True)
    old = rundir.read_json(root / MANIFEST, {})
    known = {r["name"]: r for r in old.get("runs", [])}
    for p in planned:
        known[p.name] = {"name": p.name, "group": p.group, "stage": p.stage,
                         "workdir": str(p.workdir.relative_to(root)),
                         "command": ["grokjax", "train", *p.train_args]}
    submission = {"time": datetime.datetime.now().isoformat(timespec="seconds"), **submission}
    rundir.write_json(root / MANIFEST, {
        "sweep": sweep_spec, "argv": sys.argv, "runs": list(known.values()),
        "submissions": [*old.get("submissions", []), submission]})
