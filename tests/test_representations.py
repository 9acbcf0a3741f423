"""The irreps of S_n and the irrep-variance probe, against computations independent of the module:
composition of permutation tuples by hand, S5's textbook character table, and embeddings built
from one irrep's matrices, whose shares are known by construction."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from grokjax.probes import representations as reps

G5 = list(itertools.permutations(range(5)))  # the shared element order, built here by hand
INDEX5 = {t: i for i, t in enumerate(G5)}


def compose(a, b):
    """(a o b)[j] = a[b[j]]: apply b, then a."""
    return tuple(a[b[j]] for j in range(len(b)))


def mult_table(n):
    """[n!, n!] int: index of (a o b), from tuples composed by hand."""
    g = list(itertools.permutations(range(n)))
    index = {t: i for i, t in enumerate(g)}
    return np.array([[index[compose(a, b)] for b in g] for a in g])


def cycle_type(perm):
    """The cycle lengths of perm, longest first: (2, 1, 1, 1) for a transposition in S5."""
    seen, lengths = set(), []
    for start in range(len(perm)):
        if start in seen:
            continue
        j, k = start, 0
        while j not in seen:
            seen.add(j)
            j, k = perm[j], k + 1
        lengths.append(k)
    return tuple(sorted(lengths, reverse=True))


# The character table of S5 by conjugacy class, from Fulton & Harris, "Representation Theory: A
# First Course" (GTM 129, 1991), section 3.1 ("Examples: S5 and A5"). Classes by cycle type,
# with their sizes (sum 120):
CLASSES = [(1, 1, 1, 1, 1), (2, 1, 1, 1), (3, 1, 1), (2, 2, 1), (4, 1), (3, 2), (5,)]
CLASS_SIZES = [1, 10, 20, 15, 30, 20, 24]
CHARACTERS_S5 = {  # partition: chi on the classes above
    (5,): [1, 1, 1, 1, 1, 1, 1],  # trivial
    (1, 1, 1, 1, 1): [1, -1, 1, 1, -1, -1, 1],  # sign
    (4, 1): [4, 2, 1, 0, 0, -1, -1],  # standard: fixed points - 1
    (2, 1, 1, 1): [4, -2, 1, 0, 0, 1, -1],  # sign x standard
    (3, 2): [5, 1, -1, 1, -1, 1, 0],
    (2, 2, 1): [5, -1, -1, 1, 1, -1, 0],  # sign x (3,2)
    (3, 1, 1): [6, 0, 0, -2, 0, 0, 1],  # exterior square of standard
}


def characters(n):
    """[Q, n!]: tr rho(g) of every irrep the module builds."""
    return np.stack([np.trace(r.matrices, axis1=1, axis2=2) for r in reps.irreps(n)])


# ----------------------------------------------------------------------------------------------
# The group and the irreps.

def test_elements_are_the_shared_lexicographic_order():
    assert reps.elements(5).tolist() == [list(t) for t in G5]
    assert reps.degree(120) == 5 and reps.degree(6) == 3
    with pytest.raises(ValueError):
        reps.degree(100)


@pytest.mark.parametrize("n", [3, 4, 5])
def test_adjacent_word_multiplies_back_to_the_permutation(n):
    ident = tuple(range(n))
    for perm in itertools.permutations(range(n)):
        prod = ident
        for i in reps.adjacent_word(perm):
            s = list(ident)
            s[i], s[i + 1] = s[i + 1], s[i]
            prod = compose(prod, tuple(s))
        assert prod == perm


@pytest.mark.parametrize("n", [3, 4, 5])
def test_every_irrep_is_an_orthogonal_homomorphism(n):
    table = mult_table(n)
    for rep in reps.irreps(n):
        m = rep.matrices  # [n!, d, d]
        d = rep.dim
        np.testing.assert_allclose(m[0], np.eye(d), atol=1e-12)  # element 0 is the identity
        np.testing.assert_allclose(np.einsum("gij,gkj->gik", m, m),
                                   np.broadcast_to(np.eye(d), m.shape), atol=1e-10)
        # rho(a o b) == rho(a) @ rho(b) for every pair (a, b)
        np.testing.assert_allclose(m[table], np.einsum("aij,bjk->abik", m, m), atol=1e-10)


def test_s6_sampled_pairs_are_homomorphic():
    g = list(itertools.permutations(range(6)))
    index = {t: i for i, t in enumerate(g)}
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, 720, size=(300, 2))
    for rep in reps.irreps(6):
        m = rep.matrices
        for a, b in pairs:
            np.testing.assert_allclose(m[index[compose(g[a], g[b])]], m[a] @ m[b], atol=1e-10)


def test_s5_characters_match_the_textbook_table():
    irreps = reps.irreps(5)
    assert [r.partition for r in irreps] == [(5,), (1, 1, 1, 1, 1), (4, 1), (2, 1, 1, 1), (3, 2),
                                             (2, 2, 1), (3, 1, 1)]
    assert [r.dim for r in irreps] == [1, 1, 4, 4, 5, 5, 6]
    klass = np.array([CLASSES.index(cycle_type(t)) for t in G5])
    assert np.bincount(klass).tolist() == CLASS_SIZES
    chi = characters(5)
    for rep, row in zip(irreps, chi):
        np.testing.assert_allclose(row, np.array(CHARACTERS_S5[rep.partition])[klass], atol=1e-10,
                                   err_msg=rep.label)


@pytest.mark.parametrize("n", [3, 4, 5, 6])
def test_irreps_are_irreducible_inequivalent_and_complete(n):
    order = math.factorial(n)
    chi = characters(n)  # real characters: <chi_a, chi_b> = (1/|G|) sum_g chi_a(g) chi_b(g)
    np.testing.assert_allclose(chi @ chi.T / order, np.eye(len(chi)), atol=1e-10)
    dims = [r.dim for r in reps.irreps(n)]
    assert sum(d * d for d in dims) == order
    assert len(dims) == {3: 3, 4: 5, 5: 7, 6: 11}[n]  # one irrep per partition of n
    assert dims == [reps.hook_dimension(r.partition) for r in reps.irreps(n)]


def test_names():
    labels = [r.label for r in reps.irreps(5)]
    assert labels == ["trivial (5)", "sign (1^5)", "standard (4,1)", "sign x standard (2,1^3)",
                      "(3,2)", "sign x (3,2) (2^2,1)", "exterior square of standard (3,1^2)"]
    assert reps.matrix_element_basis(5).names == tuple(labels)


# ----------------------------------------------------------------------------------------------
# The basis.

@pytest.mark.parametrize("n", [3, 4, 5, 6])
def test_matrix_element_basis_is_orthonormal_and_complete(n):
    meb = reps.matrix_element_basis(n)
    order = math.factorial(n)
    assert meb.basis.shape == (order, order)
    np.testing.assert_allclose(meb.basis @ meb.basis.T, np.eye(order), atol=1e-10)
    assert np.linalg.matrix_rank(meb.basis) == order
    for q, (sl, d) in enumerate(zip(meb.slices, meb.dims)):
        assert sl.stop - sl.start == d * d and (meb.labels[sl] == q).all()
    assert meb.slices[-1].stop == order


def test_basis_rows_are_the_scaled_matrix_elements():
    meb = reps.matrix_element_basis(5)
    std = reps.irreps(5)[2]
    j, k = 1, 3
    np.testing.assert_allclose(meb.basis[meb.slices[2]][j * 4 + k],
                               math.sqrt(4 / 120) * std.matrices[:, j, k], atol=1e-14)


# ----------------------------------------------------------------------------------------------
# The probe.

def embedding_from(q, d_model=32, seed=0):
    """W_E [120, d_model] with W_E[g] = vec(rho_q(g)) @ R, R [d^2, d_model] Gaussian: every column
    is a combination of irrep q's matrix elements, so all of its variance is in irrep q."""
    rep = reps.irreps(5)[q]
    r = np.random.default_rng(seed).normal(size=(rep.dim ** 2, d_model))
    return rep.matrices.reshape(120, -1) @ r


def test_one_irrep_embedding_has_all_its_variance_there():
    for q in range(1, 7):  # not the trivial: a constant embedding has no variance
        share = np.asarray(reps.irrep_variance(jnp.asarray(embedding_from(q))))
        expected = np.eye(7)[q]
        np.testing.assert_allclose(share, expected, atol=1e-6, err_msg=reps.irreps(5)[q].label)
    # the brief's example: the standard rep (4,1) through a [16, 32] projection
    share = reps.irrep_variance(jnp.asarray(embedding_from(2)))
    assert reps.key_irreps(share).tolist() == [False, False, True, False, False, False, False]


def test_mixture_gives_its_weights_and_the_mean_is_ignored():
    a, b = embedding_from(2, seed=1), embedding_from(6, seed=2)
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)  # unit Frobenius norm, orthogonal
    offset = np.random.default_rng(3).normal(size=(1, 32)) * 10  # a mean row: the trivial irrep
    w = math.sqrt(0.3) * a + math.sqrt(0.7) * b + offset
    share = np.asarray(reps.irrep_variance(jnp.asarray(w)))
    np.testing.assert_allclose(share, [0, 0, 0.3, 0, 0, 0, 0.7], atol=1e-10)


def test_random_embedding_spreads_by_dimension_squared():
    w = np.random.default_rng(0).normal(size=(120, 512))
    share = np.asarray(reps.irrep_variance(jnp.asarray(w)))
    chance = np.array([0, 1, 16, 16, 25, 25, 36]) / 119
    np.testing.assert_allclose(reps.chance_shares(5), chance, atol=1e-15)
    np.testing.assert_allclose(share, chance, atol=0.02)
    assert share[0] < 1e-12 and abs(share.sum() - 1) < 1e-10  # centred: trivial 0, sum 1


def test_member_axis_gives_each_member_alone():
    rng = np.random.default_rng(1)
    members = np.stack([embedding_from(2, seed=4) + 0.1 * rng.normal(size=(120, 32)),
                        rng.normal(size=(120, 32)),
                        embedding_from(4, seed=5)])  # [M=3, 120, 32]
    batched = np.asarray(reps.irrep_variance(jnp.asarray(members)))
    assert batched.shape == (3, 7)
    for m in range(3):
        np.testing.assert_allclose(batched[m], reps.irrep_variance(jnp.asarray(members[m])),
                                   atol=1e-12)
    np.testing.assert_allclose(jax.vmap(reps.irrep_variance)(jnp.asarray(members)), batched,
                               atol=1e-12)
    two_axes = reps.irrep_variance(jnp.asarray(np.stack([members, members[::-1]])))
    assert two_axes.shape == (2, 3, 7)
    np.testing.assert_allclose(two_axes[1], batched[::-1], atol=1e-12)


def test_float32_and_degenerate_inputs():
    share = reps.irrep_variance(jnp.asarray(embedding_from(3), jnp.float32))
    assert share.dtype == jnp.float32
    np.testing.assert_allclose(share, np.eye(7)[3], atol=1e-5)
    const = reps.irrep_variance(jnp.ones((120, 8)))  # no variance: zeros, not NaN
    np.testing.assert_array_equal(const, np.zeros(7))


def test_grokjax_probe_of_an_s5_run_reports_each_irreps_share(tmp_path, capsys):
    """A short run on S5 composition (the tiny model, p = 120): `grokjax probe` reports W_E's
    and W_U's irrep shares per seed, which sum to 1 (the irreps' matrix elements span every
    function on the group orthogonal to the constants), as the probe computed directly does."""
    from grokjax import cli
    from grokjax.saved import open_run
    from tests.conftest import TINY
    run = tmp_path / "s5"
    assert cli.main(["train", TINY, "--out", str(run), "--no-progress", "--set", "task=s5",
                     "--set", "p=120", "--set", "train_fraction=0.3", "--set", "probe.every=0",
                     "--set", "tensorboard.enabled=false"]) == 0
    assert cli.main(["probe", str(run)]) == 0
    printed = capsys.readouterr().out
    assert "task s5 on S5" in printed and "standard" in printed
    from grokjax.report import probe
    rep = probe.group_report(run)
    assert len(rep["seeds"]) == 2 and rep["group"] == "S5"
    params = open_run(run).restore().state.params
    direct = np.asarray(reps.irrep_variance(np.asarray(params["embed"]["W_E"])[:, :120]))
    for i, entry in enumerate(rep["seeds"]):
        shares = list(entry["irreps/W_E"].values())
        np.testing.assert_allclose(sum(shares), 1.0, atol=1e-5)
        np.testing.assert_allclose(shares, direct[i], rtol=1e-6)
        np.testing.assert_allclose(sum(entry["irreps/W_U"].values()), 1.0, atol=1e-5)
