"""Numerical settings of a run: the loss dtype and the matmul precision; the cross entropy.

Grokking runs push train losses to 1e-7 and below, where float32 log-softmax rounds the correct
class's probability to exactly 1; the gradient of those examples vanishes and the loss spikes
(the "slingshot"; progress-measures-paper issue #2). So the cross entropy is computed in float64
by default, through JAX's x64 mode; params, activations and gradients stay float32 (every array
grokjax creates names its dtype). TPUs lack float64: there the loss falls back to float32 and
the run records that it did. Matmul precision is passed explicitly to every einsum
(`jax.lax.Precision`), never as a string flag: float32's default is bf16 passes on TPU and TF32
on recent GPUs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def configure(loss_dtype: str) -> str:
    """Enables x64 if the float64 loss is wanted and possible; returns the dtype in effect."""
    if loss_dtype == "float64" and jax.default_backend() != "tpu":
        jax.config.update("jax_enable_x64", True)
        return "float64"
    return "float32"


def loss_dtype(requested: str):
    """The dtype the loss is computed in: float64 only where x64 is on."""
    if requested == "float64" and jax.config.jax_enable_x64:
        return jnp.float64
    return jnp.float32


def nll(logits: jax.Array, labels: jax.Array, dtype) -> jax.Array:
    """The cross entropy of each example, -log softmax(logits)[label], computed in `dtype`
    (see `loss_dtype`): the one definition behind the train loss and the probes' losses."""
    logp = jax.nn.log_softmax(logits.astype(dtype), axis=-1)
    return -jnp.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
