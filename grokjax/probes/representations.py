"""Representation theory of the symmetric group S_n: its irreps, the matrix-element basis, and
the probe of how much of an embedding's variance each irrep explains.

This module owns the group side of a probe for models trained on composition in S_n (S5 in the
experiments): the elements and their order, the irreducible representations as real orthogonal
matrices, the orthonormal basis of functions on the group they give, and `irrep_variance`.
It is the non-abelian counterpart of `fourier`: over Z/p a learned embedding is read in the
cos/sin basis; over S5 it is read in the irreps (Chughtai, Chan & Nanda 2023, "A toy model of
universality: reverse engineering how networks learn group operations", ICML).

* Elements. Element index i is the i-th tuple of `itertools.permutations(range(n))`
  (lexicographic), shared with the rest of the code base; a tuple t maps j -> t[j], and
  composition is (a o b)[j] = a[b[j]], with rho(a o b) = rho(a) @ rho(b).
* Irreps. One per partition lambda of n, built by Young's orthogonal form on the standard Young
  tableaux of shape lambda (e.g. James & Kerber 1981, "The Representation Theory of the
  Symmetric Group"; Sagan 2001, "The Symmetric Group"): each
  adjacent transposition s_i = (i i+1) gets a real symmetric orthogonal matrix, and every
  permutation, a product of adjacent transpositions, the product of their matrices. For S5 the
  seven irreps have dims 1, 1, 4, 4, 5, 5, 6 (sum of squares 120).
* Basis. By the Peter-Weyl theorem (for a finite group: Schur orthogonality plus
  sum_rho d_rho^2 = |G|) the functions g -> sqrt(d_rho / |G|) rho(g)_jk, over all irreps rho and
  all j, k < d_rho, are an orthonormal basis of R^|G|. Rows of `matrix_element_basis(n).basis`
  are these functions, grouped by irrep, so `basis @ W` gives a weight's components (as
  `fourier.basis(p) @ W` does over Z/p).
* Probe. `irrep_variance(W_E)`: the share of the mean-centred embedding's variance in each
  irrep's d_rho^2-dimensional subspace. The trivial irrep's subspace is the constants, so its
  share is 0 after centring, by construction.

The group side is pure numpy in float64 (cached; it is a few 120 x 120 matrices); the probe is
jax, pure, and takes any leading axes (a run's member axis first), so it also runs under vmap.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

Partition = tuple[int, ...]


# ----------------------------------------------------------------------------------------------
# The group.

@functools.lru_cache(maxsize=None)
def elements(n: int = 5) -> np.ndarray:
    """[n!, n] int: row i is the i-th permutation of range(n) in lexicographic order."""
    return np.array(list(itertools.permutations(range(n))), dtype=np.int64).reshape(-1, n)


def degree(order: int) -> int:
    """n such that n! == order (the embedding's row count -> the group S_n)."""
    for n in range(1, 11):
        if math.factorial(n) == order:
            return n
    raise ValueError(f"{order} rows is not the order n! of a symmetric group S_n (n <= 10)")


def adjacent_word(perm) -> list[int]:
    """A word [i_1, ..., i_k] with perm = s_{i_1} o ... o s_{i_k}, s_i = (i i+1).

    Bubble sort: t o s_i swaps the entries at positions i, i+1 of the tuple t (since
    (t o s_i)[j] = t[s_i[j]]), so sorting perm by such swaps i_k, ..., i_1 (in that order) gives
    perm o s_{i_k} o ... o s_{i_1} = identity, and each s_i is its own inverse."""
    t = list(perm)
    swaps = []
    done = False
    while not done:
        done = True
        for i in range(len(t) - 1):
            if t[i] > t[i + 1]:
                t[i], t[i + 1] = t[i + 1], t[i]
                swaps.append(i)
                done = False
    return swaps[::-1]


# ----------------------------------------------------------------------------------------------
# Partitions, tableaux, names.

def partitions(n: int) -> list[Partition]:
    """Every partition of n, in reverse lexicographic order ((n) first, (1^n) last)."""
    def below(m, largest):
        if m == 0:
            yield ()
            return
        for part in range(min(m, largest), 0, -1):
            for rest in below(m - part, part):
                yield (part,) + rest
    return list(below(n, n))


def conjugate(shape: Partition) -> Partition:
    """The transposed Young diagram (its rows are shape's columns)."""
    return tuple(sum(1 for r in shape if r > c) for c in range(shape[0])) if shape else ()


def partition_str(shape: Partition) -> str:
    """'(4,1)', '(2,1^3)', '(2^2,1)': repeated parts as powers, as in the literature."""
    parts = [f"{p}" if k == 1 else f"{p}^{k}"
             for p, k in ((p, len(list(g))) for p, g in itertools.groupby(shape))]
    return "(" + ",".join(parts) + ")"


def intuitive_name(shape: Partition) -> str | None:
    """The common name of an irrep where it has one, else None. The standard rep (n-1,1) is the
    permutation rep on R^n minus the trivial; (n-2,1,1) is its exterior square; tensoring with the
    sign transposes the diagram, so an unnamed shape whose transpose comes first in
    `partitions(n)` is 'sign x' that transpose (for S5: (2^2,1) is 'sign x (3,2)'). Earlier
    rules win where small n makes shapes coincide."""
    n = sum(shape)
    named = [((n,), "trivial"), ((1,) * n, "sign")]
    for base, name in [((n - 1, 1), "standard"), ((n - 2, 1, 1), "exterior square of standard")]:
        if all(b >= 1 for b in base) and list(base) == sorted(base, reverse=True):
            named += [(base, name), (conjugate(base), f"sign x {name}")]
    for candidate, name in named:
        if candidate == shape:
            return name
    if conjugate(shape) > shape:
        return f"sign x {partition_str(conjugate(shape))}"
    return None


def standard_tableaux(shape: Partition) -> list[tuple[tuple[int, int], ...]]:
    """Every standard Young tableau of `shape`, each as the (row, col) box of the entries
    0, 1, ..., n-1 (rows and columns increase). Built by placing n-1 in a corner and recursing."""
    n = sum(shape)
    if n == 0:
        return [()]
    out = []
    for r, length in enumerate(shape):
        # box (r, length-1) is a removable corner if the row below is shorter
        if r + 1 < len(shape) and shape[r + 1] == length:
            continue
        smaller = tuple(x for x in (shape[:r] + (length - 1,) + shape[r + 1:]) if x > 0)
        out += [t + ((r, length - 1),) for t in standard_tableaux(smaller)]
    return sorted(out)


def hook_dimension(shape: Partition) -> int:
    """The hook length formula: n! / prod of hook lengths (an independent count of tableaux)."""
    cols = conjugate(shape)
    hooks = [(shape[r] - c) + (cols[c] - r) - 1 for r in range(len(shape)) for c in range(shape[r])]
    return math.factorial(sum(shape)) // math.prod(hooks)


# ----------------------------------------------------------------------------------------------
# The irreps.

def young_generator(shape: Partition, i: int) -> np.ndarray:
    """[d, d] Young's orthogonal form of s_i = (i i+1) on the standard tableaux of `shape`.

    With r = c(i+1) - c(i) the axial distance (content c = col - row of the box holding an
    entry): s_i T = (1/r) T + sqrt(1 - 1/r^2) T', T' the tableau with i and i+1 swapped. In the
    same row r = 1 (s_i acts as +1: the one-row shape is the trivial rep), in the same column
    r = -1 (as -1: the one-column shape is the sign); otherwise T' is standard and {T, T'} span a
    2x2 block [[1/r, s], [s, -1/r]], s = sqrt(1 - 1/r^2): symmetric, orthogonal, squares to I."""
    tableaux = standard_tableaux(shape)
    index = {t: k for k, t in enumerate(tableaux)}
    m = np.zeros((len(tableaux),) * 2)
    for k, t in enumerate(tableaux):
        (ra, ca), (rb, cb) = t[i], t[i + 1]
        r = (cb - rb) - (ca - ra)
        m[k, k] = 1.0 / r
        if abs(r) > 1:
            swapped = t[:i] + (t[i + 1], t[i]) + t[i + 2:]
            m[index[swapped], k] = math.sqrt(1.0 - 1.0 / r**2)
    return m


@dataclasses.dataclass(frozen=True)
class Irrep:
    """One irreducible representation of S_n: its partition, names, and matrices
    [n!, d, d] (row g: rho(element g), real orthogonal)."""
    partition: Partition
    name: str  # the intuitive name, or the partition where there is none
    label: str  # 'standard (4,1)': name and partition, for reports
    matrices: np.ndarray

    @property
    def dim(self) -> int:
        return self.matrices.shape[-1]


def representation_matrices(shape: Partition) -> np.ndarray:
    """[n!, d, d] float64: rho(g) for every element g in `elements(n)` order, the product of the
    Young generators along g's adjacent-transposition word."""
    n = sum(shape)
    gens = [young_generator(shape, i) for i in range(n - 1)]
    d = len(standard_tableaux(shape))
    out = []
    for perm in elements(n):
        m = np.eye(d)
        for i in adjacent_word(perm):
            m = m @ gens[i]
        out.append(m)
    return np.stack(out)


def _sort_key(shape: Partition):
    # by dimension, then (n) before (n-1,1) etc. within a dimension: for S5 the order
    # (5), (1^5), (4,1), (2,1^3), (3,2), (2^2,1), (3,1,1) of Chughtai et al.
    return (hook_dimension(shape), tuple(-p for p in shape))


@functools.lru_cache(maxsize=None)
def irreps(n: int = 5) -> tuple[Irrep, ...]:
    """Every irrep of S_n, one per partition of n, ordered by dimension (for S5: trivial, sign,
    standard, sign x standard, (3,2), (2^2,1), exterior square of standard)."""
    out = []
    for shape in sorted(partitions(n), key=_sort_key):
        name = intuitive_name(shape)
        part = partition_str(shape)
        out.append(Irrep(shape, name or part, f"{name} {part}" if name else part,
                         representation_matrices(shape)))
    return tuple(out)


# ----------------------------------------------------------------------------------------------
# The matrix-element basis.

@dataclasses.dataclass(frozen=True)
class MatrixElementBasis:
    """The orthonormal basis of functions on S_n given by the irreps' matrix elements.

    basis   [n!, n!] float64; row r is a function on the group (columns: elements), rows of
            irrep q are sqrt(d_q / n!) rho_q(g)_jk for j, k < d_q in row-major order
    names   [Q] each irrep's label ('standard (4,1)')
    slices  [Q] each irrep's rows of `basis` (d_q^2 of them)
    labels  [n!] int, the irrep index of each row
    dims    [Q] int, each irrep's dimension d_q
    """
    basis: np.ndarray
    names: tuple[str, ...]
    slices: tuple[slice, ...]
    labels: np.ndarray
    dims: np.ndarray


@functools.lru_cache(maxsize=None)
def matrix_element_basis(n: int = 5) -> MatrixElementBasis:
    """The Peter-Weyl basis of R^{n!}, grouped by irrep (see MatrixElementBasis)."""
    reps = irreps(n)
    order = math.factorial(n)
    rows, slices, labels, start = [], [], [], 0
    for q, rep in enumerate(reps):
        d = rep.dim
        # [n!, d, d] -> [d*d, n!]: one function of g per matrix entry (j, k)
        rows.append(math.sqrt(d / order) * rep.matrices.reshape(order, d * d).T)
        slices.append(slice(start, start + d * d))
        labels += [q] * (d * d)
        start += d * d
    basis, labels, dims = np.concatenate(rows), np.asarray(labels), np.array([r.dim for r in reps])
    for a in (basis, labels, dims):
        a.setflags(write=False)  # cached and shared: nobody may edit it in place
    return MatrixElementBasis(basis, tuple(r.label for r in reps), tuple(slices), labels, dims)


# ----------------------------------------------------------------------------------------------
# The probe.

def irrep_variance(w_e: jax.Array) -> jax.Array:
    """Each irrep's share of the embedding's variance: [..., n!, D] -> [..., Q].

    share_q = ||P_q (W - mean)||_F^2 / ||W - mean||_F^2, the mean taken over the n! element
    rows and P_q the projection onto irrep q's d_q^2 basis functions (orthogonal, so the shares
    sum to 1). Centring removes exactly the constant functions, which are the trivial irrep's
    subspace: its share is 0 by construction (the other irreps' functions sum to 0 over the
    group, so centring leaves their components unchanged). Leading axes (a member axis) are
    kept; an all-constant embedding gives 0 everywhere rather than 0/0. Computed in w_e's dtype
    with the basis in float64 rounded to it."""
    meb = matrix_element_basis(degree(w_e.shape[-2]))
    basis = jnp.asarray(meb.basis, w_e.dtype)  # [G, G]
    onehot = jnp.asarray(np.eye(len(meb.names))[meb.labels], w_e.dtype)  # [G, Q]
    centred = w_e - jnp.mean(w_e, axis=-2, keepdims=True)
    comps = jnp.einsum("rg,...gd->...rd", basis, centred, precision=jax.lax.Precision.HIGHEST)
    energy = jnp.einsum("...rd,rq->...q", jnp.square(comps), onehot,
                        precision=jax.lax.Precision.HIGHEST)  # [..., Q]
    total = jnp.sum(jnp.square(centred), axis=(-2, -1))[..., None]  # [..., 1]
    return energy / jnp.where(total > 0, total, 1.0)


def chance_shares(n: int = 5) -> np.ndarray:
    """[Q] the shares an isotropic random embedding has on average: d_q^2 / (n! - 1) (its
    variance spread evenly over the n! - 1 non-constant directions), 0 for the trivial irrep.
    For S5: 1/119 (sign), 16/119, 16/119, 25/119, 25/119, 36/119."""
    dims = matrix_element_basis(n).dims
    share = dims.astype(np.float64) ** 2 / (math.factorial(n) - 1)
    share[0] = 0.0  # irreps(n)[0] is the trivial (the sort puts the one-row shape first)
    return share


def key_irreps(shares: jax.Array, threshold: float = 0.2) -> jax.Array:
    """A [..., Q] mask of the key irreps: those explaining more than `threshold` of the
    variance, the counterpart of `measures.key_frequencies`. Read it against `chance_shares`:
    for S5 an isotropic random embedding already puts 21% into each 5-dimensional irrep and 30%
    into the 6-dimensional one, so the mask marks learned structure only where the shares are
    far from chance (a trained embedding concentrated on one or two irreps)."""
    return shares > threshold
