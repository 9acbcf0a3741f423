"""The clock or the pizza: Zhong et al.'s two measures that tell the algorithms apart.

Computed as the code of fjzzq2002/pizza does (`code/eval-main.ipynb`):

    gradient symmetricity  the cosine between the gradients of one output logit with respect
                           to the two operands' input embeddings (the token embeddings, before
                           any positional embedding), averaged over (a, b, c) triples drawn
                           from all p^3 (c is any class, not only the answer; the reference
                           draws 100 with seed 42; here `n_samples` with `seed`)
    distance irrelevance   the correct logit as a matrix over s = a + b and d = a - b (mod p):
                           the mean over d of its standard deviation over s, divided by the
                           standard deviation of the whole matrix (numpy's ddof = 0)

Clock models have gradient symmetricity ~0.4-0.6 and distance irrelevance ~0.85; pizza models
~0.99 and ~0.2 (circuits.md section 7). `verdict` calls a model a pizza when its symmetricity
is at least 0.9 and its distance irrelevance at most 0.5, a clock when neither holds, and
"mixed" otherwise. Both take one member's params; vmap lifts them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from grokjax import models
from grokjax.models import ModelConfig, Params


def operand_positions(cfg: ModelConfig) -> tuple[int, int]:
    """Where a and b sit: [a, op, b] (Furuta) or [a, b, =] (Nanda)."""
    return (0, 1) if cfg.variant == "nanda" else (0, 2)


def sample_triples(p: int, n_samples: int = 100, seed: int = 42) -> np.ndarray:
    """[n, 3] distinct (a, b, c) triples drawn uniformly from all p^3."""
    flat = np.random.default_rng(seed).choice(p ** 3, size=min(n_samples, p ** 3), replace=False)
    return np.stack(np.unravel_index(flat, (p, p, p)), axis=1).astype(np.int32)


def gradient_symmetricity(params: Params, cfg: ModelConfig, tokens_NxC: jax.Array,
                          classes_N: jax.Array) -> jax.Array:
    """The mean over inputs of cos(d logit_c / d embed(a), d logit_c / d embed(b))."""
    pa, pb = operand_positions(cfg)

    def grads(tokens_C, c):
        def logit(embedded_CxD):
            logits = models.apply(params, tokens_C[None], cfg,
                                  hooks={"hook_embed": lambda _: embedded_CxD[None]})
            return logits[0, c]
        return jax.grad(logit)(params["embed"]["W_E"][tokens_C])

    g_NxCxD = jax.vmap(grads)(tokens_NxC, classes_N)
    ga, gb = g_NxCxD[:, pa], g_NxCxD[:, pb]
    cos = (ga * gb).sum(-1) / (jnp.linalg.norm(ga, axis=-1) * jnp.linalg.norm(gb, axis=-1))
    return cos.mean()


def distance_irrelevance(params: Params, cfg: ModelConfig, table_tokens: jax.Array,
                         table_labels: jax.Array, p: int) -> jax.Array:
    """mean_d std_s L[s, d] / std L, L the correct logit over the (a, b) table (a-major)."""
    logits = models.apply(params, table_tokens, cfg)
    correct = jnp.take_along_axis(logits, table_labels[:, None], axis=-1)[:, 0]
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    s, d = ((a + b) % p).ravel(), ((a - b) % p).ravel()
    L_sd = jnp.zeros((p, p), correct.dtype).at[s, d].set(correct)
    return jnp.mean(jnp.std(L_sd, axis=0)) / jnp.std(L_sd)


def verdict(symmetricity: float, irrelevance: float) -> str:
    """'pizza', 'clock' or 'mixed' (see the module docstring's thresholds)."""
    pizza_like = (symmetricity >= 0.9, irrelevance <= 0.5)
    return "pizza" if all(pizza_like) else "clock" if not any(pizza_like) else "mixed"
