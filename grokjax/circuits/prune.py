"""Edge pruning (Bhaskar et al. 2024, "Finding Transformer Circuits with Edge Pruning"):
a circuit found by optimisation rather than by scoring units one at a time.

Every unit gets a hard-concrete mask (Louizos et al. 2018; beta 2/3, gamma -0.1, zeta 1.1, as
Edge Pruning and ACDC's subnetwork-probing baseline use): a sample
z = clip(sigmoid((log u - log(1 - u) + log_alpha) / beta) (zeta - gamma) + gamma, 0, 1) with
u ~ U(0, 1), which is exactly 0 or 1 with positive probability. The masks go into the same
patched forward pass as every other method (`forward.run`: a removed unit's sender is
replaced by its corrupted output). The loss is the metric's damage (KL from the full model
by default, as Edge Pruning) plus the Lagrangian of CoFi and Edge Pruning,

    lambda_1 (s - t) + lambda_2 (s - t)^2,

s the expected sparsity (1 - the mean probability that a mask is non-zero), t the target
sparsity ramped linearly from 0 over the first `warmup` of the steps, log_alpha trained by
Adam to decrease the loss and (lambda_1, lambda_2) by Adam to increase it.

The circuit at target t keeps the round((1 - t) N) units of largest log_alpha. Edge Pruning
binarises at deterministic mask > 0.5 (log_alpha > 0), which `sparsity_at_half` reports, but
that misses the extreme targets: measured on the constructed models at t = 1 (300 steps), the
true edges' log_alpha rose to 5-8 while the rest fell to -8, because the expected density's
gradient sigmoid'(log_alpha + 1.6) vanishes once a mask is saturated at 1, so no multiplier
reached in a few hundred steps pulls it back; and the expected sparsity counts a mask at
log_alpha = -1 as 65% present while the threshold removes it. The ranking is what the
optimisation learns; the target says how many units to keep.

One compiled program trains every member for every target (a vmap over targets inside the
vmap over members, each step a `lax.scan`), so the whole size-faithfulness front comes from
one compile. log_alpha is kept in [-10, 10] and u in [1e-6, 1 - 1e-6], so no mask is NaN at
targets 0 or 1 (Edge Pruning's users met NaN there).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from grokjax.circuits import metrics
from grokjax.circuits.graph import Units
from grokjax.circuits.methods import Setup, member_metric, per_member

BETA, GAMMA, ZETA = 2 / 3, -0.1, 1.1
LOG_ALPHA_MAX = 10.0


@dataclasses.dataclass
class PruneResult:
    kept: np.ndarray  # [T, M, N] bool
    log_alpha: np.ndarray  # [T, M, N]: a ranking of the units, per target
    sparsity: np.ndarray  # [T, M] the fraction of units the kept circuit removes
    sparsity_at_half: np.ndarray  # [T, M] the fraction with deterministic mask <= 0.5
    value: np.ndarray  # [T, M] the metric of the kept circuit
    targets: np.ndarray  # [T]


def sample(log_alpha: jax.Array, u: jax.Array) -> jax.Array:
    """A hard-concrete mask for uniform noise `u` (clipped away from 0 and 1)."""
    u = jnp.clip(u, 1e-6, 1 - 1e-6)
    s = jax.nn.sigmoid((jnp.log(u) - jnp.log1p(-u) + log_alpha) / BETA)
    return jnp.clip(s * (ZETA - GAMMA) + GAMMA, 0.0, 1.0)


def deterministic(log_alpha: jax.Array) -> jax.Array:
    """The mask without noise, which the final circuit thresholds at 0.5."""
    return jnp.clip(jax.nn.sigmoid(log_alpha) * (ZETA - GAMMA) + GAMMA, 0.0, 1.0)


def density(log_alpha: jax.Array) -> jax.Array:
    """The expected fraction of masks that are non-zero."""
    return jax.nn.sigmoid(log_alpha - BETA * np.log(-GAMMA / ZETA)).mean(axis=-1)


@functools.partial(jax.jit, static_argnames=("units", "metric", "steps", "warmup"))
def _prune(s: Setup, targets, keys, units: Units, metric: str, steps: int, lr: float,
           lambda_lr: float, warmup: float, init: float):
    n = len(units)
    opt, lam_opt = optax.adam(lr), optax.adam(lambda_lr)

    def one(sm, target, key):
        f = member_metric(sm, units, metric)

        def loss(log_alpha, lam, u, t):
            sparsity = 1.0 - density(log_alpha)
            damage = metrics.damage(metric, f(sample(log_alpha, u)))
            return damage + lam[0] * (sparsity - t) + lam[1] * (sparsity - t) ** 2

        def step(carry, i):
            log_alpha, lam, o, lo = carry
            t = target * jnp.minimum(1.0, (i + 1) / jnp.maximum(1.0, warmup * steps))
            u = jax.random.uniform(jax.random.fold_in(key, i), (n,))
            g_alpha, g_lam = jax.grad(loss, argnums=(0, 1))(log_alpha, lam, u, t)
            upd, o = opt.update(g_alpha, o)
            log_alpha = jnp.clip(optax.apply_updates(log_alpha, upd), -LOG_ALPHA_MAX, LOG_ALPHA_MAX)
            lupd, lo = lam_opt.update(-g_lam, lo)  # the multipliers ascend
            return (log_alpha, optax.apply_updates(lam, lupd), o, lo), None

        log_alpha = jnp.full((n,), init, jnp.float32)
        lam = jnp.zeros((2,), jnp.float32)
        (log_alpha, *_), _ = jax.lax.scan(step, (log_alpha, lam, opt.init(log_alpha),
                                                 lam_opt.init(lam)), jnp.arange(steps))
        n_kept = jnp.round((1.0 - target) * n).astype(jnp.int32)
        rank = jnp.argsort(jnp.argsort(-log_alpha, stable=True), stable=True)
        kept = rank < n_kept
        return kept, log_alpha, f(kept.astype(jnp.float32))

    out = per_member(jax.vmap(one, in_axes=(None, 0, 0)))(s, targets, keys)
    return jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), out)  # [T, M, ...]


def edge_pruning(s: Setup, units: Units, metric: str = "kl", targets=(0.5,), *,
                 steps: int = 300, lr: float = 0.1, lambda_lr: float = 1.0,
                 warmup: float = 0.5, init: float = 3.0, seed: int = 0) -> PruneResult:
    """Edge pruning of every member at every target sparsity in `targets` (fractions of the
    units removed, 0..1): one compiled program. `init` is the starting log_alpha (3: every
    mask near 1, the full model)."""
    t = np.atleast_1d(np.asarray(targets, np.float32))
    if np.any((t < 0) | (t > 1)):
        raise ValueError(f"target sparsities {t.tolist()} must lie in [0, 1]")
    # one noise stream per target, shared by the members: a member alone is the same member
    # in a batch
    keys = jax.random.split(jax.random.key(seed), len(t))
    kept, log_alpha, value = _prune(s, jnp.asarray(t), keys, units, metric, steps, lr,
                                    lambda_lr, warmup, init)
    kept, log_alpha = np.asarray(kept), np.asarray(log_alpha)
    return PruneResult(kept, log_alpha, 1.0 - kept.mean(axis=-1),
                       (np.asarray(deterministic(log_alpha)) <= 0.5).mean(axis=-1),
                       np.asarray(value), t)
