"""Corruptions that suit modular arithmetic: what a patched edge's sender is replaced with.

Input corruptions change the operands and re-tokenise (the senders then come from the
corrupted input: resample ablation, ACDC's default):

    resample-b  keep a, draw another b (uniform, seeded)
    b+1, a+1    shift one operand by one
    shuffle     pair each input with another input of the batch (a seeded permutation)
    swap        (b, a): a null control on a commutative task, whose answer does not change

and two ablations need no corrupted input: 'mean' (each sender's mean over the whole p x p
table, exact) and 'zero'.
"""

from __future__ import annotations

import numpy as np

INPUT = ("resample-b", "b+1", "a+1", "shuffle", "swap")
ABLATIONS = ("mean", "zero")
CORRUPTIONS = INPUT + ABLATIONS


def operands(ab_Nx2: np.ndarray, p: int, kind: str, seed: int = 0) -> np.ndarray:
    """The corrupted operands of an input corruption `kind`."""
    rng = np.random.default_rng(seed)
    a, b = ab_Nx2[:, 0], ab_Nx2[:, 1]
    if kind == "resample-b":
        other = (b + rng.integers(1, p, size=len(b))) % p  # never b itself
        return np.stack([a, other], axis=1)
    if kind == "b+1":
        return np.stack([a, (b + 1) % p], axis=1)
    if kind == "a+1":
        return np.stack([(a + 1) % p, b], axis=1)
    if kind == "shuffle":
        return ab_Nx2[rng.permutation(len(ab_Nx2))]
    if kind == "swap":
        return ab_Nx2[:, ::-1].copy()
    raise ValueError(f"corruption {kind!r} is not one of {', '.join(CORRUPTIONS)}")
