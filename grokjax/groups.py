"""The symmetric group S5 as openai/grok encodes it, and its three operators' tables.

Elements are the permutations of (0, 1, 2, 3, 4) in `itertools.permutations` order
(lexicographic): element index i <-> the tuple `ELEMENTS[i]`, read as the map k -> tuple[k].
Index 0 is the identity. openai/grok's vocabulary lists the S5 tokens in this same order.

The three binary operators of openai/grok's grok/data.py, as [120, 120] tables of result
indices, `TABLES[name][a, b] = c`:

* 's5':     c = b[a], numpy fancy indexing of the tuples: c[k] = b[a[k]] ("a, then b").
* 's5conj': c = a * b * a^-1 with sympy's Permutation product, which composes left to right:
            (p * q)(k) = q(p(k)). So c(k) = a^-1(b(a(k))).
* 's5aba':  c = a * b * a, likewise: c(k) = a(b(a(k))).

Everything here is host-side numpy, built once at import (three 14,400-entry tables).
"""

from __future__ import annotations

import itertools

import numpy as np

DEGREE = 5
ELEMENTS: tuple[tuple[int, ...], ...] = tuple(itertools.permutations(range(DEGREE)))
ORDER = len(ELEMENTS)  # 120
ARRAYS = np.array(ELEMENTS, dtype=np.int64)  # [120, 5]: row i is element i's map k -> ARRAYS[i, k]


def _index_of(arrays: np.ndarray) -> np.ndarray:
    """The element index of each permutation array [..., 5]: its rank in lexicographic order
    (the Lehmer code read as a factorial-base number)."""
    smaller_later = (arrays[..., :, None] > arrays[..., None, :])  # [..., k, j]: a[k] > a[j]
    later = np.triu(np.ones((DEGREE, DEGREE), dtype=bool), k=1)  # j > k
    lehmer = (smaller_later & later).sum(axis=-1)  # [..., k]
    weights = np.array([np.prod(np.arange(1, DEGREE - k)) for k in range(DEGREE)], np.int64)
    return lehmer @ weights


def compose(first: np.ndarray, then: np.ndarray) -> np.ndarray:
    """Element indices of "first, then `then`": k -> then(first(k)), i.e. sympy's
    `first * then` and openai/grok's `then[first]`. Broadcasts over index arrays."""
    first, then = np.broadcast_arrays(np.asarray(first), np.asarray(then))
    maps = np.take_along_axis(ARRAYS[then], ARRAYS[first], axis=-1)  # then[first[k]]
    return _index_of(maps)


def inverse(a: np.ndarray | int) -> np.ndarray:
    """Element indices of the inverses: a^-1(a(k)) = k."""
    maps = ARRAYS[np.asarray(a)]
    inv = np.empty_like(maps)
    np.put_along_axis(inv, maps, np.broadcast_to(np.arange(DEGREE), maps.shape), axis=-1)
    return _index_of(inv)


def identity() -> int:
    """The identity's element index (0: (0, 1, 2, 3, 4) is first in lexicographic order)."""
    return int(_index_of(np.arange(DEGREE)))


def _tables() -> dict[str, np.ndarray]:
    a, b = np.meshgrid(np.arange(ORDER), np.arange(ORDER), indexing="ij")  # a-major, as data.py
    return {
        "s5": compose(a, b),
        "s5conj": compose(compose(a, b), inverse(a)),
        "s5aba": compose(compose(a, b), a),
    }


TABLES: dict[str, np.ndarray] = _tables()
OPERATORS = tuple(TABLES)
