"""A run directory as circuit work reads it: one step's params, the (a, b) table, corruptions.

`load(RUN, step, members)` restores the stacked params at a checkpoint (default the latest)
and the run's model config and task; `setup(model, ...)` builds the clean inputs (the whole
p x p table, or a seeded subset of `examples` of it), the corruption, the graph (optionally
with the last MLP split by key frequency) and the methods' `Setup`, for every chosen member.
"""

from __future__ import annotations

import dataclasses
import pathlib

import jax
import numpy as np

from grokjax import data as data_lib
from grokjax import run as run_lib
from grokjax.circuits import corrupt as corrupt_lib
from grokjax.circuits import frequency, methods
from grokjax.circuits.graph import Graph, graph as make_graph
from grokjax.errors import GrokjaxError
from grokjax.models import ModelConfig, Params


@dataclasses.dataclass
class Model:
    """One step of a run, for the chosen members (`index` into the run's member axis)."""

    run_dir: pathlib.Path
    step: int
    params: Params  # [M, ...]
    cfg: ModelConfig
    p: int
    index: list[int]  # the members' positions in the run
    names: list[str]  # their names ('seed_003', or grid setting and seed)
    seeds: list[int]
    task: str
    dataset: data_lib.Dataset
    task_index: int

    def tokens(self, operands: np.ndarray) -> np.ndarray:
        return data_lib.tokenize(operands, self.dataset.vocab.op_tokens[self.task_index],
                                 self.dataset.vocab)

    def labels(self, operands: np.ndarray) -> np.ndarray:
        return np.asarray(self.dataset.tasks[self.task_index].labels(operands, self.p), np.int32)


def checkpoint_steps(run_dir: str | pathlib.Path) -> list[int]:
    """The steps a run has checkpoints at."""
    from grokjax.store import checkpoint as ckpt_lib
    return sorted(ckpt_lib.Checkpoints(pathlib.Path(run_dir), read_only=True).steps())


def load(run_dir: str | pathlib.Path, step: int | None = None, seeds: list[int] | None = None,
         task: str | None = None) -> Model:
    """The params of `seeds` (default every member) at `step` (default the latest checkpoint)."""
    state, meta, exp = run_lib.load_state(run_dir, step)
    if exp.cfg.model.arch != "transformer":
        raise GrokjaxError(f"{run_dir}: circuits need a transformer run, not model.arch="
                           f"{exp.cfg.model.arch!r}")
    if exp.task_datasets:
        raise GrokjaxError(f"{run_dir} is a task grid; circuits read one task: run them on a "
                           "single-task run")
    if exp.dataset.tasks[0].arity != 2:
        raise GrokjaxError(f"{run_dir}: circuits read two-operand tasks, not "
                           f"{exp.dataset.tasks[0].name}")
    names = exp.members.names()
    index = list(range(exp.n_members))
    if seeds is not None:
        missing = sorted(set(seeds) - set(exp.member_seeds))
        if missing:
            raise GrokjaxError(f"{run_dir} has no seed {missing[0]}; its seeds are "
                               f"{sorted(set(exp.member_seeds))}")
        index = [i for i, s in enumerate(exp.member_seeds) if s in seeds]
    task_names = list(exp.dataset.task_names)
    task = task or task_names[0]
    if task not in task_names:
        raise GrokjaxError(f"{run_dir} has no task {task!r}; give --task one of {task_names}")
    params = jax.tree.map(lambda x: np.asarray(x)[np.asarray(index)], state.params)
    return Model(pathlib.Path(run_dir), int(meta["step"]), params, exp.scfg.mcfg, exp.cfg.p,
                 index, [names[i] for i in index], [exp.member_seeds[i] for i in index], task,
                 exp.dataset, task_names.index(task))


@dataclasses.dataclass
class Inputs:
    operands: np.ndarray  # [B, 2] clean
    corrupt_operands: np.ndarray | None  # [B, 2], or None for an ablation
    corruption: str


def inputs(model: Model, corruption: str = "shuffle", examples: int = 0, seed: int = 0) -> Inputs:
    """The clean (a, b) inputs (the whole table, or `examples` of it drawn with `seed`) and
    their corruption."""
    if corruption not in corrupt_lib.CORRUPTIONS:
        raise GrokjaxError(f"--corrupt {corruption!r} is not one of "
                           f"{', '.join(corrupt_lib.CORRUPTIONS)}")
    ab = data_lib.all_operands(model.p, 2)
    if examples and examples < len(ab):
        ab = ab[np.sort(np.random.default_rng(seed).choice(len(ab), examples, replace=False))]
    bad = ab if corruption in corrupt_lib.ABLATIONS else corrupt_lib.operands(
        ab, model.p, corruption, seed)
    return Inputs(ab, None if corruption in corrupt_lib.ABLATIONS else bad, corruption)


def setup(model: Model, data: Inputs, by_frequency: bool = False
          ) -> tuple[methods.Setup, Graph]:
    """The methods' Setup and its graph (with the last MLP split by key frequency if asked)."""
    table = model.tokens(data_lib.all_operands(model.p, 2))
    groups, names = None, ("",)
    if by_frequency:
        names, groups = frequency.frequency_groups(model.params, model.cfg, table, model.p)
    g = make_graph(model.cfg, mlp_groups=names)
    ablation = data.corruption if data.corruption in corrupt_lib.ABLATIONS else "resample"
    s = methods.prepare(
        model.params, model.cfg, g, model.tokens(data.operands), model.labels(data.operands),
        corrupt_tokens=None if data.corrupt_operands is None else model.tokens(data.corrupt_operands),
        ablation=ablation, table_tokens=table, groups=groups, n_answers=model.p)
    return s, g
