"""`linear(x, W, precision)`: the matmul x @ W of the models, with a backward pass that runs at
full speed on XLA's CPU backend.

The weight gradient x^T @ dy contracts over the batch, the leading axis of both operands. XLA's
CPU backend gives that form to a slower matmul and first transposes the larger operand (for the
MLP's [2822, 512] activations: 0.6 ms, and the matmul runs at ~100 instead of ~190 GFLOP/s on
the 2-core benchmark machine). Here the smaller of x and dy is transposed explicitly, and an
optimisation barrier keeps XLA from folding the transpose back into the matmul, so each of the
three matmuls of a layer is a plain one: the MLP's forward and backward passes take 12.5 ms
instead of 15 (benchmarks/README.md). The gradients are those of `jnp.dot` up to float
rounding (tests/test_model.py compares them), and deterministic: a seed computes the same
alone or in a batch.

On other backends (GPU, TPU) it is `jnp.dot` itself: their matmuls take transposed operands as
they are, and a barrier would only stop fusions.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp


def linear(x: jax.Array, W: jax.Array, precision) -> jax.Array:
    """x [..., I] @ W [I, O] -> [..., O]."""
    if jax.default_backend() != "cpu":
        return jnp.dot(x, W, precision=precision)
    rows = x.reshape(-1, x.shape[-1])
    return _linear_cpu(rows, W, precision).reshape(*x.shape[:-1], W.shape[-1])


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _linear_cpu(x_BxI, W_IxO, precision):
    return jnp.dot(x_BxI, W_IxO, precision=precision)


def _forward(x_BxI, W_IxO, precision):
    return jnp.dot(x_BxI, W_IxO, precision=precision), (x_BxI, W_IxO)


def _backward(precision, residuals, dy_BxO):
    x_BxI, W_IxO = residuals
    dx_BxI = jnp.dot(dy_BxO, W_IxO.T, precision=precision)
    barrier = jax.lax.optimization_barrier
    if x_BxI.shape[1] <= dy_BxO.shape[1]:
        dW_IxO = jnp.dot(barrier(x_BxI.T), dy_BxO, precision=precision)
    else:  # transpose dy, the smaller, and the small [O, I] product
        dW_IxO = barrier(jnp.dot(barrier(dy_BxO.T), x_BxI, precision=precision)).T
    return dx_BxI, dW_IxO


_linear_cpu.defvjp(_forward, _backward)
