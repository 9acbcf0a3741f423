"""Every config field with its default (`base_config`), and what a config says about its seeds.

A config file defines ``get_config(arg=None) -> ml_collections.ConfigDict``, starting from
`base_config()` so that every run has every field. The comment on each field says what it means.
"""

from __future__ import annotations

import json
from typing import Any

import ml_collections


def base_config() -> ml_collections.ConfigDict:
    """Every field, at Furuta's defaults: add mod 97, r = 0.3, the 1-layer transformer, AdamW."""
    c = ml_collections.ConfigDict()
    c.task = "add"  # a task name, a polynomial like 'x**3 + 2*x*y', 'rand', or 'add,subtract'
    c.p = 97  # the modulus
    c.train_fraction = 0.3  # r = |train| / |all inputs|
    c.seeds = 4  # train seeds 0 .. seeds-1 ...
    c.seed_list = ()  # ... unless this lists them explicitly, e.g. (3, 5, 7)
    c.rand_seed = 0  # the table of the 'rand' task
    c.split = ml_collections.ConfigDict(dict(
        mode="paper",  # 'paper': operands 0..p-1 | 'reference': frt03's pair list and shuffle
                       # | 'grok': openai/grok's equation order, RandomState(seed).shuffle,
                       # round(r N) (with split.seed=0: its split)
        symmetric=False,  # keep only inputs with x <= y (<= z)
        seed=-1,  # -1: each seed's split comes from its own seed; >= 0: one split for all seeds
    ))
    c.model = ml_collections.ConfigDict(dict(
        arch="transformer",  # 'transformer' | 'mlp' (Furuta's, or Prieto et al.'s: variant)
        variant="furuta",  # 'furuta' | 'nanda' (pos-embed, MLP biases, vocab p+1, [a, b, =])
                           # | 'power': openai/grok's post-LayerNorm decoder (Power et al. 2022;
                           # set num_layers=2), its vocabulary and [<|eos|>, a, op, b, =]
                           # | 'prieto' (arch 'mlp'): Prieto et al.'s MLP on one-hot [a, b],
                           # vocabulary p, d_model wide, no embedding
        num_layers=1,
        d_model=128,
        num_heads=4,
        d_head=32,
        d_mlp=512,
        act="relu",  # 'relu' | 'gelu'
        d_emb=500,  # Furuta's MLP only
        weight_scale=1.0,  # multiplies every init std (Omnigrok's alpha)
        attn_rate=1.0,  # attention = rate * softmax + (1 - rate) * uniform (Zhong et al.); 0: pizza
        attention="tables",  # a 1-layer model's attention: 'tables' (per-vocabulary tables,
                             # gathered per example) | 'dense' (per example); the same function
    ))
    c.optim = ml_collections.ConfigDict(dict(
        lr=1e-3,
        weight_decay=1.0,  # decoupled, as torch.optim.AdamW
        b1=0.9,
        b2=0.98,
        eps=1e-8,
        warmup_steps=0,  # linear warm-up min(step / warmup_steps, 1) (Nanda: 10)
        batch_size=0,  # 0: full batch; else a random minibatch of this size each step
        constrain_norm=False,  # rescale the params to their initial L2 norm after every step
                               # (Omnigrok's constrained training; use with weight_decay=0)
        decay="decoupled",  # 'decoupled': AdamW | 'coupled': torch.optim.Adam's L2 weight_decay
                            # (Grokfast's published runs)
        grad_filter="none",  # Grokfast (Lee et al. 2024): 'none' | 'ema' | 'ma'; the gradient
                             # becomes g + grokfast_lamb * filter(g) before the optimiser
        grokfast_lamb=2.0,  # the filter's amplification (the paper: 2 for EMA, 5 for MA)
        grokfast_alpha=0.98,  # the EMA's momentum
        grokfast_window=100,  # the MA's window, in steps (applied once it is full)
        orthogonal=False,  # ⊥Grad (Prieto et al. 2025): each tensor's gradient without its
                           # component along the tensor, rescaled to the gradient's norm
    ))
    c.train = ml_collections.ConfigDict(dict(
        steps=20_000,
        eval_every=10,  # test metrics (and the grok step) at this resolution, in steps
        chunk_steps=1000,  # steps of the compiled program; the loop runs it in ~2 s pieces
        acc_threshold=0.99,  # memorised / grokked when train / test accuracy reaches this
        stop_when_grokked=False,  # end early once every seed has grokked
        batching="auto",  # seeds: 'vmap' | 'map' (bit-exact per seed) | 'auto' (map on CPU)
        member_group=0,  # with vmap, members per vmapped group, looped over (lax.map); 0: all
                         # at once, or the largest group that fits the device (grokjax.memory)
    ))
    c.probe = ml_collections.ConfigDict(dict(
        every=100,  # steps between probes inside the program (0: none); divides train.chunk_steps
        eta=0.5,  # FFD's threshold, a fraction of the largest component
        threshold=0.85,  # a key frequency explains more than this of some neuron's variance
    ))
    c.grid = ml_collections.ConfigDict(dict(  # see grokjax/grid.py; () = not gridded
        task=(),  # e.g. ('add', 'subtract', 'x2_y2'): replaces task (single tasks of one kind)
        lr=(),  # e.g. (3e-4, 1e-3, 3e-3): replaces optim.lr
        weight_decay=(),  # replaces optim.weight_decay
        train_fraction=(),  # replaces train_fraction
        weight_scale=(),  # replaces model.weight_scale
        grad_filter=(),  # e.g. ('none', 'ema', 'ma'): replaces optim.grad_filter
        grokfast_lamb=(),  # replaces optim.grokfast_lamb
        grokfast_alpha=(),  # replaces optim.grokfast_alpha
        orthogonal=(),  # (0, 1): replaces optim.orthogonal
        softmax=(),  # ('softmax', 'stablemax'): replaces numerics.softmax
        arms=(),  # instead of the product of the axes above, these settings, each on every
                  # seed: 'NAME: AXIS=VALUE AXIS=VALUE', e.g. 'ema: grad_filter=ema'
    ))
    c.checkpoint = ml_collections.ConfigDict(dict(
        save_every=2000,  # steps between checkpoints (a multiple of train.chunk_steps); 0: none
        keep=3,  # the latest this many are kept, plus step 0, the final step and `pin`
        pin=(),  # steps always kept, e.g. (10000,)
        async_save=True,  # write in the background; a run never ends before its last save
    ))
    c.transfer = ml_collections.ConfigDict(dict(
        from_run="",  # a run directory, optionally RUN@STEP (default: its latest checkpoint)
        load="",  # groups copied from it: embed, transformer, unembed, full (comma-separated)
        freeze="",  # groups that receive no update and no weight decay
        source_seed=-1,  # -1: target seed s takes source seed s; >= 0: every seed takes this one
    ))
    c.tensorboard = ml_collections.ConfigDict(dict(
        enabled=True,  # event files under RUN/tb (see grokjax/monitor/tensorboard.py)
        seed_runs=64,  # a TensorBoard run for each of the first this many members (-1: all);
                       # the aggregate runs (one per grid setting) cover every member
        detail_seeds=4,  # spectra images and weight histograms for the first this many members
        images=200,  # at most this many spectra images per member: every probe's, or every
                     # k-th probe's (the printed `tensorboard` command keeps them all)
    ))
    c.numerics = ml_collections.ConfigDict(dict(
        loss_dtype="float64",  # 'float64' (jax x64; float32 on TPU) | 'float32'
        softmax="softmax",  # the loss's normaliser: 'softmax' | 'stablemax' (Prieto et al.
                            # 2025: s(x) = x + 1 for x >= 0, 1 / (1 - x) below)
        matmul_precision="highest",  # 'default' | 'high' | 'highest' (full float32 on GPU/TPU)
        deterministic=True,  # on a GPU, XLA's deterministic ops: the same bits every rerun
                             # (grokjax.numerics; false: atomics, reruns differ)
    ))
    return c


def flatten(cfg: ml_collections.ConfigDict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in cfg.items():
        if isinstance(value, ml_collections.ConfigDict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def seeds(cfg: ml_collections.ConfigDict) -> list[int]:
    return [int(s) for s in cfg.seed_list] if cfg.seed_list else list(range(cfg.seeds))


def split_seeds(cfg: ml_collections.ConfigDict, seeds_: list[int] | None = None) -> list[int]:
    """Each seed's split seed (of `seeds_`, default the config's): its own seed, or the one
    fixed split.seed."""
    return [s if cfg.split.seed < 0 else cfg.split.seed
            for s in (seeds(cfg) if seeds_ is None else seeds_)]


def to_json(cfg: ml_collections.ConfigDict) -> str:
    return json.dumps(cfg.to_dict(), indent=2, sort_keys=True, default=list)
