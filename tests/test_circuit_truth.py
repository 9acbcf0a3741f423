"""Circuit methods against circuits known by construction (grokjax.circuits.known), and the
scores that compare them (grokjax.circuits.scoring, grokjax.circuits.prune).

The constructed models are checked by patching, not by the methods under test: each computes
(a + b) mod p, keeping its true circuit and ablating everything else leaves every logit as it
was, and ablating any one true edge moves them. The scores are checked against independent
computations (the ROC's trapezoid, the definition of average precision)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from grokjax import circuits, models
from benchmarks import circuit_truth
from grokjax.circuits import forward, frequency, known, methods, prune, scoring

SMALL = dict(p=17, n_keys=2, n_phases=4, seeds=(0,))


@pytest.fixture(scope="module")
def family():
    return known.constructed(variants=known.VARIANTS[:4], **SMALL)


@pytest.fixture(scope="module")
def gromov():
    return known.constructed(variants=("gromov",), **SMALL)


def _setup(k, ablation="resample", split=False, corruption="shuffle"):
    ab = k.operands
    tok = jnp.asarray(k.tokens(ab))
    bad = jnp.asarray(k.tokens(circuits.corrupt.operands(ab, k.p, corruption, 0)))
    g = circuits.graph(k.cfg, mlp_groups=k.group_names if split else ("",))
    s = circuits.prepare(k.params, k.cfg, g, tok, k.labels(ab), corrupt_tokens=bad,
                         ablation=ablation, table_tokens=tok, n_answers=k.p,
                         groups=jnp.asarray(k.groups) if split else None)
    return s, g


def _logits(s, units, masks_KxMxN):
    """[K, M, B, V] the logits of every member under each of K unit masks."""
    index = jnp.asarray(units.index)

    @jax.jit
    def run(s, masks):
        def one(sm, m):
            dense = forward.dense_mask(sm.graph, m[index], sm.tokens.shape[1])
            return forward.run(sm.params, sm.tokens, sm.cfg, sm.graph, dense, sm.corrupt,
                               sm.groups)[0]
        over_members = jax.vmap(one, in_axes=(methods._member_axes(s), 0))
        return jax.lax.map(lambda m: over_members(s, m), masks)
    return np.asarray(run(s, jnp.asarray(masks_KxMxN, jnp.float32)))


def test_every_constructed_model_computes_addition(family, gromov):
    for k in (family, gromov):
        ab = k.operands
        logits = jax.vmap(lambda p: models.apply(p, jnp.asarray(k.tokens(ab)), k.cfg))(k.params)
        np.testing.assert_array_equal(np.asarray(logits).argmax(-1),
                                      np.broadcast_to(k.labels(ab), logits.shape[:2]))


@pytest.mark.parametrize("ablation", known.ABLATIONS)
@pytest.mark.parametrize("split", [False, True])
def test_the_truth_alone_is_the_model_and_every_true_edge_matters(family, gromov, ablation,
                                                                  split):
    for k in (family, gromov):
        s, g = _setup(k, ablation, split)
        units = g.units("edges")
        truth = k.truth(g, units, ablation)
        assert truth.any(1).all() and not truth.all(1).any()
        np.testing.assert_allclose(_logits(s, units, truth[None])[0],
                                   np.asarray(s.clean_logits), atol=1e-5)
        # every true edge removed alone: K masks, one per (member, true edge)
        pairs = np.argwhere(truth)
        masks = np.ones((len(pairs),) + truth.shape)
        masks[np.arange(len(pairs)), pairs[:, 0], pairs[:, 1]] = 0.0
        logits = _logits(s, units, masks)[np.arange(len(pairs)), pairs[:, 0]]
        moved = np.abs(logits - np.asarray(s.clean_logits)[pairs[:, 0]]).max(axis=(1, 2))
        weak = [(k.names[m], units.short_names[e]) for (m, e), d in zip(pairs, moved) if d < 1e-3]
        assert not weak, (ablation, weak)


def test_the_ablation_decides_the_truth_of_a_constant_path(family):
    g = circuits.graph(family.cfg)
    units = g.units("edges")
    zero, resample = family.truth(g, units, "zero"), family.truth(g, units, "resample")
    np.testing.assert_array_equal(family.truth(g, units, "mean"), resample)
    constant = np.asarray([v == "constant" for v in family.variants])
    assert (zero[constant] & ~resample[constant]).any()  # the constant head: zero only
    np.testing.assert_array_equal(zero[~constant], resample[~constant])
    only_zero = zero[constant][0] & ~resample[constant][0]
    names = {units.short_names[i] for i in np.flatnonzero(only_zero)}
    assert names == {"E -> L0H1.v @op", "L0H1 -> logits @b"}
    # coarser granularities: a unit is true when one of its edges is
    clean = family.variants.index("clean")
    nodes = g.units("nodes")
    assert {nodes.short_names[i] for i in np.flatnonzero(family.truth(g, nodes)[clean])} == {
        "E", "L0H0", "L0MLP"}
    nopos = g.units("edges-nopos")
    assert {nopos.short_names[i] for i in np.flatnonzero(family.truth(g, nopos)[clean])} == {
        "E -> L0H0.v", "E -> L0MLP", "L0H0 -> L0MLP", "L0MLP -> logits"}
    # redundancy: both duplicated heads are in the circuit
    redundant = family.variants.index("redundant")
    kept = {units.short_names[i] for i in np.flatnonzero(resample[redundant])}
    assert {"L0H0 -> L0MLP @b", "L0H1 -> L0MLP @b"} <= kept


def test_the_probes_find_every_constructed_neuron_s_frequency(family, gromov):
    for k in (family, gromov):
        tok = jnp.asarray(k.tokens(k.operands))
        best, explained, keys = map(np.asarray, frequency.neuron_frequencies(
            k.params, k.cfg, tok, k.p))
        used = k.groups[:, 0, :-1].sum(1) > 0  # [M, F] the algorithm's neurons
        slot = k.groups[:, 0, :-1].argmax(1)
        for m in range(len(k.names)):
            np.testing.assert_array_equal(best[m][used[m]], k.keys[m][slot[m][used[m]]])
            assert explained[m][used[m]].all()
            np.testing.assert_array_equal(np.flatnonzero(keys[m]) + 1, k.keys[m])


def test_auc_and_average_precision_against_their_definitions():
    rng = np.random.default_rng(0)
    truth = rng.random((5, 30)) < 0.3
    scores = np.round(rng.random((5, 30)), 1)  # ties included
    auc = scoring.roc_auc(scores, truth)
    for m in range(5):  # the trapezoid under the ROC over every threshold
        thresholds = np.r_[np.inf, np.unique(scores[m])[::-1]]
        tpr = [(scores[m] >= t)[truth[m]].mean() for t in thresholds]
        fpr = [(scores[m] >= t)[~truth[m]].mean() for t in thresholds]
        area = sum((f1 - f0) * (t0 + t1) / 2 for f0, f1, t0, t1 in zip(fpr, fpr[1:], tpr, tpr[1:]))
        np.testing.assert_allclose(auc[m], area)
        # AP: the mean over true units of the precision among units scored at least as high
        ranked = [((scores[m] >= scores[m, i]) & truth[m]).sum() / (scores[m] >= scores[m, i]).sum()
                  for i in np.flatnonzero(truth[m])]
        np.testing.assert_allclose(scoring.average_precision(scores, truth)[m], np.mean(ranked))
    perfect = truth.astype(float)
    np.testing.assert_array_equal(scoring.roc_auc(perfect, truth), 1.0)
    np.testing.assert_array_equal(scoring.roc_auc(-perfect, truth), 0.0)
    np.testing.assert_array_equal(scoring.average_precision(perfect, truth), 1.0)
    assert np.isnan(scoring.roc_auc(scores[:1], np.ones((1, 30), bool))).all()


def test_cpr_and_cmd_of_the_full_and_empty_graph_and_the_curve_s_ends(family):
    assert scoring.cpr_cmd(np.ones((1, 11))) == (1.0, 0.0)
    assert scoring.cpr_cmd(np.zeros((1, 11))) == (0.0, 1.0)
    np.testing.assert_allclose(scoring.cpr_cmd([[0.0, 1.0, 1.0]])[0], 0.75)
    s, g = _setup(family)
    units = g.units("edges")
    truth = family.truth(g, units, "resample")
    curve = scoring.faithfulness_curve(s, units, truth.astype(float), "logit_diff")
    np.testing.assert_allclose(curve[:, 0], 0.0, atol=1e-6)
    np.testing.assert_allclose(curve[:, -1], 1.0, atol=1e-6)
    # the truth ranked first: faithful from its size on
    for m, n in enumerate(truth.sum(1)):
        np.testing.assert_allclose(curve[m, n:], 1.0, atol=1e-4)
    # the vmapped curve is the curve of each member alone
    for m in range(len(family.names)):
        np.testing.assert_allclose(scoring.faithfulness_curve(
            _slice(s, m), units, truth[m:m + 1].astype(float), "logit_diff")[0], curve[m],
            atol=1e-5)


def test_edge_pruning_keeps_all_at_sparsity_0_none_at_1_and_finds_the_truth(family):
    s, g = _setup(family)
    units = g.units("edges")
    truth = family.truth(g, units, "resample")
    r = prune.edge_pruning(s, units, "kl", (0.0, 0.8, 1.0), steps=60)
    assert np.isfinite(r.log_alpha).all()
    assert r.kept[0].all() and not r.kept[2].any()
    np.testing.assert_array_equal(scoring.roc_auc(r.log_alpha[1], truth), 1.0)
    # a member alone is the same member in the batch
    m = 1
    alone = prune.edge_pruning(_slice(s, m), units, "kl", (0.0, 0.8, 1.0), steps=60)
    np.testing.assert_allclose(alone.log_alpha[:, 0], r.log_alpha[:, m], rtol=1e-4, atol=1e-4)


def _slice(s, m):
    axes = methods._member_axes(s)
    fields = {f: (getattr(s, f) if getattr(axes, f) is None
                  else jax.tree.map(lambda x: x[m:m + 1], getattr(s, f)))
              for f in ("tokens", "labels", "params", "groups", "clean_logits",
                        "corrupt_logits", "corrupt", "clean")}
    return methods.Setup(**fields, cfg=s.cfg, graph=s.graph, n_answers=s.n_answers)


def test_joined_setups_equal_each_alone(family):
    s, g = _setup(family)
    units = g.units("edges")
    other, _ = _setup(family, corruption="b+1")
    both = methods.concat([s, other])
    eap = np.asarray(circuits.eap(both, units, "logit_diff"))
    np.testing.assert_allclose(eap[:len(family.names)], circuits.eap(s, units, "logit_diff"),
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(eap[len(family.names):],
                               circuits.eap(other, units, "logit_diff"), rtol=1e-5, atol=1e-7)


def test_the_small_benchmark_runs_and_scores_every_method(tmp_path):
    out = tmp_path / "truth.json"
    circuit_truth.main(["--small", "--out", str(out)])
    rows = json.loads(out.read_text())["rows"]
    assert {r["method"] for r in rows} == {"edges", "eap", "acdc", "prune"}
    assert all(r["auc"]["median"] == 1.0 for r in rows if r["ablation"] == "resample")
