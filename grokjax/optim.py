"""The optimiser: AdamW as torch.optim.AdamW computes it, Nanda's warm-up, and freezing.

optax.adamw matches torch's AdamW update (decoupled decay scaled by the learning rate, eps
outside the square root). Nanda's LambdaLR warm-up, lr * min(step / warmup, 1), gives lr 0 at
step 0 exactly as torch does. Frozen elements get a zero update after AdamW, so they receive
neither the gradient step nor weight decay, as requires_grad=False does in the reference.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax


def freeze(mask: Any) -> optax.GradientTransformation:
    """Zeroes the updates where `mask` (a tree of bools or bool arrays, True = frozen) holds."""

    def update(updates, state, params=None):
        del params
        return jax.tree.map(lambda u, m: jnp.where(m, jnp.zeros_like(u), u), updates, mask), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


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
