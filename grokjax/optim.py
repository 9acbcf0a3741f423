"""The optimiser: AdamW as torch.optim.AdamW computes it, Nanda's warm-up, freezing, and
Omnigrok's constrained norm.

optax.adamw matches torch's AdamW update (decoupled decay scaled by the learning rate, eps
outside the square root). Nanda's LambdaLR warm-up, lr * min(step / warmup, 1), gives lr 0 at
step 0 exactly as torch does. Frozen elements get a zero update after AdamW, so they receive
neither the gradient step nor weight decay, as requires_grad=False does in the reference.
`optim.constrain_norm` chains `hold_norm` last: the update then lands the params on their
initial global L2 norm (kept in the optimiser state, so a run without it has the state, and the
checkpoints, it always had).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax

from grokjax import models


def freeze(mask: Any) -> optax.GradientTransformation:
    """Zeroes the updates where `mask` (a tree of bools or bool arrays, True = frozen) holds."""

    def update(updates, state, params=None):
        del params
        return jax.tree.map(lambda u, m: jnp.where(m, jnp.zeros_like(u), u), updates, mask), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def global_norm(params: Any) -> jax.Array:
    """The L2 norm of all params together (the history's 'norm/total')."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(v)) for v in models.param_names(params).values()))


class HoldNormState(NamedTuple):
    norm: jax.Array  # float32 []: the params' initial global norm


def hold_norm() -> optax.GradientTransformation:
    """Omnigrok's constrained training, as the last transformation of a chain: the update that
    takes the params to (params + updates) rescaled to their initial global norm."""

    def init(params):
        return HoldNormState(norm=global_norm(params).astype(jnp.float32))

    def update(updates, state, params):
        new = jax.tree.map(lambda p, u: p + u, params, updates)
        scale = (state.norm / global_norm(new)).astype(jnp.float32)
        return jax.tree.map(lambda n, p: n * scale - p, new, params), state

    return optax.GradientTransformation(init, update)


def make_optimizer(ocfg: ml_collections.ConfigDict, frozen: Any = None,
                   traced: bool = False) -> optax.GradientTransformation:
    """AdamW with ocfg's values; `traced`: the learning rate and weight decay live in the
    optimiser state (optax.inject_hyperparams, float32), so that every member of a grid can
    have its own (`set_hyperparams`), and the warm-up scales the whole update instead."""
    base, warmup = ocfg.lr, ocfg.warmup_steps
    adamw = dict(b1=ocfg.b1, b2=ocfg.b2, eps=ocfg.eps, weight_decay=ocfg.weight_decay)

    def ramp(count, scale=1.0):  # scale * min(t / warmup, 1), float32: x64 never promotes params
        return jnp.asarray(scale * jnp.minimum(count / warmup, 1.0), jnp.float32)

    if traced:
        tx = optax.inject_hyperparams(optax.adamw, hyperparam_dtype=jnp.float32)(
            learning_rate=base, **adamw)
        if warmup > 0:  # lr_t (g + wd p) = min(t / warmup, 1) * (lr (g + wd p))
            tx = optax.chain(tx, optax.scale_by_schedule(ramp))
    else:
        tx = optax.adamw((lambda count: ramp(count, base)) if warmup > 0 else base, **adamw)
    if ocfg.constrain_norm:  # (validation refuses it together with frozen groups)
        tx = optax.chain(tx, hold_norm())
    return tx if frozen is None else optax.chain(tx, freeze(frozen))


def set_hyperparams(opt_state: Any, values: dict[str, jax.Array]) -> Any:
    """The optimiser state with these injected hyperparameters ('learning_rate',
    'weight_decay') replaced; see make_optimizer(traced=True)."""
    def injected(s):
        return hasattr(s, "hyperparams") and hasattr(s, "_replace")

    def fix(s):
        if not injected(s):
            return s
        return s._replace(hyperparams={**s.hyperparams, **{
            k: jnp.asarray(v, s.hyperparams[k].dtype) for k, v in values.items()}})

    return jax.tree.map(fix, opt_state, is_leaf=injected)
