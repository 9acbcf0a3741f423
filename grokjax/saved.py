"""A saved run, opened: the one handle through which everything reads a run directory.

    import grokjax
    run = grokjax.open_run("runs/quick-1a2b3c4d")   # or grokjax.saved.open_run
    run.summary["grok_step_median"]                 # summary.json (rebuilt if damaged)
    run.history["test/acc"]                         # history.npz: [members, points, tasks]
    run.steps                                       # the saved checkpoint steps
    model = run.model()                             # every member at the latest checkpoint
    logits = model(model.tokens(model.table()))     # [members, p * p, d_vocab]
    logits, cache = model.run_with_cache(tokens)    # cache["blocks.0.attn.hook_pattern"]: [M, ...]

`open_run(RUN)` reads config.json at once and everything else when first asked for: run.json
(`info`), history.npz, summary.json, the experiment the config builds (`experiment`: splits,
data, model and step configs), a checkpoint's state (`restore`), the params of some or all
members (`params`) and a `Model` of them that runs, caches and patches activations by
TransformerLens hook names, as TransformerLens's `from_pretrained` gives a model in one line.
It never writes, except to put back a damaged summary.json rebuilt from the history.

Also here, as they read a saved run: the transfer source's vocabulary and params
(`source_d_vocab`, `source_params`), which `grokjax.run` needs to start a transfer run.
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
import sys
from typing import Any, Callable, Iterable

import jax
import ml_collections
import numpy as np

from grokjax import config as config_lib
from grokjax import data as data_lib
from grokjax import models, numerics, sharding, transfer
from grokjax.errors import GrokjaxError
from grokjax.experiment import Experiment, build
from grokjax.models import ModelConfig, Params
from grokjax.store import checkpoint as ckpt_lib
from grokjax.store import rundir
from grokjax.store.files import FINISHED, HISTORY, RunFiles
from grokjax.summary import damage, summarize
from grokjax.tasks import parse_task_spec

RUN_INFO_KEYS = ("seeds", "split_seeds", "tasks")  # what any run.json grokjax wrote has


def open_run(run_dir: str | pathlib.Path, use: str = "") -> "SavedRun":
    """The run in `run_dir`; a one-line error if it holds none (`use` says who needed it)."""
    return SavedRun(run_dir, use)


class SavedRun:
    """A run directory, read on demand (see the module docstring)."""

    def __init__(self, run_dir: str | pathlib.Path, use: str = ""):
        self.dir = rundir.require(run_dir, use=use)
        self.files = RunFiles(self.dir)
        self.config: dict = rundir.read_json_dict(self.files.config)  # as saved

    def __repr__(self) -> str:
        return f"SavedRun({str(self.dir)!r})"

    # -- the files ---------------------------------------------------------------------------
    @functools.cached_property
    def cfg(self) -> ml_collections.ConfigDict:
        """The resolved config, keys added since the run was written at their defaults."""
        return config_lib.from_saved(self.config)

    @functools.cached_property
    def info(self) -> dict:
        """run.json; {} for a run written before it existed."""
        if not self.files.run_info.exists():
            return {}
        return rundir.read_json_dict(self.files.run_info, RUN_INFO_KEYS)

    @property
    def finished(self) -> bool:
        """Whether the run has the files of a finished run (history and summary)."""
        return all((self.dir / name).is_file() for name in FINISHED)

    def require_finished(self, command: str) -> "SavedRun":
        """This run, if it is finished; else a one-line error naming the missing file and the
        command that finishes it (`command` needed it)."""
        rundir.require(self.dir, FINISHED, use=(
            f"{command} needs a finished grokjax run (train it to its end, or resume it with "
            f"`grokjax train CONFIG --out {self.dir}`)"))
        return self

    @functools.cached_property
    def history(self) -> dict[str, np.ndarray]:
        """history.npz: every metric at every log point."""
        rundir.require(self.dir, (HISTORY,), use=(
            f"it is written when the run finishes (resume it with `grokjax train CONFIG --out "
            f"{self.dir}`)"))
        return rundir.read_npz(self.files.history)

    @property
    def has_history(self) -> bool:
        return self.files.history.is_file()

    @functools.cached_property
    def summary(self) -> dict:
        """summary.json. It is derived data: one that is damaged (not JSON, or not a summary)
        is rebuilt from history.npz, config.json and run.json, written back, and a warning says
        so; if it cannot be rebuilt, a GrokjaxError names the run and the file."""
        summary, reason = damage(self.dir)
        if reason is None:
            return summary
        try:
            summary = self.summarize(rundir.read_npz(self.files.history))
        except (GrokjaxError, OSError, KeyError, ValueError, IndexError) as e:
            what = reason or f"{self.dir} has no summary.json"
            raise GrokjaxError(f"{what}, and it cannot be rebuilt from the run's files ({e})") \
                from None
        if reason:
            print(f"grokjax: warning: {reason}; rebuilt it from history.npz", file=sys.stderr,
                  flush=True)
        try:
            rundir.write_json(self.files.summary, summary)
        except GrokjaxError:
            pass  # a read-only run directory: the rebuilt summary is used, not kept
        return summary

    def summarize(self, history: dict[str, np.ndarray]) -> dict:
        """The summary of `history` (this run's, or a checkpoint's so far)."""
        exp = self.experiment
        return summarize(exp.cfg, exp.member_seeds, exp.split_seeds, exp.dataset.task_names,
                         history, exp.members)

    # -- checkpoints ---------------------------------------------------------------------------
    @property
    def steps(self) -> list[int]:
        """The steps saved in checkpoints/ (read from the directory: cheap)."""
        return ckpt_lib.saved_steps(self.dir)

    @functools.cached_property
    def checkpoints(self) -> ckpt_lib.Checkpoints:
        """The run's checkpoints, read-only."""
        return ckpt_lib.Checkpoints(self.dir, read_only=True)

    def checkpoint_history(self, step: int | None = None) -> dict[str, np.ndarray]:
        """The history saved with the checkpoint of `step` (default: the latest): what an
        unfinished run has recorded so far."""
        steps = self.steps
        if not steps:
            raise GrokjaxError(f"{self.dir} has no checkpoint yet")
        return self.checkpoints.read_history(steps[-1] if step is None else step)

    @functools.cached_property
    def experiment(self) -> Experiment:
        """The experiment the run's config builds: members, splits, data, model config."""
        numerics.configure(self.cfg.numerics.loss_dtype, self.cfg.numerics.deterministic)
        return build(self.cfg, source_d_vocab(self.cfg, self.recorded_source_d_vocab))

    @property
    def recorded_source_d_vocab(self) -> int | None:
        """A transfer run's source vocabulary size as its run.json recorded it (None: not a
        transfer run, or written before run.json recorded it)."""
        return self.info.get("transfer", {}).get("source_d_vocab")

    def restore(self, step: int | None = None, abstract_state: Any = None
                ) -> ckpt_lib.Restored:
        """The checkpoint of `step` (default: the latest good one): the stacked TrainState on
        this machine's devices whatever the machine that saved it, its history, splits and
        meta. Nothing is moved aside: an unreadable checkpoint is an error."""
        return self.checkpoints.restore_latest_good(
            self.experiment.abstract_state() if abstract_state is None else abstract_state,
            step, quarantine=False)

    # -- members and models --------------------------------------------------------------------
    @property
    def member_seeds(self) -> list[int]:
        return self.experiment.member_seeds

    def member_index(self, seeds: Iterable[int] | None = None,
                     members: Iterable[int] | None = None) -> list[int]:
        """Positions on the member axis: every member of `seeds` (all of a grid's settings), or
        the `members` given; default every member."""
        n = self.experiment.n_members
        if members is not None:
            index = [int(i) for i in members]
            bad = [i for i in index if not 0 <= i < n]
            if bad:
                raise GrokjaxError(f"{self.dir} has {n} members (0..{n - 1}); member {bad[0]} "
                                   "is not one")
            return index
        if seeds is None:
            return list(range(n))
        seeds = [int(s) for s in seeds]
        missing = sorted(set(seeds) - set(self.member_seeds))
        if missing:
            raise GrokjaxError(f"{self.dir} has no seed {missing[0]}; its seeds are "
                               f"{sorted(set(self.member_seeds))}")
        return [i for i, s in enumerate(self.member_seeds) if s in seeds]

    def params(self, step: int | None = None, seeds: Iterable[int] | None = None,
               members: Iterable[int] | None = None) -> tuple[Params, int]:
        """(host params of the chosen members [M', ...], the step they were saved at)."""
        saved = self.restore(step)
        index = np.asarray(self.member_index(seeds, members))
        params = jax.tree.map(lambda x: np.asarray(x)[index], sharding.to_host(saved.state.params))
        return params, saved.step

    def model(self, step: int | None = None, seeds: Iterable[int] | None = None,
              members: Iterable[int] | None = None, task: str | None = None) -> "Model":
        """The chosen members (default all) at `step` (default the latest checkpoint), as a
        `Model` that reads `task` (default the run's first, or the members' grid task)."""
        exp = self.experiment
        index = self.member_index(seeds, members)
        params, saved_step = self.params(step, members=index)
        datasets = exp.task_datasets or [exp.dataset]
        if exp.task_datasets:  # a task grid: the chosen members' task
            tasks = {int(exp.task_index[i]) for i in index}
            if len(tasks) > 1:
                raise GrokjaxError(f"{self.dir} is a task grid and these members read "
                                   f"{len(tasks)} tasks; choose members of one task")
            dataset = datasets[tasks.pop()]
        else:
            dataset = exp.dataset
        names = list(dataset.task_names)
        task = task or names[0]
        if task not in names:
            raise GrokjaxError(f"{self.dir} has no task {task!r}; choose one of {names}")
        member_names = exp.members.names()
        return Model(params=params, cfg=exp.scfg.mcfg, step=saved_step, index=index,
                     seeds=[exp.member_seeds[i] for i in index],
                     names=[member_names[i] for i in index], p=exp.cfg.p, dataset=dataset,
                     task=task, task_index=names.index(task), run_dir=self.dir)


@dataclasses.dataclass
class Model:
    """Some members of a run at one checkpoint: the model config and their stacked params,
    with what it takes to run them on the run's task. Every call maps over the member axis:
    tokens [B, n_ctx] in, logits [M, B, d_vocab] out (a hook sees one member's activation)."""

    params: Params  # [M, ...], host arrays
    cfg: ModelConfig
    step: int
    index: list[int]  # the members' positions on the run's member axis
    seeds: list[int]
    names: list[str]  # 'seed_003', or the grid setting and seed
    p: int
    dataset: data_lib.Dataset
    task: str
    task_index: int  # into dataset.tasks
    run_dir: pathlib.Path
    _jitted: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @property
    def n_members(self) -> int:
        return len(self.index)

    @property
    def weights(self) -> dict[str, np.ndarray]:
        """The params by TransformerLens name ('embed.W_E': [M, d_vocab, d_model], ...)."""
        return models.param_names(self.params)

    @property
    def hook_names(self) -> tuple[str, ...]:
        return models.hook_names(self.cfg)

    def table(self) -> np.ndarray:
        """Every input of the task, [p ** arity, arity] (row-major: a * p + b)."""
        return data_lib.all_operands(self.p, self.dataset.tasks[self.task_index].arity)

    def tokens(self, operands: np.ndarray) -> np.ndarray:
        """The token sequences [B, n_ctx] of operands [B, arity] for the task."""
        return data_lib.tokenize(np.asarray(operands),
                                 self.dataset.vocab.op_tokens[self.task_index], self.dataset.vocab)

    def labels(self, operands: np.ndarray) -> np.ndarray:
        return np.asarray(self.dataset.tasks[self.task_index].labels(np.asarray(operands),
                                                                     self.p), np.int32)

    def __call__(self, tokens, hooks: dict[str, Callable] | None = None) -> jax.Array:
        """Logits [M, B, d_vocab] at the readout position; `hooks` replace activations by
        hook name (models.apply)."""
        return self._compiled(hooks, False)(self.params, tokens)

    run_with_hooks = __call__

    def run_with_cache(self, tokens, names: Iterable[str] | None = None,
                       hooks: dict[str, Callable] | None = None):
        """(logits [M, B, d_vocab], {hook name: activation [M, ...]}), every hook point's or
        those in `names`."""
        return self._compiled(hooks, True if names is None else tuple(names))(
            self.params, tokens)

    def _compiled(self, hooks, cache) -> Callable:
        """The forward pass over the members, jitted: once per cache setting without hooks
        (kept), afresh with hooks (functions, compiled into the pass)."""
        key = None if hooks else cache
        if key is not None and key in self._jitted:
            return self._jitted[key]
        fn = jax.jit(jax.vmap(lambda prm, tokens: models.apply(
            prm, tokens, self.cfg, hooks=hooks, cache=cache), in_axes=(0, None)))
        if key is not None:
            self._jitted[key] = fn
        return fn

    def accuracy(self, operands: np.ndarray | None = None,
                 hooks: dict[str, Callable] | None = None) -> np.ndarray:
        """Each member's accuracy [M] on `operands` (default: the whole table), with `hooks`
        patching the forward pass if given."""
        operands = self.table() if operands is None else operands
        logits = self(self.tokens(operands), hooks)
        return np.asarray(models.predicts(logits, self.labels(operands)[None]).mean(-1))


def source_d_vocab(cfg: ml_collections.ConfigDict, known: int | None = None) -> int | None:
    """The transfer source's vocabulary size, after checking that its p and model match; None
    without a transfer. `known` (a run's run.json recorded it) spares reading a source that may
    have moved since."""
    if not cfg.transfer.from_run:
        return None
    if known is not None:
        return known
    src_dir, _ = transfer.parse_source(cfg.transfer.from_run)
    src = transfer.source_config(src_dir)
    transfer.check_compatible(src, cfg)
    src_tasks = parse_task_spec(src["task"], p=src["p"], rand_seed=src["rand_seed"])
    return data_lib.make_vocab(src_tasks, src["p"], src["model"]["variant"]).d_vocab


def source_params(exp: Experiment) -> tuple[Params, int]:
    """The params of the transfer source, one per target member (stacked), and the source
    step."""
    cfg = exp.cfg
    src_dir, step = transfer.parse_source(cfg.transfer.from_run)
    src = SavedRun(src_dir, use="--init-from needs a finished grokjax run")
    src_cfg = config_lib.from_saved(src.config)
    with src_cfg.unlocked():
        src_cfg.transfer.from_run, src_cfg.transfer.load = "", ""  # its own source: not needed
    src_exp = build(src_cfg)
    indices = transfer.select_seeds(src_exp.member_seeds, exp.member_seeds,
                                    cfg.transfer.source_seed)
    saved = src.restore(step, src_exp.abstract_state())
    params = jax.tree.map(lambda x: x[np.asarray(indices)], sharding.to_host(saved.state.params))
    return params, saved.step
