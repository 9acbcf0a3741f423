"""The training program: one member's pure `train_step`, and the many-member program around it.

A member is one seed of one setting: a run's seeds, or every grid setting times every seed.

    state = init_state(key, scfg, n_tasks)                   # one member
    state, metrics = train_step(state, data, ...)            # one AdamW step, metrics of the
                                                             # params *before* it (as the reference)
    program = make_program(...)                              # jit(vmap(scan(scan(train_step))))
    states, records = program(states, data, active)          # every member, up to chunk_steps

The program runs up to `chunk_steps` steps per dispatch: an outer `lax.scan` over log points,
each of which evaluates the test set, then runs an inner `lax.scan` of `eval_every` train steps;
a traced count says how many of the log points (probe intervals, with probes) run, so a shorter
chunk needs no compile of its own. Records (metrics at every log point) stay on the device until
the host reads the whole chunk. The member axis leads every array of the state, the per-member
split indices and the records; the shared token tables carry no member axis. Under vmap nothing branches on a per-member value, so no
member does another's work.

Memorisation and grok steps live in the state, per task plus one for all tasks together (the
last entry, reached when every task has): the first step at which train accuracy (checked every
step; with minibatches, on the whole train set at each log point) or test accuracy (checked
every `eval_every` steps) reached `acc_threshold`; -1 until then.

A step whose loss or updated params are not finite is skipped: the member keeps its params and
optimiser state (optax's apply_if_finite, but judged on the loss and the params as well, and
with no state of its own, so checkpoints keep their shape). With full-batch training a member
that diverged computes the same non-finite step again and stays where it was from then on; no
NaN reaches its params, its records' norms or anything computed over members. Each log point
records `skip_step`, the first skipped step of its block (-1: none); the first over the run is
the member's `diverged_step` (grokjax.summary).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct
from jax.sharding import Mesh, PartitionSpec as P

from grokjax import models, numerics, optim
from grokjax.models import ModelConfig, Params
from grokjax.probes import measures
from grokjax.sharding import AXIS

Metrics = dict[str, jax.Array]


@struct.dataclass
class TrainState:
    params: Params
    opt_state: optax.OptState
    step: jax.Array  # int32 []
    rng: jax.Array  # uint32 key data, for minibatches (orbax cannot store typed keys)
    mem_step: jax.Array  # int32 [T+1]
    grok_step: jax.Array  # int32 [T+1]


@struct.dataclass
class Data:
    """Token tables shared by all members, and one member's split as indices into them. With
    probes on, also the (a, b) table: every input of a two-variable task, its labels, and which
    of them the member trains on."""

    tokens: jax.Array  # int32 [T, N, C]   (a task grid: [K, T, N, C], see task_index)
    labels: jax.Array  # int32 [T, N]      (a task grid: [K, T, N])
    train_idx: jax.Array  # int32 [n_train]   (per member)
    test_idx: jax.Array  # int32 [n_test]     (per member)
    table_tokens: jax.Array | None = None  # int32 [p*p, C]   (a task grid: [K, p*p, C])
    table_labels: jax.Array | None = None  # int32 [p, p]     (a task grid: [K, p, p])
    table_train: jax.Array | None = None  # bool [p, p]   (per member)
    # With a grid over the train fraction: the splits are padded, and these mark the real part.
    train_mask: jax.Array | None = None  # float32 [n_train]   (per member)
    test_mask: jax.Array | None = None  # float32 [n_test]     (per member)
    # With a task grid: which of the K tasks' tables is the member's.
    task_index: jax.Array | None = None  # int32 []   (per member)
    # With a grid over numerics.softmax: 1.0 where the member trains on StableMax.
    stablemax: jax.Array | None = None  # float32 []   (per member)


# How `Data` meets the member axis: the tables are shared, the indices carry the member axis.
PER_MEMBER = ("train_idx", "test_idx", "table_train", "train_mask", "test_mask", "task_index",
              "stablemax")
DATA_AXES = Data(tokens=None, labels=None, train_idx=0, test_idx=0, table_tokens=None,
                 table_labels=None, table_train=0, train_mask=0, test_mask=0, task_index=0,
                 stablemax=0)
DATA_SPECS = Data(tokens=P(), labels=P(), train_idx=P(AXIS), test_idx=P(AXIS),
                  table_tokens=P(), table_labels=P(), table_train=P(AXIS),
                  train_mask=P(AXIS), test_mask=P(AXIS), task_index=P(AXIS),
                  stablemax=P(AXIS))


def own_tables(data: Data) -> Data:
    """One member's data with its own task's tables: with a task grid, those at its
    `task_index` (gathered once per chunk, outside the step loops); else the data as it is."""
    if data.task_index is None:
        return data
    i = data.task_index
    pick = lambda x: None if x is None else x[i]  # noqa: E731
    return data.replace(tokens=pick(data.tokens), labels=pick(data.labels),
                        table_tokens=pick(data.table_tokens),
                        table_labels=pick(data.table_labels), task_index=None)


@struct.dataclass
class StepConfig:
    """What the step needs besides state and data (static: part of the compiled program)."""

    mcfg: ModelConfig = struct.field(pytree_node=False)
    tx: optax.GradientTransformation = struct.field(pytree_node=False)
    loss_dtype: Any = struct.field(pytree_node=False)
    acc_threshold: float = struct.field(pytree_node=False)  # train.acc_threshold
    batch_size: int = struct.field(pytree_node=False, default=0)
    probe: measures.ProbeSpec | None = struct.field(pytree_node=False, default=None)
    softmax: str = struct.field(pytree_node=False, default="softmax")  # 'softmax' |
    # 'stablemax' | 'member' (a grid over it: each member's in Data.stablemax)


# A traced grid value's name in the optimiser state's hyperparams (others keep their own name:
# grokfast_lamb, grokfast_alpha, grokfast_ema, grokfast_ma, orthogonal; see grokjax.optim).
INJECTED = {"lr": "learning_rate"}


def init_state(key: jax.Array, scfg: StepConfig, n_tasks: int,
               hparams: dict[str, jax.Array] | None = None) -> TrainState:
    """One seed's state. The params come from `key`, so a seed inits alike alone or in a batch.
    `hparams` (a grid member's traced values): 'weight_scale' multiplies the params of a
    unit-scale init; the others ('lr', 'weight_decay', Grokfast's, the projection's) go into
    the optimiser state."""
    hparams = hparams or {}
    k_params, k_rng = jax.random.split(key)
    params = models.init(k_params, scfg.mcfg)
    if "weight_scale" in hparams:
        params = jax.tree.map(lambda w: w * hparams["weight_scale"].astype(w.dtype), params)
    opt_state = scfg.tx.init(params)
    injected = {INJECTED.get(k, k): v for k, v in hparams.items() if k != "weight_scale"}
    if injected:
        opt_state = optim.set_hyperparams(opt_state, injected)
    never = jnp.full((n_tasks + 1,), -1, jnp.int32)
    return TrainState(params=params, opt_state=opt_state, step=jnp.int32(0),
                      rng=jax.random.key_data(k_rng), mem_step=never, grok_step=never)


def _mean(x_TxB: jax.Array, mask_B: jax.Array | None) -> jax.Array:
    """The mean over the batch axis, over the unmasked entries only where a mask is given."""
    if mask_B is None:
        return x_TxB.mean(axis=-1)
    mask = mask_B.astype(x_TxB.dtype)
    return (x_TxB * mask[None]).sum(axis=-1) / mask.sum()


def task_metrics(params: Params, tokens_TxBxC, labels_TxB, scfg: StepConfig,
                 mask_B: jax.Array | None = None, stablemax: jax.Array | None = None):
    """(summed loss, per-task metrics) of params on a [T, B] batch: loss, accuracy and the
    probability of the correct label, over all d_vocab logits, and Prieto et al.'s softmax
    collapse and zero-loss fractions (numerics.stability); averaged over the entries that
    `mask_B` marks (a padded split), or over all. The loss is the cross entropy of
    scfg.softmax ('member': of StableMax where `stablemax` > 0.5)."""
    T, B, C = tokens_TxBxC.shape
    logits_TxBxV = models.apply(params, tokens_TxBxC.reshape(T * B, C), scfg.mcfg).reshape(T, B, -1)
    softmax = stablemax if scfg.softmax == "member" else scfg.softmax
    nll_TxB, sum_exp_TxB = numerics.nll_and_sum_exp(logits_TxBxV, labels_TxB, scfg.loss_dtype,
                                                   softmax)
    loss_T = _mean(nll_TxB, mask_B)
    correct_TxB = models.predicts(logits_TxBxV, labels_TxB).astype(jnp.float32)
    metrics = {
        "loss": loss_T.astype(jnp.float32),
        "acc": _mean(correct_TxB, mask_B),
        "prob": _mean(jnp.exp(-nll_TxB), mask_B).astype(jnp.float32),
        **{k: _mean(v, mask_B) for k, v in numerics.stability(nll_TxB, sum_exp_TxB).items()},
    }
    return loss_T.sum(), metrics


def all_finite(tree) -> jax.Array:
    """Whether every element of every leaf is finite (a bool [])."""
    return jnp.all(jnp.stack([jnp.isfinite(x).all() for x in jax.tree.leaves(tree)]))


def train_step(state: TrainState, data: Data, scfg: StepConfig) -> tuple[TrainState, Metrics]:
    """One optimiser step of one member; metrics are those of the params before the update,
    and 'skipped': whether the step was skipped as non-finite (its loss or its new params)."""
    idx = data.train_idx
    if scfg.batch_size and scfg.batch_size < idx.shape[0]:
        key = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
        idx = idx[jax.random.permutation(key, idx.shape[0])[: scfg.batch_size]]
    tokens, labels = data.tokens[:, idx], data.labels[:, idx]
    grad_fn = jax.value_and_grad(task_metrics, has_aux=True)
    (loss, metrics), grads = grad_fn(state.params, tokens, labels, scfg, data.train_mask,
                                     data.stablemax)
    updates, opt_state = scfg.tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    ok = jnp.isfinite(loss) & all_finite(params)
    params, opt_state = jax.tree.map(lambda new, old: jnp.where(ok, new, old),
                                     (params, opt_state), (state.params, state.opt_state))
    return (state.replace(params=params, opt_state=opt_state, step=state.step + 1),
            {**metrics, "skipped": ~ok,
             "grad_cos": descent_cosine(grads, state.params, scfg.loss_dtype)})


GRAD_COS = "grad/descent_cos"  # a record's descent_cosine, of its block's first step


def descent_cosine(grads: Params, params: Params, dtype=jnp.float32) -> jax.Array:
    """The cosine between the descent direction -g and the weights, over all params together
    (float32 []): near 1, a step mostly scales the weights up along themselves, which for a
    homogeneous model scales the logits: Prieto et al.'s naive loss minimisation direction.
    Summed in `dtype` (the loss dtype), so that the float32 result does not depend on the
    order in which a program's fusion adds it up: a member alone and in a grid agree."""
    g = [x.astype(dtype) for x in models.param_names(grads).values()]
    w = [x.astype(dtype) for x in models.param_names(params).values()]
    total = lambda xs, ys: sum(jnp.sum(x * y) for x, y in zip(xs, ys))  # noqa: E731
    cos = -total(g, w) / (jnp.sqrt(total(g, g) * total(w, w)) + 1e-30)
    return cos.astype(jnp.float32)


def evaluate(params: Params, data: Data, scfg: StepConfig, split: str = "test") -> Metrics:
    idx, mask = ((data.test_idx, data.test_mask) if split == "test"
                 else (data.train_idx, data.train_mask))
    return task_metrics(params, data.tokens[:, idx], data.labels[:, idx], scfg, mask,
                        data.stablemax)[1]


def param_norms(params: Params) -> Metrics:
    """The L2 norm of every matrix ('norm/blocks.0.attn.W_Q', ...) and of all params together."""
    norms = {f"norm/{k}": jnp.sqrt(jnp.sum(jnp.square(v)))
             for k, v in models.param_names(params).items()}
    norms["norm/total"] = optim.global_norm(params)
    return norms


def _with_all(acc_xT: jax.Array) -> jax.Array:
    """Appends the worst task: [..., T] -> [..., T+1]; a seed has memorised (grokked) when
    every task has."""
    return jnp.concatenate([acc_xT, acc_xT.min(axis=-1, keepdims=True)], axis=-1)


def _first(event_step: jax.Array, hit: jax.Array, step) -> jax.Array:
    """An event's step: kept once set (>= 0), else `step` where `hit`."""
    return jnp.where((event_step < 0) & hit, step, event_step)


def _record(params: Params, step, train: Metrics, test: Metrics, mem_step, grok_step,
            skip_step) -> Metrics:
    """What a log point holds; the event steps are those known once the point's block is done."""
    return {"step": step, **{f"train/{k}": v for k, v in train.items()},
            **{f"test/{k}": v for k, v in test.items()}, **param_norms(params),
            "mem_step": mem_step, "grok_step": grok_step, "skip_step": skip_step}


def log_block(state: TrainState, data: Data, scfg: StepConfig, eval_every: int):
    """One log point: test metrics at the current params, then `eval_every` train steps."""
    step0 = state.step
    test = evaluate(state.params, data, scfg)
    params0 = state.params
    state, train_seq = jax.lax.scan(lambda s, _: train_step(s, data, scfg), state, None,
                                    length=eval_every)
    skipped_E = train_seq.pop("skipped")
    grad_cos = train_seq.pop("grad_cos")[0]  # the block's first step's (its minibatch's)
    skip_step = jnp.where(skipped_E.any(), step0 + jnp.argmax(skipped_E).astype(jnp.int32), -1)
    if scfg.batch_size:  # a minibatch says little: the log point measures the whole train set
        train_seq = jax.tree.map(lambda x: x[None], evaluate(params0, data, scfg, "train"))
    hit_ExT1 = _with_all(train_seq["acc"]) >= scfg.acc_threshold
    mem_step = _first(state.mem_step, hit_ExT1.any(axis=0),
                      step0 + jnp.argmax(hit_ExT1, axis=0).astype(jnp.int32))
    grok_step = _first(state.grok_step, _with_all(test["acc"]) >= scfg.acc_threshold, step0)
    train0 = jax.tree.map(lambda x: x[0], train_seq)
    record = _record(params0, step0, train0, test, mem_step, grok_step, skip_step)
    record[GRAD_COS] = grad_cos
    return state.replace(mem_step=mem_step, grok_step=grok_step), record


def final_record(state: TrainState, data: Data, scfg: StepConfig):
    """The log point after the last step: full train and test metrics of the final params."""
    data = own_tables(data)
    train = evaluate(state.params, data, scfg, "train")
    grads = jax.grad(lambda p: task_metrics(p, data.tokens[:, data.train_idx],
                                            data.labels[:, data.train_idx], scfg,
                                            data.train_mask, data.stablemax)[0])(state.params)
    test = evaluate(state.params, data, scfg, "test")
    thr = scfg.acc_threshold
    mem = _first(state.mem_step, _with_all(train["acc"]) >= thr, state.step)
    grok = _first(state.grok_step, _with_all(test["acc"]) >= thr, state.step)
    state = state.replace(mem_step=mem, grok_step=grok)
    record = _record(state.params, state.step, train, test, mem, grok, jnp.int32(-1))
    record[GRAD_COS] = descent_cosine(grads, state.params, scfg.loss_dtype)  # whole train set
    if scfg.probe is not None:
        record.update(_probe(state, data, scfg))
    return state, record


def _probe(state: TrainState, data: Data, scfg: StepConfig) -> Metrics:
    return {"probe/step": state.step,
            **measures.probe_record(state.params, data.table_tokens, data.table_labels,
                                    data.table_train, scfg.mcfg, scfg.probe)}


def run_chunk(state: TrainState, data: Data, active: jax.Array, scfg: StepConfig,
              n_blocks: int, eval_every: int):
    """Up to `n_blocks * eval_every` steps of one seed; records stacked over the log points.

    The chunk is a scan over outer iterations: log blocks of `eval_every` steps or, with
    probes, probe intervals (a probe, then `probe.every / eval_every` log blocks; the probe
    records 'probe/...' are stacked over the probe points). Only the first `active` (a traced
    int32 []) of them run; the rest pass the state through and record zeros, which the host
    drops (`keep_active`). So one compiled program serves a chunk of any length up to its own:
    a short first chunk, or the last one of a run."""
    data = own_tables(data)
    block = functools.partial(log_block, data=data, scfg=scfg, eval_every=eval_every)
    if scfg.probe is None:
        outer, n_outer = block, n_blocks
    else:
        per = scfg.probe.every // eval_every
        if n_blocks % per:
            raise ValueError(f"a chunk of {n_blocks * eval_every} steps is not a whole number "
                             f"of probe intervals ({scfg.probe.every} steps)")

        def outer(state):
            probed = _probe(state, data, scfg)
            state, records = jax.lax.scan(lambda s, _: block(s), state, None, length=per)
            return state, (records, probed)
        n_outer = n_blocks // per
    empty = jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), jax.eval_shape(outer, state)[1])

    def body(state, i):
        return jax.lax.cond(i < active, outer, lambda s: (s, empty), state)

    state, records = jax.lax.scan(body, state, jnp.arange(n_outer))
    if scfg.probe is None:
        return state, records
    records, probed = records
    records = jax.tree.map(lambda x: x.reshape(n_blocks, *x.shape[2:]), records)
    return state, {**records, **probed}


def outer_steps(scfg: StepConfig, eval_every: int) -> int:
    """The steps of one outer iteration of a chunk: a probe interval, or a log block."""
    return scfg.probe.every if scfg.probe is not None else eval_every


def keep_active(records: dict, n_steps: int, scfg: StepConfig, eval_every: int) -> dict:
    """A chunk's records, as the program returns them ([member, point, ...]), without the
    points of the iterations that did not run: those of its first `n_steps` steps."""
    n_log = n_steps // eval_every
    n_probe = n_steps // scfg.probe.every if scfg.probe is not None else 0
    return {k: v[:, :n_probe if k.startswith("probe/") else n_log] for k, v in records.items()}


def over_members(fn, batching: str = "vmap", mesh: Mesh | None = None, data_arg: bool = True,
                 n_shared: int = 0, group: int = 0):
    """Lifts fn(state, data, *shared) of one member to the stacked member axis (fn(member)
    when not data_arg); the last `n_shared` arguments are the same for every member.

    'vmap' batches the members into one computation (fast on accelerators); with `group` > 0 it
    loops over groups of that many members, each group batched (lax.map with batch_size: the
    temporaries of one group are live at a time, so a member axis larger than memory runs).
    'map' loops over them one at a time with lax.map, so each member runs exactly the
    computation it runs alone: bit-identical results whatever the batch (XLA's CPU reductions
    are ordered differently for different batch shapes, so 'vmap' agrees only to float
    rounding there). With a mesh of several devices, each device runs its own block of members
    (shard_map): the members never communicate; a group is of a device's members.
    """
    in_axes = ((0, DATA_AXES) if data_arg else (0,)) + (None,) * n_shared
    size = group if batching == "vmap" else None  # lax.map's batch_size; None: one at a time
    if batching == "vmap" and not group:
        per_device = jax.vmap(fn, in_axes=in_axes)
    elif data_arg:
        def per_device(state, data, *shared):
            def one(args):
                s, part = args
                return fn(s, data.replace(**part), *shared)
            part = {k: getattr(data, k) for k in PER_MEMBER if getattr(data, k) is not None}
            return jax.lax.map(one, (state, part), batch_size=size)
    else:
        def per_device(members):
            return jax.lax.map(fn, members, batch_size=size)
    if mesh is None or mesh.size == 1:
        return per_device
    specs = ((P(AXIS), DATA_SPECS) if data_arg else (P(AXIS),)) + (P(),) * n_shared
    return jax.shard_map(per_device, mesh=mesh, in_specs=specs, out_specs=P(AXIS),
                         check_vma=False)


def make_program(scfg: StepConfig, n_blocks: int, eval_every: int, batching: str = "vmap",
                 mesh: Mesh | None = None, group: int = 0):
    """The compiled chunk of every member, `program(states, data, active)`: the first `active`
    outer iterations of `n_blocks` log blocks (see run_chunk); the input state is donated.
    `batching`, `group`: how the members are lifted (over_members)."""
    chunk = functools.partial(run_chunk, scfg=scfg, n_blocks=n_blocks, eval_every=eval_every)
    return jax.jit(over_members(chunk, batching, mesh, n_shared=1, group=group),
                   donate_argnums=0)


def make_final(scfg: StepConfig, batching: str = "vmap", mesh: Mesh | None = None,
               group: int = 0):
    return jax.jit(over_members(functools.partial(final_record, scfg=scfg), batching, mesh,
                                group=group))


def make_init(scfg: StepConfig, n_tasks: int, batching: str = "vmap", mesh: Mesh | None = None,
              group: int = 0):
    """Every member's state from {'seed': int32 [M]} and, for a grid, its traced values
    ('lr', 'weight_decay', 'weight_scale': float32 [M])."""
    def init_one(member):
        hparams = {k: v for k, v in member.items() if k != "seed"}
        return init_state(jax.random.key(member["seed"]), scfg, n_tasks, hparams)
    return jax.jit(over_members(init_one, batching, mesh, data_arg=False, group=group))
