"""Fourier tools and probes against ground truth known by construction."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from grokjax import data, modular, models
from grokjax.errors import GrokjaxError
from grokjax.models import ModelConfig
from grokjax.probes import fourier, measures


@pytest.mark.parametrize("n", [7, 10, 11, 97])
def test_basis_is_orthonormal(n):
    b = np.asarray(fourier.basis(n), np.float64)
    np.testing.assert_allclose(b @ b.T, np.eye(n), atol=1e-5)
    assert len(fourier.basis_names(n)) == n and fourier.basis_names(n)[:3] == ["const", "cos 1", "sin 1"]


@pytest.mark.parametrize("n", [7, 10, 97])
def test_fft_path_matches_the_basis(n):
    w = jax.random.normal(jax.random.key(0), (n, 5))
    np.testing.assert_allclose(fourier.components_fft(w), fourier.components(w), atol=1e-4)
    np.testing.assert_allclose(fourier.components_fft(w.T, axis=1), fourier.components(w.T, axis=1),
                               atol=1e-4)


def synthetic(p, terms, d=4):
    """W [p, d]: each (kind, k, amplitude, column) adds amplitude x the unit cos/sin k row."""
    b = np.asarray(fourier.basis(p))
    w = np.zeros((p, d), np.float32)
    for kind, k, amp, col in terms:
        w[:, col] += amp * b[2 * k - 1 if kind == "cos" else 2 * k]
    return jnp.asarray(w)


def test_synthetic_embedding_gives_the_expected_norms_ffd_fcr():
    w = synthetic(11, [("cos", 2, 3.0, 0), ("sin", 2, 2.0, 1), ("cos", 4, 1.0, 2)])
    mu, nu = fourier.freq_norms(w)
    np.testing.assert_allclose(mu, [0, 3, 0, 1, 0], atol=1e-5)
    np.testing.assert_allclose(nu, [0, 2, 0, 0, 0], atol=1e-5)
    assert float(measures.ffd(mu, nu, 0.5)) == pytest.approx(2 / 10)  # cos 2 and sin 2 only
    assert float(measures.ffd(mu, nu, 0.3)) == pytest.approx(3 / 10)  # cos 4 = 1/3 of the max
    # k=1,3,5 absent (balanced: 1); k=2: min(3/2, 2/3); k=4: cos only (0).
    assert float(measures.fcr(mu, nu)) == pytest.approx((1 + 2 / 3 + 1 + 0 + 1) / 5, abs=1e-5)


def test_the_printed_half_sum_reading_finds_the_same_peak():
    w = synthetic(11, [("cos", 3, 1.0, 0)])
    mu, nu = measures.half_sum_norms(w)
    assert mu.shape == (5,) and int(jnp.argmax(mu)) == 2


def test_gini_is_zero_for_flat_and_near_one_for_one_hot():
    assert float(measures.gini(jnp.ones(40))) == pytest.approx(0.0, abs=1e-6)
    one_hot = jnp.zeros(40).at[7].set(3.0)
    assert float(measures.gini(one_hot)) == pytest.approx(1 - 1 / 40, abs=1e-6)


def test_key_frequencies_of_neurons_built_from_chosen_frequencies():
    p, chosen = 13, [2, 5, 2, 6]
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    acts = [np.cos(2 * np.pi * k * (a + b) / p + 0.3 * i) for i, k in enumerate(chosen)]
    acts.append(np.random.default_rng(0).normal(size=(p, p)))  # a neuron no frequency explains
    block, total = measures.block_energy(jnp.asarray(np.stack(acts, -1), jnp.float32))
    best, frac = measures.best_frequency(block, total)
    np.testing.assert_array_equal(best[:4], chosen)
    np.testing.assert_allclose(frac[:4], 1.0, atol=1e-5)
    assert float(frac[4]) < 0.5
    mask, explained = measures.key_frequencies(best, frac, fourier.n_freqs(p), 0.85)
    assert [k + 1 for k in np.flatnonzero(mask)] == [2, 5, 6]
    assert float(explained) == pytest.approx(4 / 5)


def fourier_algorithm_logits(p, keys, scale):
    """A hand-built model of the Fourier multiplication algorithm: sum_k cos(w_k (a + b - c))."""
    a, b, c = np.meshgrid(np.arange(p), np.arange(p), np.arange(p), indexing="ij")
    logits = sum(np.cos(2 * np.pi * k * (a + b - c) / p) for k in keys)
    return jnp.asarray(scale * logits, jnp.float32), jnp.asarray((a[..., 0] + b[..., 0]) % p)


def test_restricted_and_excluded_loss_of_the_fourier_algorithm():
    p, keys = 23, [3, 7, 10]
    logits, labels = fourier_algorithm_logits(p, keys, scale=40.0)
    mask = jnp.zeros(fourier.n_freqs(p), bool).at[jnp.array(keys) - 1].set(True)
    train = jnp.asarray(np.random.default_rng(0).random((p, p)) < 0.3)
    full = measures.mean_loss(logits, labels, jnp.ones((p, p)))
    restricted = measures.restricted_loss(logits, labels, mask)
    excluded = measures.excluded_loss(logits, labels, mask, train)
    assert float(full) < 1e-6
    assert float(restricted) == pytest.approx(float(full), abs=1e-6)  # nothing else to remove
    assert float(excluded) == pytest.approx(math.log(p), rel=1e-3)  # only a constant is left
    other = jnp.zeros_like(mask).at[0].set(True)  # the wrong frequency
    assert float(measures.restricted_loss(logits, labels, other)) > 2.0


def test_furuta_s_restricted_loss_drops_the_per_class_constant_nanda_s_keeps():
    """A per-class bias (each class's mean logit over the table) is a component of no frequency:
    Nanda's restricted loss keeps it, Furuta's (Table A.4: only the key frequencies' components)
    drops it."""
    p, keys = 23, [3, 7, 10]
    logits, labels = fourier_algorithm_logits(p, keys, scale=40.0)
    bias = jnp.asarray(np.random.default_rng(1).normal(0.0, 5.0, p), jnp.float32)
    mask = jnp.zeros(fourier.n_freqs(p), bool).at[jnp.array(keys) - 1].set(True)
    biased = logits + bias[None, None, :]  # the bias moves each class's logit on every input alike
    every = jnp.ones((p, p))
    # independent: the restricted logits written out, with and without the bias
    assert float(measures.restricted_loss(biased, labels, mask)) == pytest.approx(
        float(measures.mean_loss(biased, labels, every)), abs=1e-5)
    assert float(measures.restricted_loss(biased, labels, mask, constant=False)) == \
        pytest.approx(float(measures.mean_loss(logits, labels, every)), abs=1e-5)
    assert float(measures.mean_loss(biased, labels, every)) > 2 * float(
        measures.mean_loss(logits, labels, every))  # the bias matters to the loss


def test_discrete_log_reindexing_is_a_bijection_that_makes_a_character_sparse():
    p = 23
    order = modular.log_order(p)
    assert sorted(order.tolist()) == list(range(1, p))
    g = modular.primitive_root(p)
    assert g == 5 and len({pow(g, i, p) for i in range(p - 1)}) == p - 1
    log = {int(x): i for i, x in enumerate(order)}
    j = 3  # a multiplicative character, chi(x) = cos(2 pi j log(x) / (p - 1)), as an embedding
    w = np.zeros((p, 2), np.float32)
    for x in range(1, p):
        w[x, 0] = np.cos(2 * np.pi * j * log[x] / (p - 1))
        w[x, 1] = np.sin(2 * np.pi * j * log[x] / (p - 1))
    mu_a, nu_a = measures.spectrum(jnp.asarray(w), p, "additive")
    mu_m, nu_m = measures.spectrum(jnp.asarray(w), p, "multiplicative")
    assert int(jnp.sum(mu_m > 1e-3) + jnp.sum(nu_m > 1e-3)) == 2  # cos j and sin j: sparse
    assert int(jnp.argmax(mu_m)) == j - 1 and int(jnp.argmax(nu_m)) == j - 1
    assert float(measures.ffd(mu_m, nu_m)) == pytest.approx(1 / fourier.n_freqs(p - 1))
    assert float(measures.ffd(mu_a, nu_a)) > 3 * float(measures.ffd(mu_m, nu_m))  # dense additively


def test_discrete_log_needs_a_prime():
    with pytest.raises(GrokjaxError, match="not prime"):
        modular.log_order(21)


def test_probes_run_on_stacked_seeds_and_ablation_tanks_accuracy_only_when_asked():
    p = 11
    cfg = ModelConfig(d_vocab=p + 5, n_ctx=3, d_model=32, num_heads=2, d_head=16, d_mlp=64)
    params = jax.vmap(lambda k: models.init(k, cfg))(jax.random.split(jax.random.key(0), 3))
    out = jax.jit(jax.vmap(lambda prm: measures.spectral_measures(prm, p)))(params)
    assert out["ffd/W_E"].shape == (3,) and out["W_L/mu"].shape == (3, 5)
    vocab = data.Vocab(p=p, d_vocab=p + 5, op_tokens=(p + 1,), variant="furuta")
    tokens = jnp.asarray(data.tokenize(data.all_operands(p, 2), p + 1, vocab))
    labels = jnp.asarray(np.add.outer(np.arange(p), np.arange(p)) % p)
    one = jax.tree.map(lambda x: x[0], params)
    logits = measures.table_logits(one, tokens, cfg, p)
    none = measures.ablate_embedding(one, p, jnp.zeros(5, bool))
    np.testing.assert_allclose(measures.table_logits(none, tokens, cfg, p), logits, atol=1e-5)
    everything = measures.ablate_embedding(one, p, jnp.ones(5, bool))
    rows = everything["embed"]["W_E"][:p]
    np.testing.assert_allclose(rows, jnp.broadcast_to(rows.mean(0), rows.shape), atol=1e-6)
    acc = measures.ablation_accuracy(one, cfg, tokens, labels, p, jnp.ones(5, bool))
    assert float(acc) <= 2 / p  # every number looks the same: the model is blind
    train = jnp.asarray(np.random.default_rng(1).random((p, p)) < 0.5)
    got = measures.nanda_measures(one, cfg, tokens, labels, train, p, threshold=0.3,
                                  dtype=jnp.float64)
    keys = np.asarray(got["key_freqs"])
    assert keys.shape == (5,) and keys.any()  # a random model: some neuron passes 0.3
    want_r, want_e = numpy_restricted_and_excluded(np.asarray(logits, np.float64), labels,
                                                   keys, np.asarray(train))
    assert float(got["restricted_loss"]) == pytest.approx(want_r, rel=1e-5)
    assert float(got["excluded_loss"]) == pytest.approx(want_e, rel=1e-5)


def numpy_restricted_and_excluded(logits, labels, keys, train):
    """Nanda's restricted and excluded loss in plain numpy float64, from the definition: the
    logits' projection onto the constant plus cos/sin w_k (a + b) for the key frequencies k, by
    least squares on each logit's [p, p] table; excluded: the logits minus that projection
    (without the constant), on the train inputs."""
    p = logits.shape[0]
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    k = np.flatnonzero(keys)[:, None, None] + 1  # mask index k - 1 is frequency k
    w = 2 * np.pi * k / p
    directions = np.concatenate([np.cos(w * (a + b)), np.sin(w * (a + b))]).reshape(-1, p * p)
    flat = logits.reshape(p * p, -1)
    coef, *_ = np.linalg.lstsq(directions.T, flat - flat.mean(0), rcond=None)
    key_part = (directions.T @ coef).reshape(logits.shape)
    labels = np.asarray(labels)

    def loss(z, weight):
        z = z - z.max(-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
        nll = -np.take_along_axis(logp, labels[..., None], -1)[..., 0]
        return float((nll * weight).sum() / weight.sum())

    restricted = logits.mean(axis=(0, 1), keepdims=True) + key_part
    return loss(restricted, np.ones((p, p))), loss(logits - key_part, train.astype(float))


# ----------------------------------------------------------------------------------------------
# Probes in a run, and `grokjax probe`


def test_probes_join_the_history_and_summary_and_grokjax_probe_writes_a_report(tmp_path, capsys):
    from grokjax import cli
    from grokjax.store import rundir
    from tests.conftest import TINY
    import json
    from tests.conftest import png_size

    run = tmp_path / "run"
    assert cli.main(["train", TINY, "--workdir", str(run), "--no-progress"]) == 0
    history = rundir.read_npz(run / "history.npz")
    np.testing.assert_array_equal(history["probe/step"], [0, 10, 20])  # every 10, and the end
    assert history["probe/ffd/W_E"].shape == (2, 3) and history["probe/key_freqs"].shape == (2, 3, 5)
    assert history["probe/log/ffd/W_E"].shape == (2, 3)  # p = 11 is prime: the log basis too
    summary = json.loads((run / "summary.json").read_text())
    final = summary["seeds"][0]["probes"]
    assert final["ffd/W_E"] == pytest.approx(float(history["probe/ffd/W_E"][0, -1]))
    assert set(summary["seeds"][0]["phases"]) == {"memorisation_end", "circuit_formation_end",
                                                  "cleanup_end"}
    assert cli.main(["probe", str(run), "--seed", "1"]) == 0
    report = json.loads((run / "probes" / "report-step20.json").read_text())
    seed = report["seeds"][1]
    # The report at the last step is the history's final probe point, recomputed from the
    # checkpoint by another program.
    assert seed["seed"] == 1
    for key in ("ffd/W_E", "fcr/W_L", "gini/W_E", "restricted_loss", "excluded_loss",
                "logits_explained"):
        assert seed[key] == pytest.approx(float(history[f"probe/{key}"][1, -1]), rel=1e-4,
                                          abs=1e-6), key
    assert seed["key_freqs"] == [int(k) + 1 for k in np.flatnonzero(history["probe/key_freqs"][1, -1])]
    # The intact grid accuracy is the accuracy on train and test inputs together.
    n_train, n_test = 60, 61  # int(0.5 * 121) and the rest
    both = (history["train/acc"][1, -1, 0] * n_train + history["test/acc"][1, -1, 0] * n_test)
    assert seed["ablation"]["intact_acc"] == pytest.approx(float(both) / 121, abs=1e-5)
    for png in ("spectra-step20-seed1.png", "curves-seed1.png"):
        width, height = png_size(run / "probes" / png)
        assert width >= 1000 and height >= 800
    # What `grokjax probe` prints: a row per seed with the report's key frequencies, losses,
    # ablation and phases; `grokjax inspect` shows the same phases and (final probe) keys.
    from grokjax.report import probe
    rows = {line.split()[0]: line.split() for line in probe.terminal_lines(run / "probes")[2:4]}
    assert list(rows) == ["0", "1"]
    for entry in report["seeds"]:
        row = rows[str(entry["seed"])]
        assert row[1] == (",".join(map(str, entry["key_freqs"])) or "none")
        assert float(row[2]) == pytest.approx(entry["restricted_loss"], rel=1e-2)
        assert float(row[5]) == pytest.approx(entry["ablation"]["without_all_key_freqs_acc"],
                                              abs=1e-3)
        assert float(row[6]) == pytest.approx(entry["ablation"]["without_all_other_freqs_acc"],
                                              abs=1e-3)
        assert float(row[8]) == pytest.approx(entry["logits_explained"], abs=1e-3)
        assert row[9:] == ["-" if v is None else str(v) for v in entry["phases"].values()]
    capsys.readouterr()
    assert cli.main(["inspect", str(run)]) == 0
    shown = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(shown) if "key frequencies (final probe)" in line)
    for line, entry in zip(shown[at + 1:at + 3], report["seeds"]):
        assert line.split()[0] == str(entry["seed"])
        assert line.split()[-1] == (",".join(map(str, entry["key_freqs"])) or "none")
        assert line.split()[1:4] == ["-" if v is None else str(v)
                                     for v in entry["phases"].values()]
    # --final-keys: every checkpoint measured with the final model's key frequencies; at the
    # final step those are the keys the final probe found, so the values are the history's.
    assert cli.main(["probe", str(run), "--seed", "1", "--final-keys"]) == 0
    over = json.loads((run / "probes" / "final-keys.json").read_text())
    assert over["steps"] == [0, 20]
    assert over["key_freqs"][1] == seed["key_freqs"]
    for key in ("restricted_loss", "excluded_loss"):
        np.testing.assert_allclose(over[key][-1], history[f"probe/{key}"][:, -1], rtol=1e-4)
    png_size(run / "probes" / "final-keys-seed1.png")
    assert cli.main(["probe", str(run), "--seed", "9"]) == 2
    assert "--seed 9 is not a seed of this run" in capsys.readouterr().err


@pytest.mark.parametrize("n", [13, 12])
def test_block_energy_is_that_of_the_full_2d_transform(n):
    """Each frequency's 3x3 block of F M F^T (M centred), and each neuron's total energy, as
    the full 2D transform gives them, for odd and even n (the log basis has n = p - 1)."""
    acts = jax.random.normal(jax.random.key(3), (n, n, 5)) + 2.0
    centred = acts - acts.mean(axis=(0, 1), keepdims=True)
    energy = np.asarray(fourier.components_2d(centred), np.float64) ** 2
    K = fourier.n_freqs(n)
    expected = np.stack([energy[np.ix_([0, 2 * k - 1, 2 * k], [0, 2 * k - 1, 2 * k])].sum((0, 1))
                         for k in range(1, K + 1)])
    block, total = measures.block_energy(acts)
    np.testing.assert_allclose(block, expected, rtol=1e-4)
    np.testing.assert_allclose(total, energy.sum(axis=(0, 1)), rtol=1e-4)


def test_the_printed_reading_is_an_option_of_spectrum():
    w = synthetic(11, [("sin", 2, 1.0, 0)])
    mu, nu = measures.spectrum(w, 11, reading="half")
    assert int(jnp.argmax(nu)) == 1 and float(jnp.max(mu)) < float(jnp.max(nu))


@pytest.mark.parametrize("direction", ["a+b", "a-b"])
def test_the_logits_explained_are_the_least_squares_fit_of_nandas_form(direction):
    """measures.logits_explained against numpy's least squares of the logits (centred over the
    classes) onto cos w_k(a +- b - c), one coefficient per key frequency: logits made of that
    form, per-input constants (which the softmax ignores) and noise."""
    p, rng = 13, np.random.default_rng(1)
    a, b, c = np.meshgrid(np.arange(p), np.arange(p), np.arange(p), indexing="ij")
    s = a + b if direction == "a+b" else a - b
    keys = np.zeros(fourier.n_freqs(p), bool)
    keys[[1, 4]] = True
    form = np.stack([np.cos(2 * np.pi * (k + 1) * (s - c) / p) for k in np.flatnonzero(keys)])
    logits = (np.tensordot([3.0, 1.5], form, 1) + rng.normal(size=(p, p, p))
              + 5 * rng.normal(size=(p, p, 1)))
    centred = (logits - logits.mean(-1, keepdims=True)).ravel()
    coef, *_ = np.linalg.lstsq(form.reshape(2, -1).T, centred, rcond=None)
    residual = centred - form.reshape(2, -1).T @ coef
    want = 1 - residual @ residual / (centred @ centred)
    got = float(measures.logits_explained(jnp.asarray(logits, jnp.float32), jnp.asarray(keys),
                                          direction))
    assert 0.5 < want < 0.95 and got == pytest.approx(want, abs=1e-5)
    none = float(measures.logits_explained(jnp.asarray(logits), jnp.zeros_like(keys), direction))
    assert none == 0.0


@pytest.mark.parametrize("direction", ["a+b", "a-b"])
def test_the_key_projection_is_the_least_squares_fit_on_the_key_directions(direction):
    """measures.key_projection (separable: [K, p] waves, no [2K, p, p] table) against numpy's
    least squares onto cos/sin w_k (a +- b) of the key frequencies, for both directions."""
    p, C = 13, 5
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(p, p, C)).astype(np.float32)
    keys = np.zeros(fourier.n_freqs(p), bool)
    keys[[0, 3, 4]] = True
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    s = a + b if direction == "a+b" else a - b
    w = 2 * np.pi * (np.flatnonzero(keys)[:, None, None] + 1) / p
    basis = np.concatenate([np.cos(w * s), np.sin(w * s)]).reshape(-1, p * p).T
    flat = logits.reshape(p * p, C).astype(np.float64)
    coef, *_ = np.linalg.lstsq(basis, flat, rcond=None)
    want = (basis @ coef).reshape(p, p, C)
    got = np.asarray(measures.key_projection(jnp.asarray(logits), jnp.asarray(keys), direction))
    np.testing.assert_allclose(got, want, atol=2e-5)
