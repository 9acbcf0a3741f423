"""Grokfast's filters, ⊥Grad, torch's coupled Adam, StableMax and Prieto et al.'s stability
measures: each against a direct numpy computation of its published formula, and as grid axes,
whose members train exactly as runs of their own values."""

import collections
import json

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from grokjax import config, numerics, optim, program
from grokjax.errors import GrokjaxError
from tests.conftest import tiny_config, train_overrides

SHAPES = {"a": (3, 4), "b": (5,)}


def _grads(steps, seed=0):
    rng = np.random.default_rng(seed)
    return [{k: rng.normal(size=s).astype(np.float32) for k, s in SHAPES.items()}
            for _ in range(steps)]


def _run(tx, grads, params=None):
    params = params or {k: np.ones(s, np.float32) for k, s in SHAPES.items()}
    state = tx.init(params)
    out = []
    for g in grads:
        u, state = jax.jit(tx.update)(g, state, params)
        out.append(jax.device_get(u))
    return out


# -- Grokfast: ironjr/grokfast grokfast.py, in numpy ------------------------------------------

def _grokfast_ema_numpy(grads, alpha, lamb):
    ema, out = None, []
    for g in grads:
        ema = {k: g[k].copy() for k in g} if ema is None else ema
        ema = {k: ema[k] * np.float32(alpha) + g[k] * np.float32(1 - alpha) for k in g}
        out.append({k: g[k] + ema[k] * np.float32(lamb) for k in g})
    return out


def _grokfast_ma_numpy(grads, window, lamb):
    queue, out = collections.deque(maxlen=window), []
    for g in grads:
        queue.append(g)
        if len(queue) == window:  # warmup=True: the filter waits for a full window
            out.append({k: g[k] + sum(q[k] for q in queue) / window * lamb for k in g})
        else:
            out.append(g)
    return out


def test_grokfast_ema_is_the_papers_filter():
    grads = _grads(12)
    ours = _run(optim.grokfast(lamb=2.0, alpha=0.9, window=4, kind="ema"), grads)
    for a, b in zip(ours, _grokfast_ema_numpy(grads, 0.9, 2.0)):
        for k in SHAPES:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-6, atol=1e-6)


def test_grokfast_ma_waits_for_a_full_window_then_adds_its_mean():
    grads = _grads(12, seed=1)
    ours = _run(optim.grokfast(lamb=5.0, alpha=0.98, window=4, kind="ma"), grads)
    reference = _grokfast_ma_numpy(grads, 4, 5.0)
    for step, (a, b) in enumerate(zip(ours, reference)):
        for k in SHAPES:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-5, err_msg=f"{step} {k}")
    np.testing.assert_array_equal(ours[2]["a"], grads[2]["a"])  # still warming up
    assert not np.allclose(ours[3]["a"], grads[3]["a"])  # the window is full


@pytest.mark.parametrize("kind", ["none", "ema", "ma"])
def test_a_filter_switched_off_passes_the_gradient_through_bit_for_bit(kind):
    grads = _grads(6, seed=2)
    tx = optim.grokfast(lamb=2.0, alpha=0.98, window=3, kind=kind, with_ma=True)
    params = {k: np.ones(s, np.float32) for k, s in SHAPES.items()}
    state = optim.set_hyperparams(tx.init(params), {"grokfast_ema": 0.0, "grokfast_ma": 0.0})
    for g in grads:
        u, state = tx.update(g, state, params)
        for k in SHAPES:
            np.testing.assert_array_equal(u[k], g[k])


# -- ⊥Grad: LucasPrietoAl/... orthograd.py, in numpy -------------------------------------------

def test_orthogonal_gradient_is_orthograds_projection():
    rng = np.random.default_rng(3)
    params = {k: rng.normal(size=s).astype(np.float32) for k, s in SHAPES.items()}
    grads = _grads(1, seed=4)
    (ours,) = _run(optim.orthogonal(), grads, params)
    for k in SHAPES:
        w, g = params[k].ravel().astype(np.float64), grads[0][k].ravel().astype(np.float64)
        g_orth = g - (w @ g) / (w @ w) * w
        expected = g_orth * np.linalg.norm(g) / np.linalg.norm(g_orth)
        np.testing.assert_allclose(ours[k].ravel(), expected, rtol=1e-5, atol=1e-6)
        assert abs(ours[k].ravel() @ w) < 1e-5 * np.linalg.norm(w) * np.linalg.norm(g)
        np.testing.assert_allclose(np.linalg.norm(ours[k]), np.linalg.norm(g), rtol=1e-6)


def test_coupled_decay_is_torch_adams_l2_weight_decay():
    """torch.optim.Adam(weight_decay=wd): g <- g + wd p, then Adam's bias-corrected moments."""
    lr, b1, b2, eps, wd = 1e-2, 0.9, 0.98, 1e-8, 0.5
    ocfg = config.base_config().optim
    ocfg.update(dict(lr=lr, b1=b1, b2=b2, eps=eps, weight_decay=wd, decay="coupled"))
    tx = optim.make_optimizer(ocfg)
    rng = np.random.default_rng(5)
    p = {"a": rng.normal(size=(3, 4)).astype(np.float64)}
    state = tx.init(jax.tree.map(jnp.float32, p))
    params = jax.tree.map(jnp.float32, p)
    m = v = np.zeros((3, 4))
    for t, g in enumerate(_grads(5, seed=6), start=1):
        g = {"a": g["a"]}
        u, state = tx.update(g, state, params)
        params = optax.apply_updates(params, u)
        d = g["a"] + wd * p["a"]
        m, v = b1 * m + (1 - b1) * d, b2 * v + (1 - b2) * d * d
        p["a"] = p["a"] - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    np.testing.assert_allclose(params["a"], p["a"], rtol=1e-5, atol=1e-6)


# -- StableMax and the stability measures -----------------------------------------------------

def test_stablemax_cross_entropy_is_the_papers_formula():
    """Prieto et al. eq. 6: s(x) = x + 1 (x >= 0), 1 / (1 - x) (x < 0); their utils.py."""
    rng = np.random.default_rng(7)
    logits = rng.normal(scale=3, size=(6, 9))
    labels = rng.integers(0, 9, size=6)
    s = np.where(logits < 0, 1 / (1 - logits), logits + 1)
    expected = -np.log(s[np.arange(6), labels] / s.sum(-1))
    with jax.enable_x64(True):
        ours = numerics.nll(jnp.asarray(logits), jnp.asarray(labels), jnp.float64, "stablemax")
        np.testing.assert_allclose(ours, expected, rtol=1e-12)
        # at x = 1 the unused branch 1 / (1 - x) would be infinite: the gradient stays finite
        grad = jax.grad(lambda x: numerics.nll(x, jnp.asarray([0]), jnp.float64,
                                               "stablemax").sum())(jnp.asarray([[1.0, -2.0]]))
        assert np.isfinite(grad).all()


def test_a_traced_switch_picks_each_members_loss():
    logits = jnp.asarray([[2.0, 0.5, -1.0]])
    labels = jnp.asarray([1])
    soft = numerics.nll(logits, labels, jnp.float32)
    stable = numerics.nll(logits, labels, jnp.float32, "stablemax")
    assert not np.allclose(soft, stable)
    np.testing.assert_array_equal(numerics.nll_and_sum_exp(logits, labels, jnp.float32,
                                                           jnp.float32(1.0))[0], stable)
    np.testing.assert_array_equal(numerics.nll_and_sum_exp(logits, labels, jnp.float32,
                                                           jnp.float32(0.0))[0], soft)


def test_softmax_collapse_and_zero_loss_on_a_constructed_batch():
    """Row 0: a margin of 120 makes every other exp(x - max) underflow in float32 (e^-120 <
    float32's smallest normal... and rounds away beside 1): sum_exp == 1 and the loss is 0.
    Row 1: a margin of 20: e^-20 * 4 = 8e-9 rounds away beside 1 in float32 (ulp 1.2e-7), so
    it collapses in float32 but not in float64, and its loss is 0 in float32 only. Row 2: no
    margin, nothing collapses."""
    logits = np.array([[120.0, 0, 0, 0, 0], [20.0, 0, 0, 0, 0], [1.0, 0.5, 0, 0, 0]])
    labels = jnp.asarray([0, 0, 1])
    for dtype, collapsed in ((jnp.float32, [1, 1, 0]), (jnp.float64, [1, 0, 0])):
        with jax.enable_x64(dtype == jnp.float64):
            nll, sum_exp = numerics.nll_and_sum_exp(jnp.asarray(logits), labels, dtype)
            m = numerics.stability(nll, sum_exp)
            np.testing.assert_array_equal(m["softmax_collapse"], collapsed, err_msg=str(dtype))
            np.testing.assert_array_equal(m["zero_loss"], collapsed, err_msg=str(dtype))


def test_descent_cosine_against_numpy():
    rng = np.random.default_rng(8)
    params = {"embed": {"W_E": rng.normal(size=(4, 3)).astype(np.float32)},
              "unembed": {"W_U": rng.normal(size=(3, 4)).astype(np.float32)}}
    grads = jax.tree.map(lambda w: (-2 * w + 0.1 * rng.normal(size=w.shape)).astype(np.float32),
                         params)
    flat = lambda t: np.concatenate([x.ravel() for x in jax.tree.leaves(t)])  # noqa: E731
    g, w = flat(grads).astype(np.float64), flat(params).astype(np.float64)
    expected = -(g @ w) / np.linalg.norm(g) / np.linalg.norm(w)
    np.testing.assert_allclose(program.descent_cosine(grads, params), expected, rtol=1e-5)
    assert expected > 0.9  # mostly -w: the descent direction scales the weights up


# -- as config values and grid axes ------------------------------------------------------------

def _train(workdir, *overrides):
    return train_overrides(workdir, *overrides, "train.batching=map", "optim.grokfast_window=4")


@pytest.fixture(scope="module")
def method_grid(tmp_path_factory):
    """3 filters x 2 projections x 2 losses x 1 seed = 12 members, one program."""
    workdir = tmp_path_factory.mktemp("methods") / "run"
    return _train(workdir, "seeds=1", "grid.grad_filter=('none','ema','ma')",
                  "grid.orthogonal=(0,1)", "grid.softmax=('softmax','stablemax')")


@pytest.mark.parametrize("member,values", [
    (7, ["optim.grad_filter=ema", "optim.orthogonal=True", "numerics.softmax=stablemax"]),
    pytest.param(9, ["optim.grad_filter=ma", "optim.orthogonal=False",
                     "numerics.softmax=stablemax"], marks=pytest.mark.slow),  # 10 s
])
def test_a_member_of_a_method_grid_trains_bit_for_bit_as_its_run_alone(method_grid, tmp_path,
                                                                      member, values):
    alone = _train(tmp_path / "alone", "seeds=1", *values)
    assert set(alone) == set(method_grid)
    for key in alone:
        if key in ("step", "probe/step"):  # shared by every member
            np.testing.assert_array_equal(method_grid[key], alone[key])
        else:
            np.testing.assert_array_equal(method_grid[key][member], alone[key][0], err_msg=key)


def test_the_methods_change_training_and_the_measures_are_recorded(method_grid):
    loss = method_grid["train/loss"]
    assert len(np.unique(loss[:, -1].reshape(12, -1).round(6), axis=0)) == 12  # all differ
    for key in ("train/softmax_collapse", "train/zero_loss", "grad/descent_cos",
                "test/softmax_collapse"):
        assert key in method_grid and np.isfinite(method_grid[key]).all(), key
    cos = method_grid["grad/descent_cos"]
    assert (np.abs(cos) <= 1 + 1e-6).all() and cos[:, 0].std() > 0


@pytest.mark.parametrize("overrides,message", [
    (["grid.grad_filter=('none','fast')"], "grid.grad_filter"),
    (["grid.grokfast_lamb=(1.0,2.0)"], "no effect without a Grokfast filter"),
    (["grid.orthogonal=(0,2)"], "0 (off) or 1 (on)"),
    (["optim.grad_filter=sma"], "optim.grad_filter"),
    (["numerics.softmax=sparsemax"], "numerics.softmax"),
    (["optim.grokfast_alpha=1.0"], "optim.grokfast_alpha"),
])
def test_nonsense_is_one_line(overrides, message):
    cfg = tiny_config()
    config.apply_overrides(cfg, overrides)
    with pytest.raises(GrokjaxError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
        config.validate(cfg)
    assert "\n" not in str(e.value)


def test_base_config_has_every_new_field():
    c = config.base_config()
    assert isinstance(c.optim, ml_collections.ConfigDict)
    assert (c.optim.grad_filter, c.optim.orthogonal, c.optim.decay, c.numerics.softmax) == (
        "none", False, "decoupled", "softmax")


def test_arms_are_named_settings_each_on_every_seed(tmp_path):
    arms = ("ema: grad_filter=ema grokfast_lamb=2", "stable: softmax=stablemax", "orthogonal=1")
    history = _train(tmp_path / "arms", "seed_list=(3,5)", f"grid.arms={arms!r}")
    info = json.loads((tmp_path / "arms" / "run.json").read_text())
    assert info["grid"]["axes"]["arm"] == ["ema", "stable", "orthogonal=1"]
    members = info["grid"]["members"]
    assert len(members) == 6 and history["train/loss"].shape[0] == 6
    assert members[1] == {"seed": 5, "arm": "ema", "grad_filter": "ema", "grokfast_lamb": 2.0,
                          "orthogonal": 0.0, "softmax": "softmax"}
    assert members[2]["seed"] == 3 and members[2]["softmax"] == "stablemax"
    assert members[5]["orthogonal"] == 1.0 and members[5]["grad_filter"] == "none"
    # the ema arm's second seed is the run of its values alone, to float rounding: an arms
    # grid is another program than a run without one, and XLA may add up a sum in another
    # order (README "What a member equals": 1-3 float32 ulps at one log point, measured)
    alone = _train(tmp_path / "alone", "seed_list=(5,)", "optim.grad_filter=ema",
                   "optim.grokfast_lamb=2.0")
    for key in ("train/loss", "test/loss", "norm/total", "grad/descent_cos"):
        np.testing.assert_allclose(history[key][1], alone[key][0], rtol=1e-5, atol=1e-7,
                                   err_msg=key)
    assert not np.allclose(history["train/loss"][1], history["train/loss"][3])  # arms differ


@pytest.mark.parametrize("arms,message", [
    (("a: lr=0.001", "a: lr=0.003"), "repeat"),
    (("a: speed=3",), "not AXIS=VALUE"),
    (("a: lr=fast",), "must be a number"),
    (("a: softmax=sparsemax",), "give values of"),
])
def test_bad_arms_are_one_line(arms, message):
    cfg = tiny_config()
    config.apply_overrides(cfg, [f"grid.arms={arms!r}"])
    with pytest.raises(GrokjaxError, match=message) as e:
        config.validate(cfg)
    assert "\n" not in str(e.value)
