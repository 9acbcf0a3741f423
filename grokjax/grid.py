"""Hyperparameter grids in one program: the members of a run's leading axis.

Without a grid, a run's leading axis holds its seeds. With one (`grid.task`, `grid.lr`,
`grid.weight_decay`, `grid.train_fraction`, `grid.weight_scale`, Grokfast's `grid.grad_filter`,
`grid.grokfast_lamb`, `grid.grokfast_alpha`, ⊥Grad's `grid.orthogonal` and `grid.softmax`:
tuples of values; empty = not gridded), it holds every combination of the gridded values with every seed, the seed varying
fastest:

    grokjax train configs/quick.py --seeds 3 --grid train_fraction=0.3,0.5,0.7 --grid weight_decay=0.3,1,3
    -> 3 x 3 x 3 = 27 members, one compiled program: an r x weight-decay phase diagram
    grokjax train configs/polynomials.py --seeds 3 --grid task=x_x_y,x2_y2,x2_xy_y2
    -> 3 tasks x 3 seeds, one program: a row of the paper's Table A.5 per task
    grokjax train configs/quick.py --seeds 16 --grid grad_filter=none,ema,ma
    -> a baseline and Grokfast's two filters on the same seeds and splits, one program

`grid.arms` lists settings instead of their product, each on every seed: a comparison of
methods whose settings differ in several values at once (configs/comparison.py):

    arms = ("baseline: weight_decay=1", "grokfast-ema: grad_filter=ema",
            "stablemax: softmax=stablemax weight_decay=0")
    -> the member axis holds 'arm' (the name) and each axis some arm sets; an axis an arm
       does not set keeps the config's value

The task axis holds single tasks of one arity and one operand domain, so that they share the
inputs, the vocabulary size and the model; they differ in their labels and operator token. The
program keeps every task's token and label table once ([K, 1, N, ...]) and each member an index
into them (`task_index`).

A member is trained exactly as a run of its own values would be, except in how they enter the
program: the learning rate, weight decay and the Grokfast and ⊥Grad settings are traced
values in the optimiser state (`optax.inject_hyperparams`; every member of a grid over the
filter kind keeps the MA window), StableMax a per-member switch between two losses computed
side by side, the init scale multiplies the params after a unit-scale init, and
each member's split is padded to the longest one with a mask, so that the loss and the metrics
average over its own inputs only. Within a train fraction the splits are nested: a seed's
r = 0.3 train set is the start of its r = 0.5 one.
"""

from __future__ import annotations

import dataclasses
import itertools

import ml_collections
import numpy as np

from grokjax.config.defaults import flatten

# grid axis -> the config key it replaces
AXES = {"task": "task", "lr": "optim.lr", "weight_decay": "optim.weight_decay",
        "train_fraction": "train_fraction", "weight_scale": "model.weight_scale",
        "grad_filter": "optim.grad_filter", "grokfast_lamb": "optim.grokfast_lamb",
        "grokfast_alpha": "optim.grokfast_alpha", "orthogonal": "optim.orthogonal",
        "softmax": "numerics.softmax"}
# Axes that enter the program as per-member values (float32 [M]; `traced_values`).
TRACED = ("lr", "weight_decay", "weight_scale", "grokfast_lamb", "grokfast_alpha",
          "orthogonal")
TEXT = ("task", "grad_filter", "softmax")  # axes whose values are text, not numbers


def value_text(v) -> str:
    """A grid value as a member name writes it: 'subtract', '0.001'."""
    return v if isinstance(v, str) else f"{v:g}"


def setting_text(hparams: dict, sep: str = ", ") -> str:
    """A grid setting as text: 'lr=0.001, weight_decay=1' (member names join with ',')."""
    return sep.join(f"{a}={value_text(v)}" for a, v in hparams.items())


@dataclasses.dataclass(frozen=True)
class Members:
    seeds: list[int]  # per member
    axes: dict[str, tuple]  # the gridded axes and their values (numbers; task names), in order
    values: dict[str, list]  # per gridded axis, each member's value

    def __len__(self) -> int:
        return len(self.seeds)

    def hparams(self, i: int) -> dict:
        return {axis: self.values[axis][i] for axis in self.axes}

    def names(self) -> list[str]:
        """Unique member names: 'seed_003', or 'lr=0.001,weight_decay=1,seed_003'."""
        return [",".join(filter(None, [setting_text(self.hparams(i), ","), f"seed_{s:03d}"]))
                for i, s in enumerate(self.seeds)]

    def describe(self) -> dict:
        return {"axes": {a: list(v) for a, v in self.axes.items()},
                "members": [{"seed": s, **self.hparams(i)} for i, s in enumerate(self.seeds)]}


def _value(axis: str, v):
    return str(v).strip() if axis in TEXT else float(v)


def axes(cfg: ml_collections.ConfigDict) -> dict[str, tuple]:
    return {a: tuple(_value(a, v) for v in cfg.grid[a]) for a in AXES if len(cfg.grid[a])}


def parse_arm(text: str) -> tuple[str, dict[str, str]]:
    """'NAME: axis=value axis=value' (or without 'NAME:', named by its settings) -> (name,
    {axis: value text}); raises ValueError naming what is wrong."""
    name, sep, body = text.partition(":")
    if not sep:
        name, body = "", text
    settings = {}
    for item in body.split():
        axis, eq, value = item.partition("=")
        if not eq or axis not in AXES or not value:
            raise ValueError(f"{item!r} is not AXIS=VALUE with AXIS one of {', '.join(AXES)}")
        if axis in settings:
            raise ValueError(f"{axis} is set twice")
        settings[axis] = value
    return (name.strip() or " ".join(f"{a}={v}" for a, v in settings.items()) or "base"), settings


def _arm_members(cfg: ml_collections.ConfigDict, seeds: list[int]) -> Members:
    """`grid.arms`: named settings, each on every seed; an axis an arm leaves out keeps the
    config's value. The member axis holds 'arm' (its name) and every axis some arm sets."""
    flat = flatten(cfg)
    arms = [parse_arm(str(a)) for a in cfg.grid.arms]
    used = [a for a in AXES if any(a in s for _, s in arms)]
    rows = [{"arm": name, **{a: _value(a, s.get(a, flat[AXES[a]])) for a in used}}
            for name, s in arms]
    combos = [(row, seed) for row in rows for seed in seeds]
    names = ("arm", *used)
    return Members(seeds=[int(seed) for _, seed in combos],
                   axes={a: tuple(dict.fromkeys(r[a] for r in rows)) for a in names},
                   values={a: [r[a] for r, _ in combos] for a in names})


def members(cfg: ml_collections.ConfigDict, seeds: list[int]) -> Members:
    if cfg.grid.get("arms"):
        return _arm_members(cfg, seeds)
    grid = axes(cfg)
    combos = list(itertools.product(*grid.values(), seeds))
    return Members(seeds=[int(c[-1]) for c in combos], axes=grid,
                   values={a: [c[j] for c in combos] for j, a in enumerate(grid)})


def traced_values(m: Members) -> dict[str, np.ndarray]:
    """Each member's traced values (float32 [M]), by the name the program reads them under:
    the numeric TRACED axes as they are; a Grokfast filter kind as two switches
    ('grokfast_ema', 'grokfast_ma'); StableMax as 'stablemax' (1.0: on)."""
    f32 = lambda v: np.asarray(v, np.float32)  # noqa: E731
    out = {a: f32(m.values[a]) for a in TRACED if a in m.axes}
    if "grad_filter" in m.axes:
        for kind in ("ema", "ma"):
            out[f"grokfast_{kind}"] = f32([v == kind for v in m.values["grad_filter"]])
    if "softmax" in m.axes:
        out["stablemax"] = f32([v == "stablemax" for v in m.values["softmax"]])
    return out


def fractions(cfg: ml_collections.ConfigDict, m: Members) -> list[float]:
    """Each member's train fraction."""
    return m.values.get("train_fraction", [float(cfg.train_fraction)] * len(m))


def pad(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of different lengths -> (indices [M, longest], mask [M, longest] float32); padding
    repeats the row's first index and is masked out."""
    n = max(len(r) for r in rows)
    idx = np.stack([np.concatenate([r, np.full(n - len(r), r[0], r.dtype)]) for r in rows])
    mask = np.stack([np.arange(n) < len(r) for r in rows]).astype(np.float32)
    return idx, mask
