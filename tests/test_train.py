"""The training step and the many-seed program."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from grokjax import run
from grokjax import train as train_lib
from tests.conftest import tiny_config


def setup(cfg):
    exp = run.build(cfg)
    data = exp.data()
    states = train_lib.make_init(exp.scfg, exp.n_tasks, exp.batching)(
        {"seed": jnp.asarray(exp.seeds, jnp.int32)})
    return exp, data, states


def one_seed(tree, i):
    return jax.tree.map(lambda x: x[i], tree)


def seed_data(data, i):
    return data.replace(train_idx=data.train_idx[i], test_idx=data.test_idx[i],
                        grid_train=None if data.grid_train is None else data.grid_train[i])


def test_step_metrics_are_those_of_the_params_before_the_update(tiny):
    exp, data, states = setup(tiny)
    state, d = one_seed(states, 0), seed_data(data, 0)
    new, metrics = train_lib.train_step(state, d, exp.scfg)
    before = train_lib.evaluate(state.params, d, exp.scfg, "train")
    np.testing.assert_allclose(metrics["loss"], before["loss"], rtol=1e-6)
    assert int(new.step) == 1
    assert not np.allclose(new.params["embed"]["W_E"], state.params["embed"]["W_E"])


def test_first_step_is_torch_adamw(tiny):
    """Step 1 of AdamW: p - lr * (g / (|g| + eps) + wd * p), decay decoupled from the gradient."""
    exp, data, states = setup(tiny)
    state, d = one_seed(states, 0), seed_data(data, 0)
    tokens, labels = d.tokens[:, d.train_idx], d.labels[:, d.train_idx]
    grads = jax.grad(lambda p: train_lib.task_metrics(p, tokens, labels, exp.scfg)[0])(state.params)
    new, _ = train_lib.train_step(state, d, exp.scfg)
    lr, wd, eps = tiny.optim.lr, tiny.optim.weight_decay, tiny.optim.eps
    want = jax.tree.map(lambda p, g: p - lr * (g / (jnp.abs(g) + eps) + wd * p), state.params, grads)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8), new.params, want)


def test_loss_is_float64_and_params_stay_float32(tiny):
    exp, data, states = setup(tiny)
    assert exp.scfg.loss_dtype == jnp.float64
    assert {x.dtype for x in jax.tree.leaves(states.params)} == {jnp.dtype(jnp.float32)}
    state, d = one_seed(states, 0), seed_data(data, 0)
    loss, _ = jax.jit(lambda s: train_lib.task_metrics(
        s.params, d.tokens[:, d.train_idx], d.labels[:, d.train_idx], exp.scfg))(state)
    assert loss.dtype == jnp.float64
    new, _ = train_lib.train_step(state, d, exp.scfg)
    assert {x.dtype for x in jax.tree.leaves(new.params)} == {jnp.dtype(jnp.float32)}


def test_warmup_starts_at_learning_rate_zero(tiny):
    with tiny.unlocked():
        tiny.optim.warmup_steps = 10
        tiny.optim.weight_decay = 0.0
    exp, data, states = setup(tiny)
    state, d = one_seed(states, 0), seed_data(data, 0)
    new, _ = train_lib.train_step(state, d, exp.scfg)  # lr = lr * min(0 / 10, 1) = 0
    jax.tree.map(np.testing.assert_array_equal, new.params, state.params)
    newer, _ = train_lib.train_step(new, d, exp.scfg)
    assert not np.allclose(newer.params["embed"]["W_E"], state.params["embed"]["W_E"])


def test_minibatches_draw_a_different_subset_each_step(tiny):
    with tiny.unlocked():
        tiny.optim.batch_size = 8
    exp, data, states = setup(tiny)
    state, d = one_seed(states, 0), seed_data(data, 0)
    s1, m1 = train_lib.train_step(state, d, exp.scfg)
    _, m2 = train_lib.train_step(s1.replace(params=state.params, opt_state=state.opt_state), d,
                                 exp.scfg)
    assert float(m1["loss"][0]) != float(m2["loss"][0])  # same params, another minibatch


def test_with_minibatches_memorisation_is_measured_on_the_whole_train_set():
    cfg = tiny_config()
    with cfg.unlocked():
        cfg.optim.batch_size = 4  # a 4-example minibatch is often all right by chance
        cfg.train.acc_threshold = 0.9
    states, records = run_program(cfg, steps=20)
    full = records["train/acc"]  # [seed, log point, task]: the whole train set
    for i in range(2):
        reached = full[i, :, 0] >= 0.9
        want = int(records["step"][i][np.argmax(reached)]) if reached.any() else -1
        assert int(states.mem_step[i, 0]) == want


def run_program(cfg, steps=20):
    exp, data, states = setup(cfg)
    program = train_lib.make_program(exp.scfg, steps // cfg.train.eval_every, cfg.train.eval_every,
                                     exp.batching)
    states, records = program(states, data)
    return jax.device_get(states), jax.device_get(records)


@pytest.mark.parametrize("batching", ["map", "vmap"])
def test_a_seed_gives_the_same_result_alone_and_in_a_batch(batching):
    """Bit for bit with 'map' (the CPU default); to float rounding with 'vmap'."""
    batch, alone = tiny_config(), tiny_config()
    with batch.unlocked(), alone.unlocked():
        batch.seed_list = (0, 1, 2, 3, 4)
        alone.seed_list = (1,)
        batch.train.batching = alone.train.batching = batching
    s_batch, r_batch = run_program(batch)
    s_alone, r_alone = run_program(alone)
    same = np.testing.assert_array_equal if batching == "map" else (
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6))
    jax.tree.map(lambda a, b: same(a[1], b[0]), s_batch, s_alone)
    jax.tree.map(lambda a, b: same(a[1], b[0]), r_batch, r_alone)


def test_records_hold_every_log_point_with_a_task_axis():
    cfg = tiny_config()
    with cfg.unlocked():
        cfg.task = "add,subtract"
    states, records = run_program(cfg)
    assert records["step"].shape == (2, 4)
    np.testing.assert_array_equal(records["step"][0], [0, 5, 10, 15])
    assert records["test/acc"].shape == (2, 4, 2)  # seed, log point, task
    assert records["grok_step"].shape == (2, 4, 3)  # tasks + their mean
    assert int(states.step[0]) == 20


def test_event_steps():
    cfg = tiny_config()
    with cfg.unlocked():
        cfg.train.acc_threshold = 1e-9  # reached at once
    states, _ = run_program(cfg)
    np.testing.assert_array_equal(states.mem_step, 0)
    np.testing.assert_array_equal(states.grok_step, 0)
    with cfg.unlocked():
        cfg.train.acc_threshold = 1.0
        cfg.train_fraction = 0.3
    states, records = run_program(cfg)  # 20 steps on add mod 11 never reach 100% test accuracy
    assert (records["test/acc"] < 1).all() and (states.grok_step == -1).all()
