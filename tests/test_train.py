"""The training step and the many-member program."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from grokjax import run
from grokjax import models, optim, program
from grokjax.experiment import build
from grokjax.summary import SHARED_STEPS
from tests.conftest import tiny_config


def setup(cfg):
    exp = build(cfg)
    data = exp.data()
    states = program.make_init(exp.scfg, exp.n_tasks, exp.batching, group=exp.member_group)(
        {"seed": jnp.asarray(exp.member_seeds, jnp.int32)})
    return exp, data, states


def one_seed(tree, i):
    return jax.tree.map(lambda x: x[i], tree)


def seed_data(data, i):
    return data.replace(train_idx=data.train_idx[i], test_idx=data.test_idx[i],
                        table_train=None if data.table_train is None else data.table_train[i])


class TrainStepTest(chex.TestCase):
    """The step jitted and not: the same function either way (chex's variants)."""

    @chex.variants(with_jit=True, without_jit=True)
    def test_step_metrics_are_those_of_the_params_before_the_update(self):
        cfg = tiny_config()
        exp, data, states = setup(cfg)
        state, d = one_seed(states, 0), seed_data(data, 0)
        step = self.variant(lambda s, d: program.train_step(s, d, exp.scfg))
        new, metrics = step(state, d)
        before = program.evaluate(state.params, d, exp.scfg, "train")
        np.testing.assert_allclose(metrics["loss"], before["loss"], rtol=1e-6)
        assert int(new.step) == 1
        chex.assert_trees_all_equal_shapes_and_dtypes(new.params, state.params)
        assert not np.allclose(new.params["embed"]["W_E"], state.params["embed"]["W_E"])
        # AdamW's first step, written out: p - lr (g / (|g| + eps) + wd p)
        tokens, labels = d.tokens[:, d.train_idx], d.labels[:, d.train_idx]
        grads = jax.grad(lambda p: program.task_metrics(p, tokens, labels, exp.scfg)[0])(
            state.params)
        lr, wd, eps = cfg.optim.lr, cfg.optim.weight_decay, cfg.optim.eps
        want = jax.tree.map(lambda p, g: p - lr * (g / (jnp.abs(g) + eps) + wd * p),
                            state.params, grads)
        chex.assert_trees_all_close(new.params, want, rtol=1e-5, atol=1e-8)


def test_first_step_is_torch_adamw(tiny):
    """Step 1 of AdamW: p - lr * (g / (|g| + eps) + wd * p), decay decoupled from the gradient."""
    exp, data, states = setup(tiny)
    state, d = one_seed(states, 0), seed_data(data, 0)
    tokens, labels = d.tokens[:, d.train_idx], d.labels[:, d.train_idx]
    grads = jax.grad(lambda p: program.task_metrics(p, tokens, labels, exp.scfg)[0])(state.params)
    new, _ = program.train_step(state, d, exp.scfg)
    lr, wd, eps = tiny.optim.lr, tiny.optim.weight_decay, tiny.optim.eps
    want = jax.tree.map(lambda p, g: p - lr * (g / (jnp.abs(g) + eps) + wd * p), state.params, grads)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8), new.params, want)


def test_loss_is_float64_and_params_stay_float32(tiny):
    exp, data, states = setup(tiny)
    assert exp.scfg.loss_dtype == jnp.float64
    assert {x.dtype for x in jax.tree.leaves(states.params)} == {jnp.dtype(jnp.float32)}
    state, d = one_seed(states, 0), seed_data(data, 0)
    loss, _ = jax.jit(lambda s: program.task_metrics(
        s.params, d.tokens[:, d.train_idx], d.labels[:, d.train_idx], exp.scfg))(state)
    assert loss.dtype == jnp.float64
    new, _ = program.train_step(state, d, exp.scfg)
    assert {x.dtype for x in jax.tree.leaves(new.params)} == {jnp.dtype(jnp.float32)}


def test_warmup_starts_at_learning_rate_zero(tiny):
    with tiny.unlocked():
        tiny.optim.warmup_steps = 10
        tiny.optim.weight_decay = 0.0
    exp, data, states = setup(tiny)
    state, d = one_seed(states, 0), seed_data(data, 0)
    new, _ = program.train_step(state, d, exp.scfg)  # lr = lr * min(0 / 10, 1) = 0
    jax.tree.map(np.testing.assert_array_equal, new.params, state.params)
    newer, _ = program.train_step(new, d, exp.scfg)
    assert not np.allclose(newer.params["embed"]["W_E"], state.params["embed"]["W_E"])


def test_minibatches_draw_a_different_subset_each_step(tiny):
    with tiny.unlocked():
        tiny.optim.batch_size = 8
    exp, data, states = setup(tiny)
    state, d = one_seed(states, 0), seed_data(data, 0)
    s1, m1 = program.train_step(state, d, exp.scfg)
    _, m2 = program.train_step(s1.replace(params=state.params, opt_state=state.opt_state), d,
                                 exp.scfg)
    assert float(m1["loss"][0]) != float(m2["loss"][0])  # same params, another minibatch


def test_with_minibatches_memorisation_is_measured_on_the_whole_train_set():
    cfg = tiny_config()
    with cfg.unlocked():
        cfg.optim.batch_size = 4  # a 4-example minibatch is often all right by chance
        cfg.train.acc_threshold = 0.9
        cfg.probe.every = 0  # (probes: tests/test_probes.py)
    states, records = run_program(cfg, steps=20)
    full = records["train/acc"]  # [seed, log point, task]: the whole train set
    for i in range(2):
        reached = full[i, :, 0] >= 0.9
        want = int(records["step"][i][np.argmax(reached)]) if reached.any() else -1
        assert int(states.mem_step[i, 0]) == want


def run_program(cfg, steps=20):
    exp, data, states = setup(cfg)
    chunk = program.make_program(exp.scfg, steps // cfg.train.eval_every, cfg.train.eval_every,
                                 exp.batching, group=exp.member_group)
    states, records = chunk(states, data, steps // program.outer_steps(exp.scfg,
                                                                      cfg.train.eval_every))
    return jax.device_get(states), jax.device_get(records)


# lax.map, the CPU's default, is also what test_a_whole_run_of_a_seed_alone_equals_it_in_a_batch
# trains through `grokjax train`; here with -m slow (14 s)
@pytest.mark.parametrize("batching", [pytest.param("map", marks=pytest.mark.slow), "vmap"])
def test_a_seed_gives_the_same_result_alone_and_in_a_batch(batching):
    """Bit for bit with 'map' (the CPU default); to float rounding with 'vmap'."""
    batch, alone = tiny_config(), tiny_config()
    with batch.unlocked(), alone.unlocked():
        batch.seed_list = (0, 1, 2, 3, 4)
        alone.seed_list = (1,)
        batch.train.batching = alone.train.batching = batching
    s_batch, r_batch = run_program(batch)
    s_alone, r_alone = run_program(alone)
    same = chex.assert_trees_all_equal if batching == "map" else functools.partial(
        chex.assert_trees_all_close, rtol=1e-4, atol=1e-6)
    member_1 = lambda tree, i: jax.tree.map(lambda x: x[i], tree)  # noqa: E731
    same(member_1(s_batch, 1), member_1(s_alone, 0))
    same(member_1(r_batch, 1), member_1(r_alone, 0))


def test_a_member_in_a_group_equals_its_group_run_alone():
    """vmap in groups (train.member_group = 2 of 5 members: two groups and a remainder of one)
    loops over the groups, each batched: a member equals its group's members vmapped alone, bit
    for bit on the CPU, and all members at once to float rounding."""
    def seeds(seed_list, group):
        cfg = tiny_config()
        with cfg.unlocked():
            cfg.seed_list, cfg.train.batching, cfg.train.member_group = seed_list, "vmap", group
        return run_program(cfg)
    grouped, group_alone = seeds((0, 1, 2, 3, 4), 2), seeds((2, 3), 0)
    last, every = seeds((4,), 0), seeds((0, 1, 2, 3, 4), 0)
    member = lambda tree, i: jax.tree.map(lambda x: x[i], tree)  # noqa: E731
    for part in range(2):  # the state, the records
        for i in range(2):
            chex.assert_trees_all_equal(member(grouped[part], 2 + i), member(group_alone[part], i))
        chex.assert_trees_all_equal(member(grouped[part], 4), member(last[part], 0))
        chex.assert_trees_all_close(grouped[part], every[part], rtol=1e-4, atol=1e-6)


def test_a_whole_run_of_a_seed_alone_equals_it_in_a_batch(tmp_path):
    """Through `grokjax train` (chunks, the final log point and its probes, the summary): seed
    1 alone and among seeds 0..2, bit for bit on the CPU, every array of history.npz. (The
    final probe's Gini once differed by one float32 ulp: its sums are now taken in float64.)"""
    from tests.conftest import train_tiny
    args = ("--steps", "40", "--set", "tensorboard.enabled=false")
    batch = train_tiny(tmp_path / "batch", "--seeds", "3", *args)
    alone = train_tiny(tmp_path / "alone", "--seed-list", "1", *args)
    assert set(batch) == set(alone)
    for key in batch:
        if key in SHARED_STEPS:
            np.testing.assert_array_equal(batch[key], alone[key], err_msg=key)
        else:
            np.testing.assert_array_equal(batch[key][1], alone[key][0], err_msg=key)


def test_records_hold_every_log_point_with_a_task_axis():
    cfg = tiny_config()
    with cfg.unlocked():
        cfg.task = "add,subtract"
        cfg.probe.every = 0
    states, records = run_program(cfg)
    assert records["step"].shape == (2, 4)
    np.testing.assert_array_equal(records["step"][0], [0, 5, 10, 15])
    assert records["test/acc"].shape == (2, 4, 2)  # seed, log point, task
    assert records["grok_step"].shape == (2, 4, 3)  # tasks + all tasks (the worst one)
    assert int(states.step[0]) == 20


def test_a_threshold_met_at_the_start_puts_memorisation_and_grokking_at_step_0():
    """The initial log point counts: with a threshold every accuracy meets, every member (and
    task) memorises and groks at step 0, and the later log points leave that first step."""
    cfg = tiny_config()
    with cfg.unlocked():
        cfg.train.acc_threshold = 1e-9  # reached at once
        cfg.probe.every = 0
    states, _ = run_program(cfg)
    np.testing.assert_array_equal(states.mem_step, 0)
    np.testing.assert_array_equal(states.grok_step, 0)


def test_the_grok_step_is_the_first_log_point_whose_test_accuracy_reaches_the_threshold():
    """Derived from the records themselves: the threshold changes the event steps only, never
    the training, so a threshold read off one run's test accuracy is crossed mid-run."""
    cfg = tiny_config()
    with cfg.unlocked():
        cfg.task = "add,subtract"
        cfg.probe.every = 0
    _, records = run_program(cfg)
    worst = records["test/acc"].min(-1)  # [member, log point]: all tasks reached it
    threshold = float(np.sort(np.unique(worst))[len(np.unique(worst)) // 2])
    with cfg.unlocked():
        cfg.train.acc_threshold = threshold
    states, again = run_program(cfg)
    np.testing.assert_array_equal(again["test/acc"], records["test/acc"])
    for i in range(2):
        for t in range(2):  # per task, then all tasks together
            reached = records["test/acc"][i, :, t] >= threshold
            want = int(records["step"][i][np.argmax(reached)]) if reached.any() else -1
            assert int(states.grok_step[i, t]) == want, (i, t)
        reached = worst[i] >= threshold
        want = int(records["step"][i][np.argmax(reached)]) if reached.any() else -1
        assert int(states.grok_step[i, -1]) == want
    assert (states.grok_step[:, -1] > 0).any()  # crossed during the run, not at its start


def test_the_norm_constraint_holds_the_weight_norm_at_its_initial_value():
    """optim.constrain_norm: every step ends with the params rescaled to their initial global
    norm (Omnigrok), which the unconstrained run leaves behind at once."""
    free, held = tiny_config(), tiny_config()
    with free.unlocked(), held.unlocked():
        free.optim.weight_decay = held.optim.weight_decay = 0.0
        free.probe.every = held.probe.every = 0
        held.optim.constrain_norm = True
    exp, data, states = setup(held)
    init = jax.vmap(lambda k: models.init(k, exp.scfg.mcfg))(
        jax.vmap(lambda s: jax.random.split(jax.random.key(s))[0])(jnp.arange(2)))
    want = np.sqrt(sum(np.sum(np.square(np.asarray(x, np.float64)), axis=tuple(range(1, x.ndim)))
                       for x in jax.tree.leaves(init)))
    held_state = [x for x in jax.tree.leaves(states.opt_state, is_leaf=lambda x: isinstance(
        x, optim.HoldNormState)) if isinstance(x, optim.HoldNormState)]
    np.testing.assert_allclose(held_state[0].norm, want, rtol=1e-6)
    _, records = run_program(held)
    np.testing.assert_allclose(records["norm/total"], np.broadcast_to(want[:, None], (2, 4)),
                               rtol=1e-5)
    _, unheld = run_program(free)
    assert np.abs(unheld["norm/total"][:, -1] / want - 1).min() > 1e-3
    # One step: the unconstrained AdamW update, then the rescale, computed here in numpy.
    exp_free, _, states_free = setup(free)
    state, d = one_seed(states, 0), seed_data(data, 0)
    step_free, _ = program.train_step(one_seed(states_free, 0), d, exp_free.scfg)
    step_held, _ = program.train_step(state, d, exp.scfg)
    leaves = [np.asarray(x, np.float64) for x in jax.tree.leaves(step_free.params)]
    scale = want[0] / np.sqrt(sum(np.sum(x ** 2) for x in leaves))
    for a, b in zip(jax.tree.leaves(step_held.params), leaves):
        np.testing.assert_allclose(a, b * scale, rtol=1e-5, atol=1e-8)


# without probes (12 s) with -m slow: the pieces are the same with probes between them
@pytest.mark.parametrize("probe_every", [10, pytest.param(0, marks=pytest.mark.slow)])
def test_a_run_split_into_a_short_first_chunk_and_partial_ones_computes_one_long_chunk(
        tmp_path, probe_every):
    # grokjax train dispatches a short first chunk (progress within seconds), then chunks up
    # to chunk_steps, all in one compiled program that runs only their first iterations; the
    # history is bit for bit that of one 40-step chunk run at once.
    cfg = tiny_config()
    with cfg.unlocked():
        cfg.train.steps, cfg.train.chunk_steps, cfg.probe.every = 40, 20, probe_every
        cfg.checkpoint.save_every = 0
        cfg.tensorboard.enabled = False
    unit = probe_every or cfg.train.eval_every
    assert run._first_steps(cfg.train, unit) == unit < cfg.train.chunk_steps
    run.train(cfg, tmp_path / "r", progress=False)
    history = dict(np.load(tmp_path / "r" / "history.npz"))
    _, records = run_program(cfg, steps=40)
    assert set(records) <= set(history)
    for k, v in records.items():
        want = v[0] if k in SHARED_STEPS else v  # the same for every member
        n = want.shape[0 if k in SHARED_STEPS else 1]
        got = history[k][:n] if k in SHARED_STEPS else history[k][:, :n]
        assert history[k].shape[0 if k in SHARED_STEPS else 1] == n + 1  # and the final point
        np.testing.assert_array_equal(got, want, err_msg=k)
