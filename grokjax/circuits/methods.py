"""Circuit discovery for every member at once: edge patching, EAP, EAP-IG and ACDC.

`prepare` runs the clean and corrupted models once per member and keeps what every method
needs (a `Setup`, with the member axis leading). Each method is then one jitted program,
vmapped over members; its Python never loops over edges at run time:

    edge_effects  the exact effect on the metric of removing each unit alone (a `lax.map`)
    eap           attribution patching of every unit from one forward and one backward pass:
                  the first-order estimate -d metric / d mask at mask = 1 (Syed et al.)
    eap_ig        the same gradient averaged over masks alpha = k / steps, k = 1..steps, all
                  units together (integrated gradients along the mask path; steps=1 is EAP)
    acdc          Conmy et al.'s loop: units visited receivers-first from the logits back,
                  each removed when the damage it adds to the *current* circuit is below tau,
                  compiled as a `lax.scan` with the mask as carry; every member keeps or
                  restores its own units. Several taus at once are a vmap.

Scores are in the metric's units: "the metric with the unit removed minus the metric of the
full model" (EAP's and EAP-IG's estimate that difference).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from grokjax.circuits import forward, metrics
from grokjax.circuits.graph import Graph, Units
from grokjax.models import ModelConfig, Params


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class Setup:
    """What the methods read: the shared inputs and, per member, params, the MLP groups and
    the clean and corrupted runs."""

    tokens: jax.Array  # [B, C] clean inputs, shared by the members
    labels: jax.Array  # [B]
    params: Params  # [M, ...]
    groups: jax.Array  # [M, L, G, F] neuron-group membership
    clean_logits: jax.Array  # [M, B, V]
    corrupt_logits: jax.Array  # [M, B, V]
    corrupt: jax.Array  # [M, U, B or 1, C, D] the senders' corrupted outputs
    clean: jax.Array  # [M, U, B, C, D] their clean outputs
    cfg: ModelConfig = dataclasses.field(metadata=dict(static=True))
    graph: Graph = dataclasses.field(metadata=dict(static=True))
    n_answers: int = dataclasses.field(metadata=dict(static=True))

    @property
    def n_members(self) -> int:
        return self.clean_logits.shape[0]


def prepare(params: Params, cfg: ModelConfig, graph: Graph, tokens, labels, *,
            corrupt_tokens=None, ablation: str = "resample", table_tokens=None,
            groups=None, n_answers: int | None = None) -> Setup:
    """A `Setup` for stacked params [M, ...] on clean `tokens` [B, C] with `labels` [B]: the
    corrupted run is on `corrupt_tokens` (ablation 'resample'), or the senders' means over
    `table_tokens` ('mean'), or zeros ('zero'). `groups` [M, L, G, F] assigns neurons to
    the graph's MLP groups (default one group). `n_answers`: the answer logits (default
    d_vocab) that the logit difference averages over."""
    M = jax.tree.leaves(params)[0].shape[0]
    if groups is None:
        groups = jnp.broadcast_to(forward.all_neurons(graph, cfg),
                                  (M, graph.n_layers, len(graph.mlp_groups), cfg.d_mlp))
    clean_logits, corrupt_logits, corrupt, clean = _clean_and_corrupt(
        params, jnp.asarray(tokens), None if corrupt_tokens is None else jnp.asarray(corrupt_tokens),
        None if table_tokens is None else jnp.asarray(table_tokens), groups, cfg, graph, ablation)
    return Setup(jnp.asarray(tokens), jnp.asarray(labels), params, groups, clean_logits,
                 corrupt_logits, corrupt, clean, cfg, graph, n_answers or cfg.d_vocab)


@functools.partial(jax.jit, static_argnames=("cfg", "graph", "ablation"))
def _clean_and_corrupt(params, tokens, corrupt_tokens, table_tokens, groups, cfg, graph, ablation):
    return jax.vmap(lambda p, g: forward.clean_and_corrupt(
        p, tokens, corrupt_tokens, cfg, graph, ablation, g, table_tokens))(params, groups)


def concat(setups: list[Setup]) -> Setup:
    """Setups of the same inputs joined on the member axis: e.g. the same members under
    several draws of the corruption, so that one program covers seeds x resamples."""
    first = setups[0]
    for other in setups[1:]:
        if (other.graph != first.graph or other.cfg != first.cfg
                or not np.array_equal(other.tokens, first.tokens)):
            raise ValueError("concat joins setups of one graph, config and clean inputs")
    shared = ("tokens", "labels")
    fields = {f.name: getattr(first, f.name) if f.name in shared else jax.tree.map(
        lambda *x: jnp.concatenate(x, axis=0), *[getattr(x, f.name) for x in setups])
        for f in dataclasses.fields(Setup) if not f.metadata.get("static")}
    return Setup(**fields, cfg=first.cfg, graph=first.graph, n_answers=first.n_answers)


def member_metric(s: Setup, units: Units, metric: str, start: int = 0):
    """For one member's slice of the setup: unit mask [n_units] -> metric value. With `start`
    the stages before it are the clean model's (see `forward.run`): only for masks that keep
    every unit whose stage is earlier."""
    index = jnp.asarray(units.index)

    def f(unit_mask):
        dense = forward.dense_mask(s.graph, unit_mask[index], s.tokens.shape[1])
        logits, _ = forward.run(s.params, s.tokens, s.cfg, s.graph, dense, s.corrupt, s.groups,
                                start, s.clean)
        return metrics.value(metric, logits, s.clean_logits, s.labels, s.n_answers)
    return f


def _member_axes(s: Setup) -> Setup:
    """vmap's in_axes of a Setup: the inputs shared, everything else over members."""
    return Setup(None, None, 0, 0, 0, 0, 0, 0, s.cfg, s.graph, s.n_answers)


def per_member(fn, mapped: tuple[bool, ...] = ()):
    """Lifts fn(one member's setup, *args) over the setup's member axis; the args flagged in
    `mapped` have a member axis too, the others are shared."""
    def lifted(s: Setup, *args):
        axes = _member_axes(s)
        arg_axes = tuple(0 if i < len(mapped) and mapped[i] else None for i in range(len(args)))
        return jax.vmap(fn, in_axes=(axes,) + arg_axes)(s, *args)
    return lifted


@functools.partial(jax.jit, static_argnames=("units", "metric"))
def evaluate(s: Setup, unit_masks, units: Units, metric: str) -> jax.Array:
    """The metric of each member's circuit: unit masks [M, n_units] -> [M]."""
    return jax.vmap(lambda sm, m: member_metric(sm, units, metric)(m),
                    in_axes=(_member_axes(s), 0)
                    )(s, unit_masks)


def full_and_corrupt(s: Setup, units: Units, metric: str) -> tuple[jax.Array, jax.Array]:
    """([M] metric of the full model, [M] of the corrupted model: every unit removed)."""
    n = len(units)
    return (evaluate(s, jnp.ones((s.n_members, n), jnp.float32), units, metric),
            evaluate(s, jnp.zeros((s.n_members, n), jnp.float32), units, metric))


@functools.partial(jax.jit, static_argnames=("units", "metric", "batch_size"))
def edge_effects(s: Setup, units: Units, metric: str, batch_size: int = 8) -> jax.Array:
    """[M, n_units]: metric(full model without the unit) - metric(full model), exactly."""
    def one(sm):
        ones = jnp.ones(len(units), jnp.float32)
        out = jnp.zeros(len(units), jnp.float32)
        for stage, idx in units.segments(np.arange(len(units))[np.argsort(-units.stage,
                                                                            kind="stable")]):
            f = member_metric(sm, units, metric, stage)
            out = out.at[idx].set(jax.lax.map(lambda i: f(ones.at[i].set(0.0)),
                                              jnp.asarray(idx), batch_size=batch_size))
        return out - member_metric(sm, units, metric)(ones)
    return per_member(one)(s)


@functools.partial(jax.jit, static_argnames=("units", "metric", "steps"))
def eap_ig(s: Setup, units: Units, metric: str, steps: int = 1) -> jax.Array:
    """[M, n_units]: the first-order estimate of `edge_effects`, -d metric / d mask averaged
    over masks alpha = k / steps (k = 1..steps); steps=1 is EAP."""
    def one(sm):
        grad = jax.grad(member_metric(sm, units, metric))
        alphas = jnp.arange(1, steps + 1, dtype=jnp.float32) / steps
        return -jax.lax.map(lambda a: grad(jnp.full(len(units), a, jnp.float32)), alphas).mean(axis=0)
    return per_member(one)(s)


def eap(s: Setup, units: Units, metric: str) -> jax.Array:
    """[M, n_units]: attribution patching (EAP), -d metric / d mask at mask = 1."""
    return eap_ig(s, units, metric, steps=1)


@dataclasses.dataclass
class AcdcResult:
    kept: jax.Array  # [..., M, n_units] bool
    value: jax.Array  # [..., M] the metric of each member's final circuit
    deltas: jax.Array  # [..., M, n_units] the damage each unit's removal would add, when visited


@functools.partial(jax.jit, static_argnames=("units", "metric"))
def _acdc(s: Setup, taus, units: Units, metric: str):
    def one(sm, tau):
        ones = jnp.ones(len(units), jnp.float32)
        carry = (ones, metrics.damage(metric, member_metric(sm, units, metric)(ones)))
        deltas = jnp.zeros(len(units), jnp.float32)
        # ACDC's order visits receivers from the logits back, so while it is at stage t every
        # unit before t is still kept: each run of equal stage is one scan from stage t on.
        for stage, idx in units.segments(units.acdc_order):
            f = member_metric(sm, units, metric, stage)

            def visit(carry, i, f=f):
                mask, current = carry
                trial = mask.at[i].set(0.0)
                value = metrics.damage(metric, f(trial))
                remove = value - current < tau
                return ((jnp.where(remove, trial, mask), jnp.where(remove, value, current)),
                        value - current)
            carry, d = jax.lax.scan(visit, carry, jnp.asarray(idx))
            deltas = deltas.at[idx].set(d)
        mask, current = carry
        return mask > 0.5, metrics.damage(metric, current), deltas
    over_members = per_member(one)
    return jax.vmap(over_members, in_axes=(None, 0))(s, taus)


def acdc(s: Setup, units: Units, metric: str = "kl", tau=0.01) -> AcdcResult:
    """ACDC at threshold `tau` (a number, or an array of taus: a leading tau axis)."""
    taus = jnp.atleast_1d(jnp.asarray(tau, jnp.float32))
    kept, value, deltas = _acdc(s, taus, units, metric)
    if jnp.ndim(tau) == 0:
        kept, value, deltas = kept[0], value[0], deltas[0]
    return AcdcResult(kept, value, deltas)
