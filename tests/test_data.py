"""Tokenisation and splits: layout, sizes, disjointness, determinism, the reference's algorithm."""

import random

import numpy as np
import pytest

from grokjax import data
from grokjax.errors import GrokjaxError
from grokjax.tasks import parse_task_spec


def dataset(spec, p=7, **kw):
    return data.make_dataset(parse_task_spec(spec, p=p), p, **kw)


def test_elementary_input_is_x_op_y_with_the_reference_vocabulary():
    ds = dataset("subtract", p=7)
    assert ds.vocab.d_vocab == 7 + 5
    x, y = ds.operands[10]
    np.testing.assert_array_equal(ds.tokens[0, 10], [x, 7 + 2, y])  # '-' = p+2
    assert ds.labels[0, 10] == (x - y) % 7


def test_prietos_variant_reads_the_two_operands_with_the_vocabulary_p():
    """Prieto et al.'s MLP sees one-hot [a, b] and predicts over exactly the p numbers."""
    ds = dataset("add", p=7, variant="prieto")
    assert ds.vocab.d_vocab == 7 and ds.vocab.describe() == {}
    np.testing.assert_array_equal(ds.tokens[0], ds.operands)
    assert ds.labels[0, 10] == ds.operands[10].sum() % 7


def test_polynomials_use_the_equals_token():
    ds = dataset("x2_y2", p=7)
    assert set(ds.tokens[0, :, 1]) == {7}


def test_three_variable_input_is_x_op_y_op_z():
    ds = dataset("add_z", p=5)
    assert ds.tokens.shape == (1, 125, 5)
    np.testing.assert_array_equal(ds.tokens[0, 7], [0, 6, 1, 6, 2])


def test_mixture_of_operators_keeps_the_reference_tokens():
    ds = dataset("add,subtract,multiply", p=7)
    assert ds.vocab.op_tokens == (8, 9, 10) and ds.vocab.d_vocab == 12
    assert ds.tokens.shape == (3, 49, 3) and ds.labels.shape == (3, 49)
    np.testing.assert_array_equal(ds.tokens[:, :, 0], np.broadcast_to(ds.operands[:, 0], (3, 49)))


def test_polynomial_mixture_gets_task_tokens():
    ds = dataset("x2_y2,x2_xy_y2,x2_2xy_y2", p=7)
    assert ds.vocab.op_tokens == (7, 12, 13) and ds.vocab.d_vocab == 14
    assert ds.vocab.describe()["<task_0>"] == 12
    # Same operands, different operator token, different labels: the mixture is learnable.
    assert len({tuple(ds.tokens[t, 5]) for t in range(3)}) == 3


def test_nanda_variant_reads_a_b_equals():
    ds = dataset("add", p=7, variant="nanda")
    assert ds.vocab.d_vocab == 8
    np.testing.assert_array_equal(ds.tokens[0, 9], [1, 2, 7])
    with pytest.raises(GrokjaxError, match="one two-variable task"):
        dataset("add,subtract", p=7, variant="nanda")


def test_domains():
    assert (dataset("division").operands[:, 1] != 0).all()
    assert len(dataset("division").operands) == 7 * 6
    assert len(dataset("multiply_non_zero").operands) == 6 * 6
    sym = dataset("add", symmetric=True).operands
    assert (sym[:, 0] <= sym[:, 1]).all() and len(sym) == 7 * 8 // 2


def test_paper_split_sizes_disjoint_and_complete():
    ds = dataset("add", p=97)
    train, test = data.split_indices(len(ds.operands), 0.3, seed=0)
    assert len(train) == int(0.3 * 97**2) == 2822 and len(test) == 97**2 - 2822
    assert len(set(train) | set(test)) == 97**2 and not set(train) & set(test)


def test_splits_are_deterministic_per_seed_and_differ_across_seeds():
    a = data.split_indices(100, 0.3, seed=1)[0]
    np.testing.assert_array_equal(a, data.split_indices(100, 0.3, seed=1)[0])
    assert set(a) != set(data.split_indices(100, 0.3, seed=2)[0])


def test_fixed_split_seed_gives_every_seed_the_same_split():
    ds = dataset("add")
    train, _ = data.make_splits(ds, 0.5, [3, 3, 3])
    assert (train == train[0]).all()


def reference_gen_train_test(frac_train, num, seed, is_symmetric_input=False, division=False,
                             non_zero=False):
    """paper.md section 1.3, written out as the reference's gen_train_test does it."""
    if is_symmetric_input and not division:
        pairs = [(i, j) for i in range(num) for j in range(num) if i <= j]
    elif is_symmetric_input and division:
        pairs = [(i, j) for i in range(num) for j in range(num) if (i <= j and j != 0)]
    elif not is_symmetric_input and not division:
        pairs = [(i, j) for i in range(num) for j in range(num)]
    else:
        pairs = [(i, j) for i in range(num) for j in range(num) if j != 0]
    if non_zero:
        pairs = [pair for pair in pairs if 0 not in pair]
    random.seed(seed)
    random.shuffle(pairs)
    div = int(frac_train * len(pairs))
    return pairs[:div], pairs[div:]


@pytest.mark.parametrize("task,kw", [
    ("add", {}), ("division", {"division": True}), ("multiply_non_zero", {"non_zero": True}),
    ("add", {"is_symmetric_input": True}),
    ("division", {"division": True, "is_symmetric_input": True}),
    ("add,subtract,multiply", {})])
@pytest.mark.parametrize("seed", [0, 1, 42])
def test_reference_mode_reproduces_the_reference_pairs_in_order(task, kw, seed):
    p = 97
    ds = dataset(task, p=p, split_mode="reference", symmetric=kw.get("is_symmetric_input", False))
    train, test = data.split_indices(len(ds.operands), 0.3, seed, mode="reference")
    ref_train, ref_test = reference_gen_train_test(0.3, p + 5, seed, **kw)
    assert [tuple(r) for r in ds.operands[train]] == ref_train
    assert [tuple(r) for r in ds.operands[test]] == ref_test


def test_reference_mode_quirk_special_tokens_act_as_operands():
    ds = dataset("add", p=97, split_mode="reference")
    assert len(ds.operands) == 102**2 == 10404
    train, _ = data.split_indices(len(ds.operands), 0.3, 0, mode="reference")
    assert len(train) == 3121
    assert ds.tokens[0, :, 0].max() == 101  # '/' acting as the number 101 = 4 mod 97


def test_reference_mode_refuses_three_variable_tasks():
    with pytest.raises(GrokjaxError, match="three-variable"):
        dataset("add_z", split_mode="reference")


def test_empty_train_split_is_an_error():
    with pytest.raises(GrokjaxError, match="empty"):
        data.split_indices(49, 0.01, 0)
