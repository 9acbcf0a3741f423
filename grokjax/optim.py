"""The optimiser: AdamW as torch.optim.AdamW computes it, with Nanda's optional warm-up.

optax.adamw matches torch's AdamW update (decoupled decay scaled by the learning rate, eps
outside the square root). Nanda's LambdaLR warm-up, lr * min(step / warmup, 1), gives lr 0 at
step 0 exactly as torch does.
"""

from __future__ import annotations

import jax.numpy as jnp
import ml_collections
import optax


def make_optimizer(ocfg: ml_collections.ConfigDict) -> optax.GradientTransformation:
    lr = ocfg.lr
    if ocfg.warmup_steps > 0:
        base, warmup = ocfg.lr, ocfg.warmup_steps

        def lr(count):  # float32, so that x64 mode never promotes the params
            return jnp.asarray(base * jnp.minimum(count / warmup, 1.0), jnp.float32)

    return optax.adamw(lr, b1=ocfg.b1, b2=ocfg.b2, eps=ocfg.eps, weight_decay=ocfg.weight_decay)
