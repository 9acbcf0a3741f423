"""Fourier analysis over Z/p: the real cos/sin basis, the jnp.fft path, the discrete-log basis.

The basis is Nanda's: row 0 is the constant 1/sqrt(p); rows 2k-1 and 2k are cos(2 pi k t / p)
and sin(2 pi k t / p) normalised to unit norm, for k = 1 .. K = (p - 1) // 2 (for even p the
last frequency p/2 has only its cos row). It is orthonormal, so `basis @ W` gives a weight's
components and `basis.T @ coefs` gives it back. `components_fft` computes the same numbers
with jnp.fft.rfft (a test checks they agree); on TPU use float32 input (no complex128).

Multiplication mod a prime p is addition of discrete logarithms: with g a primitive root, the
nonzero residues g^0, g^1, ..., g^(p-2) re-indexed by their exponent turn x*y into i+j mod p-1,
so the natural basis of a multiplicative task is the Fourier basis over Z/(p-1) in log order
(`grokjax.modular.log_order`, used by `to_log_basis`).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from grokjax.modular import log_order


@functools.lru_cache(maxsize=None)
def _basis_np(n: int) -> np.ndarray:
    t = np.arange(n)
    rows = [np.ones(n)]
    for k in range(1, n // 2 + 1):
        rows.append(np.cos(2 * np.pi * k * t / n))
        if 2 * k != n:
            rows.append(np.sin(2 * np.pi * k * t / n))
    b = np.stack(rows)
    return b / np.linalg.norm(b, axis=1, keepdims=True)


def basis(n: int) -> jax.Array:
    """The [n, n] orthonormal real Fourier basis over Z/n (rows: const, cos 1, sin 1, ...)."""
    return jnp.asarray(_basis_np(n), jnp.float32)


def basis_names(n: int) -> list[str]:
    names = ["const"]
    for k in range(1, n // 2 + 1):
        names.append(f"cos {k}")
        if 2 * k != n:
            names.append(f"sin {k}")
    return names


def n_freqs(n: int) -> int:
    """K: the frequencies 1..K that have both a cos and a sin row."""
    return (n - 1) // 2


def components(w: jax.Array, axis: int = 0) -> jax.Array:
    """Fourier components of `w` along `axis` (whose length n is the modulus), same shape."""
    w = jnp.moveaxis(w, axis, 0)
    out = jnp.tensordot(basis(w.shape[0]), w, axes=1, precision=jax.lax.Precision.HIGHEST)
    return jnp.moveaxis(out, 0, axis)


def components_fft(w: jax.Array, axis: int = 0) -> jax.Array:
    """The same components as `components`, through jnp.fft.rfft."""
    w = jnp.moveaxis(w, axis, 0)
    n = w.shape[0]
    f = jnp.fft.rfft(w, axis=0)  # f[k] = sum_t w[t] exp(-2 pi i k t / n)
    rows = [f[0].real / math.sqrt(n)]
    for k in range(1, n // 2 + 1):
        if 2 * k == n:
            rows.append(f[k].real / math.sqrt(n))
        else:
            rows += [f[k].real / math.sqrt(n / 2), -f[k].imag / math.sqrt(n / 2)]
    return jnp.moveaxis(jnp.stack(rows).astype(w.dtype), 0, axis)


def freq_norms(w: jax.Array, axis: int = 0, method: str = "basis") -> tuple[jax.Array, jax.Array]:
    """(||mu_k||, ||nu_k||) for k = 1..K: the L2 norms of the cos and sin components of each
    frequency, taken over every other axis of `w` (e.g. over d_model for W_E's number rows)."""
    c = (components if method == "basis" else components_fft)(w, axis)
    c = jnp.moveaxis(c, axis, 0).reshape(c.shape[axis], -1)
    K = n_freqs(c.shape[0])
    norms = jnp.linalg.norm(c, axis=1)
    return norms[1:2 * K:2], norms[2:2 * K + 1:2]


def components_2d(m: jax.Array) -> jax.Array:
    """F M F^T over the first two axes of m [n, n, ...] (the (a, b) table)."""
    return jnp.swapaxes(components_2d_swapped(m), 0, 1)


def components_2d_swapped(m: jax.Array) -> jax.Array:
    """`components_2d` with its first two axes swapped, [j, i, ...], for uses symmetric in them
    (a probe's block energies): two plain matmuls over the leading axis with one transpose
    between them. XLA's CPU backend runs a transform over the second axis as a batch of small
    matmuls, and the final transpose back at the cost of both matmuls (on a probe's
    [97, 97, 512] activations: 14 ms, instead of 33 for the einsum and 35 for both)."""
    b = basis(m.shape[0])
    hi = jax.lax.Precision.HIGHEST
    n = m.shape[0]
    over_a = jnp.dot(b, m.reshape(n, -1), precision=hi).reshape(m.shape)  # [i, b, ...]
    return jnp.dot(b, jnp.swapaxes(over_a, 0, 1).reshape(n, -1), precision=hi).reshape(m.shape)


# ----------------------------------------------------------------------------------------------
# The multiplicative group.

def to_log_basis(w: jax.Array, p: int, axis: int = 0) -> jax.Array:
    """Re-indexes the p number rows of `w` along `axis` by discrete log (dropping 0): the result
    has p-1 rows, and `components`/`freq_norms` of it are over Z/(p-1)."""
    return jnp.take(w, jnp.asarray(log_order(p)), axis=axis)
