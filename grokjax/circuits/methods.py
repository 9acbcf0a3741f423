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
    clean, corrupt_logits, corrupt = _clean_and_corrupt(
        params, jnp.asarray(tokens), None if corrupt_tokens is None else jnp.asarray(corrupt_tokens),
        None if table_tokens is None else jnp.asarray(table_tokens), groups, cfg, graph, ablation)
    return Setup(jnp.asarray(tokens), jnp.asarray(labels), params, groups, clean, corrupt_logits,
                 corrupt, cfg, graph, n_answers or cfg.d_vocab)


@functools.partial(jax.jit, static_argnames=("cfg", "graph", "ablation"))
def _clean_and_corrupt(params, tokens, corrupt_tokens, table_tokens, groups, cfg, graph, ablation):
    return jax.vmap(lambda p, g: forward.clean_and_corrupt(
        p, tokens, corrupt_tokens, cfg, graph, ablation, g, table_tokens))(params, groups)


def _member_metric(s: Setup, units: Units, metric: str):
    """For one member's slice of the setup: unit mask [n_units] -> metric value."""
    index = jnp.asarray(units.index)

    def f(unit_mask):
        dense = forward.dense_mask(s.graph, unit_mask[index], s.tokens.shape[1])
        logits, _ = forward.run(s.params, s.tokens, s.cfg, s.graph, dense, s.corrupt, s.groups)
        return metrics.value(metric, logits, s.clean_logits, s.labels, s.n_answers)
    return f


def _per_member(fn):
    """Lifts fn(one member's setup, *args) over the setup's member axis."""
    def lifted(s: Setup, *args):
        axes = Setup(None, None, 0, 0, 0, 0, 0, s.cfg, s.graph, s.n_answers)
        return jax.vmap(fn, in_axes=(axes,) + (None,) * len(args))(s, *args)
    return lifted


@functools.partial(jax.jit, static_argnames=("units", "metric"))
def evaluate(s: Setup, unit_masks, units: Units, metric: str) -> jax.Array:
    """The metric of each member's circuit: unit masks [M, n_units] -> [M]."""
    return jax.vmap(lambda sm, m: _member_metric(sm, units, metric)(m),
                    in_axes=(Setup(None, None, 0, 0, 0, 0, 0, s.cfg, s.graph, s.n_answers), 0)
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
        f = _member_metric(sm, units, metric)
        ones = jnp.ones(len(units), jnp.float32)
        return jax.lax.map(lambda i: f(ones.at[i].set(0.0)), jnp.arange(len(units)),
                           batch_size=batch_size) - f(ones)
    return _per_member(one)(s)


@functools.partial(jax.jit, static_argnames=("units", "metric", "steps"))
def eap_ig(s: Setup, units: Units, metric: str, steps: int = 1) -> jax.Array:
    """[M, n_units]: the first-order estimate of `edge_effects`, -d metric / d mask averaged
    over masks alpha = k / steps (k = 1..steps); steps=1 is EAP."""
    def one(sm):
        grad = jax.grad(_member_metric(sm, units, metric))
        alphas = jnp.arange(1, steps + 1, dtype=jnp.float32) / steps
        return -jax.lax.map(lambda a: grad(jnp.full(len(units), a, jnp.float32)), alphas).mean(axis=0)
    return _per_member(one)(s)


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
    order = jnp.asarray(units.acdc_order)

    def one(sm, tau):
        f = _member_metric(sm, units, metric)
        ones = jnp.ones(len(units), jnp.float32)
        start = metrics.damage(metric, f(ones))

        def visit(carry, i):
            mask, current = carry
            trial = mask.at[i].set(0.0)
            value = metrics.damage(metric, f(trial))
            remove = value - current < tau
            return ((jnp.where(remove, trial, mask), jnp.where(remove, value, current)),
                    value - current)
        (mask, current), deltas = jax.lax.scan(visit, (ones, start), order)
        return mask > 0.5, metrics.damage(metric, current), jnp.zeros(len(units), jnp.float32).at[order].set(deltas)
    over_members = _per_member(one)
    return jax.vmap(over_members, in_axes=(None, 0))(s, taus)


def acdc(s: Setup, units: Units, metric: str = "kl", tau=0.01) -> AcdcResult:
    """ACDC at threshold `tau` (a number, or an array of taus: a leading tau axis)."""
    taus = jnp.atleast_1d(jnp.asarray(tau, jnp.float32))
    kept, value, deltas = _acdc(s, taus, units, metric)
    if jnp.ndim(tau) == 0:
        kept, value, deltas = kept[0], value[0], deltas[0]
    return AcdcResult(kept, value, deltas)
