"""Transfer: start a run from another run's params, and freeze parts of the model.

Groups name parts of the params tree, as the reference's `load_weigths`/`frozen_weigths` do:

    embed        embed.W_E (and pos_embed.W_pos in Nanda's variant)
    transformer  blocks.* (attention and MLP); for the MLP model in_proj, blocks.*, out_proj
    unembed      unembed.W_U
    full         everything

`--load` copies the groups from the source run's checkpoint into the fresh init (big_vision's
merge_params): target seed s takes the source's seed s (the paper's "same seed": the same split),
or every target seed takes one `source_seed`. Every loaded leaf must match in shape; a mismatch
is an error naming the leaf and both shapes. The one deliberate exception is the vocabulary of a
mixture, which appends task tokens (p+5, p+6, ...) after the reference's p+5: loading a source
with fewer tokens copies its rows of W_E (columns of W_U) and leaves the task-token rows at their
fresh init. The modulus must match: number tokens of another p mean other numbers.

`--freeze` makes the groups receive no update and no weight decay (the reference's
requires_grad=False under AdamW): their elements stay bit-identical. Task-token rows that the
source did not have are never frozen, so a frozen pre-grokked embedding still learns the new
operators. Freezing without loading gives the paper's random-frozen-embedding control
(appendix F, train_emb_rand.py).
"""

from __future__ import annotations

import pathlib
from typing import Any

import jax.numpy as jnp
import numpy as np

from grokjax import models
from grokjax.errors import GrokjaxError
from grokjax.store import rundir

GROUPS = ("embed", "transformer", "unembed", "full")
_VOCAB_AXIS = {"embed.W_E": 0, "unembed.W_U": 1}


def parse_groups(spec: str, what: str) -> tuple[str, ...]:
    groups = tuple(g.strip() for g in spec.split(",") if g.strip())
    for g in groups:
        if g not in GROUPS:
            raise GrokjaxError(f"{what} group {g!r} is not one of {', '.join(GROUPS)}")
    return groups


def in_groups(name: str, groups: tuple[str, ...]) -> bool:
    """Whether the flat param `name` belongs to any of `groups`."""
    top = name.split(".")[0]
    part = {"embed": "embed", "pos_embed": "embed", "unembed": "unembed"}.get(top, "transformer")
    return "full" in groups or part in groups


def parse_source(spec: str) -> tuple[pathlib.Path, int | None]:
    """'RUN' or 'RUN@STEP'."""
    path, _, step = spec.partition("@")
    if step and not step.isdigit():
        raise GrokjaxError(f"--init-from {spec!r}: the step after '@' must be an integer")
    run_dir = rundir.require(path, use=f"--init-from {path!r}: no run there; give the run "
                             "directory of a finished grokjax run")
    return run_dir, int(step) if step else None


def source_config(run_dir: pathlib.Path) -> dict:
    return rundir.read_config(run_dir, use="--init-from needs a finished grokjax run")


def select_seeds(source_seeds: list[int], target_seeds: list[int], source_seed: int) -> list[int]:
    """Index into the source's seed axis for each target seed."""
    if source_seed >= 0:
        if source_seed not in source_seeds:
            raise GrokjaxError(f"transfer.source_seed={source_seed} is not a seed of the source "
                               f"run (it has {source_seeds})")
        return [source_seeds.index(source_seed)] * len(target_seeds)
    missing = [s for s in target_seeds if s not in source_seeds]
    if missing:
        raise GrokjaxError(
            f"target seeds {missing} have no source seed of the same number (the source run has "
            f"seeds {source_seeds}); train the source with them, or set transfer.source_seed")
    return [source_seeds.index(s) for s in target_seeds]


def check_compatible(src_cfg: dict, cfg) -> None:
    for key, src, tgt in (("p", src_cfg["p"], cfg.p),
                          ("model.arch", src_cfg["model"]["arch"], cfg.model.arch),
                          ("model.variant", src_cfg["model"]["variant"], cfg.model.variant)):
        if src != tgt:
            raise GrokjaxError(f"cannot transfer: the source run has {key}={src!r} but this run "
                               f"has {key}={tgt!r}; they must match")


def merge(fresh: dict, source: dict, groups: tuple[str, ...]) -> dict:
    """Copies `groups` of the stacked `source` params into the stacked `fresh` ones."""
    fresh_flat, src_flat = models.param_names(fresh), models.param_names(source)
    out = dict(fresh_flat)
    for name, value in fresh_flat.items():
        if not in_groups(name, groups):
            continue
        if name not in src_flat:
            raise GrokjaxError(f"cannot load {name}: the source run has no such parameter")
        src = src_flat[name]
        if src.shape == value.shape:
            out[name] = src
            continue
        axis = _VOCAB_AXIS.get(name)
        same_elsewhere = axis is not None and src.ndim == value.ndim and all(
            a == b for i, (a, b) in enumerate(zip(src.shape, value.shape)) if i != axis + 1)
        if not (same_elsewhere and src.shape[axis + 1] < value.shape[axis + 1]):
            raise GrokjaxError(f"cannot load {name}: source shape {tuple(src.shape[1:])} does "
                               f"not match this model's {tuple(value.shape[1:])}")
        # The source's vocabulary is a prefix of this one (a mixture's task tokens follow it).
        index = (slice(None),) * (axis + 1) + (slice(0, src.shape[axis + 1]),)
        out[name] = value.at[index].set(src)
    return models.unflatten(out)


def freeze_mask(shapes: dict, freeze: tuple[str, ...], load: tuple[str, ...],
                source_d_vocab: int | None) -> Any:
    """A tree of masks (True = frozen) over one seed's params. Where a frozen, loaded W_E / W_U
    has more tokens than the source, only the source's tokens are frozen: a mixture's task
    tokens stay trainable."""
    masks = {}
    for name, shape in models.param_names(shapes).items():
        frozen = in_groups(name, freeze)
        axis = _VOCAB_AXIS.get(name)
        if frozen and axis is not None and in_groups(name, load) and source_d_vocab \
                and shape.shape[axis] > source_d_vocab:
            mask = np.zeros(shape.shape, bool)
            mask[(slice(None),) * axis + (slice(0, source_d_vocab),)] = True
            masks[name] = jnp.asarray(mask)
        else:
            masks[name] = frozen
    return models.unflatten(masks)
