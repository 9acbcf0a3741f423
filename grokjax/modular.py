"""Arithmetic mod p that several layers need: primality and the multiplicative group.

A leaf: it imports nothing from grokjax but the error type. Tasks ask whether a modulus is
prime (multiplication and division need inverses); the probes re-index the nonzero residues by
discrete logarithm, so that multiplication becomes addition (`log_order`).
"""

from __future__ import annotations

import numpy as np

from grokjax.errors import GrokjaxError


def is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1))


def primitive_root(p: int) -> int:
    """The smallest primitive root of the prime p."""
    if not is_prime(p):
        raise GrokjaxError(f"p={p} is not prime: the discrete-log basis needs a prime modulus")
    if p == 2:
        return 1
    phi, factors, n = p - 1, set(), p - 1
    d = 2
    while d * d <= n:
        while n % d == 0:
            factors.add(d)
            n //= d
        d += 1
    if n > 1:
        factors.add(n)
    return next(g for g in range(2, p) if all(pow(g, phi // q, p) != 1 for q in factors))


def log_order(p: int) -> np.ndarray:
    """[p-1] residues g^0, g^1, ..., g^(p-2): index i holds the residue whose log is i."""
    g = primitive_root(p)
    return np.array([pow(g, i, p) for i in range(p - 1)], dtype=np.int32)
