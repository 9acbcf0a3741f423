"""A run directory as circuit work reads it: one step's params, the (a, b) table, corruptions.

`load(RUN, step, seeds)` opens the run (`grokjax.saved.open_run`) and gives its `Model` at a
checkpoint (default the latest), after checking that circuits can read it; `inputs` draws the
clean inputs (the whole p x p table, or a seeded subset of `examples` of it) and their
corruption; `setup(model, ...)` builds the graph (optionally with the last MLP split by key
frequency) and the methods' `Setup`, for every chosen member.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from grokjax import data as data_lib
from grokjax.circuits import corrupt as corrupt_lib
from grokjax.circuits import frequency, methods
from grokjax.circuits.graph import Graph, graph as make_graph
from grokjax.errors import GrokjaxError
from grokjax.saved import Model, open_run


def load(run_dir: str | pathlib.Path, step: int | None = None, seeds: list[int] | None = None,
         task: str | None = None) -> Model:
    """The params of `seeds` (default every member) at `step` (default the latest checkpoint),
    as `grokjax.saved.Model`; a run circuits cannot read is a one-line error."""
    run = open_run(run_dir)
    cfg = run.cfg
    if cfg.model.arch != "transformer":
        raise GrokjaxError(f"{run_dir}: circuits need a transformer run, not model.arch="
                           f"{cfg.model.arch!r}")
    if cfg.model.variant == "power":
        raise GrokjaxError(f"{run_dir}: circuits read Furuta's and Nanda's one-stream models, "
                           "not model.variant='power' (its post-LayerNorm blocks are not in the "
                           "circuit graph); probe it with `grokjax probe`")
    exp = run.experiment
    if exp.task_datasets:
        raise GrokjaxError(f"{run_dir} is a task grid; circuits read one task: run them on a "
                           "single-task run")
    if exp.dataset.tasks[0].arity != 2:
        raise GrokjaxError(f"{run_dir}: circuits read two-operand tasks, not "
                           f"{exp.dataset.tasks[0].name}")
    return run.model(step, seeds=seeds, task=task)


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
