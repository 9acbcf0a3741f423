"""S5 as openai/grok encodes it: the element order, and the three operators' tables against
a pure-Python computation (dicts of tuples, composed by explicit loops), plus the group
axioms read off the tables."""

import itertools

import numpy as np
import pytest

from grokjax import groups

# Independent of grokjax.groups: tuples, their index by dict, composition by loops.
PERMS = list(itertools.permutations(range(5)))
INDEX = {perm: i for i, perm in enumerate(PERMS)}


def then(first, second):
    """k -> second(first(k)): sympy's `first * second`, numpy's `second[first]`."""
    return tuple(second[first[k]] for k in range(5))


def invert(perm):
    out = [0] * 5
    for k, v in enumerate(perm):
        out[v] = k
    return tuple(out)


# openai/grok's grok/data.py, spelled with tuples: 's5' c = b[a]; 's5conj' c = a * b * ~a and
# 's5aba' c = a * b * a with sympy's Permutation product (left to right).
REFERENCE = {
    "s5": lambda a, b: tuple(b[a[k]] for k in range(5)),
    "s5conj": lambda a, b: then(then(a, b), invert(a)),
    "s5aba": lambda a, b: then(then(a, b), a),
}


def test_elements_are_itertools_permutations_in_order_with_the_identity_first():
    assert groups.ELEMENTS == tuple(PERMS) and groups.ORDER == 120
    np.testing.assert_array_equal(groups.ARRAYS, np.array(PERMS))
    assert groups.identity() == INDEX[(0, 1, 2, 3, 4)] == 0


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_each_table_is_its_operator_on_every_pair(name):
    want = np.array([[INDEX[REFERENCE[name](a, b)] for b in PERMS] for a in PERMS])
    table = groups.TABLES[name]
    assert table.shape == (120, 120) and table.dtype.kind == "i"
    np.testing.assert_array_equal(table, want)


def test_inverse_and_compose_match_the_loops():
    idx = np.arange(120)
    np.testing.assert_array_equal(groups.inverse(idx), [INDEX[invert(a)] for a in PERMS])
    a, b = np.meshgrid(idx, idx, indexing="ij")
    np.testing.assert_array_equal(groups.compose(a, b),
                                  [[INDEX[then(x, y)] for y in PERMS] for x in PERMS])


def test_s5_is_a_non_abelian_group():
    """On the 's5' table: associativity on every triple, a two-sided identity, inverses that
    the table itself confirms, and a pair that does not commute."""
    mul = groups.TABLES["s5"]
    e, idx = groups.identity(), np.arange(120)
    np.testing.assert_array_equal(mul[mul[:, :, None], idx[None, None, :]],  # (ab)c
                                  mul[idx[:, None, None], mul[None, :, :]])  # a(bc)
    np.testing.assert_array_equal(mul[e], idx)
    np.testing.assert_array_equal(mul[:, e], idx)
    inv = groups.inverse(idx)
    assert (mul[idx, inv] == e).all() and (mul[inv, idx] == e).all()
    assert (mul != mul.T).any()
    assert all(sorted(row) == list(range(120)) for row in mul)  # a Latin square


def test_conjugation_and_aba_in_terms_of_the_product():
    """s5conj(a, b) = a b a^-1 and s5aba(a, b) = a b a, written as products in the 's5' table
    (whose a, b is "a, then b", sympy's a * b)."""
    mul, inv = groups.TABLES["s5"], groups.inverse(np.arange(120))
    a, b = np.meshgrid(np.arange(120), np.arange(120), indexing="ij")
    np.testing.assert_array_equal(groups.TABLES["s5conj"], mul[mul[a, b], inv[a]])
    np.testing.assert_array_equal(groups.TABLES["s5aba"], mul[mul[a, b], a])
    e = groups.identity()
    # conjugating the identity gives the identity; conjugation by e changes nothing
    assert (groups.TABLES["s5conj"][:, e] == e).all()
    np.testing.assert_array_equal(groups.TABLES["s5conj"][e], np.arange(120))


def test_sympy_agrees_where_it_is_installed():
    """openai/grok's own arithmetic, where sympy is importable (not a grokjax dependency)."""
    Permutation = pytest.importorskip("sympy.combinatorics.permutations").Permutation
    elems = [Permutation(list(p)) for p in PERMS]
    for name, op in (("s5conj", lambda a, b: a * b * (a.__invert__())),
                     ("s5aba", lambda a, b: a * b * a)):
        want = [[INDEX[tuple(op(a, b).array_form)] for b in elems] for a in elems]
        np.testing.assert_array_equal(groups.TABLES[name], want)
